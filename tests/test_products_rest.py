"""Products through the REST compatibility paths."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account


async def create(http: httpx.AsyncClient, admin: Account, **fields: object) -> dict[str, object]:
    body = {"name": "Mug", "description": "Blue", "price": 12.5, "stock": 3} | fields
    response = await http.post("/products", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


async def test_admin_creates_reads_updates_and_deletes(
    http: httpx.AsyncClient, admin: Account
) -> None:
    product = await create(http, admin, price=99.99)
    assert product["price"] == 99.99
    assert product["name"] == "Mug"
    got = await http.get(f"/products/{product['id']}")
    assert got.status_code == 200
    assert got.json() == product
    patched = await http.patch(
        f"/products/{product['id']}", json={"stock": 10, "price": 0.1}, headers=admin.headers
    )
    assert patched.status_code == 200
    assert patched.json()["stock"] == 10
    assert patched.json()["price"] == 0.1
    assert patched.json()["name"] == "Mug"
    deleted = await http.delete(f"/products/{product['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await http.get(f"/products/{product['id']}")).status_code == 404


async def test_prices_are_exact(http: httpx.AsyncClient, admin: Account) -> None:
    product = await create(http, admin, price=1234567890.12)
    raw = (await http.get(f"/products/{product['id']}")).text
    assert '"price":1234567890.12' in raw.replace(" ", "")
    # 0.1 + 0.2 must not drift either.
    product = await create(http, admin, price=0.3)
    assert (await http.get(f"/products/{product['id']}")).json()["price"] == 0.3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "price": 1}, "name"),
        ({"name": "x" * (limits.PRODUCT_NAME_MAX + 1), "price": 1}, "name"),
        ({"name": "ok", "price": -1}, "price"),
        ({"name": "ok", "price": 1.234}, "price"),
        ({"name": "ok", "price": "abc"}, "price"),
        ({"name": "ok", "price": True}, "price"),
        ({"name": "ok", "price": 1e20}, "price"),
        ({"name": "ok", "price": 2.3e62}, "price"),
        ({"name": "ok", "price": 1e-30}, "price"),
        ({"name": "ok", "price": 10000000000}, "price"),
        ({"name": "ok", "price": 1, "stock": -1}, "stock"),
        ({"name": "ok", "price": 1, "stock": 1.5}, "stock"),
        ({"name": "ok", "price": 1, "stock": 2**40}, "stock"),
        ({"name": "ok"}, "price"),
        ({"price": 1}, "name"),
        ({"name": 5, "price": 1}, "name"),
    ],
)
async def test_validation(
    http: httpx.AsyncClient, admin: Account, body: dict[str, object], field: str
) -> None:
    response = await http.post("/products", json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_USER_INPUT"
    assert error["field"] == field
    assert (await http.get("/products")).json() == []


async def test_members_and_anonymous_may_not_write(
    http: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    product = await create(http, admin)
    body = {"name": "Hack", "price": 1}
    for headers, status, code in [(member.headers, 403, "FORBIDDEN"), ({}, 401, "UNAUTHENTICATED")]:
        for response in [
            await http.post("/products", json=body, headers=headers),
            await http.patch(f"/products/{product['id']}", json=body, headers=headers),
            await http.delete(f"/products/{product['id']}", headers=headers),
        ]:
            assert response.status_code == status
            assert response.json()["error"]["code"] == code
    assert (await http.get(f"/products/{product['id']}")).json() == product


async def test_list_limit_offset_and_search(http: httpx.AsyncClient, admin: Account) -> None:
    names = ["Red mug", "Blue mug", "Green plate", "Red plate", "Spoon"]
    for name in names:
        await create(http, admin, name=name, description="kitchen")
    everything = (await http.get("/products")).json()
    assert [p["name"] for p in everything] == names
    page1 = (await http.get("/products", params={"limit": 2})).json()
    page2 = (await http.get("/products", params={"limit": 2, "offset": 2})).json()
    assert [p["name"] for p in page1 + page2] == names[:4]
    assert [p["name"] for p in (await http.get("/products", params={"q": "red"})).json()] == [
        "Red mug",
        "Red plate",
    ]
    assert len((await http.get("/products", params={"q": "KITCHEN"})).json()) == 5
    assert (await http.get("/products", params={"q": "%"})).json() == []


@pytest.mark.parametrize("offset", ["0", "3", "2147483646"])
async def test_an_empty_page_is_empty_at_any_offset(
    http: httpx.AsyncClient, admin: Account, offset: str
) -> None:
    """limit=0 reads nothing, wherever it starts (a LIMIT 0 lost on the way was a 500)."""
    await create(http, admin, name="Cup")
    for params in ({"limit": "0", "offset": offset}, {"limit": "0", "offset": offset, "q": "cup"}):
        response = await http.get("/products", params=params)
        assert response.status_code == 200, response.text
        assert response.json() == []


@pytest.mark.parametrize(
    "params",
    [{"limit": "-1"}, {"offset": "-5"}, {"limit": "abc"}, {"limit": "1.5"}, {"limit": "1" * 30}],
)
async def test_bad_paging_is_422(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await http.get("/products", params=params)
    assert response.status_code == 422


async def test_huge_limit_is_clamped(http: httpx.AsyncClient, admin: Account) -> None:
    await create(http, admin)
    response = await http.get("/products", params={"limit": str(10**9)})
    assert response.status_code == 200
    assert len(response.json()) == 1


async def test_unknown_and_malformed_ids(http: httpx.AsyncClient, admin: Account) -> None:
    assert (await http.get("/products/999")).status_code == 404
    assert (await http.get("/products/abc")).status_code == 422
    assert (await http.get("/products/0")).status_code == 422
    assert (
        await http.patch("/products/999", json={"stock": 1}, headers=admin.headers)
    ).status_code == 404


async def test_lone_surrogates_are_bad_input(http: httpx.AsyncClient, admin: Account) -> None:
    body = b'{"name": "bad \\ud800 name", "price": 1}'
    response = await http.post(
        "/products", content=body, headers={**admin.headers, "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "name"


async def test_mass_assignment_is_ignored(http: httpx.AsyncClient, admin: Account) -> None:
    product = await create(http, admin, id=4242, created_at="2000-01-01T00:00:00+00:00")
    assert product["id"] != 4242
    assert not str(product["created_at"]).startswith("2000")


async def test_price_keeps_two_decimals(http: httpx.AsyncClient, admin: Account) -> None:
    product = await create(http, admin, price=5)
    assert Decimal(str(product["price"])) == Decimal("5.00")
