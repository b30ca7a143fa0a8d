"""The ``graphql-ws`` npm client (what browser frontends use) against the
grouped subscriptions: it connects, receives ``next`` payloads, and its
``complete`` ends the subscription on the server.

The client's packages are pinned in ``tests/js/package-lock.json`` and
installed once with ``npm ci`` into ``tests/js/node_modules`` (ignored by
git). Node 20 and npm must be on the PATH.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import MakeAccount
from tests.harness import Service
from tests.helpers import make_room, rest_post
from tests.live_helpers import fanout, settle

pytestmark = [pytest.mark.slow, pytest.mark.once]

JS = Path(__file__).resolve().parent / "js"
TIMEOUT = 20


async def _run(*args: str, cwd: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, stderr.decode()[-2000:]


async def _installed() -> None:
    for tool in ("node", "npm"):
        assert shutil.which(tool), f"this test needs {tool} (Node 20) on the PATH"
    if not (JS / "node_modules" / "graphql-ws").is_dir():
        await _run("npm", "ci", "--no-audit", "--no-fund", "--silent", cwd=JS)


async def _line(stream: asyncio.StreamReader) -> str:
    raw = await asyncio.wait_for(stream.readline(), TIMEOUT)
    assert raw, "the graphql-ws client ended early"
    return raw.decode().strip()


async def test_the_graphql_ws_npm_client_subscribes_receives_and_completes(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    await _installed()
    owner = await make_account()
    await make_room(http, owner, "general")
    url = service.http_url.replace("http://", "ws://", 1) + "/graphql"
    node = await asyncio.create_subprocess_exec(
        "node",
        str(JS / "subscribe.mjs"),
        url,
        owner.token,
        "general",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert node.stdout is not None
        assert await _line(node.stdout) == "CONNECTED"
        await settle(service, 1)
        sent = [await rest_post(http, owner, "general", f"hello {n}") for n in range(2)]
        payloads = [json.loads(await _line(node.stdout)) for _ in sent]
        assert [p["data"]["roomMessages"]["id"] for p in payloads] == [str(i) for i in sent]
        assert payloads[0]["data"]["roomMessages"]["author"]["id"] == str(owner.id)
        # The client completes after two messages and leaves: nothing stays behind.
        assert await asyncio.wait_for(node.wait(), TIMEOUT) == 0
        await settle(service, 0)
        assert not fanout(service).groups
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
