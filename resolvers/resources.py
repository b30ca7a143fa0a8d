"""Internal resources: documents, tutorials and links every member can browse.

Rules:

- any authenticated user lists them (optionally one ``kind``;
  ``Action.RESOURCE_READ``);
- only an ADMIN creates one (``Action.RESOURCE_CREATE``): a door gets a
  :class:`Publisher` from :func:`publisher`, the one check, before it
  reads any input;
- a resource points at exactly one thing: an external ``url`` (absolute
  http or https, at most ``RESOURCE_URL_MAX`` characters, no credentials; stored as given,
  never fetched by the server) or an uploaded file (``file_id``), which
  every authenticated user may then download, and which only an ADMIN may
  delete while resources link it, deleting them too (see ``resolvers.files``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack
from urllib.parse import urlsplit

from tortoise.queryset import QuerySet

from core.errors import BadUserInput
from core.transactions import transaction
from models import Resource, ResourceKind, StoredFile, User
from resolvers import limits, permissions, validation
from resolvers.pagination import CountedPage, PageRequest, counted_page, offset_page
from resolvers.permissions import Action


@dataclass(frozen=True, slots=True)
class Publisher:
    """Leave to create resources, made only by :func:`publisher`."""

    user: User


def publisher(actor: User | None) -> Publisher:
    return Publisher(permissions.require(Action.RESOURCE_CREATE, actor))


def parse_kind(value: object, field: str = "kind") -> ResourceKind:
    if isinstance(value, ResourceKind):
        return value
    if isinstance(value, str):
        try:
            return ResourceKind(value.strip().upper())
        except ValueError:
            pass
    names = ", ".join(k.value for k in ResourceKind)
    raise BadUserInput(f"{field} must be one of {names}.", field=field)


def check_url(value: object, field: str = "url") -> str:
    """An absolute http(s) URL with a host; anything else is refused."""
    url = validation.single_line(value, field, max_len=limits.RESOURCE_URL_MAX)
    if any(ch.isspace() for ch in url) or not url.isprintable():
        raise BadUserInput(f"{field} must not contain spaces or control characters.", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise BadUserInput(f"{field} is not a valid URL.", field=field) from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise BadUserInput(f"{field} must be an http or https URL.", field=field)
    if not host:
        raise BadUserInput(f"{field} must be an absolute URL with a host.", field=field)
    if parts.username is not None or parts.password is not None:
        raise BadUserInput(f"{field} must not carry credentials.", field=field)
    return url


def _filtered(kind: object) -> QuerySet[Resource]:
    queryset = Resource.all()
    if kind is not None and kind != "":
        queryset = queryset.filter(kind=parse_kind(kind))
    return queryset


async def list_resources(
    *,
    actor: User | None,
    kind: object = None,
    **page: Unpack[PageRequest],
) -> CountedPage[Resource]:
    permissions.require(Action.RESOURCE_READ, actor)
    return await counted_page(
        _filtered(kind), page, default_first=limits.RESOURCES_PAGE_DEFAULT, prefetch=("file",)
    )


async def list_resources_offset(
    *,
    actor: User | None,
    limit: int | None = None,
    offset: int | None = None,
    kind: object = None,
) -> list[Resource]:
    """The legacy REST listing: offset paging, ordered by id."""
    permissions.require(Action.RESOURCE_READ, actor)
    queryset = _filtered(kind)
    return await offset_page(queryset, limit=limit, offset=offset)


async def create_resource(
    *,
    publisher: Publisher,
    title: object,
    description: object = "",
    kind: object = ResourceKind.DOCUMENT,
    url: object = None,
    file_id: object = None,
    file_field: str = "fileId",
) -> Resource:
    """Exactly one of ``url`` and ``file_id``."""
    clean_title = validation.single_line(title, "title", max_len=limits.RESOURCE_TITLE_MAX)
    clean_description = validation.text(
        "" if description is None else description,
        "description",
        max_len=limits.RESOURCE_DESCRIPTION_MAX,
    )
    clean_kind = parse_kind(ResourceKind.DOCUMENT if kind is None else kind)
    if (url is None) == (file_id is None):
        raise BadUserInput(f"Give exactly one of url and {file_field}.", field="url")
    clean_url = check_url(url) if url is not None else None
    clean_file_id = validation.parse_id(file_id, file_field) if file_id is not None else None
    async with transaction():
        stored: StoredFile | None = None
        if clean_file_id is not None:
            # Locked so that files.delete_file cannot remove it while it is linked.
            stored = await StoredFile.select_for_update().filter(id=clean_file_id).first()
            if stored is None:
                raise BadUserInput(
                    f"{file_field} does not name an uploaded file.", field=file_field
                )
        return await Resource.create(
            title=clean_title,
            description=clean_description,
            kind=clean_kind,
            url=clean_url,
            file=stored,
            created_by=publisher.user,
        )
