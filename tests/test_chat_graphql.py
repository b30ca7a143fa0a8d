"""Chat on GraphQL: rooms, membership, history, sends, DMs and their rules."""

from __future__ import annotations

from typing import Any

import pytest

from resolvers import limits
from tests.conftest import Account, GraphQL, MakeAccount, OverrideSettings, data_of, error_codes
from tests.helpers import QueryCounter

ROOMS = "{ rooms { id name isPrivate createdAt createdBy { id } } }"
ROOM = """
query ($room: String!) {
  room(room: $room) { id name isPrivate createdBy { id displayName email } members { id } }
}
"""
CREATE_ROOM = """
mutation ($name: String!, $isPrivate: Boolean! = false) {
  createRoom(name: $name, isPrivate: $isPrivate) { id name isPrivate members { id } }
}
"""
JOIN_ROOM = "mutation ($room: String!) { joinRoom(room: $room) { id name members { id } } }"
ADD_MEMBER = """
mutation ($room: String!, $userId: ID!) {
  addRoomMember(room: $room, userId: $userId) { id members { id } }
}
"""
SEND = """
mutation ($room: String!, $content: String!, $clientId: String) {
  sendMessage(room: $room, content: $content, clientId: $clientId) {
    id content clientId createdAt room { id name } author { id email displayName }
  }
}
"""
HISTORY = """
query ($room: String!, $first: Int, $after: String, $last: Int, $before: String) {
  roomMessages(room: $room, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id content room { name } author { id displayName email } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
SEND_DM = """
mutation ($to: ID!, $content: String!, $clientId: String) {
  sendDirectMessage(to: $to, content: $content, clientId: $clientId) {
    id content clientId createdAt fromUser { id } toUser { id email }
  }
}
"""
DMS = """
query ($with: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  directMessages(withUser: $with, first: $first, after: $after, last: $last, before: $before) {
    edges { node { id content fromUser { id displayName } toUser { id displayName } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


@pytest.fixture
def message_limit(override_settings: OverrideSettings) -> int:
    override_settings(messages_per_window=2, messages_window_seconds=60)
    return 2


async def create_room(graphql: GraphQL, who: Account, name: str, private: bool = False) -> str:
    data = data_of(
        await graphql(CREATE_ROOM, {"name": name, "isPrivate": private}, token=who.token)
    )
    room_id: str = data["createRoom"]["id"]
    return room_id


async def send(
    graphql: GraphQL, who: Account, room: str, content: str, **extra: Any
) -> dict[str, Any]:
    body = await graphql(SEND, {"room": room, "content": content, **extra}, token=who.token)
    message: dict[str, Any] = data_of(body)["sendMessage"]
    return message


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


# --- rooms -------------------------------------------------------------------


async def test_create_room_makes_the_creator_a_member(graphql: GraphQL, member: Account) -> None:
    body = await graphql(CREATE_ROOM, {"name": "general"}, token=member.token)

    room = data_of(body)["createRoom"]
    assert room["name"] == "general"
    assert room["isPrivate"] is False
    assert room["members"] == [{"id": str(member.id)}]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("2024", "BAD_USER_INPUT"),
        ("", "BAD_USER_INPUT"),
        ("x" * (limits.ROOM_NAME_MAX + 1), "BAD_USER_INPUT"),
    ],
)
async def test_create_room_refuses_bad_names(
    graphql: GraphQL, member: Account, name: str, code: str
) -> None:
    assert error_codes(await graphql(CREATE_ROOM, {"name": name}, token=member.token)) == [code]


async def test_create_room_refuses_a_taken_name(graphql: GraphQL, member: Account) -> None:
    await create_room(graphql, member, "general")

    body = await graphql(CREATE_ROOM, {"name": "general", "isPrivate": True}, token=member.token)

    assert error_codes(body) == ["CONFLICT"]


async def test_chat_requires_authentication(graphql: GraphQL) -> None:
    operations: list[tuple[str, dict[str, Any]]] = [
        (ROOMS, {}),
        (ROOM, {"room": "general"}),
        (HISTORY, {"room": "general"}),
        (DMS, {"with": "1"}),
        (CREATE_ROOM, {"name": "x"}),
        (JOIN_ROOM, {"room": "x"}),
        (ADD_MEMBER, {"room": "x", "userId": "1"}),
        (SEND, {"room": "x", "content": "x"}),
        (SEND_DM, {"to": "1", "content": "x"}),
    ]
    for query, variables in operations:
        body = await graphql(query, variables)
        assert error_codes(body) == ["UNAUTHENTICATED"], query


async def test_rooms_and_room_by_id_or_name(graphql: GraphQL, make_account: MakeAccount) -> None:
    alice, bob = await make_account(display_name="Alice"), await make_account()
    general = await create_room(graphql, alice, "general")
    await create_room(graphql, alice, "alice-only", private=True)
    await create_room(graphql, bob, "bob-only", private=True)

    rooms = data_of(await graphql(ROOMS, token=bob.token))["rooms"]
    by_name = data_of(await graphql(ROOM, {"room": "general"}, token=bob.token))["room"]
    by_id = data_of(await graphql(ROOM, {"room": general}, token=bob.token))["room"]

    assert [r["name"] for r in rooms] == ["general", "bob-only"]
    assert rooms[0]["createdBy"] == {"id": str(alice.id)}
    assert by_name == by_id
    assert by_name["createdBy"] == {"id": str(alice.id), "displayName": "Alice", "email": ""}
    assert by_name["members"] == []  # members are visible to members only


async def test_rooms_list_members_of_the_callers_rooms_only(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(graphql, alice, "alice-public")
    await create_room(graphql, bob, "bob-public")
    await create_room(graphql, bob, "bob-private", private=True)
    data_of(
        await graphql(ADD_MEMBER, {"room": "bob-private", "userId": str(alice.id)}, token=bob.token)
    )

    rooms = data_of(await graphql("{ rooms { name members { id } } }", token=alice.token))

    assert rooms["rooms"] == [
        {"name": "alice-public", "members": [{"id": str(alice.id)}]},
        {"name": "bob-public", "members": []},
        {"name": "bob-private", "members": [{"id": str(bob.id)}, {"id": str(alice.id)}]},
    ]


async def test_join_room_is_idempotent_and_shows_members(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(graphql, alice, "general")

    first = data_of(await graphql(JOIN_ROOM, {"room": "general"}, token=bob.token))
    again = data_of(await graphql(JOIN_ROOM, {"room": "general"}, token=bob.token))

    expected = [{"id": str(alice.id)}, {"id": str(bob.id)}]
    assert first["joinRoom"]["members"] == again["joinRoom"]["members"] == expected


@pytest.mark.checklist(1, "graphql")
@pytest.mark.checklist(2, "graphql")
async def test_private_room_is_invisible_to_outsiders_everywhere(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    owner, outsider, friend = await make_account(), await make_account(), await make_account()
    secret = await create_room(graphql, owner, "secret", private=True)
    await send(graphql, owner, "secret", "hidden")

    rooms = data_of(await graphql(ROOMS, token=outsider.token))["rooms"]
    assert rooms == []
    for ref in ("secret", secret, "missing-room", "987654"):
        assert data_of(await graphql(ROOM, {"room": ref}, token=outsider.token)) == {"room": None}
        history = await graphql(HISTORY, {"room": ref}, token=outsider.token)
        posted = await graphql(SEND, {"room": ref, "content": "x"}, token=outsider.token)
        joined = await graphql(JOIN_ROOM, {"room": ref}, token=outsider.token)
        invited = await graphql(
            ADD_MEMBER, {"room": ref, "userId": str(friend.id)}, token=outsider.token
        )
        for body in (history, posted, joined, invited):
            assert error_codes(body) == ["NOT_FOUND"], (ref, body)
            assert body["errors"][0]["message"] == "Room not found."
    owner_history = data_of(await graphql(HISTORY, {"room": "secret"}, token=owner.token))
    assert [e["node"]["content"] for e in owner_history["roomMessages"]["edges"]] == ["hidden"]


async def test_members_of_a_private_room_invite_others(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    owner, guest, later = await make_account(), await make_account(), await make_account()
    await create_room(graphql, owner, "secret", private=True)

    added = data_of(
        await graphql(ADD_MEMBER, {"room": "secret", "userId": str(guest.id)}, token=owner.token)
    )
    # the guest is now a member: sees it, posts in it, invites in turn, "joins" as a no-op
    rooms = data_of(await graphql(ROOMS, token=guest.token))["rooms"]
    posted = await send(graphql, guest, "secret", "thanks")
    invited = data_of(
        await graphql(ADD_MEMBER, {"room": "secret", "userId": str(later.id)}, token=guest.token)
    )
    joined = data_of(await graphql(JOIN_ROOM, {"room": "secret"}, token=guest.token))

    assert added["addRoomMember"]["members"] == [{"id": str(owner.id)}, {"id": str(guest.id)}]
    assert [r["name"] for r in rooms] == ["secret"]
    assert posted["content"] == "thanks"
    assert len(invited["addRoomMember"]["members"]) == 3
    assert joined["joinRoom"]["name"] == "secret"


async def test_add_room_member_errors(graphql: GraphQL, make_account: MakeAccount) -> None:
    owner, outsider = await make_account(), await make_account()
    await create_room(graphql, owner, "general")
    await create_room(graphql, owner, "secret", private=True)

    unknown_user = await graphql(
        ADD_MEMBER, {"room": "secret", "userId": "999999"}, token=owner.token
    )
    bad_user = await graphql(ADD_MEMBER, {"room": "secret", "userId": "abc"}, token=owner.token)
    public_non_member = await graphql(
        ADD_MEMBER, {"room": "general", "userId": str(owner.id)}, token=outsider.token
    )

    assert error_codes(unknown_user) == ["NOT_FOUND"]
    assert error_codes(bad_user) == ["BAD_USER_INPUT"]
    assert error_codes(public_non_member) == ["FORBIDDEN"]


# --- messages ----------------------------------------------------------------


async def test_send_message_returns_the_stored_message(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob = await make_account(), await make_account(display_name="Bob")
    room_id = await create_room(graphql, alice, "general")

    message = await send(graphql, bob, room_id, "salut")

    assert message["content"] == "salut"
    assert message["clientId"] is None
    assert message["room"] == {"id": room_id, "name": "general"}
    assert message["author"] == {"id": str(bob.id), "email": bob.email, "displayName": "Bob"}
    seen_by_alice = data_of(await graphql(HISTORY, {"room": "general"}, token=alice.token))
    author = seen_by_alice["roomMessages"]["edges"][0]["node"]["author"]
    assert author == {"id": str(bob.id), "displayName": "Bob", "email": ""}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * (limits.CONTENT_MAX + 1)}, "content"),
        ({"content": "ok", "clientId": ""}, "clientId"),
        ({"content": "ok", "clientId": "k" * (limits.CLIENT_ID_MAX + 1)}, "clientId"),
    ],
)
async def test_send_message_validates_input(
    graphql: GraphQL, member: Account, variables: dict[str, Any], field: str
) -> None:
    await create_room(graphql, member, "general")

    body = await graphql(SEND, {"room": "general", **variables}, token=member.token)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
    history = data_of(await graphql(HISTORY, {"room": "general"}, token=member.token))
    assert history["roomMessages"]["edges"] == []


@pytest.mark.checklist(27, "graphql")
async def test_client_id_retry_returns_the_same_message(graphql: GraphQL, member: Account) -> None:
    await create_room(graphql, member, "general")

    first = await send(graphql, member, "general", "once", clientId="retry-1")
    retry = await send(graphql, member, "general", "once", clientId="retry-1")

    assert retry == first
    assert first["clientId"] == "retry-1"
    history = data_of(await graphql(HISTORY, {"room": "general"}, token=member.token))
    assert ids(history["roomMessages"]) == [first["id"]]


async def test_nasty_content_comes_back_byte_for_byte(graphql: GraphQL, member: Account) -> None:
    await create_room(graphql, member, "<img src=x onerror=alert(1)>")
    contents = ["<script>alert(1)</script>", "'); DELETE FROM users; --", '\\"\u2028\U0001f600']

    for content in contents:
        assert (await send(graphql, member, "<img src=x onerror=alert(1)>", content))[
            "content"
        ] == content
    history = data_of(
        await graphql(HISTORY, {"room": "<img src=x onerror=alert(1)>"}, token=member.token)
    )

    assert [e["node"]["content"] for e in history["roomMessages"]["edges"]] == contents
    assert history["roomMessages"]["edges"][0]["node"]["room"]["name"] == (
        "<img src=x onerror=alert(1)>"
    )


async def test_rate_limit_is_shared_by_messages_and_dms(
    graphql: GraphQL, make_account: MakeAccount, message_limit: int
) -> None:
    alice, bob = await make_account(), await make_account()
    await create_room(graphql, alice, "general")
    await send(graphql, alice, "general", "1")
    data_of(await graphql(SEND_DM, {"to": str(bob.id), "content": "2"}, token=alice.token))

    limited = await graphql(SEND, {"room": "general", "content": "3"}, token=alice.token)
    limited_dm = await graphql(SEND_DM, {"to": str(bob.id), "content": "4"}, token=alice.token)

    assert error_codes(limited) == error_codes(limited_dm) == ["RATE_LIMITED"]
    assert limited["errors"][0]["extensions"]["retryAfterMs"] > 0


# --- history -----------------------------------------------------------------


async def test_history_of_55_messages_pages_back_with_before(
    graphql: GraphQL, member: Account, roomy: None
) -> None:
    await create_room(graphql, member, "general")
    sent = [(await send(graphql, member, "general", f"m{n}"))["id"] for n in range(55)]

    latest = data_of(await graphql(HISTORY, {"room": "general"}, token=member.token))
    page = latest["roomMessages"]
    assert ids(page) == sent[5:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["pageInfo"]["hasNextPage"] is False

    older = data_of(
        await graphql(
            HISTORY,
            {"room": "general", "before": page["pageInfo"]["startCursor"]},
            token=member.token,
        )
    )["roomMessages"]
    assert ids(older) == sent[:5]
    assert older["pageInfo"]["hasPreviousPage"] is False
    assert older["pageInfo"]["hasNextPage"] is True

    forward = data_of(
        await graphql(
            HISTORY,
            {"room": "general", "first": 3, "after": older["pageInfo"]["endCursor"]},
            token=member.token,
        )
    )["roomMessages"]
    assert ids(forward) == sent[5:8]


async def test_history_paging_sizes(graphql: GraphQL, member: Account, roomy: None) -> None:
    await create_room(graphql, member, "general")
    sent = [(await send(graphql, member, "general", f"m{n}"))["id"] for n in range(101)]

    huge = await graphql(HISTORY, {"room": "general", "last": 10**9}, token=member.token)
    negative = await graphql(HISTORY, {"room": "general", "first": -1}, token=member.token)
    both = await graphql(HISTORY, {"room": "general", "first": 1, "last": 1}, token=member.token)
    bad_cursor = await graphql(HISTORY, {"room": "general", "after": "zzz"}, token=member.token)

    assert ids(data_of(huge)["roomMessages"]) == sent[1:]
    assert error_codes(negative) == ["BAD_USER_INPUT"]
    assert error_codes(both) == ["BAD_USER_INPUT"]
    assert error_codes(bad_cursor) == ["BAD_USER_INPUT"]


# --- direct messages ---------------------------------------------------------


async def test_direct_messages_are_visible_to_the_two_parties_only(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    alice, bob, eve = await make_account(), await make_account(), await make_account()

    sent = data_of(
        await graphql(SEND_DM, {"to": str(bob.id), "content": "psst"}, token=alice.token)
    )["sendDirectMessage"]
    reply = data_of(
        await graphql(SEND_DM, {"to": str(alice.id), "content": "ok"}, token=bob.token)
    )["sendDirectMessage"]

    assert sent["fromUser"] == {"id": str(alice.id)}
    assert sent["toUser"] == {"id": str(bob.id), "email": ""}
    for viewer, other in ((alice, bob), (bob, alice)):
        page = data_of(await graphql(DMS, {"with": str(other.id)}, token=viewer.token))
        assert ids(page["directMessages"]) == [sent["id"], reply["id"]]
    for other in (alice, bob):
        page = data_of(await graphql(DMS, {"with": str(other.id)}, token=eve.token))
        assert page["directMessages"]["edges"] == []


async def test_direct_message_errors(graphql: GraphQL, member: Account) -> None:
    to_self = await graphql(SEND_DM, {"to": str(member.id), "content": "me"}, token=member.token)
    unknown = await graphql(SEND_DM, {"to": "999999", "content": "?"}, token=member.token)
    unknown_history = await graphql(DMS, {"with": "999999"}, token=member.token)
    bad_id = await graphql(DMS, {"with": "-4"}, token=member.token)
    too_long = await graphql(
        SEND_DM, {"to": "1", "content": "x" * (limits.CONTENT_MAX + 1)}, token=member.token
    )

    assert error_codes(to_self) == ["BAD_USER_INPUT"]
    assert error_codes(unknown) == error_codes(unknown_history) == ["NOT_FOUND"]
    assert error_codes(bad_id) == ["BAD_USER_INPUT"]
    assert error_codes(too_long) == ["BAD_USER_INPUT"]


async def test_direct_message_client_id_retry(graphql: GraphQL, make_account: MakeAccount) -> None:
    alice, bob = await make_account(), await make_account()
    variables = {"to": str(bob.id), "content": "hi", "clientId": "dm-1"}

    first = data_of(await graphql(SEND_DM, variables, token=alice.token))
    retry = data_of(await graphql(SEND_DM, variables, token=alice.token))

    assert first == retry
    page = data_of(await graphql(DMS, {"with": str(bob.id)}, token=alice.token))
    assert len(page["directMessages"]["edges"]) == 1


async def test_direct_message_history_of_55_pages_back(
    graphql: GraphQL, make_account: MakeAccount, roomy: None
) -> None:
    alice, bob = await make_account(), await make_account()
    sent = []
    for n in range(55):
        data = data_of(
            await graphql(SEND_DM, {"to": str(bob.id), "content": str(n)}, token=alice.token)
        )
        sent.append(data["sendDirectMessage"]["id"])

    latest = data_of(await graphql(DMS, {"with": str(alice.id)}, token=bob.token))
    cursor = latest["directMessages"]["pageInfo"]["startCursor"]
    older = data_of(await graphql(DMS, {"with": str(alice.id), "before": cursor}, token=bob.token))

    assert ids(latest["directMessages"]) == sent[5:]
    assert ids(older["directMessages"]) == sent[:5]


# --- DataLoaders -------------------------------------------------------------


async def test_a_page_of_messages_costs_a_constant_number_of_queries(
    graphql: GraphQL,
    make_account: MakeAccount,
    monkeypatch: pytest.MonkeyPatch,
    roomy: None,
) -> None:
    """Authors and rooms load through DataLoaders: 50 messages by 10 authors
    cost the same queries as 5 messages by 5 authors."""
    authors = [await make_account() for _ in range(10)]
    for name, count in (("small", 5), ("large", 50)):
        await create_room(graphql, authors[0], name)
        for n in range(count):
            await send(graphql, authors[n % len(authors)], name, f"{name} {n}")
    counter = QueryCounter(monkeypatch)

    costs = {}
    for name, count in (("small", 5), ("large", 50)):
        counter.count = 0
        body = await graphql(HISTORY, {"room": name}, token=authors[1].token)
        assert len(data_of(body)["roomMessages"]["edges"]) == count
        costs[name] = counter.count

    assert costs["small"] == costs["large"]
    assert costs["large"] <= 8, costs
