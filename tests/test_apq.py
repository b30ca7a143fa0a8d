"""Automatic persisted queries on /graphql (Apollo's APQ protocol).

The first test drives the real client, Apollo Client with its
persisted-query link (npm, ``tests/apq_client``), hashed queries over GET;
the others check the protocol's edges through plain HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from schema.apq import MISMATCH, NOT_FOUND, NOT_FOUND_CODE
from tests.conftest import Account
from tests.harness import Service

CLIENT_DIR = Path(__file__).parent / "apq_client"
PRODUCTS = "{ products(first: 5) { edges { node { id name } } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def by_hash(digest: str) -> dict[str, str]:
    return {"extensions": json.dumps(persisted(digest))}


async def run(*args: str, cwd: Path, within: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


@pytest.mark.slow
async def test_apollo_client_persisted_query_link(service: Service, admin: Account) -> None:
    assert shutil.which("node"), "node 20 is needed"
    assert shutil.which("npm"), "npm is needed"
    if not (CLIENT_DIR / "node_modules" / "@apollo" / "client").is_dir():
        await run(
            "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=CLIENT_DIR, within=240
        )
    out = await run(
        "node", "apq.mjs", service.http_url + "/graphql", admin.token, cwd=CLIENT_DIR, within=60
    )
    report = json.loads(out.strip().splitlines()[-1])
    first, second, created = report["results"]
    assert first == second
    assert created["createProduct"]["name"] == "Persisted"
    steps = [(r["method"], bool(r["hash"]), r["query"]) for r in report["requests"]]
    assert steps == [
        ("GET", True, False),  # the hash alone: not known yet
        ("POST", True, True),  # the document with its hash: checked, stored, run
        ("GET", True, False),  # the hash alone, over GET: known now
        ("POST", True, False),  # a mutation: never over GET
        ("POST", True, True),
    ]


async def test_unknown_hash_asks_for_the_document(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params=by_hash(sha("{ unknown }")))
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == NOT_FOUND
    assert body["errors"][0]["extensions"]["code"] == NOT_FOUND_CODE


async def test_hash_then_get_runs_the_stored_document(http: httpx.AsyncClient) -> None:
    digest = sha(PRODUCTS)
    stored = await http.post("/graphql", json={"query": PRODUCTS, "extensions": persisted(digest)})
    assert stored.status_code == 200
    assert stored.json() == {"data": {"products": {"edges": []}}}
    again = await http.get("/graphql", params=by_hash(digest.upper()))
    assert again.json() == stored.json()


async def test_a_hash_that_does_not_match_is_refused(http: httpx.AsyncClient) -> None:
    wrong = sha("{ __typename }")
    refused = await http.post("/graphql", json={"query": PRODUCTS, "extensions": persisted(wrong)})
    assert refused.status_code == 400
    assert refused.json()["errors"][0] == {
        "message": MISMATCH,
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    # Nothing was stored under the wrong hash.
    later = await http.get("/graphql", params=by_hash(wrong))
    assert later.json()["errors"][0]["extensions"]["code"] == NOT_FOUND_CODE


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": "x"},
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "short"}},
    ],
)
async def test_malformed_extension_is_a_client_error(
    http: httpx.AsyncClient, extension: dict[str, Any]
) -> None:
    response = await http.post("/graphql", json={"query": PRODUCTS, "extensions": extension})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_persisted_mutation_is_refused_over_get(
    http: httpx.AsyncClient, admin: Account
) -> None:
    mutation = 'mutation { createProduct(input: {name: "A", price: "1"}) { id } }'
    digest = sha(mutation)
    created = await http.post(
        "/graphql",
        json={"query": mutation, "extensions": persisted(digest)},
        headers=admin.headers,
    )
    assert created.status_code == 200
    assert "errors" not in created.json()
    refused = await http.get("/graphql", params=by_hash(digest), headers=admin.headers)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"


@pytest.mark.slow
async def test_the_store_is_bounded(service: Service, http: httpx.AsyncClient) -> None:
    bound = service.settings.apq_max_entries
    documents = [f"query Q{i} {{ __typename }}" for i in range(bound + 1)]
    for document in documents:
        response = await http.post(
            "/graphql", json={"query": document, "extensions": persisted(sha(document))}
        )
        assert response.status_code == 200
    oldest = await http.get("/graphql", params=by_hash(sha(documents[0])))
    assert oldest.json()["errors"][0]["extensions"]["code"] == NOT_FOUND_CODE
    newest = await http.get("/graphql", params=by_hash(sha(documents[-1])))
    assert newest.json() == {"data": {"__typename": "Query"}}
