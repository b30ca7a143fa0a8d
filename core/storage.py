"""Where uploaded bytes live: a small interface and its local-disk backend.

Resolvers only see :class:`Storage`: ``save`` consumes an async stream of
chunks (size and sha256 computed on the way, a hard byte limit enforced as
it goes), ``open`` streams a blob back, ``delete`` removes it. Blobs are
named by the server (random keys); a client's filename never reaches the
file system. Another backend (an S3-compatible bucket, with multipart
uploads aborted on failure) only has to implement the same three methods.

:class:`LocalStorage` keeps blobs under one directory. A blob is written to
``.part-<key>`` and renamed to ``<key>`` once complete, so a reader never
sees a partial blob, and any failure (limit, disconnect, full disk) removes
the partial file before the error propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeGuard

if TYPE_CHECKING:
    from _hashlib import HASH

WRITE_BUFFER = 1024 * 1024
READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}$")
# Write failures that mean "no room left", as opposed to a bug.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_full(error: BaseException) -> TypeGuard[OSError]:
    """Whether ``error`` is a write refused for want of room (disk, quota, file size)."""
    return isinstance(error, OSError) and error.errno in _FULL


class StorageError(Exception):
    """Base of the errors a storage backend raises."""


class SizeLimitExceeded(StorageError):
    """The stream went over ``max_bytes``; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class StorageFull(StorageError):
    """The backend has no room left; nothing was kept."""


class BlobMissing(StorageError):
    """No blob under this key."""


@dataclass(frozen=True, slots=True)
class Blob:
    key: str
    size: int
    sha256: str


class Storage(Protocol):
    async def save(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Blob:
        """Store the stream; on any error (including one raised by ``chunks``) keep nothing."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; raises :class:`BlobMissing` before the first chunk."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    async def sweep(self, *, older_than: float) -> int:
        """Remove unfinished uploads left by a crash, older than ``older_than`` seconds."""
        ...


class LocalStorage:
    """Blobs as files in one directory, written and read in worker threads."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise BlobMissing(key)
        return self.root / key

    async def save(self, chunks: AsyncIterable[bytes], *, max_bytes: int) -> Blob:
        key = secrets.token_hex(16)
        final = self.root / key
        partial = self.root / f".part-{key}"
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        handle: BinaryIO | None = None
        try:
            handle = await asyncio.to_thread(self._create, partial)
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise SizeLimitExceeded(max_bytes)
                buffer += chunk
                if len(buffer) >= WRITE_BUFFER:
                    await asyncio.to_thread(_write, handle, digest, bytes(buffer))
                    buffer.clear()
            if buffer:
                await asyncio.to_thread(_write, handle, digest, bytes(buffer))
                buffer.clear()
            await asyncio.to_thread(self._finish, handle, partial, final)
        except BaseException as error:
            # Synchronous on purpose: it must run even while being cancelled.
            if handle is not None:
                _close_quietly(handle)
            partial.unlink(missing_ok=True)
            if is_full(error):
                raise StorageFull(str(error.strerror)) from None
            raise
        return Blob(key=key, size=size, sha256=digest.hexdigest())

    def _create(self, partial: Path) -> BinaryIO:
        self.root.mkdir(parents=True, exist_ok=True)
        # "x": O_CREAT | O_EXCL, never follows or reuses an existing name.
        return partial.open("xb")

    def _finish(self, handle: BinaryIO, partial: Path, final: Path) -> None:
        handle.flush()
        if self.fsync:
            _fsync(handle)
        handle.close()
        partial.replace(final)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        return _read_chunks(handle)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def sweep(self, *, older_than: float) -> int:
        return await asyncio.to_thread(self._sweep, older_than)

    def _sweep(self, older_than: float) -> int:
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for partial in self.root.glob(".part-*"):
            with contextlib.suppress(OSError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
                    removed += 1
        return removed


def _write(handle: BinaryIO, digest: HASH, data: bytes) -> None:
    # hashlib and file writes release the GIL: both run off the event loop.
    digest.update(data)
    handle.write(data)


def _fsync(handle: BinaryIO) -> None:
    os.fsync(handle.fileno())


def _close_quietly(handle: BinaryIO) -> None:
    try:
        handle.close()
    except OSError:
        pass


async def _read_chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
            yield chunk
    finally:
        handle.close()
