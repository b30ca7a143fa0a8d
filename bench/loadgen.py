"""Fallback closed-loop HTTP load generator (when wrk is not installed).

``python -m bench.loadgen '<json spec>'``: keeps ``connections`` keep-alive
connections busy for ``seconds`` and prints ``{"requests", "errors",
"elapsed"}``. Bounded by time, and by a request cap.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bench.common import HttpClient

MAX_REQUESTS = 2_000_000


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    url: str = spec["url"]
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    body = spec["body"].encode() if spec.get("body") is not None else None
    headers: dict[str, str] = spec.get("headers") or {}
    deadline = time.monotonic() + float(spec["seconds"])
    counts = {"requests": 0, "errors": 0}

    async def worker() -> None:
        client = HttpClient.from_url(url)
        try:
            while time.monotonic() < deadline and counts["requests"] < MAX_REQUESTS:
                try:
                    status, _ = await asyncio.wait_for(
                        client.request(spec["method"], path, body, headers), 5
                    )
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    counts["errors"] += 1
                    continue
                counts["requests"] += 1
                if status >= 400:  # as wrk: 304 Not Modified is an answer
                    counts["errors"] += 1
        finally:
            await client.close()

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(int(spec["connections"]))))
    return {**counts, "elapsed": time.monotonic() - start}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
