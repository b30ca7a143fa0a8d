"""Client frames that change a message (issue 14): edit, delete, react,
and ask who reacted; each for a room message or, ``dm_`` prefixed, a direct
message (one parser for both, told which). Parsed like every frame
(:mod:`ws.frames`, which lists them in its ``PARSERS``); rules are in
``resolvers.message_changes`` and ``resolvers.reactions``; the change
events the server sends are rendered in :mod:`ws.event_frames`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ws.frame_fields import Fields, Ref


@dataclass(frozen=True, slots=True)
class Edit:
    """``edit`` (a room message) or ``dm_edit`` (a direct message)."""

    ref: Ref
    id: int
    content: str
    dm: bool


@dataclass(frozen=True, slots=True)
class Delete:
    """``delete`` (a room message) or ``dm_delete`` (a direct message)."""

    ref: Ref
    id: int
    dm: bool


@dataclass(frozen=True, slots=True)
class React:
    """``react``/``unreact`` (room message), ``dm_react``/``dm_unreact`` (DM)."""

    ref: Ref
    id: int
    reaction: str
    add: bool
    dm: bool


@dataclass(frozen=True, slots=True)
class Reactions:
    """``reactions`` (room message) or ``dm_reactions``: who reacted."""

    ref: Ref
    id: int
    dm: bool


def edit_parser(dm: bool) -> Callable[[Fields], Edit]:
    return lambda f: Edit(
        ref=f.ref, id=f.user_id("id"), content=f.required_string("content"), dm=dm
    )


def delete_parser(dm: bool) -> Callable[[Fields], Delete]:
    return lambda f: Delete(ref=f.ref, id=f.user_id("id"), dm=dm)


def react_parser(add: bool, dm: bool) -> Callable[[Fields], React]:
    return lambda f: React(
        ref=f.ref, id=f.user_id("id"), reaction=f.required_string("reaction"), add=add, dm=dm
    )


def reactions_parser(dm: bool) -> Callable[[Fields], Reactions]:
    return lambda f: Reactions(ref=f.ref, id=f.user_id("id"), dm=dm)
