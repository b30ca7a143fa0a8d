"""Read-only records of room messages, for the pages that only read them.

A history page (REST, GraphQL, WebSocket) renders its messages and never
changes them: building Tortoise model objects for it (each field set, four
bookkeeping attributes, the room relation) cost more than the read itself.
A :class:`RoomMessageRow` is a named tuple of the same fields, with the
room the page was read from and the page read's annotations, its
datetimes converted once to aware UTC ones (what the events carry,
``models.fields.utc``).

:class:`MessageRows` reads a prepared page (:mod:`models.prepared`) into
records through one builder per column shape, generated once. A shape it
cannot build from (columns other than the model's and the annotations) or
a read that is not prepared goes through model objects, then records of
them: the same records either way.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

from tortoise import timezone
from tortoise.expressions import F

from models.chat import Message, Room
from models.fields import DatetimeField, utc
from models.prepared import Prepared, Variable
from models.rows import RowLoader
from models.users import Role, User

_UTC = datetime.UTC


class AuthorRow(NamedTuple):
    """A message's author as a page read joined it: the user's fields as
    the ``User`` model reads them (the same conversions)."""

    id: int
    display_name: str
    role: Role
    created_at: datetime.datetime
    email: str


# The author's fields a page read may join, each as the annotation
# ``author_<field>`` (:func:`author_columns`).
_AUTHOR_FIELDS = ("display_name", "role", "created_at", "email")
_AUTHOR_COLUMNS = tuple(f"author_{name}" for name in _AUTHOR_FIELDS)


def author_columns() -> dict[str, F]:
    """Annotations of a query of messages joining each one's author
    (:attr:`RoomMessageRow.author` of the records it reads)."""
    return {
        column: F(f"author__{name}")
        for column, name in zip(_AUTHOR_COLUMNS, _AUTHOR_FIELDS, strict=True)
    }


class RoomMessageRow(NamedTuple):
    """A stored room message as read, with its room (read by its id)."""

    id: int
    room_id: int
    author_id: int
    content: str
    client_id: str | None
    created_at: datetime.datetime  # aware, UTC
    edited_at: datetime.datetime | None  # aware, UTC
    deleted: bool
    reply_to_id: int | None
    mentions: str
    room: Room
    # The page read's annotations (resolvers.posted.has_any), None if not read.
    has_reactions: bool | int | None = None
    has_attachments: bool | int | None = None
    # The author, if the page read joined it (author_columns), else None.
    author: AuthorRow | None = None

    @classmethod
    def of(cls, message: Message, room: Room) -> RoomMessageRow:
        """The record of a model object (read by Tortoise)."""
        edited = message.edited_at
        return cls(
            id=message.id,
            room_id=message.room_id,
            author_id=message.author_id,
            content=message.content,
            client_id=message.client_id,
            created_at=utc(message.created_at),
            edited_at=None if edited is None else utc(edited),
            deleted=message.deleted,
            reply_to_id=message.reply_to_id,
            mentions=message.mentions,
            room=room,
            has_reactions=getattr(message, "has_reactions", None),
            has_attachments=getattr(message, "has_attachments", None),
        )


def utc_of(field: DatetimeField) -> Callable[[Any], datetime.datetime | None]:
    """``utc(field.to_python_value(value))`` (None kept) in one conversion
    for the values drivers hand back (ISO text, datetimes)."""

    def convert(value: Any) -> datetime.datetime | None:
        if value is None:
            return None
        if type(value) is str:
            try:
                value = datetime.datetime.fromisoformat(value)
            except ValueError:
                pass
        if type(value) is datetime.datetime and timezone.get_use_tz():
            moment: datetime.datetime = value
            if moment.tzinfo is None:  # naive: in the default zone
                moment = moment.replace(tzinfo=timezone.get_default_timezone())
            return moment if moment.tzinfo is _UTC else moment.astimezone(_UTC)
        # Anything else: Tortoise's own steps.
        found: datetime.datetime | None = field.to_python_value(value)
        return None if found is None else utc(found)

    return convert


# Records from a read's rows and the room they were read from.
_Build = Callable[[Sequence[Any], Room], list[RoomMessageRow]]
_UNBUILT: Any = object()
# Fields of a record that are not the model's columns.
_NOT_STORED = ("room", "has_reactions", "has_attachments", "author")


def _conversion(field: Any) -> Callable[[Any], Any] | None:
    """How a column of ``User`` is converted as the model reads it (None: as is)."""
    meta = User._meta
    name = field.model_field_name
    if any(n == name for _, n, _ in meta.db_native_fields):
        return None
    if any(n == name for _, n, _ in meta.db_default_fields):
        converted: Callable[[Any], Any] = field.field_type
        return converted
    convert: Callable[[Any], Any] = field.to_python_value
    return convert


def _author_builder() -> Callable[..., AuthorRow | None]:
    """Builds an :class:`AuthorRow` from the joined columns (None: no user
    was joined), kept in ``seen`` by id: once per author and page. Generated
    once: each column converted by its own field's conversion, no loop."""
    env: dict[str, Any] = {"_new": tuple.__new__, "_Author": AuthorRow}
    values = [f"v{i}" for i in range(len(_AUTHOR_FIELDS))]
    items = []
    for value, name in zip(values, _AUTHOR_FIELDS, strict=True):
        convert = _conversion(User._meta.fields_map[name])
        if convert is None:
            items.append(value)
        else:
            env[f"_c_{name}"] = convert
            items.append(f"_c_{name}({value})")
    source = (
        f"def author(seen, author_id, {', '.join(values)}):\n"
        # No such user (a left join): None, read the usual way.
        f"    if {' or '.join(f'{v} is None' for v in values)}:\n"
        "        found = None\n"
        "    else:\n"
        f"        found = _new(_Author, (author_id, {', '.join(items)}))\n"
        "    seen[author_id] = found\n"
        "    return found\n"
    )
    exec(source, env)  # generated from the user model's own field names
    author: Callable[..., AuthorRow | None] = env["author"]
    return author


