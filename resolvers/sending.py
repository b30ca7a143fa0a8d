"""What a room message and a direct message share when they are sent.

- content is 1..CONTENT_MAX characters, stored and returned byte for byte;
- ``client_id`` (1..CLIENT_ID_MAX characters) makes a send idempotent per
  author: a retry (same target, same content) returns the stored row and
  publishes nothing; the same key with another target or content is
  CONFLICT, never a silent success that would drop the new message
  (:func:`replayed`);
- one message budget per user (:func:`check_rate`), for room messages, DMs
  and edits on every door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tortoise.models import Model

from core import runtime
from core.errors import Conflict
from models import User
from resolvers import budgets, limits, validation

M = TypeVar("M", bound=Model)


def check_content(value: object) -> str:
    return validation.text(value, "content", min_len=1, max_len=limits.CONTENT_MAX)


def check_client_id(value: object) -> str | None:
    if value is None:
        return None
    return validation.text(value, "clientId", min_len=1, max_len=limits.CLIENT_ID_MAX)


def replayed(stored: M, same_target: bool, content: str) -> M:
    """A stored send found by its ``client_id``: the retry's answer when the
    target and content match, CONFLICT otherwise."""
    if not same_target or getattr(stored, "content", None) != content:
        raise Conflict(
            "clientId was already used for another message (other target or content).",
            field="clientId",
        )
    return stored


async def stored_send(
    key: str | None,
    find: Callable[[str], Awaitable[M | None]],
    same_target: Callable[[M], bool],
    content: str,
) -> M | None:
    """The actor's send already stored under ``key`` (``find`` reads it), as
    the retry's answer (:func:`replayed`); None when there is none. Asked
    before a send, and again when its insert hit the unique ``client_id``
    (a concurrent retry won the race)."""
    if key is None:
        return None
    stored = await find(key)
    return None if stored is None else replayed(stored, same_target(stored), content)


async def check_rate(user: User) -> None:
    """The per-user message budget, shared by room messages and DMs on every door."""
    s = runtime.get().settings
    key, refusal = f"msg:user:{user.id}", "Too many messages; slow down."
    await budgets.spend(key, s.messages_per_window, s.messages_window_seconds, refusal)
