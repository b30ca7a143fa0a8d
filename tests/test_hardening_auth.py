"""Issue 11, findings 12 and 14: enumeration, spoofed proxies, and noise."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.harness import Service


async def _hang_up_mid_body(service: Service, path: str) -> None:
    port = int(service.http_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    writer.write(head.encode() + b'{"email": "half')
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await writer.wait_closed()


async def test_a_client_hanging_up_mid_body_logs_one_info_line(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="comptoir")
    for path in ("/login", "/graphql"):
        caplog.clear()
        await _hang_up_mid_body(service, path)
        for _ in range(50):
            if any(r.name.startswith("comptoir") for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        ours = [r for r in caplog.records if r.name.startswith("comptoir")]
        assert [(r.levelno, r.exc_info) for r in ours] == [(logging.INFO, None)], path
        assert "hung up" in ours[0].getMessage()
        assert path in ours[0].getMessage()
    # And the server keeps serving.
    async with service.client() as http:
        assert (await http.get("/health")).status_code == 200
