"""Typed domain events: what happened, once, for every real-time door.

A resolver stores a row, commits, then publishes one event per domain fact
(:func:`resolvers.live.publish`). Each event names the channels it belongs to and carries
what a door needs to render it; the doors translate it into their own wire
format (the WS frame in ``ws/``, the GraphQL type in ``schema/``, REST JSON
in ``rest_compat/``). No door parses another door's format.

On the broker an event travels as JSON ``{"kind", "prev_id", ...fields}``.
``prev_id`` is the id of the previous event *of that channel* (read in the
transaction that stored the row), so that a process receiving it can tell a
gap (``prev_id`` above what it delivered last) and fill it from the
database (:mod:`resolvers.live`).

Adding a kind: a frozen dataclass with ``kind``, ``id`` and ``channels()``,
decorated with :func:`register`; the doors then add their rendering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from models import DirectMessage, Message, Room
from models.fields import utc
from models.records import RoomMessageRow

if TYPE_CHECKING:
    from resolvers.attachments import AttachedFile
    from resolvers.replies import ReplyPreview


def room_channel(room_id: int) -> str:
    return f"room:{room_id}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


class Event(Protocol):
    """What every event kind offers (see :func:`register`)."""

    kind: ClassVar[str]

    @property
    def id(self) -> int:
        """The ordering id: strictly increasing within each of its channels."""
        ...

    def channels(self) -> tuple[str, ...]: ...


E = TypeVar("E", bound=type)
T = TypeVar("T")
KINDS: dict[str, type[Any]] = {}


def register(cls: E) -> E:
    kind = cls.kind  # type: ignore[attr-defined]
    if kind in KINDS:
        raise ValueError(f"event kind {kind!r} registered twice")
    KINDS[kind] = cls
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Posted:
    """What a room message and a direct message both carry, once: their
    content and what they are *now* (a replayed message shows its edit or
    its tombstone, resolvers.message_changes). Not an event kind itself;
    keyword-only, so each kind lists its own ids first."""

    content: str
    created_at: datetime
    client_id: str | None
    edited_at: datetime | None = None
    deleted: bool = False
    # What it replies to (resolvers.replies), as that message is now.
    reply_to_id: int | None = None
    reply_author_id: int | None = None
    reply_preview: str | None = None  # None once the original is deleted
    # resolvers.attachments: {"id", "filename", "content_type", "size"} each
    attachments: tuple[dict[str, Any], ...] = ()


def constructor(cls: type[T]) -> Callable[..., T]:
    """A maker of ``cls`` instances (a frozen, slotted dataclass) taking the
    same keywords as its ``__init__``: each slot set through its own
    descriptor rather than ``object.__setattr__`` by name, a third cheaper
    on a page of events. ``cls`` itself if it has a default factory or a
    ``__post_init__``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or any(
        f.default_factory is not dataclasses.MISSING for f in fields
    ):
        return cls
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for f in fields:
        env[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(o, {f.name})\n")
    source = f"def make(*, {', '.join(params)}):\n    o = _new(_cls)\n{''.join(body)}    return o\n"
    exec(source, env)  # generated from the dataclass's own field names
    make: Callable[..., T] = env["make"]
    return make


def _utc(value: datetime) -> datetime:
    # Records' datetimes are UTC already: no conversion call for them.
    return value if value.tzinfo is UTC else utc(value)


_NOTHING_MORE: dict[str, Any] = {}  # only ever unpacked, never changed


def _more(
    row: Message | RoomMessageRow | DirectMessage,
    reply: ReplyPreview | None,
    files: Iterable[AttachedFile],
) -> dict[str, Any]:
    """The :class:`Posted` fields of a stored row (and of what it replies to)
    beyond its content, time, ``client_id`` and ``deleted``: those that
    differ from their defaults (most rows have none)."""
    edited_at = row.edited_at
    if edited_at is None and row.reply_to_id is None and not files:
        return _NOTHING_MORE
    posted: dict[str, Any] = {}
    if edited_at:
        posted["edited_at"] = _utc(edited_at)
    if row.reply_to_id is not None:
        posted.update(_reply(row.reply_to_id, reply))
    if files:
        posted["attachments"] = tuple(f.as_dict() for f in files)
    return posted


@register
@dataclass(frozen=True, slots=True)
class MessagePosted(Posted):
    """A message was posted in a room."""

    kind: ClassVar[str] = "message"
    id: int
    room_id: int
    room_name: str
    author_id: int
    mentions: tuple[int, ...] = ()  # resolvers.mentions

    def channels(self) -> tuple[str, ...]:
        return (room_channel(self.room_id),)

    @classmethod
    def from_row(
        cls,
        m: Message | RoomMessageRow,
        reply: ReplyPreview | None = None,
        files: Iterable[AttachedFile] = (),
    ) -> MessagePosted:
        """From a stored message whose ``room`` is loaded, or a record (and
        the preview of what it replies to, if anything)."""
        room = m.room
        if not isinstance(room, Room):
            raise TypeError("MessagePosted needs the message's room loaded")
        mentions = m.mentions
        return (_make_posted if cls is MessagePosted else cls)(
            id=m.id,
            room_id=room.id,
            room_name=room.name,
            author_id=m.author_id,
            # Most messages mention nobody: no generator to run for them.
            mentions=tuple(int(i) for i in mentions.split(",") if i) if mentions else (),
            content=m.content,
            created_at=_utc(m.created_at),
            client_id=m.client_id,
            deleted=m.deleted,
            **_more(m, reply, files),
        )


@register
@dataclass(frozen=True, slots=True)
class DirectMessageSent(Posted):
    """A direct message was sent; it belongs to both parties' channels."""

    kind: ClassVar[str] = "dm"
    id: int
    sender_id: int
    recipient_id: int

    def channels(self) -> tuple[str, ...]:
        return (user_channel(self.sender_id), user_channel(self.recipient_id))

    @classmethod
    def from_row(
        cls,
        d: DirectMessage,
        reply: ReplyPreview | None = None,
        files: Iterable[AttachedFile] = (),
    ) -> DirectMessageSent:
        return (_make_sent if cls is DirectMessageSent else cls)(
            id=d.id,
            sender_id=d.sender_id,
            recipient_id=d.recipient_id,
            content=d.content,
            created_at=_utc(d.created_at),
            client_id=d.client_id,
            deleted=d.deleted,
            **_more(d, reply, files),
        )


_make_posted = constructor(MessagePosted)
_make_sent = constructor(DirectMessageSent)


def _reply(reply_to_id: int, reply: ReplyPreview | None) -> dict[str, Any]:
    if reply is None:  # the original is gone for good (its room or user was deleted)
        return {"reply_to_id": reply_to_id}
    return {
        "reply_to_id": reply_to_id,
        "reply_author_id": reply.author_id,
        "reply_preview": None if reply.deleted else reply.preview,
    }


# --- broker JSON -------------------------------------------------------------

_DATETIME_FIELDS: dict[str, frozenset[str]] = {}


def _datetime_fields(cls: type[Any]) -> frozenset[str]:
    names = _DATETIME_FIELDS.get(cls.kind)
    if names is None:
        names = frozenset(
            f.name for f in dataclasses.fields(cls) if f.type in ("datetime", "datetime | None")
        )
        _DATETIME_FIELDS[cls.kind] = names
    return names


def encode(event: Event, prev_id: int) -> dict[str, Any]:
    """The broker document of ``event`` on a channel whose previous event is ``prev_id``."""
    doc: dict[str, Any] = {"kind": event.kind, "prev_id": prev_id}
    for field in dataclasses.fields(event):  # type: ignore[arg-type]
        value = getattr(event, field.name)
        doc[field.name] = value.isoformat() if isinstance(value, datetime) else value
    return doc


class Undecodable(ValueError):
    """A broker document that is not an event of a known kind."""


def decode(doc: Mapping[str, Any]) -> tuple[Event, int]:
    """``(event, prev_id)`` from a broker document; :class:`Undecodable` otherwise."""
    cls = KINDS.get(str(doc.get("kind")))
    if cls is None:
        raise Undecodable(f"unknown event kind {doc.get('kind')!r}")
    try:
        values = {f.name: doc[f.name] for f in dataclasses.fields(cls)}
        for name in _datetime_fields(cls):
            if values[name] is not None:
                values[name] = datetime.fromisoformat(values[name])
        prev_id = doc["prev_id"]
        if not isinstance(prev_id, int) or not isinstance(values.get("id"), int):
            raise Undecodable("ids must be integers")
        event: Event = cls(**values)
    except (KeyError, TypeError, ValueError) as exc:
        raise Undecodable(str(exc)) from exc
    return event, prev_id
