"""What a message replies to, on GraphQL (rules in ``resolvers.replies``).

``replyTo`` loads through one DataLoader per kind: one query per page."""

from __future__ import annotations

import strawberry
from strawberry.dataloader import DataLoader

from resolvers import replies
from resolvers.limits import REPLY_PREVIEW_CHARS
from resolvers.replies import ReplyPreview
from schema import loaders
from schema.context import Context, Info
from schema.users import User


@strawberry.type(description="The message replied to, as it is now.")
class ReplyTo:
    id: strawberry.ID
    preview: str = strawberry.field(
        description=f"Its first {REPLY_PREVIEW_CHARS} characters; empty once it is deleted."
    )
    deleted: bool
    _author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        row = await loaders.users_by_id(info.context).load(self._author_id)
        return User.from_row(row) if row else None

    @classmethod
    def of(cls, preview: ReplyPreview) -> ReplyTo:
        return cls(
            id=strawberry.ID(str(preview.id)),
            preview=preview.preview,
            deleted=preview.deleted,
            _author_id=preview.author_id,
        )


def reply_previews(context: Context, dm: bool) -> DataLoader[int, ReplyPreview | None]:
    async def load(ids: list[int]) -> list[ReplyPreview | None]:
        found = await replies.previews(ids, dm=dm)
        return [found.get(i) for i in ids]

    return loaders.loader(context, "dm_replies" if dm else "replies", load)


async def reply_of(info: Info, reply_to_id: int | None, dm: bool) -> ReplyTo | None:
    if reply_to_id is None:
        return None
    preview = await reply_previews(info.context, dm).load(reply_to_id)
    return ReplyTo.of(preview) if preview else None
