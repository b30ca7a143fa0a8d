"""GraphQL limits: depth, fields, aliases, tokens, directives, cost, fragments,
batching.

Checklist 13 and 14: each refusal is a request error (no ``data``) with
``extensions.code`` BAD_USER_INPUT, decided before anything executes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, GraphQL, MakeAccount, data_of, error_codes
from tests.harness import Service

PRODUCTS_PAGE = """
query Page($first: Int) {
  products(first: $first) {
    edges { cursor node { id name description price stock createdAt updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}
"""
LOGIN = """
mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}
"""


async def post(http: httpx.AsyncClient, payload: Any) -> httpx.Response:
    return await http.post("/graphql", json=payload)


def refused(body: dict[str, Any], fragment: str) -> None:
    """A request error: no data entry, one BAD_USER_INPUT naming the limit."""
    assert "data" not in body, body
    assert error_codes(body), body
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}, body
    messages = " ".join(e["message"] for e in body["errors"])
    assert fragment in messages, messages


def nested(field: str, depth: int) -> str:
    return "{ " + f"{field} {{ " * depth + "id" + " }" * depth + " }"


async def test_a_full_products_page_is_within_every_limit(graphql: GraphQL) -> None:
    data = data_of(await graphql(PRODUCTS_PAGE, {"first": 100}))
    assert data["products"]["totalCount"] == 0


@pytest.mark.checklist(13, "graphql")
async def test_depth_over_the_limit_is_refused(graphql: GraphQL) -> None:
    # Depth 10 reaches validation (the fields do not exist); 11 and 20 stop at the limit.
    at_limit = await graphql(nested("x", 10))
    assert "depth" not in at_limit["errors"][0]["message"]
    refused(await graphql(nested("x", 11)), "Query depth 11 is over the limit of 10")
    refused(await graphql(nested("x", 20)), "Query depth 20 is over the limit of 10")


@pytest.mark.checklist(13, "graphql")
async def test_aliases_over_the_limit_are_refused(graphql: GraphQL) -> None:
    fifteen = "{ " + " ".join(f"a{i}: __typename" for i in range(15)) + " }"
    assert len(data_of(await graphql(fifteen))) == 15
    sixteen = "{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }"
    refused(await graphql(sixteen), "Query aliases 16 is over the limit of 15")
    # 1,000 aliases are over the token limit before they are counted.
    thousand = "{ " + " ".join(f"a{i}: __typename" for i in range(1000)) + " }"
    refused(await graphql(thousand), "more than 2000 tokens")


@pytest.mark.checklist(13, "graphql")
async def test_five_thousand_tokens_are_refused(graphql: GraphQL) -> None:
    query = "{ " + "__typename " * 4998 + "}"
    refused(await graphql(query), "Document contains more than 2000 tokens")


@pytest.mark.checklist(13, "graphql")
async def test_fields_over_the_limit_are_refused(graphql: GraphQL) -> None:
    # The spec's overlapping-fields rule is quadratic in same-named fields:
    # the field count (through fragments) bounds it.
    assert len(data_of(await graphql("{ " + "__typename " * 500 + "}"))) == 1
    refused(await graphql("{ " + "__typename " * 501 + "}"), "Query fields 501 is over")
    spread = "query { ...F ...F ...F } fragment F on Query { " + "__typename " * 200 + "}"
    refused(await graphql(spread), "Query fields 600 is over the limit of 500")


@pytest.mark.checklist(13, "graphql")
async def test_a_hundred_directives_are_refused(graphql: GraphQL) -> None:
    query = "{ " + " ".join(f"a{i}: __typename @include(if: true)" for i in range(10)) + " }"
    assert len(data_of(await graphql(query))) == 10
    many = "{ " + "__typename @include(if: true) @skip(if: false) " * 50 + "}"
    refused(await graphql(many), "Query directives 100 is over the limit of 50")


@pytest.mark.checklist(13, "graphql")
async def test_fragment_cycles_are_refused(graphql: GraphQL) -> None:
    query = """
    query { ...A }
    fragment A on Query { ...B }
    fragment B on Query { __typename ...A }
    """
    refused(await graphql(query), "Cannot spread fragment")


@pytest.mark.checklist(13, "graphql")
async def test_alias_amplification_through_fragments_is_counted(graphql: GraphQL) -> None:
    # Five aliases in a fragment spread four times: twenty aliases.
    query = """
    query { ...F ...F ...F ...F }
    fragment F on Query { a: __typename b: __typename c: __typename d: __typename e: __typename }
    """
    refused(await graphql(query), "Query aliases 20 is over the limit of 15")


@pytest.mark.checklist(13, "graphql")
async def test_exponential_fragment_spreads_are_refused(graphql: GraphQL, service: Service) -> None:
    # Each fragment spreads the next twice: 2^40 fields from a 2 KB document.
    levels = 40
    parts = ["query { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ a: __typename }}")
    body = await graphql("\n".join(parts))
    refused(body, f"Query aliases {2**levels} is over the limit of 15")
    refused(
        body, f"Query cost {2**levels} is over the limit of {service.settings.graphql_max_cost}"
    )


@pytest.mark.checklist(13, "graphql")
async def test_cost_bounds_page_sizes_times_nesting(graphql: GraphQL, service: Service) -> None:
    # A page of 100 products costs 1 + 100 * (edges 1 + node 8) = 901:
    # as many pages fit as GRAPHQL_MAX_COST allows, one more does not.
    fit = service.settings.graphql_max_cost // 901
    over = f"Query cost {(fit + 1) * 901} is over"

    def pages(count: int, first: str) -> str:
        fields = "edges { node { id name description price stock createdAt updatedAt } }"
        variables = "($n: Int)" if first == "$n" else ""
        return (
            f"query{variables} {{ "
            + " ".join(f"p{i}: products(first: {first}) {{ {fields} }}" for i in range(count))
            + " }"
        )

    assert len(data_of(await graphql(pages(fit, "100")))) == fit
    refused(await graphql(pages(fit + 1, "100")), over)
    # A variable counts as the largest page; a small literal page is cheap.
    refused(await graphql(pages(fit + 1, "$n"), {"n": 1}), over)
    assert len(data_of(await graphql(pages(fit + 1, "2")))) == fit + 1


@pytest.mark.checklist(13, "graphql")
async def test_introspection_is_cheap_but_bounded(graphql: GraphQL) -> None:
    # The session service runs with GRAPHQL_INTROSPECTION=1, as demo mode does.
    data = data_of(await graphql("{ __schema { queryType { name } } }"))
    assert data["__schema"]["queryType"]["name"] == "Query"
    deep = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = await graphql(deep)
    refused(body, "Maximum introspection depth exceeded")


async def test_suggestions_are_hidden_outside_demo_mode(graphql: GraphQL) -> None:
    # The session service runs with DEMO=0.
    for query in ["{ prodcts { totalCount } }", "{ products(frist: 1) { totalCount } }"]:
        body = await graphql(query)
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert "Did you mean" not in body["errors"][0]["message"], body


@pytest.mark.checklist(14, "graphql")
async def test_batches_run_each_operation_and_answer_a_list(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account()
    response = await http.post(
        "/graphql",
        json=[{"query": "{ me { id } }"}, {"query": "{ products { totalCount } }"}],
        headers=account.headers,
    )
    assert response.status_code == 200
    first, second = response.json()
    assert data_of(first)["me"]["id"] == str(account.id)
    assert data_of(second)["products"]["totalCount"] == 0


@pytest.mark.checklist(14, "graphql")
async def test_batches_are_capped(http: httpx.AsyncClient) -> None:
    ten = [{"query": "{ __typename }"}] * 10
    response = await post(http, ten)
    assert response.status_code == 200
    assert len(response.json()) == 10
    for payload in ([{"query": "{ __typename }"}] * 11, [], [1], [{"query": 1}]):
        response = await post(http, payload)
        assert response.status_code == 400, payload
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 10" in (await post(http, ten + ten[:1])).json()["errors"][0]["message"]


@pytest.mark.checklist(14, "graphql")
async def test_a_batch_of_logins_is_throttled_per_operation(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    account = await make_account("victim@example.com")
    wrong = {"query": LOGIN, "variables": {"email": account.email, "password": "wrong guess"}}
    right = {"query": LOGIN, "variables": {"email": account.email, "password": PASSWORD}}
    response = await post(http, [wrong] * 5 + [right])
    codes = [error_codes(body) for body in response.json()]
    assert codes == [["UNAUTHENTICATED"]] * 5 + [["RATE_LIMITED"]]


@pytest.mark.checklist(14, "graphql")
async def test_alias_batched_login_cannot_bypass_throttling(
    graphql: GraphQL, make_account: MakeAccount
) -> None:
    account = await make_account("target@example.com")
    guesses = [f"guess-{i}" for i in range(9)] + [PASSWORD]
    query = (
        "mutation { "
        + " ".join(
            f'g{i}: login(email: "{account.email}", password: "{p}") {{ accessToken }}'
            for i, p in enumerate(guesses)
        )
        + " }"
    )
    # Mutation fields run one after the other and a failed login nulls the
    # whole result, so each request tries one password and counts it.
    for attempt in range(6):
        body = await graphql(query)
        assert body["data"] is None
        [error] = body["errors"]
        assert error["path"] == ["g0"]
        expected = "UNAUTHENTICATED" if attempt < 5 else "RATE_LIMITED"
        assert error["extensions"]["code"] == expected
    assert error["extensions"]["retryAfterMs"] > 0
    # Five failures per email and window: even the right password now waits.
    body = await graphql(LOGIN, {"email": account.email, "password": PASSWORD})
    assert error_codes(body) == ["RATE_LIMITED"]
