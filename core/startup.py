"""Start-up failures as one line naming the setting and the host.

An unreachable database or broker must stop the process within seconds
with a message an operator can act on, not a traceback from a driver, and
never hang (see :func:`core.runtime.start`, which cleans up after one).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

KINDS = {
    "sqlite": "the SQLite database",
    "postgres": "PostgreSQL",
    "postgresql": "PostgreSQL",
    "asyncpg": "PostgreSQL",
    "redis": "Redis",
    "rediss": "Redis",
}


class StartupError(RuntimeError):
    """A dependency named by a setting cannot be used: the message is one line."""


def where(url: str) -> str:
    """The host (or SQLite file) of a URL, without credentials."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return url[len("sqlite://") :].split("?", 1)[0] or ":memory:"
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port}" if parts.port else host


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer"
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


async def reach(variable: str, url: str, step: Awaitable[T], *, seconds: float) -> T:
    """Await ``step`` (a connection to what ``variable`` names) within ``seconds``
    seconds; any failure becomes a :class:`StartupError`."""
    kind = KINDS.get(urlsplit(url).scheme, urlsplit(url).scheme)
    try:
        return await asyncio.wait_for(step, seconds)
    except StartupError:
        raise
    except Exception as error:
        raise StartupError(
            f"{variable}: cannot use {kind} at {where(url)} ({_reason(error)}"
            + (f" after {seconds:g} s)" if isinstance(error, TimeoutError) else ")")
        ) from error


def check_listen(variable: str, host: str, port: int) -> None:
    """Fail now, with one line, if ``host:port`` cannot be listened on (in use,
    no such address); port 0 picks a free one and always can."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise StartupError(
            f"{variable}: cannot listen on {host}:{port} ({_reason(error)})"
        ) from None
