"""Reactions on GraphQL: add, remove, list who reacted (rules in
``resolvers.reactions``). Changes reach ``roomMessageChanges`` /
``directMessageChanges`` subscribers as REACTION_ADDED / REACTION_REMOVED."""

from __future__ import annotations

import strawberry

from resolvers import reactions
from resolvers.reactions import REACTION_RULE
from schema.context import Info
from schema.message_types import DirectMessage, Message, room_message
from schema.reaction_types import Reactor

_ADD = (
    f"Add the caller's reaction ({REACTION_RULE}); whoever may read the message. Idempotent; "
    "counts against the message rate limit."
)
_REMOVE = "Remove the caller's reaction (idempotent)."


@strawberry.type
class ReactionQueries:
    @strawberry.field(description="Who reacted to a room message, with what, oldest first.")
    async def message_reactions(self, info: Info, id: strawberry.ID) -> list[Reactor]:
        rows = await reactions.message_reactors(actor=info.context.user, message_id=id)
        return [Reactor.from_row(r) for r in rows]

    @strawberry.field(description="Who reacted to a direct message, with what, oldest first.")
    async def direct_message_reactions(self, info: Info, id: strawberry.ID) -> list[Reactor]:
        rows = await reactions.direct_message_reactors(actor=info.context.user, message_id=id)
        return [Reactor.from_row(r) for r in rows]


async def _react(info: Info, id: strawberry.ID, reaction: str, *, add: bool) -> Message:
    row = await reactions.react_to_message(
        actor=info.context.user, message_id=id, reaction=reaction, add=add
    )
    return room_message(info, row)


async def _react_dm(info: Info, id: strawberry.ID, reaction: str, *, add: bool) -> DirectMessage:
    row = await reactions.react_to_direct_message(
        actor=info.context.user, message_id=id, reaction=reaction, add=add
    )
    return DirectMessage.from_row(row)


@strawberry.type
class ReactionMutations:
    @strawberry.mutation(description=_ADD)
    async def add_reaction(self, info: Info, id: strawberry.ID, reaction: str) -> Message:
        return await _react(info, id, reaction, add=True)

    @strawberry.mutation(description=_REMOVE)
    async def remove_reaction(self, info: Info, id: strawberry.ID, reaction: str) -> Message:
        return await _react(info, id, reaction, add=False)

    @strawberry.mutation(description=_ADD)
    async def add_direct_message_reaction(
        self, info: Info, id: strawberry.ID, reaction: str
    ) -> DirectMessage:
        return await _react_dm(info, id, reaction, add=True)

    @strawberry.mutation(description=_REMOVE)
    async def remove_direct_message_reaction(
        self, info: Info, id: strawberry.ID, reaction: str
    ) -> DirectMessage:
        return await _react_dm(info, id, reaction, add=False)
