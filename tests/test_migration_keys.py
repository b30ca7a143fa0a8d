"""The uniqueness-key migration fills rows written before it (issue 11, finding 11).

A database at the initial schema, holding look-alike rows that the old code
accepted, is migrated with ``python -m comptoir migrate``; the server then
treats look-alikes as one name, and every old row stays reachable.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import bcrypt
import pytest

from tests.account_helpers import bearer
from tests.harness import is_postgres, scratch_database
from tests.process_helpers import ROOT, process_env, run_cli, server_process

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
ROOMS = ["General", "general", "ＧＥＮＥＲＡＬ", "café", "lobby"]
EMAILS = ["Alice@Example.com", "alice@example.com", "bob@example.com"]


def _init_migration() -> ModuleType:
    (path,) = (ROOT / "migrations" / "models").glob("0_*.py")
    spec = importlib.util.spec_from_file_location("init_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _old_database(url: str) -> None:
    """The initial schema, and rows as the code before the keys wrote them."""
    init = _init_migration()
    now = datetime.now(UTC).replace(tzinfo=None)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    users = [(email, hashed, email.split("@")[0], "MEMBER", True, now) for email in EMAILS]
    rooms = [(name, False, now) for name in ROOMS]
    user_sql = (
        'INSERT INTO "users" (email, password_hash, display_name, role, is_active, created_at) '
        "VALUES ({})"
    )
    room_sql = 'INSERT INTO "rooms" (name, is_private, created_at) VALUES ({})'
    # Alice (user 1) in "lobby" (room 5), where bob (user 3) wrote twice: unread
    # counts after the migrations read each room's newest message id, which
    # migration 7 fills for rows written before it.
    member_sql = 'INSERT INTO "memberships" (created_at, room_id, user_id) VALUES ({})'
    message_sql = 'INSERT INTO "messages" (content, created_at, author_id, room_id) VALUES ({})'
    members = [(now, 5, 1)]
    messages = [("before the keys", now, 3, 5), ("still unread", now, 3, 5)]
    if is_postgres(url):
        parts = urlsplit(url)
        conn = await asyncpg.connect(urlunsplit(("postgresql", *parts[1:])))
        try:
            await conn.execute(init.POSTGRES)
            await conn.executemany(user_sql.format("$1, $2, $3, $4, $5, $6"), users)
            await conn.executemany(room_sql.format("$1, $2, $3"), rooms)
            await conn.executemany(member_sql.format("$1, $2, $3"), members)
            await conn.executemany(message_sql.format("$1, $2, $3, $4"), messages)
        finally:
            await conn.close()
        return
    path = url[len("sqlite://") :]
    with sqlite3.connect(path) as conn:
        conn.executescript(init.SQLITE)
        conn.executemany(user_sql.format("?, ?, ?, ?, ?, ?"), users)
        conn.executemany(room_sql.format("?, ?, ?"), rooms)
        conn.executemany(member_sql.format("?, ?, ?"), members)
        conn.executemany(message_sql.format("?, ?, ?, ?"), messages)
    conn.close()


async def test_migration_fills_keys_and_old_look_alikes_stay_reachable(tmp_path: Path) -> None:
    async with scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as url:
        await _old_database(url)
        env = process_env(url, tmp_path, BROADCAST_URL="memory://")
        await run_cli("migrate", env=env)
        async with server_process(env, migrate=False) as server, server.client() as http:
            login = await http.post(
                "/login", json={"email": "ALICE@EXAMPLE.COM", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            auth = bearer(login.json()["access_token"])
            me = await http.get("/me", headers=auth)
            assert me.json()["email"] == "Alice@Example.com"  # the first of the look-alikes
            unread = (await http.get("/chat/unread", headers=auth)).json()["rooms"]
            assert [(r["room"], r["unread"]) for r in unread] == [("lobby", 2)]

            # Every old room is still listed and reachable by its exact name.
            listed = (await http.get("/chat/rooms", headers=auth)).json()
            assert sorted(r["name"] for r in listed) == sorted(ROOMS)
            by_name = {r["name"]: r["id"] for r in listed}
            for name in ROOMS:
                sent = await http.post(
                    f"/chat/rooms/{name}/messages", json={"content": name}, headers=auth
                )
                assert sent.status_code == 201, sent.text
                assert sent.json()["room_id"] == by_name[name]

            # New look-alikes of old names are refused.
            for name in ["GENERAL", "Café", "LOBBY", "gen\u200beral"]:
                taken = await http.post("/chat/rooms", json={"name": name}, headers=auth)
                assert taken.status_code == 409, (name, taken.text)
            fresh = await http.post("/chat/rooms", json={"name": "Fresh"}, headers=auth)
            assert fresh.status_code == 201
            again = await http.post("/chat/rooms", json={"name": "fresh"}, headers=auth)
            assert again.status_code == 409
