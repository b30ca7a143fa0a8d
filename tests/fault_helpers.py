"""Shared test helpers."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import WebSocketException

from tests.account_helpers import bearer
from tests.process_helpers import ServerProcess, server_process

ROOM = "fault"


RETRY_PAUSE = 0.05


DOWN = (OSError, WebSocketException, TimeoutError, httpx.TransportError)


async def until_up(attempt: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``attempt`` until the server answers it."""
    while True:
        try:
            return await attempt()
        except DOWN:
            await asyncio.sleep(RETRY_PAUSE)


async def rest_history(http: httpx.AsyncClient, token: str, after: int = 0) -> list[dict[str, Any]]:
    """Every stored message after ``after``, oldest first, paging with ``?after=``."""
    messages: list[dict[str, Any]] = []
    while True:
        response = await http.get(
            f"/chat/rooms/{ROOM}/messages",
            params={"after": after, "limit": 100},
            headers=bearer(token),
        )
        if response.status_code >= 500:
            raise httpx.TransportError(f"status {response.status_code}")
        assert response.status_code == 200, response.text
        page: list[dict[str, Any]] = response.json()
        if not page:
            return messages
        messages.extend(page)
        after = page[-1]["id"]


async def started(stack: AsyncExitStack, env: dict[str, str], log: Path) -> ServerProcess:
    """A server process entered on ``stack``; its log in the error if it fails to start."""
    try:
        return await stack.enter_async_context(server_process(env, log=log))
    except AssertionError as error:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise AssertionError(f"{error}\n{tail}") from None


async def kill(server: ServerProcess) -> None:
    server.process.send_signal(signal.SIGKILL)
    assert await server.process.wait() == -signal.SIGKILL
