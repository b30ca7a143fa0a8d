"""Reactions to room messages and direct messages.

The rules, once for every door:

- whoever may read a message (resolvers.message_changes.room_message /
  direct_message) adds or removes a reaction; a tombstone takes none
  (CONFLICT);
- a reaction is one grapheme cluster (not a space or a control
  character), or a ``:shortcode:`` of 1..``SHORTCODE_MAX`` ``[a-z0-9_+-]``;
- one of each reaction per user and message: adding it again, or removing
  one that is not there, changes nothing and tells nobody;
- a message holds at most ``MESSAGE_MAX_REACTIONS`` (default 20) distinct
  reactions (CONFLICT past that);
- each change counts against the message rate limit, is logged in the
  conversation's change log and published live (ReactionChanged).

History shows, per message, each reaction with its count and whether the
viewer is among those who reacted: :func:`summaries` reads a whole page in
two queries, whatever its size.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import regex
from tortoise.functions import Count, Min

from core import runtime
from core.errors import BadUserInput, Conflict
from models import DirectMessage, Message, Reaction, User
from resolvers import sending
from resolvers.change_events import REACTED, UNREACTED, ChangeEvent, ReactionChanged
from resolvers.limits import SHORTCODE_MAX
from resolvers.message_changes import (
    DELETED_ALREADY,
    Target,
    direct_message,
    event_fields,
    record_change,
    room_message,
)
from resolvers.users import require_user

SHORTCODE = regex.compile(rf":[a-z0-9_+\-]{{1,{SHORTCODE_MAX}}}:")
GRAPHEME = regex.compile(r"\X")
REACTION_RULE = (
    f"one emoji (a single grapheme cluster) or a :shortcode: of 1..{SHORTCODE_MAX} [a-z0-9_+-]"
)


def check_reaction(value: object) -> str:
    if isinstance(value, str):
        if SHORTCODE.fullmatch(value):
            return value
        if GRAPHEME.fullmatch(value) and unicodedata.category(value[0])[0] not in "ZC":
            return value
    raise BadUserInput(f"reaction must be {REACTION_RULE}.", field="reaction")


@dataclass(frozen=True, slots=True)
class ReactionCount:
    reaction: str
    count: int
    mine: bool


def _key(target: Target) -> dict[str, int]:
    return {"dm_id": target.row.id} if target.is_dm else {"message_id": target.row.id}


async def react(target: Target, *, actor: User | None, reaction: object, add: bool) -> bool:
    """Add (``add``) or remove the actor's reaction; False when nothing changed."""
    user = require_user(actor)
    value = check_reaction(reaction)
    if target.row.deleted:
        raise Conflict(DELETED_ALREADY)
    await sending.check_rate(user)
    key = _key(target)
    limit = runtime.get().settings.message_max_reactions

    async def apply(conn: Any) -> bool:
        if target.row.deleted:
            raise Conflict(DELETED_ALREADY)
        mine = Reaction.filter(**key, user_id=user.id, reaction=value).using_db(conn)
        if not add:
            return bool(await mine.delete())
        if await mine.exists():
            return False
        given = await Reaction.filter(**key).using_db(conn).distinct().values_list("reaction")
        distinct = {str(row[0]) for row in given}
        if value not in distinct and len(distinct) >= limit:
            raise Conflict(f"A message holds at most {limit} distinct reactions.")
        await Reaction.create(**key, user_id=user.id, reaction=value, using_db=conn)
        return True

    def event(seq: int) -> ChangeEvent:
        return ReactionChanged(
            **event_fields(target, seq), user_id=user.id, reaction=value, added=add
        )

    kind = REACTED if add else UNREACTED
    return await record_change(target, user, kind, apply, event, reaction=value)


async def react_to_message(
    *, actor: User | None, message_id: object, reaction: object, add: bool, room: object = None
) -> Message:
    target = await room_message(actor=actor, message_id=message_id, room=room)
    await react(target, actor=actor, reaction=reaction, add=add)
    assert isinstance(target.row, Message)
    return target.row


async def react_to_direct_message(
    *,
    actor: User | None,
    message_id: object,
    reaction: object,
    add: bool,
    with_user: object = None,
) -> DirectMessage:
    target = await direct_message(actor=actor, message_id=message_id, with_user=with_user)
    await react(target, actor=actor, reaction=reaction, add=add)
    assert isinstance(target.row, DirectMessage)
    return target.row


async def reactors(target: Target) -> list[Reaction]:
    """Who reacted, with what, oldest first (the caller may read the message)."""
    return list(await Reaction.filter(**_key(target)).order_by("id"))


async def message_reactors(
    *, actor: User | None, message_id: object, room: object = None
) -> list[Reaction]:
    return await reactors(await room_message(actor=actor, message_id=message_id, room=room))


async def direct_message_reactors(
    *, actor: User | None, message_id: object, with_user: object = None
) -> list[Reaction]:
    target = await direct_message(actor=actor, message_id=message_id, with_user=with_user)
    return await reactors(target)


async def summaries(
    *, viewer_id: int | None, ids: list[int], dm: bool = False
) -> dict[int, list[ReactionCount]]:
    """Reactions of the messages ``ids`` (already checked readable), each
    in the order it was first given: two queries for any number of ids."""
    column = "dm_id" if dm else "message_id"
    result: dict[int, list[ReactionCount]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = (
        await Reaction.filter(**{f"{column}__in": ids})
        .annotate(n=Count("id"), first=Min("id"))
        .group_by(column, "reaction")
        .order_by("first")
        .values(column, "reaction", "n")
    )
    mine: set[tuple[int, str]] = set()
    if viewer_id is not None and rows:
        own = await Reaction.filter(**{f"{column}__in": ids}, user_id=viewer_id).values_list(
            column, "reaction"
        )
        mine = {(int(m), str(r)) for m, r in own}
    for row in rows:
        message_id = int(row[column])
        reaction = str(row["reaction"])
        result[message_id].append(
            ReactionCount(reaction, int(row["n"]), (message_id, reaction) in mine)
        )
    return result
