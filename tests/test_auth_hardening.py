"""Issue 11, findings 12 and 14: enumeration, spoofed proxies, and noise."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import httpx
import pytest

from resolvers.auth import REGISTER_REFUSED
from tests.conftest import Account, GraphQL, error_codes
from tests.harness import Service, scratch_database
from tests.process_server import serving_process

REGISTER = (
    "mutation ($e: String!, $p: String!) "
    "{ register(input: {email: $e, password: $p}) { accessToken } }"
)


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
            names = {r.name for r in caplog.records}
            if "comptoir.access" in names and any(
                n.startswith("comptoir") and n != "comptoir.access" for n in names
            ):
                break
            await asyncio.sleep(0.05)
        # Besides the request's access line (comptoir.access, status 499).
        ours = [
            r
            for r in caplog.records
            if r.name.startswith("comptoir") and r.name != "comptoir.access"
        ]
        assert [(r.levelno, r.exc_info) for r in ours] == [(logging.INFO, None)], path
        assert "hung up" in ours[0].getMessage()
        assert path in ours[0].getMessage()
        access = [r for r in caplog.records if r.name == "comptoir.access"]
        assert [getattr(r, "status", None) for r in access] == [499], path
    # And the server keeps serving.
    async with service.client() as http:
        assert (await http.get("/health")).status_code == 200


# --- 12. enumeration and trusted proxies ------------------------------------------


async def test_registering_a_taken_email_does_not_say_why_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    taken = await http.post("/register", json={"email": member.email, "password": "longenough"})
    assert taken.status_code == 409
    error = taken.json()["error"]
    assert error == {"code": "CONFLICT", "message": REGISTER_REFUSED, "field": "email"}
    assert "exist" not in taken.text.lower()


async def test_registering_a_taken_email_does_not_say_why_on_graphql(
    graphql: GraphQL, member: Account
) -> None:
    body = await graphql(REGISTER, {"e": member.email, "p": "longenough"})
    assert error_codes(body) == ["CONFLICT"]
    assert body["errors"][0]["message"] == REGISTER_REFUSED
    assert "exist" not in json.dumps(body).lower()


async def test_forwarded_for_from_an_untrusted_peer_does_not_reset_the_throttle(
    service: Service, http: httpx.AsyncClient
) -> None:
    limit = service.settings.register_ip_max
    for n in range(limit):
        response = await http.post(
            "/register",
            json={"email": f"new{n}@example.com", "password": "longenough"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        assert response.status_code == 201, response.text
    spoofed = await http.post(
        "/register",
        json={"email": "one-more@example.com", "password": "longenough"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert spoofed.status_code == 429
    assert spoofed.json()["error"]["code"] == "RATE_LIMITED"


@pytest.mark.slow
async def test_forwarded_for_counts_only_from_trusted_proxies_as_served(tmp_path: Path) -> None:
    # `python -m comptoir serve`, as operators run it: uvicorn's own handling
    # would trust any X-Forwarded-For sent from 127.0.0.1.
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as url:
        env = {
            "DATABASE_URL": url,
            "DEMO": "0",
            "REGISTER_IP_MAX": "1",
            "TRUSTED_PROXIES": "127.0.0.2, 10.9.0.0/16",
        }
        async with serving_process(env, tmp_path) as base:

            async def register(host: int, email: str, forwarded: str) -> int:
                transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{host}")
                async with httpx.AsyncClient(base_url=base, transport=transport) as client:
                    response = await client.post(
                        "/register",
                        json={"email": email, "password": "longenough"},
                        headers={"X-Forwarded-For": forwarded},
                    )
                    return response.status_code

            # Loopback is not a trusted proxy here: its header is ignored.
            assert await register(1, "a@example.com", "203.0.113.1") == 201
            assert await register(1, "b@example.com", "203.0.113.2") == 429
            # Through the trusted proxy, each client has its own budget...
            assert await register(2, "c@example.com", "203.0.113.1") == 201
            assert await register(2, "d@example.com", "203.0.113.2") == 201
            assert await register(2, "e@example.com", "203.0.113.2") == 429
            # ...named by the first hop (from the right) that is not a proxy,
            # whatever a client wrote to the left of it.
            assert await register(2, "f@example.com", "1.2.3.4, 203.0.113.2, 10.9.8.7") == 429
            assert await register(2, "g@example.com", "garbage, 203.0.113.3, 10.9.8.7") == 201
