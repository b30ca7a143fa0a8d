"""Rate limits per process (memory://) and across processes (Redis).

The suite runs twice in CI: with ``BROADCAST_URL`` unset the limits are
per process, and these tests assert that a second process starts from zero;
with ``BROADCAST_URL=redis://...`` they assert the count is shared.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
import pytest

from core.ratelimit import MemoryRateLimiter, RedisRateLimiter, build_limiter
from tests.conftest import PASSWORD, MakeAccount
from tests.harness import Service
from tests.process_server import serving_process

BROADCAST_URL = os.environ.get("BROADCAST_URL") or "memory://"
SHARED = BROADCAST_URL.startswith(("redis://", "rediss://"))
WINDOW = 2.0


async def test_limiter_follows_broadcast_url() -> None:
    limiter = build_limiter(BROADCAST_URL, prefix=f"t-{uuid.uuid4().hex}")
    try:
        expected = RedisRateLimiter if SHARED else MemoryRateLimiter
        assert isinstance(limiter, expected)
    finally:
        await limiter.close()
    memory = build_limiter("memory://", prefix="x")
    assert isinstance(memory, MemoryRateLimiter)


async def test_sliding_window_counts_and_expires() -> None:
    # A window long enough that a loaded machine does not see it lapse early.
    limiter = build_limiter(BROADCAST_URL, prefix=f"t-{uuid.uuid4().hex}")
    try:
        for _ in range(3):
            assert await limiter.retry_after("k", 3, WINDOW) == 0
            await limiter.hit("k", WINDOW)
        wait = await limiter.retry_after("k", 3, WINDOW)
        assert 0 < wait <= WINDOW
        assert await limiter.retry_after("other", 3, WINDOW) == 0
        await asyncio.sleep(wait + 0.05)
        assert await limiter.retry_after("k", 3, WINDOW) == 0
        await limiter.hit("k", 60)
        await limiter.reset("k")
        assert await limiter.retry_after("k", 1, 60) == 0
        await limiter.hit("k", 60)
        await limiter.clear()
        assert await limiter.retry_after("k", 1, 60) == 0
    finally:
        await limiter.close()


async def test_acquire_admits_exactly_the_limit_under_concurrency() -> None:
    prefix = f"t-{uuid.uuid4().hex}"
    limiters = [build_limiter(BROADCAST_URL, prefix=prefix) for _ in range(2)]
    try:
        waits = await asyncio.gather(*(limiters[i % 2].acquire("burst", 5, 60) for i in range(40)))
        admitted = sum(1 for wait in waits if wait == 0)
        # Two limiters on Redis share one count; in memory each has its own.
        assert admitted == (5 if SHARED else 10)
        assert all(0 < wait <= 60 for wait in waits if wait)
    finally:
        for limiter in limiters:
            await limiter.close()


async def test_two_limiters_share_counts_only_through_redis() -> None:
    # Two limiters stand for two processes: same configuration, own state.
    prefix = f"t-{uuid.uuid4().hex}"
    first = build_limiter(BROADCAST_URL, prefix=prefix)
    second = build_limiter(BROADCAST_URL, prefix=prefix)
    try:
        for _ in range(5):
            await first.hit("login:email:a@example.com", 60)
        assert await first.retry_after("login:email:a@example.com", 5, 60) > 0
        seen = await second.retry_after("login:email:a@example.com", 5, 60)
        if SHARED:
            assert seen > 0
            await second.reset("login:email:a@example.com")
            assert await first.retry_after("login:email:a@example.com", 5, 60) == 0
        else:
            assert seen == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.slow
async def test_login_throttle_across_two_server_processes(
    service: Service,
    http: httpx.AsyncClient,
    make_account: MakeAccount,
    tmp_path: Path,
) -> None:
    account = await make_account("shared@example.com")
    wrong = {"email": account.email, "password": "wrong guess"}
    for _ in range(5):
        assert (await http.post("/login", json=wrong)).status_code == 401
    assert (await http.post("/login", json=wrong)).status_code == 429
    # A second process on the same database, broadcast and key prefix.
    env = {
        "DATABASE_URL": service.settings.database_url,
        "BROADCAST_URL": service.settings.broadcast_url,
        "PUBSUB_PREFIX": service.settings.pubsub_prefix,
        "DEMO": "0",
    }
    async with serving_process(env, tmp_path) as url, httpx.AsyncClient(base_url=url) as other:
        right = await other.post("/login", json={"email": account.email, "password": PASSWORD})
        if SHARED:
            assert right.status_code == 429
            assert int(right.headers["retry-after"]) >= 1
            assert right.json()["error"]["code"] == "RATE_LIMITED"
        else:
            assert right.status_code == 200, right.text
