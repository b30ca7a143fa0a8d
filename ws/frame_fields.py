"""Reading the fields of one received chat frame, naming the field at fault.

A field that is missing or of the wrong type raises :class:`FrameError`
(answered ``BAD_USER_INPUT`` with that ``field``). The frames themselves
and :func:`ws.frames.parse` are :mod:`ws.frames` and its siblings
(``*_frames.py``), which read their fields through :class:`Fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from resolvers.limits import REF_MAX_CHARS

Ref: TypeAlias = str | int | float | None
RoomRef: TypeAlias = str | int


class FrameError(Exception):
    """A frame the server cannot read: answered with ``BAD_USER_INPUT``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None, ref: Ref = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.ref = ref


def reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser would accept them.
    raise ValueError(f"{name} is not valid JSON")


def unicode_ok(value: str) -> bool:
    """False for strings with lone surrogates (``"\\ud800"`` in JSON)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_ref(frame: Mapping[str, Any]) -> Ref:
    ref = frame.get("ref")
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, str | int | float):
        raise FrameError("ref must be a string or a number.", field="ref")
    if isinstance(ref, str) and (len(ref) > REF_MAX_CHARS or not unicode_ok(ref)):
        raise FrameError(
            f"ref must be a valid string of at most {REF_MAX_CHARS} characters.", field="ref"
        )
    return ref


class Fields:
    """Typed access to the fields of one frame, naming the field at fault."""

    __slots__ = ("frame", "ref")

    def __init__(self, frame: Mapping[str, Any], ref: Ref) -> None:
        self.frame = frame
        self.ref = ref

    def fail(self, field: str, message: str) -> FrameError:
        return FrameError(message, field=field, ref=self.ref)

    def string(self, field: str, *, required: bool = True) -> str | None:
        value = self.frame.get(field)
        if value is None:
            if required:
                raise self.fail(field, f"{field} is required.")
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"{field} must be a string.")
        if not unicode_ok(value):
            raise self.fail(field, f"{field} is not valid Unicode.")
        return value

    def required_string(self, field: str) -> str:
        value = self.string(field)
        assert value is not None
        return value

    def integer(self, field: str) -> int | None:
        value = self.frame.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"{field} must be an integer.")
        return value

    def id_list(self, field: str) -> list[Any] | None:
        """A list (its items are checked by the resolvers), or None."""
        value = self.frame.get(field)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.fail(field, f"{field} must be a list of ids.")
        return value

    def user_id(self, field: str) -> int:
        """A user id: a JSON integer, or a string of digits (a GraphQL ``ID``)."""
        value = self.frame.get(field)
        if value is None:
            raise self.fail(field, f"{field} is required.")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"{field} must be an integer user id.")
        return value

    def room(self) -> RoomRef:
        value = self.frame.get("room")
        if value is None:
            raise self.fail("room", "room is required.")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail("room", "room must be a room name or id.")
        if isinstance(value, str) and not unicode_ok(value):
            raise self.fail("room", "room is not valid Unicode.")
        return value
