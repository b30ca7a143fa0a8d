"""What each client frame does: a translation onto the chat resolvers.

Rights, validation, storage and rate limits are decided by
the chat resolvers (``resolvers.rooms``, ``resolvers.messages``,
``resolvers.direct_messages`` ...) and ``resolvers.auth``; their errors travel back as
``error`` frames (mapped once, in :mod:`ws.server`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.errors import BadUserInput, Forbidden
from core.security import AccessClaims
from models import DirectMessage, Message, User
from resolvers import (
    auth,
    direct_messages,
    live,
    message_changes,
    messages,
    pagination,
    presence,
    reactions,
    rooms,
    search,
    typing,
)
from resolvers.events import room_channel
from resolvers.limits import MAX_ROOMS_PER_CONNECTION
from resolvers.pagination import Page, Window
from ws import (
    change_frames,
    event_frames,
    frames,
    presence_frames,
    read_frames,
    read_handlers,
    search_frames,
)
from ws.client import CLOSE_AUTH, Client


def user_frame(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def ready_frame(user: User, expires_at: datetime, ref: frames.Ref = None) -> dict[str, Any]:
    frame = {
        "type": "ready",
        "user": user_frame(user),
        "expires_at": frames.timestamp(expires_at),
    }
    return frames.with_ref(frame, ref)


class Handlers:
    def __init__(self, rebind: Callable[[Client, AccessClaims], None]) -> None:
        self._rebind = rebind

    async def handle(self, client: Client, frame: frames.Frame) -> None:
        try:
            async with auth.in_session(client.session_id):
                await self._dispatch(client, frame)
        except auth.SessionEnded:
            client.close_soon(CLOSE_AUTH, "session revoked")
            raise

    async def _dispatch(self, client: Client, frame: frames.Frame) -> None:
        match frame:
            case frames.Join():
                await self.join(client, frame)
            case frames.SendMessage() | frames.SendDm():
                await self.send(client, frame)
            case frames.RoomHistory() | frames.DmHistory():
                await self.history(client, frame)
            case frames.Auth():
                await self.auth(client, frame)
            case frames.DeactivateUser():
                await auth.deactivate_user(actor=client.user, user_id=frame.user, field="user")
                reply = {"type": "user_deactivated", "user": frame.user}
                await client.reply(frames.with_ref(reply, frame.ref))
            case change_frames.Edit():
                await self.edit(client, frame)
            case change_frames.Delete():
                await self.delete(client, frame)
            case change_frames.React():
                await self.react(client, frame)
            case change_frames.Reactions():
                await self.reactions(client, frame)
            case search_frames.Search():
                await self.search(client, frame)
            case read_frames.Read():
                await read_handlers.read(client, frame)
            case read_frames.UnreadCounts():
                await read_handlers.unread(client, frame)
            case read_frames.Sync():
                await read_handlers.sync(client, frame)
            case presence_frames.Typing():
                await self.typing(client, frame)
            case presence_frames.Presence():
                await self.presence(client, frame)
            case frames.Leave():
                await self.leave(client, frame)

    async def join(self, client: Client, frame: frames.Join) -> None:
        """Join a room (idempotent); with ``after``, the stored messages after
        it come first, then live ones (no gap, no duplicate: resolvers.live)."""
        after = pagination.check_after(frame.after) if frame.after is not None else None
        room = await rooms.join_room(actor=client.user, room=frame.room)
        channel = room_channel(room.id)
        feeds = live.get()
        if channel in client.channels and after is not None:
            # Joined already, and asking for a replay: start over from `after`.
            client.channels.discard(channel)
            feeds.detach(channel, client)
        if channel not in client.channels:
            if len(client.channels) > MAX_ROOMS_PER_CONNECTION:  # rooms + the user's own channel
                raise BadUserInput(
                    f"A connection may join at most {MAX_ROOMS_PER_CONNECTION} rooms.",
                    field="room",
                )
            client.channels.add(channel)
            try:
                await feeds.attach(channel, client, after=after)
            except BaseException:
                client.channels.discard(channel)
                raise
        await client.reply(
            frames.with_ref({"type": "joined", "room": room.name, "room_id": room.id}, frame.ref)
        )

    async def leave(self, client: Client, frame: frames.Leave) -> None:
        """Leave a room (idempotent, rules in resolvers.rooms): this
        connection stops getting its messages and presence changes (the
        user's other connections too: ws.client.Client._left)."""
        found = await rooms.resolve_room(actor=client.user, room=frame.room)
        client.leaving = found.id  # answered below, with the frame's ref
        try:
            room = await rooms.leave_room(actor=client.user, room=found)
        finally:
            client.leaving = 0
        channel = room_channel(room.id)
        if channel in client.channels:
            client.channels.discard(channel)
            live.get().detach(channel, client)
        client.hear_presence(room.id, False)
        await client.reply(
            frames.with_ref({"type": "left", "room": room.name, "room_id": room.id}, frame.ref)
        )

    async def send(self, client: Client, frame: frames.SendMessage | frames.SendDm) -> None:
        """Send a room message (``message``) or a DM (``dm``); the ack
        carries its id and ``timestamp``."""
        row: Message | DirectMessage
        if isinstance(frame, frames.SendMessage):
            row = await messages.send_message(actor=client.user, room=frame.room, **frame.sent())
        else:
            row = await direct_messages.send_direct_message(
                actor=client.user, to=frame.to, **frame.sent()
            )
        if frame.ref is not None:
            await client.reply(_ack(frame.ref, row.id, row.created_at))

    async def edit(self, client: Client, frame: change_frames.Edit) -> None:
        """Edit a room message (``edit``) or a DM (``dm_edit``); the ack
        carries its ``edited_at`` as ``timestamp``."""
        edit = message_changes.edit_direct_message if frame.dm else message_changes.edit_message
        row = await edit(actor=client.user, message_id=frame.id, content=frame.content)
        if frame.ref is not None:
            assert row.edited_at is not None
            await client.reply(_ack(frame.ref, row.id, row.edited_at))

    async def delete(self, client: Client, frame: change_frames.Delete) -> None:
        delete = (
            message_changes.delete_direct_message if frame.dm else message_changes.delete_message
        )
        row = await delete(actor=client.user, message_id=frame.id)
        if frame.ref is not None:
            await client.reply(_ack(frame.ref, row.id, row.created_at))

    async def react(self, client: Client, frame: change_frames.React) -> None:
        react = reactions.react_to_direct_message if frame.dm else reactions.react_to_message
        row = await react(
            actor=client.user, message_id=frame.id, reaction=frame.reaction, add=frame.add
        )
        if frame.ref is not None:
            await client.reply(_ack(frame.ref, row.id, row.created_at))

    async def reactions(self, client: Client, frame: change_frames.Reactions) -> None:
        read = reactions.direct_message_reactors if frame.dm else reactions.message_reactors
        rows = await read(actor=client.user, message_id=frame.id)
        reply = {
            "type": "dm_reactions" if frame.dm else "reactions",
            "id": frame.id,
            "reactions": [{"reaction": r.reaction, "user_id": r.user_id} for r in rows],
        }
        await client.reply(frames.with_ref(reply, frame.ref))

    async def typing(self, client: Client, frame: presence_frames.Typing) -> None:
        if frame.room is not None:
            sent = await typing.in_room(actor=client.user, room=frame.room)
        else:
            sent = await typing.to_user(actor=client.user, to=frame.to)
        if frame.ref is not None:
            reply = presence_frames.typing_sent_frame(sent.expires_at, sent.delivered)
            await client.reply(frames.with_ref(reply, frame.ref))

    async def presence(self, client: Client, frame: presence_frames.Presence) -> None:
        """Who is online in a room (or among the caller's DM partners), and
        from then on this connection's ``presence_changed`` frames of them
        (of a room: once joined)."""
        if frame.room is None:
            members = await presence.partner_presence(actor=client.user)
            client.hear_presence(0, True)
            reply = presence_frames.presence_frame(None, None, members)
        else:
            room, members = await presence.room_presence(actor=client.user, room=frame.room)
            client.hear_presence(room.id, True)
            reply = presence_frames.presence_frame(room.name, room.id, members)
        await client.reply(frames.with_ref(reply, frame.ref))

    async def history(self, client: Client, frame: frames.RoomHistory | frames.DmHistory) -> None:
        """A page of a room's history (``room_history``) or of a DM
        conversation (``dm_history``), with ``has_more`` in its direction."""
        window = Window.of(frame.limit, before=frame.before, after=frame.after)
        reply: dict[str, Any]
        page: Page[Any]
        if isinstance(frame, frames.RoomHistory):
            room, page = await messages.room_messages(
                actor=client.user, room=frame.room, **window.args()
            )
            reply = {"type": "room_history", "room": room.name, "room_id": room.id}
        else:
            page = await direct_messages.direct_messages(
                actor=client.user, with_user=frame.with_user, **window.args()
            )
            reply = {"type": "dm_history", "with": frame.with_user}
        reply["messages"] = await event_frames.history_items(page.items, client.user.id)
        reply["has_more"] = window.has_more(page)
        await client.reply(frames.with_ref(reply, frame.ref))

    async def search(self, client: Client, frame: search_frames.Search) -> None:
        page = await search.search_messages(
            actor=client.user,
            query=frame.query,
            room=frame.room,
            author=frame.author,
            since=frame.since,
            until=frame.until,
            first=frame.limit,
            after=frame.after,
        )
        reply = await event_frames.search_results(page, client.user.id)
        await client.reply(frames.with_ref(reply, frame.ref))

    async def auth(self, client: Client, frame: frames.Auth) -> None:
        """Renew the connection's token. An invalid or expired one is an
        UNAUTHENTICATED error frame, another user's a FORBIDDEN one; either
        way the connection goes on with the token it had."""
        user, claims = await auth.authenticate(frame.token, connection=True)
        live.check_unexpired(claims)
        if user.id != client.user.id:
            raise Forbidden("This token belongs to another user.")
        client.user = user
        self._rebind(client, claims)
        await client.reply(ready_frame(user, claims.expires_at, frame.ref))


def _ack(ref: frames.Ref, row_id: int, created_at: datetime) -> dict[str, Any]:
    return {
        "type": "ack",
        "ref": ref,
        "id": row_id,
        "timestamp": frames.timestamp(created_at),
    }