def _builder(keys: tuple[str, ...], custom: tuple[str, ...]) -> _Build | None:
    """A builder of records from rows of ``keys`` (columns in this order),
    or None if the rows are not this model's columns and ``custom``."""
    meta = Message._meta
    sources: dict[str, tuple[str, Callable[[Any], Any] | None]] = {}
    for key, name, _ in meta.db_native_fields:
        sources[name] = (key, None)
    for key, name, f in meta.db_default_fields:
        sources[name] = (key, f.field_type)
    for key, name, f in meta.db_complex_fields:
        convert: Callable[[Any], Any] = (
            utc_of(f) if isinstance(f, DatetimeField) else f.to_python_value
        )
        sources[name] = (key, convert)
    fields = RoomMessageRow._fields
    # Columns whose conversion keeps None (datetimes, utc_of).
    nullable = {name for _, name, f in meta.db_complex_fields if isinstance(f, DatetimeField)}
    stored = [f for f in fields if f not in _NOT_STORED]
    expected = {sources[f][0] for f in stored if f in sources} | set(custom)
    if set(stored) - set(sources) or expected != set(keys) or len(keys) != len(expected):
        return None
    joined = set(_AUTHOR_COLUMNS) <= set(custom)
    if set(custom) - {"has_reactions", "has_attachments", *(_AUTHOR_COLUMNS if joined else ())}:
        return None  # annotations a record does not carry
    position = {key: i for i, key in enumerate(keys)}
    env: dict[str, Any] = {"_new": tuple.__new__, "_Row": RoomMessageRow}
    items = []
    for name in fields:
        if name == "room":
            items.append("room")
        elif name == "author" and joined:
            env["_author"] = _author_builder()
            columns = ", ".join(f"r[{position[c]}]" for c in _AUTHOR_COLUMNS)
            key = f"r[{position[sources['author_id'][0]]}]"
            # An author already built for this page: no call.
            items.append(f"(seen[a] if (a := {key}) in seen else _author(seen, a, {columns}))")
        elif name in custom:
            items.append(f"r[{position[name]}]")
        elif name in sources:
            column, conversion = sources[name]
            if conversion is None:
                items.append(f"r[{position[column]}]")
            else:
                env[f"_c_{name}"] = conversion
                value = f"r[{position[column]}]"
                if name in nullable:  # a null kept without a call
                    value = f"(None if (_v_{name} := {value}) is None else _c_{name}(_v_{name}))"
                else:
                    value = f"_c_{name}({value})"
                items.append(value)
        else:
            items.append("None")  # an annotation this read did not make
    source = (
        "def build(rows, room):\n"
        "    seen = {}\n"
        f"    return [_new(_Row, ({', '.join(items)},)) for r in rows]\n"
    )
    exec(source, env)  # generated from the model's own field names
    build: _Build = env["build"]
    return build


class MessageRows(Prepared):
    """A prepared read of room messages, as :class:`RoomMessageRow` records."""

    def __init__(self, build: Callable[..., Any]) -> None:
        super().__init__(Message, build)
        self._builders: dict[tuple[tuple[str, ...], tuple[str, ...]], _Build | None] = {}

    async def records(
        self, key: Hashable, room: Room, **variables: Variable | None
    ) -> list[RoomMessageRow]:
        """What ``await build(key, **variables)`` returns (messages of
        ``room``), as records."""
        given = {name: value for name, value in variables.items() if value is not None}
        db = self._model._choose_db()
        plan = self._plan(db, key, given)
        if plan is None:  # read by Tortoise: model objects (of a queryset)
            found = await self._build(key, **given)
            return [RoomMessageRow.of(m, room) for m in found if isinstance(m, Message)]
        _, rows = await db.execute_query(plan.sql, self._params(plan, given))
        if not rows:
            return []
        shape = (tuple(rows[0].keys()), plan.custom)
        build: _Build | None = self._builders.get(shape, _UNBUILT)
        if build is _UNBUILT:
            build = self._builders[shape] = _builder(*shape)
        if build is None:
            loader = RowLoader(Message, plan.custom)
            return [RoomMessageRow.of(m, room) for m in loader.objects(rows)]
        return build(rows, room)
