"""The service as a whole: health, docs, schema export, start-up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import ConfigError, Settings
from tests.harness import free_port, scratch_database

ROOT = Path(__file__).resolve().parent.parent


async def test_health(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_health_is_503_when_the_database_is_down(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tortoise import Tortoise
    from tortoise.exceptions import OperationalError

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    # Fault injection: the database stops answering.
    monkeypatch.setattr(Tortoise.get_connection("default"), "execute_query", refuse)
    response = await http.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    monkeypatch.undo()
    assert (await http.get("/health")).status_code == 200


async def test_openapi_and_docs(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    for path in [
        "/login",
        "/refresh",
        "/logout",
        "/register",
        "/me",
        "/products",
        "/products/{id}",
        "/health",
    ]:
        assert path in spec["paths"], path
    docs = await http.get("/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text


async def test_graphiql_in_a_browser(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_unknown_path_is_json_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.once
def test_exported_schema_matches_the_checked_in_file() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "comptoir", "export-schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == (ROOT / "schema.graphql").read_text(), (
        "schema drifted: run `make schema` and commit schema.graphql"
    )


@pytest.mark.once
def test_contract_types_and_fields_are_all_served() -> None:
    from graphql import build_schema as parse_sdl

    contract = parse_sdl((ROOT / "tests" / "contract" / "schema.graphql").read_text())
    served = parse_sdl((ROOT / "schema.graphql").read_text())
    for name, contract_type in contract.type_map.items():
        if name.startswith("__"):
            continue
        assert name in served.type_map, f"type {name} missing"
        fields = getattr(contract_type, "fields", None)
        if fields:
            served_fields = served.type_map[name].fields  # type: ignore[attr-defined]
            for field_name, field in fields.items():
                assert field_name in served_fields, f"{name}.{field_name} missing"
                assert str(served_fields[field_name].type) == str(field.type), (
                    f"{name}.{field_name}"
                )


@pytest.mark.once
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "JWT_SECRET is required"),
        ({"JWT_SECRET": "short"}, "at least 32"),
        ({"DEMO": "1", "PORT": "http"}, "PORT must be an integer"),
        ({"DEMO": "1", "WS_PORT": "70000"}, "WS_PORT must be between"),
        ({"DEMO": "1", "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DEMO": "1", "BROADCAST_URL": "kafka://x"}, "BROADCAST_URL"),
        ({"DEMO": "maybe"}, "DEMO must be a boolean"),
        ({"DEMO": "1", "CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"DEMO": "1", "BCRYPT_ROUNDS": "3"}, "BCRYPT_ROUNDS"),
        ({"DEMO": "1", "TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, "TRUSTED_PROXIES.*proxy"),
        ({"DEMO": "1", "REFRESH_GRACE_SECONDS": "-1"}, "REFRESH_GRACE_SECONDS"),
        ({"DEMO": "1", "LOGIN_IP_CONCURRENCY": "0"}, "LOGIN_IP_CONCURRENCY"),
    ],
)
def test_bad_configuration_is_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.mark.once
def test_bad_configuration_stops_the_cli_with_a_message() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "DEMO"}}
    result = subprocess.run(
        [sys.executable, "-m", "comptoir", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "JWT_SECRET is required" in result.stderr
    assert "Traceback" not in result.stderr


async def _wait_healthy(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("server did not become healthy")


@pytest.mark.slow
async def test_make_run_on_an_empty_database_serves_the_demo_login(tmp_path: Path) -> None:
    """`make run` migrates, seeds the demo data and serves both ports."""
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        port, ws_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "WS_PORT": str(ws_port),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "BCRYPT_ROUNDS": "4",
            "PUBSUB_PREFIX": f"demo-{port}",
        }
        for name in ("JWT_SECRET", "DEMO", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
            env.pop(name, None)
        process = await asyncio.create_subprocess_exec(
            "make",
            "--no-print-directory",
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await _wait_healthy(client, process)
                login = await client.post(
                    "/login", json={"email": "test@test.com", "password": "supersecret"}
                )
                assert login.status_code == 200
                token = login.json()["access_token"]
                me = (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).json()
                assert me["role"] == "ADMIN"
                alice = await client.post(
                    "/login", json={"email": "alice@test.com", "password": "supersecret"}
                )
                assert alice.status_code == 200
                assert len((await client.get("/products")).json()) >= 3
                page = await client.get("/graphql", headers={"Accept": "text/html"})
                assert "graphiql" in page.text.lower()
            # The chat server answers on WS_PORT: a handshake without a token is refused.
            reader, writer = await asyncio.open_connection("127.0.0.1", ws_port)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            status_line = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            assert b" 401 " in status_line
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert b"Application shutdown complete" in stderr, stderr.decode()[-2000:]
        # The banner says where to go, and the demo logins.
        banner = stderr.decode()
        for url in (
            f"http://127.0.0.1:{port}/graphql",
            f"http://127.0.0.1:{port}/docs",
            f"ws://127.0.0.1:{port}/graphql",
            f"ws://127.0.0.1:{ws_port}",
        ):
            assert url in banner, banner[-2000:]
        assert "log in as test@test.com, alice@test.com with password 'supersecret'" in banner


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comptoir", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


async def test_cli_migrate_and_createuser(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET": "c" * 40,
            "DEMO": "0",
            "BCRYPT_ROUNDS": "4",
            "BROADCAST_URL": "memory://",
        }
        first = await asyncio.to_thread(_cli, "migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "0_" in first.stdout
        again = await asyncio.to_thread(_cli, "migrate", env=env)
        assert "up to date" in again.stdout
        created = await asyncio.to_thread(
            _cli,
            "createuser",
            "--email",
            "Boss@Example.com",
            "--password",
            "longenough",
            "--admin",
            env=env,
        )
        assert created.returncode == 0, created.stderr
        assert "ADMIN boss@example.com" in created.stdout
        duplicate = await asyncio.to_thread(
            _cli, "createuser", "--email", "boss@example.com", "--password", "longenough", env=env
        )
        assert duplicate.returncode == 1
        assert "already exists" in duplicate.stderr
        weak = await asyncio.to_thread(
            _cli, "createuser", "--email", "x@example.com", "--password", "short", env=env
        )
        assert weak.returncode == 1
        assert "password" in weak.stderr


def test_production_mode_refuses_to_seed_demo_data(tmp_path: Path) -> None:
    database = tmp_path / "prod.sqlite3"
    env = {
        **os.environ,
        "JWT_SECRET": "p" * 40,
        "DEMO": "0",
        "DATABASE_URL": f"sqlite://{database}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "comptoir", "seed-demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "refusing" in result.stderr
    assert not database.exists()
