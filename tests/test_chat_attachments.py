"""Attachments: a message carries its sender's files; whoever may read the
message downloads them, and nobody else; deleting either side is seen on
every door (issue 14)."""

from __future__ import annotations

import httpx

from core import runtime
from tests.conftest import Account, GraphQL, MakeAccount, data_of
from tests.harness import Service
from tests.helpers import make_room
from tests.ws_helpers import chat_client, join, recv, request

HISTORY = """
query ($room: String!) {
  roomMessages(room: $room) {
    edges { node { id attachments { id filename contentType size url } } }
  }
}
"""
SEND = """
mutation ($room: String!, $files: [ID!]) {
  sendMessage(room: $room, content: "see attached", attachments: $files) {
    id attachments { id filename }
  }
}
"""


async def upload(http: httpx.AsyncClient, who: Account, name: str, data: bytes) -> int:
    response = await http.post(
        "/files", files={"file": (name, data, "text/plain")}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    file_id: int = response.json()["id"]
    return file_id


async def test_readers_of_the_message_download_its_files_and_nobody_else(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, member, outsider = await make_account(), await make_account(), await make_account()
    await make_room(http, alice, "secret", private=True)
    add = 'mutation ($u: ID!) { addRoomMember(room: "secret", userId: $u) { id } }'
    data_of(await graphql(add, {"u": str(member.id)}, token=alice.token))
    plan = await upload(http, alice, "plan.txt", b"the plan")
    notes = await upload(http, alice, "notes.txt", b"some notes")
    assert (await http.get(f"/files/{plan}", headers=member.headers)).status_code == 404

    async with chat_client(service.ws_url, member.token) as ws:
        await join(ws, "secret")
        response = await http.post(
            "/chat/rooms/secret/messages",
            json={"content": "see attached", "attachments": [plan, notes, plan]},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        expected = [
            {
                "id": plan,
                "filename": "plan.txt",
                "content_type": "text/plain",
                "size": 8,
                "url": f"/files/{plan}",
            },
            {
                "id": notes,
                "filename": "notes.txt",
                "content_type": "text/plain",
                "size": 10,
                "url": f"/files/{notes}",
            },
        ]
        assert body["attachments"] == expected
        frame = await recv(ws)
        assert frame["attachments"] == expected

    download = await http.get(f"/files/{plan}", headers=member.headers)
    assert (download.status_code, download.content) == (200, b"the plan")
    assert (await http.get(f"/files/{plan}", headers=outsider.headers)).status_code == 404
    # A reader may download, not delete.
    assert (await http.delete(f"/files/{plan}", headers=member.headers)).status_code == 403
    nodes = data_of(await graphql(HISTORY, {"room": "secret"}, token=member.token))
    files = nodes["roomMessages"]["edges"][0]["node"]["attachments"]
    assert [f["url"] for f in files] == [f"/files/{plan}", f"/files/{notes}"]

    # The owner deletes a file: it leaves every message, on every door.
    assert (await http.delete(f"/files/{notes}", headers=alice.headers)).status_code == 204
    rows = (await http.get("/chat/rooms/secret/messages", headers=member.headers)).json()
    assert [a["id"] for a in rows[0]["attachments"]] == [plan]
    async with chat_client(service.ws_url, member.token) as ws:
        reply = await request(ws, {"type": "room_history", "room": "secret"})
        assert [a["id"] for a in reply["messages"][0]["attachments"]] == [plan]

    # The message is deleted: its files are the owner's alone again.
    deleted = await http.delete(f"/chat/rooms/secret/messages/{body['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (await http.get(f"/files/{plan}", headers=member.headers)).status_code == 404
    assert (await http.get(f"/files/{plan}", headers=alice.headers)).status_code == 200
    rows = (await http.get("/chat/rooms/secret/messages", headers=member.headers)).json()
    assert "attachments" not in rows[0]


async def test_only_the_senders_own_files_and_at_most_so_many(
    http: httpx.AsyncClient, make_account: MakeAccount, graphql: GraphQL
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    theirs = await upload(http, bob, "bob.txt", b"bob's")
    mine = await upload(http, alice, "a.txt", b"alice's")
    response = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "x", "attachments": [mine, theirs]},
        headers=alice.headers,
    )
    assert response.status_code == 404
    limit = runtime.get().settings.message_max_attachments
    assert limit == 10
    too_many = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "x", "attachments": list(range(1, limit + 2))},
        headers=alice.headers,
    )
    assert too_many.status_code == 422
    assert str(limit) in too_many.json()["error"]["message"]
    wrong = await http.post(
        "/chat/rooms/general/messages",
        json={"content": "x", "attachments": "1,2"},
        headers=alice.headers,
    )
    assert wrong.status_code == 422
    body = data_of(
        await graphql(SEND, {"room": "general", "files": [str(mine)]}, token=alice.token)
    )
    assert body["sendMessage"]["attachments"] == [{"id": str(mine), "filename": "a.txt"}]
    # A public room: anyone signed in reads it, so downloads it.
    assert (await http.get(f"/files/{mine}", headers=bob.headers)).status_code == 200
    assert (await http.get(f"/files/{mine}")).status_code == 401


async def test_dm_attachments_reach_the_other_party_only(
    service: Service, http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()
    file_id = await upload(http, alice, "for-bob.txt", b"for bob")
    async with chat_client(service.ws_url, bob.token) as ws:
        async with chat_client(service.ws_url, alice.token) as ws_alice:
            ack = await request(
                ws_alice, {"type": "dm", "to": bob.id, "content": "here", "attachments": [file_id]}
            )
            assert ack["type"] == "ack"
        frame = await recv(ws)
        assert frame["attachments"][0]["id"] == file_id
    assert (await http.get(f"/files/{file_id}", headers=bob.headers)).status_code == 200
    assert (await http.get(f"/files/{file_id}", headers=eve.headers)).status_code == 404
    rows = (await http.get(f"/chat/dm/{alice.id}", headers=bob.headers)).json()
    assert rows[0]["attachments"][0]["filename"] == "for-bob.txt"
