"""Frames of the chat WebSocket protocol, parsed and built without any I/O.

:func:`parse` turns one received WebSocket message (``str`` for a text
frame, ``bytes`` for a binary one) into a typed frame, or raises
:class:`FrameError`, and nothing else, whatever the input: malformed JSON,
a non-object, an unknown ``type``, a missing or mistyped field, a binary
frame. The server answers a :class:`FrameError` with an ``error`` frame of
code ``BAD_USER_INPUT`` and keeps the connection open.

Only the shape of a frame is checked here (each field read through
:class:`ws.frame_fields.Fields`); what it asks for (rights, content
length, ids in range) is decided by the resolvers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from ws.change_frames import (
    Delete,
    Edit,
    React,
    Reactions,
    delete_parser,
    edit_parser,
    react_parser,
    reactions_parser,
)
from ws.frame_fields import Fields, read_ref, reject_constant
from ws.frame_fields import FrameError as FrameError
from ws.frame_fields import Ref as Ref
from ws.frame_fields import RoomRef as RoomRef
from ws.presence_frames import Presence, Typing, presence_parser, typing_parser
from ws.read_frames import (
    Read,
    Sync,
    UnreadCounts,
    read_parser,
    sync_parser,
    unread_parser,
)
from ws.search_frames import Search, search_parser


@dataclass(frozen=True, slots=True)
class Join:
    ref: Ref
    room: RoomRef
    after: int | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    ref: Ref
    room: RoomRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Sending:
    """What a ``message`` and a ``dm`` frame both carry (keyword-only)."""

    content: str
    client_id: str | None = None
    reply_to: int | None = None
    attachments: list[Any] | None = None

    def sent(self) -> dict[str, Any]:
        """The resolvers' keyword arguments of the message sent."""
        return {
            "content": self.content,
            "client_id": self.client_id,
            "reply_to": self.reply_to,
            "attachments": self.attachments,
        }


@dataclass(frozen=True, slots=True)
class SendMessage(Sending):
    ref: Ref
    room: RoomRef


@dataclass(frozen=True, slots=True)
class SendDm(Sending):
    ref: Ref
    to: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Paging:
    """The page a ``room_history`` or ``dm_history`` frame asks for (keyword-only)."""

    limit: int | None = None
    before: int | None = None
    after: int | None = None


@dataclass(frozen=True, slots=True)
class RoomHistory(Paging):
    ref: Ref
    room: RoomRef


@dataclass(frozen=True, slots=True)
class DmHistory(Paging):
    ref: Ref
    with_user: int


@dataclass(frozen=True, slots=True)
class Auth:
    ref: Ref
    token: str


@dataclass(frozen=True, slots=True)
class DeactivateUser:
    ref: Ref
    user: int


Frame: TypeAlias = (
    Join
    | SendMessage
    | SendDm
    | RoomHistory
    | DmHistory
    | Auth
    | DeactivateUser
    | Edit
    | Delete
    | React
    | Reactions
    | Search
    | Read
    | UnreadCounts
    | Sync
    | Typing
    | Presence
    | Leave
)


def _join(f: Fields) -> Join:
    return Join(ref=f.ref, room=f.room(), after=f.integer("after"))


def _sending(f: Fields) -> dict[str, Any]:
    return {
        "content": f.required_string("content"),
        "client_id": f.string("client_id", required=False),
        "reply_to": f.integer("reply_to"),
        "attachments": f.id_list("attachments"),
    }


def _paging(f: Fields) -> dict[str, Any]:
    return {"limit": f.integer("limit"), "before": f.integer("before"), "after": f.integer("after")}


def _message(f: Fields) -> SendMessage:
    return SendMessage(ref=f.ref, room=f.room(), **_sending(f))


def _dm(f: Fields) -> SendDm:
    return SendDm(ref=f.ref, to=f.user_id("to"), **_sending(f))


def _room_history(f: Fields) -> RoomHistory:
    return RoomHistory(ref=f.ref, room=f.room(), **_paging(f))


def _dm_history(f: Fields) -> DmHistory:
    return DmHistory(ref=f.ref, with_user=f.user_id("with"), **_paging(f))


def _auth(f: Fields) -> Auth:
    token = f.required_string("token")
    if not token.strip():
        raise f.fail("token", "token must not be empty.")
    return Auth(ref=f.ref, token=token.strip())


def _deactivate_user(f: Fields) -> DeactivateUser:
    return DeactivateUser(ref=f.ref, user=f.user_id("user"))


PARSERS: dict[str, Callable[[Fields], Frame]] = {
    "join": _join,
    "message": _message,
    "dm": _dm,
    "room_history": _room_history,
    "dm_history": _dm_history,
    "auth": _auth,
    "deactivate_user": _deactivate_user,
    "edit": edit_parser(False),
    "delete": delete_parser(False),
    "dm_edit": edit_parser(True),
    "dm_delete": delete_parser(True),
    "react": react_parser(True, False),
    "unreact": react_parser(False, False),
    "dm_react": react_parser(True, True),
    "dm_unreact": react_parser(False, True),
    "reactions": reactions_parser(False),
    "dm_reactions": reactions_parser(True),
    "search": search_parser,
    "read": read_parser,
    "unread": unread_parser,
    "sync": sync_parser,
    "typing": typing_parser,
    "presence": presence_parser,
    "leave": lambda f: Leave(ref=f.ref, room=f.room()),
}


def parse(data: str | bytes) -> Frame:
    """One received message as a frame; :class:`FrameError` if it is not one."""
    if not isinstance(data, str):
        raise FrameError("Binary frames are not supported: send JSON in text frames.")
    try:
        value = json.loads(data, parse_constant=reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers too long to convert;
        # RecursionError, nesting deeper than the parser's stack.
        raise FrameError("Malformed JSON.") from None
    if not isinstance(value, dict):
        raise FrameError("A frame must be a JSON object.")
    ref = read_ref(value)
    kind = value.get("type")
    if not isinstance(kind, str):
        raise FrameError("type is required and must be a string.", field="type", ref=ref)
    parser = PARSERS.get(kind)
    if parser is None:
        raise FrameError(
            "Unknown frame type; expected one of: " + ", ".join(PARSERS) + ".",
            field="type",
            ref=ref,
        )
    return parser(Fields(value, ref))


# --- frames the server sends ---------------------------------------------------


def encode(frame: Mapping[str, Any]) -> bytes:
    """A frame as compact UTF-8 JSON, ready for a text frame.

    Strings that cannot be UTF-8 (lone surrogates) are escaped rather than
    failing the send.
    """
    try:
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(frame, separators=(",", ":")).encode("ascii")


def with_ref(frame: dict[str, Any], ref: Ref) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame


def error(
    code: str,
    message: str,
    *,
    ref: Ref = None,
    field: str | None = None,
    retry_after_ms: int | None = None,
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field is not None:
        frame["field"] = field
    if retry_after_ms is not None:
        frame["retry_after_ms"] = retry_after_ms
    return with_ref(frame, ref)


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC, with its offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()
