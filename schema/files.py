"""Files on GraphQL: ``files``, ``uploadFile`` (multipart request spec), ``deleteFile``.

Strawberry reads a multipart request with Starlette's form parser: each
file part is spooled to a temporary file (at most 1 MiB of it in memory,
the rest on disk, unlinked from the start so nothing outlives the request)
while ``BodyLimit`` counts the body as it arrives. The resolver then copies
the spooled file to storage in 1 MiB reads, where the exact
``MAX_UPLOAD_BYTES`` and quota limits apply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import strawberry
from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.datastructures import FormData as StarletteFormData
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from strawberry.file_uploads import Upload

from core.errors import BadUserInput
from models import StoredFile
from resolvers import files, limits, permissions
from resolvers.permissions import Action
from resolvers.users import require_user
from resolvers.validation import parse_id
from schema import loaders
from schema.context import Info
from schema.pagination import CountedConnection, window
from schema.users import User

READ_CHUNK = 1024 * 1024


class _CompleteMultiPartParser(MultiPartParser):
    """Starlette's parser, refusing a body that stops before its closing boundary.

    Starlette accepts such a body and drops the unfinished part without
    closing its spooled file.
    """

    ended = False

    def on_end(self) -> None:
        self.ended = True

    async def parse(self) -> StarletteFormData:
        form = await super().parse()
        if not self.ended:
            for file in self._files_to_close_on_error:  # every part's spool
                file.close()
            raise MultiPartException("Incomplete multipart body.")
        return form


class UploadRequestAdapter(StarletteRequestAdapter):
    """The view's request adapter, parsing multipart bodies with few parts.

    A multipart body is an upload, which needs a signed-in user: the caller
    (authenticated by the view's ``get_context`` from the headers, before
    any body is read) is checked first, so an anonymous upload is refused
    with UNAUTHENTICATED without spooling a byte, as on REST ``/files``.
    """

    async def get_form_data(self) -> FormData:
        request = self._request
        require_user(getattr(request.state, "viewer", None))
        parser = _CompleteMultiPartParser(
            request.headers,
            request.stream(),
            max_files=limits.MAX_UPLOAD_FILES,
            max_fields=limits.MAX_FORM_FIELDS,
        )
        try:
            form = await parser.parse()
        except MultiPartException as error:
            raise HTTPException(400, error.message) from None
        request._form = form  # closed with the request, after the response
        return FormData(files=form, form=form)


@strawberry.type
class File:
    id: strawberry.ID
    filename: str = strawberry.field(description="The sanitized name the client gave.")
    content_type: str
    size: int = strawberry.field(description="Bytes.")
    sha256: str
    url: str = strawberry.field(description="Where an authorized client downloads it (GET).")
    created_at: datetime
    _owner_id: strawberry.Private[int]

    @strawberry.field
    async def owner(self, info: Info) -> User:
        row = await loaders.users_by_id(info.context).load(self._owner_id)
        assert row is not None  # files cascade with their owner
        return User.from_row(row)

    @classmethod
    def from_row(cls, row: StoredFile) -> File:
        return cls(
            id=strawberry.ID(str(row.id)),
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            url=f"/files/{row.id}",
            created_at=row.created_at,
            _owner_id=row.owner_id,
        )


async def _read(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ_CHUNK):
        yield chunk


@strawberry.type
class FileQueries:
    @strawberry.field(
        description=f"{permissions.describe(Action.FILE_LIST)} The files the caller may read "
        f"as {permissions.who(Action.FILE_READ)}. "
        f"Without first, last or after: the newest {limits.FILES_PAGE_DEFAULT}."
    )
    async def files(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> CountedConnection[File]:
        page = window(first, after, last, before)
        result = await files.list_files(actor=info.context.user, **page)
        return CountedConnection.of(result, File.from_row)


@strawberry.type
class FileMutations:
    @strawberry.mutation(
        description=f"{permissions.describe(Action.FILE_UPLOAD)} Send it as a GraphQL multipart "
        "request."
    )
    async def upload_file(self, info: Info, file: Upload) -> File:
        if not isinstance(file, UploadFile):
            raise BadUserInput("file must be a file part of a multipart request.", field="file")
        try:
            row = await files.upload_file(
                actor=info.context.user,
                filename=file.filename,
                content_type=file.content_type,
                chunks=_read(file),
            )
        finally:
            await file.close()
        return File.from_row(row)

    @strawberry.mutation(description=permissions.describe(Action.FILE_DELETE))
    async def delete_file(self, info: Info, id: strawberry.ID) -> bool:
        return await files.delete_file(actor=info.context.user, file_id=parse_id(id))
