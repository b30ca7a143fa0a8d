"""Authorization through the REST door (security checklist 1-6: API1, API3, API5).

Who may do what, field by field, is the matrix in ``test_authz_matrix.py``;
these follow the checklist's lines further: refusals look like missing ids,
nothing is stored, nothing leaks (``tests/authz_world.py``).
"""

from __future__ import annotations

import pytest

from tests.authz_world import World, assert_nothing_leaked
from tests.helpers import MISSING_ROOM


@pytest.mark.checklist(1, "rest")
async def test_private_room_and_others_dms_are_like_missing_ones_on_rest(world: World) -> None:
    missing = await world.rest("other", "GET", f"/chat/rooms/{MISSING_ROOM}/messages")
    for ref in (world.room, world.room_id):
        response = await world.rest("other", "GET", f"/chat/rooms/{ref}/messages")
        assert (response.status_code, response.json()) == (404, missing.json())
    for peer in (world.owner, world.admin):
        response = await world.rest("other", "GET", f"/chat/dm/{peer.id}")
        assert response.status_code == 200
        assert not {m["id"] for m in response.json()} & set(world.dm_ids)
    assert_nothing_leaked(world)


@pytest.mark.checklist(3, "rest")
async def test_members_cannot_write_products_or_resources_on_rest(world: World) -> None:
    attempts = [
        ("POST", "/products", {"name": "Free", "price": 0}),
        ("PATCH", f"/products/{world.product_id}", {"price": 0}),
        ("DELETE", f"/products/{world.product_id}", None),
        ("POST", "/resources", {"title": "Mine", "kind": "LINK", "url": "https://example.com"}),
        ("POST", "/ressources", {"title": "Mine", "kind": "LINK", "url": "https://example.com"}),
    ]
    for method, path, body in attempts:
        response = await world.rest("owner", method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "FORBIDDEN"
    products = (await world.http.get("/products")).json()
    assert [(p["id"], p["price"]) for p in products] == [(world.product_id, 9.99)]
    resources = (await world.rest("owner", "GET", "/resources")).json()
    assert [r["id"] for r in resources] == [world.resource_id]


@pytest.mark.checklist(4, "rest")
async def test_privileged_fields_in_bodies_are_ignored_on_rest(world: World) -> None:
    response = await world.rest(
        "anonymous",
        "POST",
        "/register",
        json={
            "email": "climber@example.com",
            "password": "long enough pw",
            "role": "ADMIN",
            "is_admin": True,
            "id": 1,
        },
    )
    assert response.status_code == 201
    me = await world.http.get(
        "/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["role"] == "MEMBER"
    assert me.json()["id"] != 1
    sent = await world.rest(
        "other",
        "POST",
        "/chat/dm/" + str(world.owner.id),
        json={"content": "hi", "id": 1, "from_user": world.admin.id, "owner_id": world.admin.id},
    )
    assert sent.status_code == 201
    assert sent.json()["from_user"] == world.other.id
    assert sent.json()["id"] != 1
    room = await world.rest(
        "other", "POST", "/chat/rooms", json={"name": "mine", "id": world.room_id}
    )
    assert room.status_code == 201
    assert room.json()["id"] != world.room_id
    upload = await world.rest(
        "other",
        "POST",
        "/files",
        data={"owner_id": str(world.owner.id), "id": str(world.file_id)},
        files={"file": ("a.txt", b"a", "text/plain")},
    )
    assert upload.status_code == 201
    assert upload.json()["owner_id"] == world.other.id
    assert upload.json()["id"] != world.file_id
    product = await world.rest(
        "admin", "POST", "/products", json={"name": "P", "price": 1, "id": world.product_id}
    )
    assert product.status_code == 201
    assert product.json()["id"] != world.product_id


@pytest.mark.checklist(5, "rest")
async def test_no_hash_and_no_foreign_email_on_rest(world: World) -> None:
    for actor in ("owner", "other", "anonymous"):
        for path in (
            "/me",
            "/files",
            "/chat/rooms",
            f"/chat/dm/{world.owner.id}",
            f"/chat/dm/{world.admin.id}",
            f"/chat/rooms/{world.room}/messages",
            "/resources",
            "/products",
        ):
            await world.rest(actor, "GET", path)
    me = await world.rest("owner", "GET", "/me")
    assert set(me.json()) == {"id", "email", "display_name", "role", "created_at"}
    assert me.json()["email"] == world.owner.email
    assert_nothing_leaked(world)


@pytest.mark.checklist(6, "rest")
async def test_others_files_are_refused_like_missing_ones_on_rest(world: World) -> None:
    missing_id = world.file_id + 1000
    for method in ("GET", "DELETE"):
        missing = await world.rest("other", method, f"/files/{missing_id}")
        response = await world.rest("other", method, f"/files/{world.file_id}")
        assert (response.status_code, response.json()) == (404, missing.json())
        assert response.headers.get("content-disposition") is None
    listing = await world.rest("other", "GET", "/files")
    assert listing.json() == []
    download = await world.rest("owner", "GET", f"/files/{world.file_id}")
    assert download.content == b"the owner's bytes"
