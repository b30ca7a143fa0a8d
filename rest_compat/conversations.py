"""What every REST chat path shares: how it names a message's conversation
(:class:`Conversation`), and a message as it answers one (:func:`bodies`).

Message bodies are the WebSocket frames without ``type`` (one shape on
every door): a room message and a direct message differ only in the ids
that come first (:func:`event_body`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from models import DirectMessage, Message
from models.records import RoomMessageRow
from resolvers import posted
from resolvers.events import DirectMessageSent, MessagePosted
from resolvers.reactions import ReactionCount
from rest_compat.http import iso


@dataclass(frozen=True, slots=True)
class Conversation:
    """How the paths name a conversation: a room, or the other party of a DM."""

    history: str  # its messages: GET reads them, POST sends one
    message: str  # one of its messages (PATCH, DELETE, reactions)
    param: str  # the path parameter naming it
    keyword: str  # the resolvers' keyword for it when reading or changing
    send_keyword: str  # ... and when sending

    def of(self, request: Request) -> dict[str, Any]:
        """The resolvers' keyword arguments naming the conversation and,
        on a message's path, the message."""
        found = {self.keyword: request.path_params[self.param]}
        if "message_id" in request.path_params:
            found["message_id"] = request.path_params["message_id"]
        return found


ROOM = Conversation(
    history="/chat/rooms/{room}/messages",
    message="/chat/rooms/{room}/messages/{message_id}",
    param="room",
    keyword="room",
    send_keyword="room",
)
DM = Conversation(
    history="/chat/dm/{user_id}",
    message="/chat/dm/{user_id}/messages/{message_id}",
    param="user_id",
    keyword="with_user",
    send_keyword="to",
)


def event_body(event: MessagePosted | DirectMessageSent) -> dict[str, Any]:
    """A message as the contract shows it on every door (no ``type`` here):
    ``edited_at`` once edited, ``deleted: true`` once deleted, what it
    replies to, its mentions and attachments when it has any."""
    body: dict[str, Any]
    if isinstance(event, MessagePosted):
        body = {
            "id": event.id,
            "room": event.room_name,
            "room_id": event.room_id,
            "from_user": event.author_id,
            "content": event.content,
            "timestamp": event.created_at.isoformat(),
            "client_id": event.client_id,
        }
    else:
        body = {
            "id": event.id,
            "from_user": event.sender_id,
            "to_user": event.recipient_id,
            "content": event.content,
            "timestamp": event.created_at.isoformat(),
            "client_id": event.client_id,
        }
    # Most messages have none of what follows: one test each.
    if event.edited_at is not None:
        body["edited_at"] = iso(event.edited_at)
    if event.deleted:
        body["deleted"] = True
    if event.reply_to_id is not None:
        body["reply_to"] = {
            "id": event.reply_to_id,
            "from_user": event.reply_author_id,
            "preview": event.reply_preview or "",
            "deleted": event.reply_preview is None,
        }
    if isinstance(event, MessagePosted) and event.mentions:
        body["mentions"] = list(event.mentions)
    if event.attachments:
        body["attachments"] = [{**a, "url": f"/files/{a['id']}"} for a in event.attachments]
    return body


def with_reactions(body: dict[str, Any], counts: Sequence[ReactionCount]) -> dict[str, Any]:
    """As on the WebSocket: ``reactions`` once it has any."""
    if counts:
        body["reactions"] = [
            {"reaction": c.reaction, "count": c.count, "me": c.mine} for c in counts
        ]
    return body


async def bodies(
    rows: Sequence[Message | RoomMessageRow | DirectMessage], viewer_id: int
) -> list[dict[str, Any]]:
    """Messages (or DMs) with what they reply to and their reactions, as
    history shows them (:func:`resolvers.posted.shown`)."""
    found = []
    for event, counts in await posted.shown(rows, viewer_id):
        body = event_body(event)
        found.append(with_reactions(body, counts) if counts else body)
    return found


async def body_of(row: Message | DirectMessage, viewer_id: int) -> dict[str, Any]:
    (one,) = await bodies([row], viewer_id)
    return one
