"""Chat on the REST compatibility paths: rooms, history, posting, DMs."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account, MakeAccount, OverrideSettings

NASTY = [
    "<script>alert('x')</script>",
    "'; DROP TABLE messages; --",
    '" OR 1=1 --',
    "{{7*7}} ${7*7} %s %n \\x00",
    "émoji 🎉 ‮rtl‬ \u200b zero-width",
    "line one\nline two\r\n\ttabbed",
]


@pytest.fixture
def message_limit(override_settings: OverrideSettings) -> int:
    """A low per-user message budget for the duration of a test."""
    override_settings(messages_per_window=3, messages_window_seconds=60)
    return 3


async def make_room(
    http: httpx.AsyncClient, owner: Account, name: str, *, private: bool = False
) -> dict[str, object]:
    response = await http.post(
        "/chat/rooms", json={"name": name, "is_private": private}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def post(
    http: httpx.AsyncClient, who: Account, room: object, content: str, **extra: object
) -> httpx.Response:
    return await http.post(
        f"/chat/rooms/{room}/messages", json={"content": content, **extra}, headers=who.headers
    )


# --- rooms -------------------------------------------------------------------


async def test_create_room_returns_201_and_the_room(
    http: httpx.AsyncClient, member: Account
) -> None:
    body = await make_room(http, member, "general")

    assert set(body) == {"id", "name", "is_private", "created_at"}
    assert body["name"] == "general"
    assert body["is_private"] is False
    assert datetime.fromisoformat(str(body["created_at"])).utcoffset() is not None


async def test_taken_room_name_is_409(http: httpx.AsyncClient, member: Account) -> None:
    await make_room(http, member, "general")

    response = await http.post("/chat/rooms", json={"name": "general"}, headers=member.headers)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    "name",
    [
        "123",
        "0",
        "",
        "   ",
        "x" * (limits.ROOM_NAME_MAX + 1),
        42,
        None,
        ["general"],
        "a\nb",
        "nul\x00",
    ],
)
async def test_invalid_room_names_are_422(
    http: httpx.AsyncClient, member: Account, name: object
) -> None:
    response = await http.post("/chat/rooms", json={"name": name}, headers=member.headers)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_is_private_must_be_a_boolean(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post(
        "/chat/rooms", json={"name": "x", "is_private": "yes"}, headers=member.headers
    )

    assert response.status_code == 422


async def test_room_paths_require_a_token(http: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/chat/rooms"),
        ("POST", "/chat/rooms"),
        ("GET", "/chat/rooms/general/messages"),
        ("POST", "/chat/rooms/general/messages"),
        ("GET", "/chat/dm/1"),
        ("POST", "/chat/dm/1"),
    ]:
        response = await http.request(method, path, json={"content": "x", "name": "x"})
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_bad_json_and_content_type(http: httpx.AsyncClient, member: Account) -> None:
    await make_room(http, member, "general")
    headers = {**member.headers, "Content-Type": "application/json"}

    broken = await http.post("/chat/rooms/general/messages", content=b"{", headers=headers)
    plain = await http.post(
        "/chat/rooms/general/messages",
        content=b"hi",
        headers={**member.headers, "Content-Type": "text/plain"},
    )
    array = await http.post("/chat/rooms/general/messages", content=b"[]", headers=headers)
    missing = await http.post("/chat/rooms/general/messages", json={}, headers=member.headers)

    assert [broken.status_code, plain.status_code, array.status_code, missing.status_code] == [
        422,
        415,
        422,
        422,
    ]


@pytest.mark.checklist(2, "rest")
async def test_rooms_list_public_rooms_and_own_private_rooms(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    await make_room(http, alice, "alice-secret", private=True)
    await make_room(http, bob, "bob-secret", private=True)

    seen_by_alice = (await http.get("/chat/rooms", headers=alice.headers)).json()
    seen_by_bob = (await http.get("/chat/rooms", headers=bob.headers)).json()

    assert [r["name"] for r in seen_by_alice] == ["general", "alice-secret"]
    assert [r["name"] for r in seen_by_bob] == ["general", "bob-secret"]


# --- a private room does not exist for outsiders ----------------------------


@pytest.mark.checklist(1, "rest")
@pytest.mark.checklist(2, "rest")
async def test_private_room_is_404_to_outsiders_like_a_missing_room(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, outsider = await make_account(), await make_account()
    room = await make_room(http, owner, "secret", private=True)
    await post(http, owner, "secret", "hidden")

    for ref in ("secret", room["id"]):
        history = await http.get(f"/chat/rooms/{ref}/messages", headers=outsider.headers)
        posted = await post(http, outsider, ref, "let me in")
        assert history.status_code == posted.status_code == 404
        assert posted.json()["error"]["code"] == "NOT_FOUND"
    missing = await http.get("/chat/rooms/nope/messages", headers=outsider.headers)
    missing_id = await http.get("/chat/rooms/999999/messages", headers=outsider.headers)
    hidden = await http.get("/chat/rooms/secret/messages", headers=outsider.headers)

    assert hidden.json() == missing.json() == missing_id.json()
    owner_view = await http.get("/chat/rooms/secret/messages", headers=owner.headers)
    assert [m["content"] for m in owner_view.json()] == ["hidden"]


# --- messages ----------------------------------------------------------------


async def test_post_message_returns_201_and_the_message(
    http: httpx.AsyncClient, member: Account
) -> None:
    room = await make_room(http, member, "general")

    response = await post(http, member, "general", "salut")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "room_id", "room", "from_user", "content", "timestamp", "client_id"}
    assert body["room_id"] == room["id"]
    assert body["room"] == "general"
    assert body["from_user"] == member.id
    assert body["content"] == "salut"
    assert body["client_id"] is None
    assert datetime.fromisoformat(body["timestamp"]).utcoffset() is not None


async def test_anyone_may_post_in_a_public_room_by_name_or_id(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    owner, other = await make_account(), await make_account()
    room = await make_room(http, owner, "general")

    by_name = await post(http, other, "general", "one")
    by_id = await post(http, other, room["id"], "two")

    assert by_name.status_code == by_id.status_code == 201
    history = (await http.get(f"/chat/rooms/{room['id']}/messages", headers=owner.headers)).json()
    assert [(m["content"], m["from_user"]) for m in history] == [
        ("one", other.id),
        ("two", other.id),
    ]


async def test_body_cannot_choose_author_or_id(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")

    response = await post(http, bob, "general", "hi", from_user=alice.id, id=999, room_id=77)

    assert response.status_code == 201
    assert response.json()["from_user"] == bob.id
    assert response.json()["id"] != 999


@pytest.mark.parametrize(
    "content", ["", "x" * (limits.CONTENT_MAX + 1), 5, None, ["x"], "nul\x00byte"]
)
async def test_invalid_content_is_422(
    http: httpx.AsyncClient, member: Account, content: object
) -> None:
    await make_room(http, member, "general")

    response = await post(http, member, "general", content)  # type: ignore[arg-type]

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    history = await http.get("/chat/rooms/general/messages", headers=member.headers)
    assert history.json() == []


async def test_lone_surrogate_content_is_422(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post(
        "/chat/rooms/general/messages",
        content=b'{"content": "lone \\ud800 surrogate"}',
        headers={**member.headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "content"


async def test_content_of_4000_characters_is_accepted(
    http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")
    content = "é" * (limits.CONTENT_MAX - 1) + "🎉"

    response = await post(http, member, "general", content)

    assert response.status_code == 201
    assert response.json()["content"] == content


@pytest.mark.parametrize("client_id", ["", "x" * (limits.CLIENT_ID_MAX + 1), 12, ["a"]])
async def test_invalid_client_id_is_422(
    http: httpx.AsyncClient, member: Account, client_id: object
) -> None:
    await make_room(http, member, "general")

    response = await post(http, member, "general", "hi", client_id=client_id)

    assert response.status_code == 422


async def test_nasty_content_comes_back_byte_for_byte(
    http: httpx.AsyncClient, member: Account, make_account: MakeAccount
) -> None:
    other = await make_account()
    await make_room(http, member, "general")

    for content in NASTY:
        assert (await post(http, member, "general", content)).status_code == 201
        dm = await http.post(
            f"/chat/dm/{other.id}", json={"content": content}, headers=member.headers
        )
        assert dm.status_code == 201

    history = (await http.get("/chat/rooms/general/messages", headers=member.headers)).json()
    dms = (await http.get(f"/chat/dm/{member.id}", headers=other.headers)).json()
    assert [m["content"] for m in history] == NASTY
    assert [d["content"] for d in dms] == NASTY


@pytest.mark.checklist(27, "rest")
async def test_client_id_retry_stores_one_message(http: httpx.AsyncClient, member: Account) -> None:
    await make_room(http, member, "general")

    first = await post(http, member, "general", "once", client_id="abc-1")
    retry = await post(http, member, "general", "once", client_id="abc-1")
    other = await post(http, member, "general", "twice", client_id="abc-2")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert other.json()["id"] != first.json()["id"]
    history = (await http.get("/chat/rooms/general/messages", headers=member.headers)).json()
    assert [m["client_id"] for m in history] == ["abc-1", "abc-2"]


async def test_concurrent_retries_store_one_message(
    http: httpx.AsyncClient, member: Account
) -> None:
    await make_room(http, member, "general")

    responses = await asyncio.gather(
        *(post(http, member, "general", "once", client_id="race") for _ in range(6))
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    history = (await http.get("/chat/rooms/general/messages", headers=member.headers)).json()
    assert len(history) == 1


async def test_concurrent_dm_retries_store_one_dm(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()

    responses = await asyncio.gather(
        *(
            http.post(
                f"/chat/dm/{bob.id}", json={"content": "x", "client_id": "r"}, headers=alice.headers
            )
            for _ in range(6)
        )
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()) == 1


async def test_client_ids_belong_to_their_author(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")

    mine = await post(http, alice, "general", "alice", client_id="same")
    theirs = await post(http, bob, "general", "bob", client_id="same")

    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["from_user"] == bob.id


async def test_history_of_55_messages_pages_back_with_before(
    http: httpx.AsyncClient, member: Account, roomy: None
) -> None:
    await make_room(http, member, "general")
    ids = []
    for n in range(55):
        response = await post(http, member, "general", f"message {n}")
        ids.append(response.json()["id"])

    latest = (await http.get("/chat/rooms/general/messages", headers=member.headers)).json()
    assert [m["id"] for m in latest] == ids[5:]
    assert [m["content"] for m in latest] == [f"message {n}" for n in range(5, 55)]

    older = await http.get(
        "/chat/rooms/general/messages",
        params={"before": latest[0]["id"]},
        headers=member.headers,
    )
    assert [m["id"] for m in older.json()] == ids[:5]

    page = await http.get(
        "/chat/rooms/general/messages",
        params={"before": ids[30], "limit": 10},
        headers=member.headers,
    )
    assert [m["id"] for m in page.json()] == ids[20:30]

    after = await http.get(
        "/chat/rooms/general/messages",
        params={"after": ids[49], "limit": 3},
        headers=member.headers,
    )
    assert [m["id"] for m in after.json()] == ids[50:53]


async def test_history_limit_is_clamped_to_100(
    http: httpx.AsyncClient, member: Account, roomy: None
) -> None:
    await make_room(http, member, "general")
    for n in range(102):
        await post(http, member, "general", f"m{n}")

    response = await http.get(
        "/chat/rooms/general/messages", params={"limit": 10**9}, headers=member.headers
    )

    assert response.status_code == 200
    assert [m["content"] for m in response.json()] == [f"m{n}" for n in range(2, 102)]


@pytest.mark.parametrize(
    "params",
    [{"limit": -1}, {"limit": "ten"}, {"before": -3}, {"after": "1.5"}, {"limit": 10**12}],
)
async def test_bad_paging_is_422(
    http: httpx.AsyncClient, member: Account, params: dict[str, object]
) -> None:
    await make_room(http, member, "general")

    response = await http.get(
        "/chat/rooms/general/messages",
        params=params,  # type: ignore[arg-type]
        headers=member.headers,
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"


# --- direct messages ---------------------------------------------------------


async def test_dm_returns_201_and_is_visible_to_both_parties_only(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()

    response = await http.post(f"/chat/dm/{bob.id}", json={"content": "yo"}, headers=alice.headers)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "from_user", "to_user", "content", "timestamp", "client_id"}
    assert (body["from_user"], body["to_user"], body["content"]) == (alice.id, bob.id, "yo")
    seen_by_alice = (await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()
    seen_by_bob = (await http.get(f"/chat/dm/{alice.id}", headers=bob.headers)).json()
    assert seen_by_alice == seen_by_bob == [body]
    assert (await http.get(f"/chat/dm/{alice.id}", headers=eve.headers)).json() == []
    assert (await http.get(f"/chat/dm/{bob.id}", headers=eve.headers)).json() == []


async def test_dm_errors(http: httpx.AsyncClient, member: Account) -> None:
    to_self = await http.post(
        f"/chat/dm/{member.id}", json={"content": "me"}, headers=member.headers
    )
    unknown = await http.post("/chat/dm/999999", json={"content": "?"}, headers=member.headers)
    unknown_history = await http.get("/chat/dm/999999", headers=member.headers)
    bad_id = await http.get("/chat/dm/abc", headers=member.headers)
    empty = await http.post("/chat/dm/999999", json={"content": ""}, headers=member.headers)

    assert to_self.status_code == 422
    assert unknown.status_code == unknown_history.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"
    assert bad_id.status_code == 422
    assert empty.status_code == 422


@pytest.mark.checklist(27, "rest")
async def test_dm_client_id_retry_stores_one_dm(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()

    first = await http.post(
        f"/chat/dm/{bob.id}", json={"content": "hi", "client_id": "k"}, headers=alice.headers
    )
    retry = await http.post(
        f"/chat/dm/{bob.id}", json={"content": "hi", "client_id": "k"}, headers=alice.headers
    )

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert len((await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()) == 1


async def test_dm_history_pages_like_room_history(
    http: httpx.AsyncClient, make_account: MakeAccount, roomy: None
) -> None:
    alice, bob = await make_account(), await make_account()
    ids = []
    for n in range(55):
        sender, to = (alice, bob) if n % 2 else (bob, alice)
        response = await http.post(
            f"/chat/dm/{to.id}", json={"content": str(n)}, headers=sender.headers
        )
        ids.append(response.json()["id"])

    latest = (await http.get(f"/chat/dm/{bob.id}", headers=alice.headers)).json()
    older = (
        await http.get(
            f"/chat/dm/{bob.id}", params={"before": latest[0]["id"]}, headers=alice.headers
        )
    ).json()

    assert [d["id"] for d in latest] == ids[5:]
    assert [d["id"] for d in older] == ids[:5]


# --- rate limit --------------------------------------------------------------


async def test_messages_and_dms_share_a_rate_limit(
    http: httpx.AsyncClient, make_account: MakeAccount, message_limit: int
) -> None:
    alice, bob = await make_account(), await make_account()
    await make_room(http, alice, "general")
    await post(http, alice, "general", "1")
    await http.post(f"/chat/dm/{bob.id}", json={"content": "2"}, headers=alice.headers)
    await post(http, alice, "general", "3")

    limited = await post(http, alice, "general", "4")
    limited_dm = await http.post(f"/chat/dm/{bob.id}", json={"content": "5"}, headers=alice.headers)
    bob_is_fine = await post(http, bob, "general", "bob")

    assert limited.status_code == limited_dm.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.json()["error"]["retry_after_ms"] > 0
    assert bob_is_fine.status_code == 201
    history = (await http.get("/chat/rooms/general/messages", headers=alice.headers)).json()
    assert [m["content"] for m in history] == ["1", "3", "bob"]


async def test_a_retry_is_not_counted_against_the_rate_limit(
    http: httpx.AsyncClient, member: Account, message_limit: int
) -> None:
    await make_room(http, member, "general")
    first = await post(http, member, "general", "x", client_id="k1")
    await post(http, member, "general", "y")
    await post(http, member, "general", "z")

    retry = await post(http, member, "general", "x", client_id="k1")

    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]


# --- description -------------------------------------------------------------


async def test_openapi_describes_the_chat_paths(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()

    rooms = spec["paths"]["/chat/rooms"]
    messages = spec["paths"]["/chat/rooms/{room}/messages"]
    dms = spec["paths"]["/chat/dm/{user_id}"]
    assert set(rooms) == set(messages) == set(dms) == {"get", "post"}
    assert {"201", "401", "409", "422"} <= set(rooms["post"]["responses"])
    assert {"200", "401", "404", "422"} <= set(messages["get"]["responses"])
    assert {"201", "404", "429"} <= set(messages["post"]["responses"])
    message = spec["components"]["schemas"]["Message"]
    assert set(message["required"]) == {
        "id",
        "room_id",
        "room",
        "from_user",
        "content",
        "timestamp",
        "client_id",
    }
