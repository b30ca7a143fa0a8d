"""GraphQL types of reactions, and their per-page loaders.

``Message.reactions`` / ``DirectMessage.reactions`` load through one
DataLoader per kind: a page of any size costs two queries
(``resolvers.reactions.summaries``). ``viewerReacted`` depends on the
viewer.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from models import Reaction
from resolvers import reactions
from resolvers.reactions import REACTION_RULE, ReactionCount
from schema import loaders
from schema.context import Context, Info
from schema.fanout_keys import VIEWER_DEPENDENT
from schema.users import User, user_by_id


@strawberry.type(description="One reaction of a message: " + REACTION_RULE + ".")
class ReactionSummary:
    reaction: str
    count: int
    viewer_reacted: bool = strawberry.field(
        description="Whether the caller is among those who reacted (depends on the viewer).",
        metadata=VIEWER_DEPENDENT,
    )

    @classmethod
    def of(cls, count: ReactionCount) -> ReactionSummary:
        return cls(reaction=count.reaction, count=count.count, viewer_reacted=count.mine)


@strawberry.type(description="Who reacted to a message, with what.")
class Reactor:
    reaction: str
    created_at: datetime
    _user_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await user_by_id(info, self._user_id)

    @classmethod
    def from_row(cls, row: Reaction) -> Reactor:
        return cls(reaction=row.reaction, created_at=row.created_at, _user_id=row.user_id)


def reaction_counts(context: Context, dm: bool) -> DataLoader[int, list[ReactionCount]]:
    """Reactions of messages (or DMs) by id, as the viewer sees them."""

    async def load(ids: list[int]) -> list[list[ReactionCount]]:
        viewer = context.user.id if context.user else None
        found = await reactions.summaries(viewer_id=viewer, ids=ids, dm=dm)
        return [found[i] for i in ids]

    return loaders.loader(context, "dm_reactions" if dm else "reactions", load)


async def summaries_of(info: Info, message_id: int, dm: bool) -> list[ReactionSummary]:
    counts = await reaction_counts(info.context, dm).load(message_id)
    return [ReactionSummary.of(c) for c in counts]
