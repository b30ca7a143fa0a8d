"""Internal resources on GraphQL: ``resources`` and ``createResource``."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import Resource as ResourceRow
from models import ResourceKind as ResourceKindEnum
from models import StoredFile
from resolvers import permissions, resources
from resolvers.permissions import Action
from schema.context import Info
from schema.files import File
from schema.pagination import CountedConnection, window

ResourceKind = strawberry.enum(ResourceKindEnum, name="ResourceKind")


@strawberry.type
class Resource:
    id: strawberry.ID
    title: str
    description: str
    kind: ResourceKind  # type: ignore[valid-type]
    url: str | None = strawberry.field(description="An external link, or null.")
    file: File | None = strawberry.field(description="An uploaded file, or null.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: ResourceRow) -> Resource:
        # Rows come with ``file`` fetched (prefetched or set at creation).
        stored = row.file if row.file_id is not None else None
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            description=row.description,
            kind=row.kind,
            url=row.url,
            file=File.from_row(stored) if isinstance(stored, StoredFile) else None,
            created_at=row.created_at,
        )


@strawberry.input
class ResourceInput:
    title: str
    description: str = ""
    kind: ResourceKind = ResourceKindEnum.DOCUMENT  # type: ignore[valid-type]
    url: str | None = strawberry.field(
        default=None, description="http or https; exactly one of url and fileId."
    )
    file_id: strawberry.ID | None = strawberry.field(
        default=None, description="An uploaded file, which every signed-in user may then download."
    )


@strawberry.type
class ResourceQueries:
    @strawberry.field(description=permissions.describe(Action.RESOURCE_READ))
    async def resources(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        kind: ResourceKind | None = None,  # type: ignore[valid-type]
    ) -> CountedConnection[Resource]:
        page = window(first, after, last, before)
        result = await resources.list_resources(actor=info.context.user, kind=kind, **page)
        return CountedConnection.of(result, Resource.from_row)


@strawberry.type
class ResourceMutations:
    @strawberry.mutation(description=permissions.describe(Action.RESOURCE_CREATE))
    async def create_resource(self, info: Info, input: ResourceInput) -> Resource:
        row = await resources.create_resource(
            publisher=resources.publisher(info.context.user),
            title=input.title,
            description=input.description,
            kind=input.kind,
            url=input.url,
            file_id=input.file_id,
        )
        return Resource.from_row(row)
