"""Stored messages as the events the doors render, with what they carry.

A page of room messages or of DMs (never mixed) becomes one
:class:`resolvers.events.MessagePosted` or
:class:`resolvers.events.DirectMessageSent` per row, with what it replies
to and its attachments, and the row's reactions as the viewer sees them:
three queries for any number of rows. REST bodies and WS history items
are each door's rendering of these (``rest_compat.conversations``,
``ws.event_frames``).
"""

from __future__ import annotations

from collections.abc import Sequence

from models import DirectMessage, Message
from resolvers import attachments, reactions, replies
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.reactions import ReactionCount

Shown = tuple[MessagePosted | DirectMessageSent, list[ReactionCount]]


async def shown(rows: Sequence[Message | DirectMessage], viewer_id: int) -> list[Shown]:
    """Each row (a room message's room loaded) as its event and its reactions."""
    ids = [row.id for row in rows]
    dm = bool(rows) and isinstance(rows[0], DirectMessage)
    counts = await reactions.summaries(viewer_id=viewer_id, ids=ids, dm=dm)
    reps = await replies.of_rows(rows)
    files = await attachments.of_messages(ids, dm=dm)
    result: list[Shown] = []
    for row in rows:
        reply = reps.get(row.reply_to_id or 0)
        event = (
            DirectMessageSent.from_row(row, reply, files[row.id])
            if isinstance(row, DirectMessage)
            else MessagePosted.from_row(row, reply, files[row.id])
        )
        result.append((event, counts[row.id]))
    return result
