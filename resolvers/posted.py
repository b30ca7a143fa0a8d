"""Stored messages as the events the doors render, with what they carry.

A page of room messages or of DMs (never mixed) becomes one
:class:`resolvers.events.MessagePosted` or
:class:`resolvers.events.DirectMessageSent` per row, with what it replies
to and its attachments, and the row's reactions as the viewer sees them:
three queries for any number of rows, fewer when the page read says
which rows have no reactions or attachments (:func:`has_any`). REST bodies and WS history items
are each door's rendering of these (``rest_compat.conversations``,
``ws.event_frames``).
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.expressions import RawSQL

from models import Attachment, DirectMessage, Message, Reaction
from models.records import RoomMessageRow
from resolvers import attachments, reactions, replies
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.reactions import ReactionCount

Shown = tuple[MessagePosted | DirectMessageSent, list[ReactionCount]]

# Annotations a page read may put on its rows (:func:`has_any`): whether a
# row has any reaction, any attachment. Rows that say no skip those
# queries; rows read without them are looked up as before.
HAS_REACTIONS = "has_reactions"
HAS_ATTACHMENTS = "has_attachments"


def has_any(model: type[Message] | type[DirectMessage]) -> dict[str, RawSQL]:
    """The :data:`HAS_REACTIONS` and :data:`HAS_ATTACHMENTS` annotations of
    a query of ``model`` (an index lookup per row, in the page's own query)."""
    table = model._meta.db_table
    column = "dm_id" if model is DirectMessage else "message_id"
    return {
        flag: RawSQL(
            f'EXISTS (SELECT 1 FROM "{other._meta.db_table}" '
            f'WHERE "{other._meta.db_table}"."{column}" = "{table}"."id")'
        )
        for flag, other in ((HAS_REACTIONS, Reaction), (HAS_ATTACHMENTS, Attachment))
    }


Row = Message | RoomMessageRow | DirectMessage


def _may_have(rows: Sequence[Row], flag: str) -> list[int]:
    """Ids of the rows whose page read did not say they have none (a flag
    not read, None on a record, means: look it up)."""
    found = []
    for row in rows:
        value = getattr(row, flag, None)
        if value is None or value:
            found.append(row.id)
    return found


async def shown(rows: Sequence[Row], viewer_id: int) -> list[Shown]:
    """Each row (a room message's room loaded, or a record) as its event and
    its reactions."""
    dm = bool(rows) and isinstance(rows[0], DirectMessage)
    counts = await reactions.summaries(
        viewer_id=viewer_id, ids=_may_have(rows, HAS_REACTIONS), dm=dm
    )
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages(_may_have(rows, HAS_ATTACHMENTS), dm=dm)
    result: list[Shown] = []
    for row in rows:
        reply_to_id = row.reply_to_id
        reply = None if reply_to_id is None else reps.get(reply_to_id)
        attached = files.get(row.id, ())
        event = (
            DirectMessageSent.from_row(row, reply, attached)
            if isinstance(row, DirectMessage)
            else MessagePosted.from_row(row, reply, attached)
        )
        result.append((event, counts.get(row.id, [])))
    return result
