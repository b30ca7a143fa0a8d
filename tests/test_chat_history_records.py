"""A room's history is read as records (``models/records.py``) built by a
generated builder from a prepared read; a shape the builder does not know
goes through model objects, and a read that is not prepared through
Tortoise. Every way gives the same page on every door."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from models import User
from models.prepared import Prepared
from models.rows import RowLoader
from resolvers import messages
from tests.conftest import Account, GraphQL, MakeAccount, data_of
from tests.helpers import make_room, rest_post

HISTORY = """
query ($room: String!) {
  roomMessages(room: $room, last: 50) {
    edges { cursor node {
      id content clientId createdAt editedAt deleted
      author { id displayName } room { id name } mentions { id }
      reactions { reaction count viewerReacted } replyTo { id preview deleted }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def _pages(http: httpx.AsyncClient, graphql: GraphQL, who: Account) -> list[Any]:
    rest = await http.get("/chat/rooms/general/messages?limit=50", headers=who.headers)
    assert rest.status_code == 200, rest.text
    older = await http.get("/chat/rooms/general/messages?limit=2", headers=who.headers)
    gql = data_of(await graphql(HISTORY, {"room": "general"}, token=who.token))
    return [rest.json(), older.json(), gql]


async def test_history_pages_agree_however_their_rows_are_built(
    http: httpx.AsyncClient,
    graphql: GraphQL,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    first = await rest_post(http, alice, "general", "hello")
    await rest_post(http, bob, "general", "plain, from bob")
    replied = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "re", "reply_to": first, "client_id": "c-1"},
        headers=bob.headers,
    )
    assert replied.status_code == 201, replied.text
    edited = await rest_post(http, alice, "general", "to be edited")
    changed = await http.patch(
        f"/chat/rooms/general/messages/{edited}", json={"content": "edited"}, headers=alice.headers
    )
    assert changed.status_code == 200, changed.text
    gone = await rest_post(http, bob, "general", "to be deleted")
    deleted = await http.delete(f"/chat/rooms/general/messages/{gone}", headers=bob.headers)
    assert deleted.status_code in (200, 204), deleted.text
    reacted = await http.put(
        f"/chat/rooms/general/messages/{first}/reactions/%F0%9F%91%8D", headers=bob.headers
    )
    assert reacted.status_code in (200, 201), reacted.text

    built = await _pages(http, graphql, alice)
    body = built[0]
    assert [m["content"] for m in body] == ["hello", "plain, from bob", "re", "edited", ""]
    assert "edited_at" in body[3]
    assert body[4]["deleted"] is True
    assert body[2]["reply_to"]["id"] == first
    assert body[0]["reactions"][0]["count"] == 1

    # Those pages were built by the generated builder (the prepared read's columns).
    assert any(build is not None for build in messages._ROOM_PAGE._builders.values())

    # A column shape the records' builder does not know: model objects first.
    monkeypatch.setattr(messages._ROOM_PAGE, "_builders", {})
    monkeypatch.setattr(messages._ROOM_PAGE_WITH_AUTHORS, "_builders", {})
    monkeypatch.setattr("models.records._builder", lambda *shape: None)
    assert await _pages(http, graphql, alice) == built

    # No prepared plan at all: Tortoise reads the page.
    monkeypatch.setattr(Prepared, "_plan", lambda self, db, key, given: None)
    assert await _pages(http, graphql, alice) == built


AUTHORS = """
query ($room: String!) {
  roomMessages(room: $room, last: 50) {
    edges { node { id author { id displayName email role createdAt } } }
  }
}
"""


async def test_authors_read_with_the_page_agree_with_authors_loaded_after_it(
    http: httpx.AsyncClient,
    graphql: GraphQL,
    make_account: MakeAccount,
    admin: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GraphQL reads a page's authors in the page's own query (a join);
    where that read cannot give them, they are loaded in one batch after
    it: the same authors either way, each email shown only to who may read it."""
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    for n in range(3):
        await rest_post(http, alice, "general", f"alice {n}")
        await rest_post(http, bob, "general", f"bob {n}")

    async def pages() -> list[Any]:
        return [
            data_of(await graphql(AUTHORS, {"room": "general"}, token=who.token))
            for who in (alice, bob, admin)
        ]

    joined = await pages()
    records = messages._ROOM_PAGE_WITH_AUTHORS._builders
    assert any(build is not None for build in records.values())
    reader = await User.get(id=alice.id)
    _, page = await messages.room_messages_with_authors(actor=reader, room="general", last=50)
    assert [(r.author and r.author.id) for r in page.items] == [alice.id, bob.id] * 3
    for seen, viewer in zip(joined, (alice, bob, admin), strict=True):
        authors = [e["node"]["author"] for e in seen["roomMessages"]["edges"]]
        assert [a["id"] for a in authors] == [str(alice.id), str(bob.id)] * 3
        for author in authors:
            mine = author["id"] == str(viewer.id)
            email = alice.email if author["id"] == str(alice.id) else bob.email
            assert author["email"] == (email if mine or viewer is admin else "")
            assert author["role"] == "MEMBER"

    # A shape the records' builder does not know: no author joined, one batch load.
    monkeypatch.setattr(messages._ROOM_PAGE_WITH_AUTHORS, "_builders", {})
    monkeypatch.setattr("models.records._builder", lambda *shape: None)
    assert await pages() == joined

    # No prepared plan at all: Tortoise reads the page, then the authors.
    monkeypatch.setattr(Prepared, "_plan", lambda self, db, key, given: None)
    assert await pages() == joined


async def test_model_objects_agree_however_they_are_built(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount
) -> None:
    """Rows of another shape than the model's columns (a partial read) are
    built by Tortoise's own ``_init_from_db``."""
    from models import Message

    alice = await make_account()
    await make_room(http, alice, "general")
    await rest_post(http, alice, "general", "one")
    db = Message._choose_db()
    _, rows = await db.execute_query('SELECT * FROM "messages"')
    _, partial = await db.execute_query('SELECT "id", "content" FROM "messages"')
    fast = RowLoader(Message).objects(rows)
    slow = [Message._init_from_db(**dict(row)) for row in rows]
    assert [vars(m) for m in fast] == [vars(m) for m in slow]
    assert [(m.id, m.content) for m in RowLoader(Message).objects(partial)] == [
        (m.id, m.content) for m in slow
    ]
