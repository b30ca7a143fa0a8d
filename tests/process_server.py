"""Run ``python -m comptoir serve`` in a process of its own, as operators do.

For tests that need a server configured unlike the session one (production
mode, CORS origins) or a second process sharing the session's database and
Redis. Only one Tortoise context can live in a process, hence a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.harness import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 60


@asynccontextmanager
async def serving_process(env: Mapping[str, str], tmp: Path) -> AsyncIterator[str]:
    """The base URL of a server started with ``env`` over a clean environment
    (on free ports, unless ``env`` names them)."""
    port = int(env.get("PORT") or free_port())
    ws_port = int(env.get("WS_PORT") or free_port())
    full_env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    }
    full_env.update(
        {
            "JWT_SECRET": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "DATA_DIR": str(tmp),
            **env,
            "PORT": str(port),
            "WS_PORT": str(ws_port),
        }
    )
    log_path = tmp / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "comptoir",
            "serve",
            cwd=ROOT,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_serving(process, url, log_path)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_until_serving(process: asyncio.subprocess.Process, url: str, log: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        for _ in range(START_SECONDS * 10):
            if process.returncode is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')}")
