"""Replies: a message may name another message of the same conversation.

- ``reply_to`` / ``replyTo`` names a message of the same room (for a room
  message) or of the same two users' conversation (for a DM); anything else
  is NOT_FOUND, whether it does not exist or lives elsewhere (nothing leaks
  about other rooms);
- history and live messages carry the replied-to id, its author and a
  preview of its first ``limits.REPLY_PREVIEW_CHARS`` characters, as it is *now*:
  once the original is deleted, the preview is a tombstone (``deleted``,
  no text). :func:`previews` reads a whole page's in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import NotFound
from models import DirectMessage, Message
from models.records import RoomMessageRow
from resolvers import limits, validation

REPLY_NOT_FOUND = "The message replied to is not in this conversation."


@dataclass(frozen=True, slots=True)
class ReplyPreview:
    id: int
    author_id: int
    preview: str  # "" once deleted
    deleted: bool


def preview_of(row: Message | DirectMessage) -> ReplyPreview:
    author = row.author_id if isinstance(row, Message) else row.sender_id
    text = "" if row.deleted else row.content[: limits.REPLY_PREVIEW_CHARS]
    return ReplyPreview(row.id, author, text, row.deleted)


async def check_room_reply(value: object, room_id: int) -> Message | None:
    if value is None:
        return None
    found = await Message.get_or_none(id=validation.parse_id(value, "replyTo"), room_id=room_id)
    if found is None:
        raise NotFound(REPLY_NOT_FOUND)
    return found


async def check_dm_reply(value: object, low: int, high: int) -> DirectMessage | None:
    if value is None:
        return None
    found = await DirectMessage.get_or_none(
        id=validation.parse_id(value, "replyTo"), user_low=low, user_high=high
    )
    if found is None:
        raise NotFound(REPLY_NOT_FOUND)
    return found


async def previews(ids: Iterable[int | None], *, dm: bool = False) -> dict[int, ReplyPreview]:
    """Previews of the messages ``ids`` (None skipped), in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    model: type[Message] | type[DirectMessage] = DirectMessage if dm else Message
    rows = await model.filter(id__in=wanted)
    return {row.id: preview_of(row) for row in rows}


async def of_rows(
    rows: Iterable[Message | RoomMessageRow | DirectMessage],
) -> dict[int, ReplyPreview]:
    """Previews of what ``rows`` reply to (all room messages, or all DMs)."""
    items = list(rows)
    dm = bool(items) and isinstance(items[0], DirectMessage)
    return await previews((r.reply_to_id for r in items), dm=dm)
