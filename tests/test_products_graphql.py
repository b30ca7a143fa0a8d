"""Products through GraphQL."""

from __future__ import annotations

import pytest

from resolvers import limits
from tests.conftest import Account, GraphQL, data_of, error_codes

CREATE = """
mutation Create($input: ProductInput!) {
  createProduct(input: $input) { id name description price stock createdAt updatedAt }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: ProductUpdateInput!) {
  updateProduct(id: $id, input: $input) { id name price stock }
}
"""
DELETE = "mutation Delete($id: ID!) { deleteProduct(id: $id) }"
PRODUCT = "query One($id: ID!) { product(id: $id) { id name price } }"
PAGE = """
query Page($first: Int, $after: String, $last: Int, $before: String, $search: String) {
  products(first: $first, after: $after, last: $last, before: $before, search: $search) {
    totalCount
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def create(graphql: GraphQL, admin: Account, **fields: object) -> dict[str, object]:
    product_input = {"name": "Mug", "price": "12.50", "stock": 3} | fields
    data = data_of(await graphql(CREATE, {"input": product_input}, token=admin.token))
    product: dict[str, object] = data["createProduct"]
    return product


async def test_crud(graphql: GraphQL, admin: Account) -> None:
    product = await create(graphql, admin, price="99.99")
    assert product["price"] == "99.99"
    assert product["description"] == ""
    assert str(product["createdAt"]).endswith("+00:00")
    updated = data_of(
        await graphql(UPDATE, {"id": product["id"], "input": {"price": "1.5"}}, token=admin.token)
    )["updateProduct"]
    assert updated == {"id": product["id"], "name": "Mug", "price": "1.50", "stock": 3}
    assert data_of(await graphql(DELETE, {"id": product["id"]}, token=admin.token)) == {
        "deleteProduct": True
    }
    assert data_of(await graphql(PRODUCT, {"id": product["id"]})) == {"product": None}


@pytest.mark.parametrize(
    "product_input",
    [
        {"name": "", "price": "1"},
        {"name": "x" * (limits.PRODUCT_NAME_MAX + 1), "price": "1"},
        {"name": "ok", "price": "-0.01"},
        {"name": "ok", "price": "1.001"},
        {"name": "ok", "price": "NaN"},
        {"name": "ok", "price": "Infinity"},
        {"name": "ok", "price": "1e30"},
        {"name": "ok", "price": "1E-30"},
        {"name": "ok", "price": "1", "stock": -1},
    ],
)
async def test_validation(
    graphql: GraphQL, admin: Account, product_input: dict[str, object]
) -> None:
    body = await graphql(CREATE, {"input": product_input}, token=admin.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert data_of(await graphql(PAGE, {}))["products"]["totalCount"] == 0


async def test_unparseable_decimal_is_bad_input(graphql: GraphQL, admin: Account) -> None:
    body = await graphql(CREATE, {"input": {"name": "ok", "price": "abc"}}, token=admin.token)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_permissions(graphql: GraphQL, admin: Account, member: Account) -> None:
    product = await create(graphql, admin)
    for token, code in [(member.token, "FORBIDDEN"), (None, "UNAUTHENTICATED")]:
        assert error_codes(
            await graphql(CREATE, {"input": {"name": "x", "price": "1"}}, token=token)
        ) == [code]
        assert error_codes(
            await graphql(UPDATE, {"id": product["id"], "input": {"stock": 0}}, token=token)
        ) == [code]
        assert error_codes(await graphql(DELETE, {"id": product["id"]}, token=token)) == [code]
    assert data_of(await graphql(PRODUCT, {"id": product["id"]}))["product"]["name"] == "Mug"


async def test_forward_and_backward_pages_do_not_overlap(graphql: GraphQL, admin: Account) -> None:
    for i in range(7):
        await create(graphql, admin, name=f"P{i}")
    seen: list[str] = []
    after = None
    while True:
        page = data_of(await graphql(PAGE, {"first": 3, "after": after}))["products"]
        assert page["totalCount"] == 7
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"P{i}" for i in range(7)]

    backward: list[str] = []
    before = None
    while True:
        page = data_of(await graphql(PAGE, {"last": 3, "before": before}))["products"]
        backward = [e["node"]["name"] for e in page["edges"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert backward == seen


async def test_search_and_total_count(graphql: GraphQL, admin: Account) -> None:
    for name in ["Red mug", "Blue mug", "Plate"]:
        await create(graphql, admin, name=name)
    page = data_of(await graphql(PAGE, {"search": "mug"}))["products"]
    assert page["totalCount"] == 2
    assert [e["node"]["name"] for e in page["edges"]] == ["Red mug", "Blue mug"]


@pytest.mark.parametrize(
    "variables", [{"first": -1}, {"after": "not-a-cursor"}, {"first": 1, "last": 1}]
)
async def test_bad_paging(graphql: GraphQL, variables: dict[str, object]) -> None:
    assert error_codes(await graphql(PAGE, variables)) == ["BAD_USER_INPUT"]


async def test_huge_first_is_clamped(graphql: GraphQL, admin: Account) -> None:
    await create(graphql, admin)
    page = data_of(await graphql(PAGE, {"first": 10**9}))["products"]
    assert len(page["edges"]) == 1


async def test_malformed_id(graphql: GraphQL) -> None:
    assert error_codes(await graphql(PRODUCT, {"id": "abc"})) == ["BAD_USER_INPUT"]
