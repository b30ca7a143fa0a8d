"""Run ``python -m comptoir serve`` in a process of its own, as operators do.

For tests that need a server configured unlike the session one (production
mode, CORS origins) or a second process sharing the session's database and
Redis. Only one Tortoise context can live in a process, hence a subprocess.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from tests.harness import TEST_SECRET, free_port
from tests.process_helpers import spawn, terminate, until_healthy


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
        process = await spawn(
            "serve", env=full_env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            await until_healthy(process, url)
        except AssertionError as error:
            raise RuntimeError(f"{error}:\n{log_path.read_text(errors='replace')}") from None
        yield url
    finally:
        await terminate(process)
