"""REST: /files, with uploads parsed as they arrive.

``POST /files`` never buffers the body: python-multipart's streaming parser
is fed from ``request.stream()`` and the ``file`` part's bytes go straight
to storage, chunk by chunk (each ASGI message is at most about 64 KiB, and
storage writes 1 MiB at a time). Other parts are counted and discarded;
too many of them, a second file, or a body that ends early are refused,
and storage then keeps nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.errors import BadUserInput
from models import StoredFile
from resolvers import files
from resolvers.limits import MAX_FIELD_BYTES, MAX_HEADER_BYTES, MAX_HEADERS_PER_PART, MAX_PARTS
from resolvers.validation import parse_id
from rest_compat.http import (
    JSONResponse,
    UnsupportedMediaType,
    iso,
    list_response,
    query_int,
    require_user,
)

FIELD = "file"


def file_body(row: StoredFile) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "url": f"/files/{row.id}",
        "owner_id": row.owner_id,
        "created_at": iso(row.created_at),
    }


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name (RFC 6266, 5987)."""
    fallback = "".join(
        ch if " " <= ch <= "~" and ch not in '"\\%;' else "_"
        for ch in filename.encode("ascii", "replace").decode("ascii")
    ).replace("?", "_")
    if not fallback.strip("._ "):
        fallback = files.DEFAULT_FILENAME
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MultipartFile:
    """The one ``file`` part of a multipart/form-data body, as a stream."""

    def __init__(self, request: Request) -> None:
        media_type, options = parse_options_header(request.headers.get("content-type"))
        if media_type != b"multipart/form-data":
            raise UnsupportedMediaType("Content-Type must be multipart/form-data.")
        boundary = options.get(b"boundary")
        if not boundary or len(boundary) > 200:
            raise BadUserInput("The multipart boundary is missing or invalid.")
        self._body = request.stream()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            max_header_count=MAX_HEADERS_PER_PART,
            max_header_size=MAX_HEADER_BYTES,
        )
        self._parts = 0
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._found = False
        self._file_done = False
        self._field_bytes = 0
        self._pending: list[bytes] = []
        self._ended = False
        self._exhausted = False
        self.filename: str | None = None
        self.content_type: str | None = None

    # Parser callbacks (synchronous; they only record what they saw).
    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise BadUserInput(f"At most {MAX_PARTS} multipart parts are accepted.")
        self._headers = {}
        self._field_bytes = 0

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if options.get(b"name") != FIELD.encode():
            return
        if self._found:
            raise BadUserInput("Send one file per request.", field=FIELD)
        self._found = self._in_file = True
        raw_name = options.get(b"filename")
        self.filename = _decode(raw_name) if raw_name is not None else None
        raw_type = self._headers.get(b"content-type")
        self.content_type = raw_type.decode("latin-1") if raw_type is not None else None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
            return
        self._field_bytes += end - start
        if self._field_bytes > MAX_FIELD_BYTES:
            raise BadUserInput(f"Form fields other than {FIELD} are limited to {MAX_FIELD_BYTES}.")

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    def _on_end(self) -> None:
        self._ended = True

    async def _feed(self) -> None:
        """Parse one more piece of the body (raises ClientDisconnect, BodyTooLarge)."""
        if self._exhausted:
            return
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            chunk = b""
        if not chunk:
            self._exhausted = True
            if not self._ended:
                raise BadUserInput("The multipart body ended early.")
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise BadUserInput("Malformed multipart body.") from None

    async def start(self) -> None:
        """Read up to the headers of the ``file`` part."""
        while not self._found:
            if self._exhausted or self._ended:
                raise BadUserInput(f"The multipart field {FIELD!r} is required.", field=FIELD)
            await self._feed()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, then the rest of the body checked to its end."""
        while True:
            if self._pending:
                data = b"".join(self._pending)
                self._pending.clear()
                yield data
            if self._exhausted:
                return
            await self._feed()


async def list_files(request: Request) -> Response:
    actor = await require_user(request)
    rows = await files.list_files_offset(
        actor=actor,
        limit=query_int(request, "limit"),
        offset=query_int(request, "offset"),
        order=request.query_params.get("order"),
    )
    return list_response(request, [file_body(r) for r in rows])


async def upload_file(request: Request) -> Response:
    actor = await require_user(request)
    upload = MultipartFile(request)
    try:
        await upload.start()
        row = await files.upload_file(
            actor=actor,
            filename=upload.filename,
            content_type=upload.content_type,
            chunks=upload.chunks(),
        )
    except ClientDisconnect:
        # Nobody is left to answer; storage already dropped the partial file.
        return Response(status_code=400)
    return JSONResponse(file_body(row), status_code=201)


async def download_file(request: Request) -> Response:
    row, chunks = await files.open_file(
        actor=await require_user(request), file_id=parse_id(request.path_params["id"])
    )
    headers = {
        "content-type": row.content_type,
        "content-length": str(row.size),
        "content-disposition": content_disposition(row.filename),
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cache-control": "private, no-store",
    }
    return StreamingResponse(chunks, headers=headers)


async def delete_file(request: Request) -> Response:
    await files.delete_file(
        actor=await require_user(request), file_id=parse_id(request.path_params["id"])
    )
    return Response(status_code=204)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


routes = [
    Route("/files", list_files, methods=["GET"]),
    Route("/files", upload_file, methods=["POST"]),
    Route("/files/{id}", download_file, methods=["GET"]),
    Route("/files/{id}", delete_file, methods=["DELETE"]),
]
