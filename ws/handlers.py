"""What each client frame does: a translation onto the chat resolvers.

Rights, validation, storage and rate limits are decided by
``resolvers.chat`` and ``resolvers.auth``; their errors travel back as
``error`` frames (mapped once, in :mod:`ws.server`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.errors import BadUserInput, Forbidden, Unauthenticated
from core.security import AccessClaims
from models import Room, User
from resolvers import auth, chat
from ws import frames
from ws.client import CLOSE_AUTH, DEDUPE_MAX_IDS, Client, RoomFeed
from ws.hub import Hub

REPLAY_PAGE = 1000
# Rooms one connection may listen to (each room is a subscription of the process).
MAX_ROOMS_PER_CONNECTION = 200


def user_frame(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


def ready_frame(user: User, expires_at: datetime, ref: frames.Ref = None) -> dict[str, Any]:
    frame = {"type": "ready", "user": user_frame(user), "expires_at": chat.timestamp(expires_at)}
    return frames.with_ref(frame, ref)


def still_valid(claims: AccessClaims) -> None:
    """The chat server ends a connection at ``exp``: it accepts no token past
    it, whatever leeway the token codec grants elsewhere."""
    if claims.expires_at <= datetime.now(UTC):
        raise Unauthenticated("Invalid or expired token.")


def _page_args(limit: int, before: int | None, after: int | None) -> dict[str, int | None]:
    """``before``: the ``limit`` messages just before it (and after ``after``
    if given); only ``after``: the ``limit`` just after it; neither: the last."""
    if after is not None and before is None:
        return {"first": limit, "after": after}
    return {"last": limit, "before": before, "after": after}


class Handlers:
    def __init__(self, hub: Hub, rebind: Callable[[Client, AccessClaims], None]) -> None:
        self.hub = hub
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
            case frames.SendMessage():
                await self.message(client, frame)
            case frames.SendDm():
                await self.dm(client, frame)
            case frames.RoomHistory():
                await self.room_history(client, frame)
            case frames.DmHistory():
                await self.dm_history(client, frame)
            case frames.Auth():
                await self.auth(client, frame)
            case frames.DeactivateUser():
                await auth.deactivate_user(actor=client.user, user_id=frame.user, field="user")
                reply = {"type": "user_deactivated", "user": frame.user}
                await client.reply(frames.with_ref(reply, frame.ref))

    async def join(self, client: Client, frame: frames.Join) -> None:
        after = chat.check_after(frame.after) if frame.after is not None else None
        room = await chat.join_room(actor=client.user, room=frame.room)
        channel = chat.room_channel(room.id)
        feed = client.feeds.get(channel)
        attached = feed is not None
        if feed is None:
            if len(client.feeds) > MAX_ROOMS_PER_CONNECTION:  # rooms + the user's own channel
                raise BadUserInput(
                    f"A connection may join at most {MAX_ROOMS_PER_CONNECTION} rooms.",
                    field="room",
                )
            feed = client.feeds[channel] = RoomFeed()
        # Listen first (buffering), read history second: nothing falls between.
        if after is not None:
            feed.start_replay()
        replayed: deque[int] = deque(maxlen=DEDUPE_MAX_IDS)
        if not attached:
            try:
                await self.hub.attach(channel, client)
            except BaseException:
                client.feeds.pop(channel, None)
                self.hub.detach(channel, client)
                raise
        try:
            if after is not None:
                await self._replay(client, room, after, replayed)
            await client.reply(
                frames.with_ref(
                    {"type": "joined", "room": room.name, "room_id": room.id}, frame.ref
                )
            )
        finally:
            client.go_live(channel, list(replayed))

    async def _replay(self, client: Client, room: Room, after: int, replayed: deque[int]) -> None:
        cursor = after
        while True:
            batch = await chat.messages_after(room_id=room.id, after=cursor, limit=REPLAY_PAGE)
            for message in batch:
                await client.reply(chat.message_event(message))
                replayed.append(message.id)
            if len(batch) < REPLAY_PAGE:
                return
            cursor = batch[-1].id

    async def message(self, client: Client, frame: frames.SendMessage) -> None:
        message = await chat.send_message(
            actor=client.user, room=frame.room, content=frame.content, client_id=frame.client_id
        )
        if frame.ref is not None:
            await client.reply(_ack(frame.ref, message.id, message.created_at))

    async def dm(self, client: Client, frame: frames.SendDm) -> None:
        dm = await chat.send_direct_message(
            actor=client.user, to=frame.to, content=frame.content, client_id=frame.client_id
        )
        if frame.ref is not None:
            await client.reply(_ack(frame.ref, dm.id, dm.created_at))

    async def room_history(self, client: Client, frame: frames.RoomHistory) -> None:
        room, page = await chat.room_messages(
            actor=client.user,
            room=frame.room,
            **_page_args(frame.limit, frame.before, frame.after),
        )
        forward = frame.after is not None and frame.before is None
        reply = {
            "type": "room_history",
            "room": room.name,
            "room_id": room.id,
            "messages": [frames.without_type(chat.message_event(m)) for m in page.items],
            "has_more": page.has_next if forward else page.has_previous,
        }
        await client.reply(frames.with_ref(reply, frame.ref))

    async def dm_history(self, client: Client, frame: frames.DmHistory) -> None:
        page = await chat.direct_messages(
            actor=client.user,
            with_user=frame.with_user,
            **_page_args(frame.limit, frame.before, frame.after),
        )
        forward = frame.after is not None and frame.before is None
        reply = {
            "type": "dm_history",
            "with": frame.with_user,
            "messages": [frames.without_type(chat.dm_event(d)) for d in page.items],
            "has_more": page.has_next if forward else page.has_previous,
        }
        await client.reply(frames.with_ref(reply, frame.ref))

    async def auth(self, client: Client, frame: frames.Auth) -> None:
        """Renew the connection's token. An invalid or expired one is an
        UNAUTHENTICATED error frame, another user's a FORBIDDEN one; either
        way the connection goes on with the token it had."""
        user, claims = await auth.authenticate(frame.token)
        still_valid(claims)
        if user.id != client.user.id:
            raise Forbidden("This token belongs to another user.")
        client.user = user
        self._rebind(client, claims)
        await client.reply(ready_frame(user, claims.expires_at, frame.ref))


def _ack(ref: frames.Ref, row_id: int, created_at: datetime) -> dict[str, Any]:
    return {"type": "ack", "ref": ref, "id": row_id, "timestamp": chat.timestamp(created_at)}
