"""Uploaded files: streaming storage, quotas, and who may see what.

Rules:

- any authenticated user uploads; the bytes stream to storage (see
  ``core.storage``) under a server-chosen key, and the row is written only
  once they are all there, so a refused or broken upload leaves nothing;
- an upload stops at ``MAX_UPLOAD_BYTES`` and at what is left of the
  owner's ``USER_QUOTA_BYTES``, both with PAYLOAD_TOO_LARGE;
- the owner and ADMINs list, download and delete a file (``Action.FILE_READ``,
  ``Action.FILE_DELETE``); any authenticated
  user downloads a file that an internal resource links; whoever may read a
  chat message carrying it downloads it (``resolvers.attachments``);
  everyone else gets NOT_FOUND, as for an id that does not exist;
- no resource is ever left with neither url nor file: a file that resources
  link is deleted by an ADMIN together with those resources (only ADMINs
  publish resources), and refused to its other owners with CONFLICT (409)
  naming the resources (the file row is locked while it is checked and
  deleted, and ``resources.create_resource`` locks it while linking it);
- the client's filename and content type are metadata only, sanitized here;
- listings show the newest files by default (the last page, or newest
  first on REST), so a client sees the file it has just uploaded.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator
from typing import Unpack

from tortoise.functions import Sum
from tortoise.queryset import QuerySet

from core import runtime
from core.errors import Conflict, NotFound, PayloadTooLarge
from core.storage import BlobMissing, SizeLimitExceeded, StorageFull
from core.transactions import transaction
from models import Resource, StoredFile, User
from resolvers import attachments, limits, permissions
from resolvers.pagination import CountedPage, PageRequest, counted_page, offset_page, parse_order
from resolvers.permissions import Action
from resolvers.users import require_user

log = logging.getLogger("comptoir.files")

DEFAULT_FILENAME = "file"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_ORDER = "desc"  # REST GET /files: newest first
# RFC 9110 token characters, for both halves of type/subtype.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,127}"
_MEDIA_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")


def sanitize_filename(raw: object) -> str:
    """The client's name reduced to safe metadata.

    Path components are dropped (``/`` and ``\\`` both), as are control,
    format (bidi overrides, zero-width) and separator characters and NUL;
    leading dots and surrounding spaces go; the result is at most ``FILENAME_MAX``
    characters, keeping a short extension; an empty result is ``file``.
    """
    if not isinstance(raw, str):
        return DEFAULT_FILENAME
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029"
    )
    name = name.strip().lstrip(".").strip()
    if not name:
        return DEFAULT_FILENAME
    if len(name) > limits.FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and 0 < len(extension) <= limits.EXTENSION_MAX:
            name = stem[: limits.FILENAME_MAX - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[: limits.FILENAME_MAX]
    return name


def sanitize_content_type(raw: object) -> str:
    """``type/subtype`` from the client (parameters dropped), else octet-stream."""
    if not isinstance(raw, str):
        return DEFAULT_CONTENT_TYPE
    media_type = raw.split(";", 1)[0].strip().lower()
    if len(media_type) > limits.CONTENT_TYPE_MAX or not _MEDIA_TYPE.match(media_type):
        return DEFAULT_CONTENT_TYPE
    return media_type


def _quota_message(quota: int) -> str:
    return f"Storage quota exceeded: each user may store at most {quota} bytes."


def storage_full(where: str) -> PayloadTooLarge:
    """A full disk (``where``: the storage, or the temporary files a
    multipart body is spooled to) refuses the upload as PAYLOAD_TOO_LARGE."""
    log.error("upload refused: %s is full", where)
    return PayloadTooLarge("Not enough storage space left for this file.")


async def used_bytes(user_id: int) -> int:
    rows = await StoredFile.filter(owner_id=user_id).annotate(total=Sum("size")).values("total")
    total = rows[0]["total"] if rows else None
    return int(total or 0)


async def upload_file(
    *,
    actor: User | None,
    filename: object,
    content_type: object,
    chunks: AsyncIterable[bytes],
) -> StoredFile:
    """Stream ``chunks`` to storage and record the file.

    Whatever goes wrong (a limit, the quota, a disconnect raised by
    ``chunks``, a full disk), no bytes and no row remain.
    """
    user = permissions.require(Action.FILE_UPLOAD, actor)
    services = runtime.get()
    settings = services.settings
    quota = settings.user_quota_bytes
    remaining = quota - await used_bytes(user.id)
    if remaining <= 0:
        raise PayloadTooLarge(_quota_message(quota))
    limit = min(settings.max_upload_bytes, remaining)
    try:
        blob = await services.storage.save(chunks, max_bytes=limit)
    except SizeLimitExceeded:
        if limit < settings.max_upload_bytes:
            raise PayloadTooLarge(_quota_message(quota)) from None
        raise PayloadTooLarge(
            f"File over the upload limit of {settings.max_upload_bytes} bytes."
        ) from None
    except StorageFull:
        raise storage_full("storage") from None
    try:
        async with transaction():
            # Serialize this user's uploads so two at once cannot both fit.
            await User.select_for_update().filter(id=user.id).first()
            if await used_bytes(user.id) + blob.size > quota:
                raise PayloadTooLarge(_quota_message(quota))
            return await StoredFile.create(
                owner_id=user.id,
                filename=sanitize_filename(filename),
                content_type=sanitize_content_type(content_type),
                size=blob.size,
                sha256=blob.sha256,
                storage_key=blob.key,
            )
    except BaseException:
        await services.storage.delete(blob.key)
        raise


def _visible(user: User) -> QuerySet[StoredFile]:
    if permissions.allowed(Action.FILE_READ, user):  # anyone's: an ADMIN
        return StoredFile.all()
    return StoredFile.filter(owner_id=user.id)


async def list_files(
    *,
    actor: User | None,
    **page: Unpack[PageRequest],
) -> CountedPage[StoredFile]:
    """The caller's files (everyone's for an ADMIN), oldest first in a page;
    with no size and no ``after``, the newest page (the last ``limits.FILES_PAGE_DEFAULT``)."""
    queryset = _visible(permissions.require(Action.FILE_LIST, actor))
    return await counted_page(
        queryset,
        page,
        default_first=limits.FILES_PAGE_DEFAULT,
        default_last=limits.FILES_PAGE_DEFAULT,
    )


async def list_files_offset(
    *,
    actor: User | None,
    limit: int | None = None,
    offset: int | None = None,
    order: object = None,
) -> list[StoredFile]:
    """The legacy REST listing: offset paging, newest first unless ``order="asc"``."""
    queryset = _visible(permissions.require(Action.FILE_LIST, actor))
    clean_order = parse_order(order, DEFAULT_ORDER)
    return await offset_page(queryset, limit=limit, offset=offset, order=clean_order)


async def _readable(user: User, row: StoredFile) -> bool:
    return (
        permissions.allowed(Action.FILE_READ, user, owner=row.owner_id)
        or await Resource.filter(file_id=row.id).exists()
        or await attachments.readable_through_messages(user, row.id)
    )


async def get_file(*, actor: User | None, file_id: int) -> StoredFile:
    """A file the caller may download, else NOT_FOUND (never a hint that it exists)."""
    user = require_user(actor)
    row = await StoredFile.get_or_none(id=file_id)
    if row is None or not await _readable(user, row):
        raise permissions.refused(Action.FILE_READ)
    return row


async def open_file(*, actor: User | None, file_id: int) -> tuple[StoredFile, AsyncIterator[bytes]]:
    """The row and its bytes, for a caller allowed to download it."""
    row = await get_file(actor=actor, file_id=file_id)
    try:
        chunks = await runtime.get().storage.open(row.storage_key)
    except BlobMissing:
        log.error("file %d has no stored bytes (key %s)", row.id, row.storage_key)
        raise NotFound("File not found.") from None
    return row, chunks


async def delete_file(*, actor: User | None, file_id: int) -> bool:
    """Owner or ADMIN: the row goes, then the bytes.

    A file linked by a resource may be read by anyone signed in; they get
    FORBIDDEN here rather than NOT_FOUND, since they can see it. While
    resources link it, an ADMIN deletes them with it; its owner gets CONFLICT.
    """
    user = require_user(actor)
    row = await StoredFile.get_or_none(id=file_id)
    if row is None or not await _readable(user, row):
        raise permissions.refused(Action.FILE_READ)
    permissions.require(Action.FILE_DELETE, user, owner=row.owner_id)
    async with transaction():
        if await StoredFile.select_for_update().filter(id=row.id).first() is None:
            raise NotFound("File not found.")
        linked = Resource.filter(file_id=row.id)
        if permissions.allowed(Action.RESOURCE_DELETE, user):
            await linked.delete()
        elif ids := await linked.order_by("id").values_list("id", flat=True):
            raise Conflict(
                f"Resource {', '.join(str(i) for i in ids)} links this file: "
                "only an ADMIN may delete it (with the resources that link it)."
            )
        await StoredFile.filter(id=row.id).delete()
    await runtime.get().storage.delete(row.storage_key)
    return True


async def files_by_id(ids: list[int]) -> list[StoredFile | None]:
    """Batch lookup in the order asked (for DataLoaders; no access check)."""
    rows = {f.id: f for f in await StoredFile.filter(id__in=ids)}
    return [rows.get(i) for i in ids]
