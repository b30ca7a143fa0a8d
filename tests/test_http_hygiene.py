"""HTTP hygiene: GraphQL over HTTP media types and methods, body limits,
security headers on every response, CORS (checklist 16, 20, 21)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, MakeAccount, data_of
from tests.helpers import EVIL

GRAPHQL_RESPONSE = "application/graphql-response+json"
MIB = 1024 * 1024
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    csp = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp, response.request.url
    if not response.headers.get("content-type", "").startswith("text/html"):
        assert csp.startswith("default-src 'none'")
        assert response.headers.get("cache-control") == "no-store"


def graphql_error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    assert set(error) >= {"message", "extensions"}
    return dict(error)


# GraphQL over HTTP


async def test_graphql_response_media_type_is_negotiated(http: httpx.AsyncClient) -> None:
    query = {"query": "{ __typename }"}
    for accept, expected in [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("text/html", "application/json"),
    ]:
        response = await http.post("/graphql", json=query, headers={"Accept": accept})
        assert response.status_code == 200, accept
        assert response.headers["content-type"].startswith(expected), accept
        assert data_of(response.json()) == {"__typename": "Query"}


async def test_request_errors_are_400_only_under_graphql_response_json(
    http: httpx.AsyncClient,
) -> None:
    for payload in [
        {"query": "{"},
        {"query": "{ nope }"},
        {"query": "query($id: ID!) { product(id: $id) { id } }", "variables": {"id": None}},
    ]:
        response = await http.post("/graphql", json=payload, headers={"Accept": GRAPHQL_RESPONSE})
        assert response.status_code == 400, payload
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
        response = await http.post("/graphql", json=payload, headers={"Accept": "application/json"})
        assert response.status_code == 200, payload
        assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_field_errors_keep_200_and_data(http: httpx.AsyncClient) -> None:
    # A resolver's error is not a request error: data stays, status 200.
    response = await http.post(
        "/graphql",
        json={"query": 'mutation { deleteProduct(id: "1") }'},
        headers={"Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps({"query": "{ __typename }"}), "text/plain"),
        ("query=%7B__typename%7D", "application/x-www-form-urlencoded"),
        (json.dumps({"query": "{ __typename }"}), None),
    ],
)
@pytest.mark.checklist(20, "graphql")
async def test_text_plain_and_form_posts_are_400(
    http: httpx.AsyncClient, content: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await http.post("/graphql", content=content, headers=headers)
    assert response.status_code == 400
    assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    assert_security_headers(response)


@pytest.mark.checklist(20, "graphql")
async def test_mutations_over_get_are_refused_and_not_run(http: httpx.AsyncClient) -> None:
    mutation = (
        'mutation { register(input: {email: "get@example.com", password: "long enough pw"})'
        " { accessToken } }"
    )
    response = await http.get("/graphql", params={"query": mutation})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    # Nothing was stored: the address is still free.
    login = await http.post(
        "/login", json={"email": "get@example.com", "password": "long enough pw"}
    )
    assert login.status_code == 401
    for method in ("PUT", "DELETE", "PATCH"):
        response = await http.request(method, "/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 405, method
        assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    # Queries over GET are fine.
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert data_of(response.json()) == {"__typename": "Query"}


async def test_subscriptions_over_http_are_400_never_500(http: httpx.AsyncClient) -> None:
    subscription = 'subscription { roomMessages(room: "general") { id } }'
    for accept in ("application/json", GRAPHQL_RESPONSE, "text/event-stream", "multipart/mixed"):
        response = await http.post(
            "/graphql", json={"query": subscription}, headers={"Accept": accept}
        )
        assert response.status_code == 400, accept
        error = graphql_error(response)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "WebSocket" in error["message"]
    response = await http.get("/graphql", params={"query": subscription})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content",
    [
        b'{ "not json',
        b"\xff\xfe\x00garbage",
        b"",
        b'{"query": {"not": "a string"}}',
        b'{"query": "{ __typename }", "variables": "a string"}',
        b'{"query": "{ __typename }", "operationName": 42}',
        b"[]",
    ],
)
async def test_malformed_graphql_requests_are_400(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post(
        "/graphql", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, content
    assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


# Body limits (checklist 16)


def two_mib_json() -> bytes:
    return json.dumps({"query": "{ __typename }", "padding": "x" * (2 * MIB)}).encode()


def deep_json(depth: int = 10_000) -> bytes:
    return b"[" * depth + b"]" * depth


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("path", ["/graphql", "/login", "/register", "/products", "/chat/rooms"])
@pytest.mark.checklist(16, "rest", "graphql")
async def test_two_mib_json_is_413(
    http: httpx.AsyncClient, make_account: MakeAccount, path: str
) -> None:
    admin = await make_account(admin=True)
    headers = {"Content-Type": "application/json", **admin.headers}
    declared = await http.post(path, content=two_mib_json(), headers=headers)
    # Without Content-Length (chunked), the limit applies as the body streams.
    streamed = await http.post(path, content=chunks(two_mib_json()), headers=headers)
    for response in (declared, streamed):
        assert response.status_code == 413, path
        assert_security_headers(response)
        if path == "/graphql":
            assert graphql_error(response)["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        else:
            assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.checklist(16, "rest", "graphql")
async def test_deeply_nested_json_is_422_never_500(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    admin = await make_account(admin=True)
    headers = {"Content-Type": "application/json", **admin.headers}
    nested_object = b'{"query": "{ __typename }", "variables": {"v": ' + deep_json() + b"}}"
    for path, content in [
        ("/graphql", deep_json()),
        ("/graphql", nested_object),
        ("/login", deep_json()),
        ("/login", b'{"email": ' + deep_json() + b', "password": "x"}'),
        ("/products", b'{"name": ' + deep_json() + b"}"),
        ("/register", b'{"a": ' + deep_json() + b"}"),
        ("/chat/rooms", b'{"a": ' + deep_json() + b"}"),
    ]:
        response = await http.post(path, content=content, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert_security_headers(response)
    response = await http.get(
        "/graphql", params={"query": "{ __typename }", "variables": "[" * 5000}
    )
    assert response.status_code in {400, 422}
    # A query nested 5,000 deep is refused as a document, never a parser crash.
    deep_query = "{ " + "me { " * 5000 + "id" + " }" * 5001
    response = await http.post("/graphql", json={"query": deep_query})
    assert response.status_code in {200, 400, 413}
    assert graphql_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_uploads_keep_their_own_larger_limit(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    # A 2 MiB multipart body is not refused for its size (the upload code
    # enforces MAX_UPLOAD_BYTES); without a query it is refused for that.
    # (Signed in: an anonymous upload is refused before its body is read.)
    account = await make_account()
    response = await http.post(
        "/graphql",
        files={"file": ("a.bin", b"x" * (2 * MIB))},
        data={"operations": "{}", "map": "{}"},
        headers=account.headers,
    )
    assert response.status_code == 400
    assert "No GraphQL query" in graphql_error(response)["message"]


# Security headers on every response (checklist 21 and CSP)


async def test_security_headers_on_every_kind_of_response(
    http: httpx.AsyncClient, make_account: MakeAccount
) -> None:
    responses = [
        await http.get("/health"),
        await http.get("/nope"),
        await http.get("/me"),
        await http.delete("/login"),
        await http.post("/login", content=b"x", headers={"Content-Type": "text/plain"}),
        await http.post("/graphql", json={"query": "{"}, headers={"Accept": GRAPHQL_RESPONSE}),
        await http.post("/graphql", json={"query": "{ __typename }"}),
        await http.get("/openapi.json"),
        await http.options(
            "/graphql",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses[:5] == [200, 404, 401, 405, 415]
    for response in responses:
        assert_security_headers(response)
    docs = await http.get("/docs")
    assert docs.headers["content-type"].startswith("text/html")
    assert "script-src" in docs.headers["content-security-policy"]
    assert_security_headers(docs)


@pytest.mark.checklist(19, "rest", "graphql")
async def test_internal_errors_are_a_fixed_message_with_headers(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers import products

    async def broken(**kwargs: Any) -> Any:
        raise RuntimeError('SELECT * FROM "users" -- /etc/comptoir/secret.py line 3')

    monkeypatch.setattr(products, "list_products_offset", broken)
    monkeypatch.setattr(products, "list_products", broken)
    rest = await http.get("/products")
    assert rest.status_code == 500
    assert rest.json() == {
        "error": {"code": "INTERNAL_SERVER_ERROR", "message": "Internal server error."}
    }
    assert_security_headers(rest)
    graphql = await http.post("/graphql", json={"query": "{ products { totalCount } }"})
    assert graphql.status_code == 200
    [error] = graphql.json()["errors"]
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for response in (rest, graphql):
        for leak in ("SELECT", "users", "/etc", "secret", "Traceback", "RuntimeError"):
            assert leak not in response.text


# CORS: none by default (checklist 21; allowed origins in test_production_env.py)


@pytest.mark.checklist(21, "graphql")
async def test_cors_allows_no_origin_by_default(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/graphql",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
    )
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-credentials" not in simple.headers


@pytest.mark.checklist(20, "graphql")
async def test_mutations_over_get_and_simple_posts_are_refused_on_graphql(
    http: httpx.AsyncClient, admin: Account
) -> None:
    mutation = 'mutation { createProduct(input: {name: "csrf", price: "1"}) { id } }'
    over_get = await http.get("/graphql", params={"query": mutation}, headers=admin.headers)
    # 405 per GraphQL over HTTP for a mutation sent with GET (the checklist says 400)
    assert over_get.status_code in {400, 405}
    body = json.dumps({"query": mutation})
    for content_type, content in (
        ("text/plain", body),
        ("application/x-www-form-urlencoded", f"query={mutation}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{mutation}\r\n--x--\r\n',
        ),
    ):
        response = await http.post(
            "/graphql", content=content, headers={**admin.headers, "content-type": content_type}
        )
        assert response.status_code == 400, (content_type, response.status_code)
    assert (await http.get("/products")).json() == []


@pytest.mark.checklist(21, "rest")
async def test_cors_never_allows_a_foreign_origin_with_credentials_on_rest(
    http: httpx.AsyncClient, member: Account
) -> None:
    for method, path in (("GET", "/me"), ("POST", "/chat/rooms"), ("DELETE", "/files/1")):
        preflight = await http.options(
            path,
            headers={
                "origin": EVIL,
                "access-control-request-method": method,
                "access-control-request-headers": "authorization",
            },
        )
        assert preflight.headers.get("access-control-allow-origin") in {None, ""}
        assert preflight.headers.get("access-control-allow-credentials") != "true"
        actual = await http.get(path, headers={"origin": EVIL, **member.headers})
        assert actual.headers.get("access-control-allow-origin") is None
