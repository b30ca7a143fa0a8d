"""The OpenAPI document: what generated clients and /docs rely on.

Every operation has a unique ``operationId`` and one of the declared domain
tags; every example (request bodies, component schemas) has the fields its
schema requires and no others, with values of the declared types and enums;
the handler modules hold handlers only (the description is in
``rest_compat/spec/``). Schemathesis (.ci/schemathesis/run.sh) checks the
responses against it.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

import rest_compat
from tests.conftest import Account

METHODS = {"get", "put", "post", "patch", "delete"}
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        resolved: dict[str, Any] = spec["components"]["schemas"][name]
        return resolved
    return schema


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    schema = resolve(spec, schema)
    kinds = schema.get("type")
    if kinds is not None:
        allowed = tuple(JSON_TYPES[k] for k in ([kinds] if isinstance(kinds, str) else kinds))
        flat = tuple(t for a in allowed for t in (a if isinstance(a, tuple) else (a,)))
        assert isinstance(value, flat), f"{where}: {value!r} is not {kinds}"
        assert not (isinstance(value, bool) and bool not in flat), f"{where}: a boolean"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict) and "properties" in schema:
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{where}: missing {missing}"
        unknown = set(value) - set(schema["properties"])
        assert not unknown, f"{where}: unknown {unknown}"
        for key, item in value.items():
            check(spec, schema["properties"][key], item, f"{where}.{key}")


@pytest.mark.once
async def test_every_operation_has_an_id_a_domain_tag_and_examples(
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get("/openapi.json")).json()
    tags = {tag["name"] for tag in spec["tags"]}
    assert {"auth", "products", "files", "resources", "chat"} <= tags
    ids = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            ids.append(operation["operationId"])
            assert len(operation["tags"]) == 1, where
            assert operation["tags"][0] in tags, where
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                assert "example" in body, f"{where}: no request example"
                check(spec, body["schema"], body["example"], where)
            for parameter in operation.get("parameters", []):
                if "example" in parameter:
                    check(spec, parameter["schema"], parameter["example"], where)
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("examples"), f"{name}: no example"
        for example in schema["examples"]:
            check(spec, schema, example, name)


async def test_the_docs_examples_are_accepted_by_the_server(
    http: httpx.AsyncClient, admin: Account
) -> None:
    """Request examples are real: sent as they are, the server takes them."""
    spec = (await http.get("/openapi.json")).json()
    operations = spec["paths"]
    product = operations["/products"]["post"]["requestBody"]["content"]["application/json"]
    created = await http.post("/products", json=product["example"], headers=admin.headers)
    assert created.status_code == 201, created.text
    room = operations["/chat/rooms"]["post"]["requestBody"]["content"]["application/json"]
    made = await http.post("/chat/rooms", json=room["example"], headers=admin.headers)
    assert made.status_code == 201, made.text
    message = operations["/chat/rooms/{room}/messages"]["post"]["requestBody"]["content"]
    path = f"/chat/rooms/{room['example']['name']}/messages"
    sent = await http.post(path, json=message["application/json"]["example"], headers=admin.headers)
    assert sent.status_code == 201, sent.text
    resource = operations["/ressources"]["post"]["requestBody"]["content"]["application/json"]
    linked = await http.post("/ressources", json=resource["example"], headers=admin.headers)
    assert linked.status_code == 201, linked.text


@pytest.mark.once
def test_handler_modules_hold_handlers_not_the_description() -> None:
    for module in rest_compat.MODULES:
        assert not hasattr(module, "OPENAPI"), module.__name__
        spec_module = importlib.import_module(f"rest_compat.spec.{module.__name__.rsplit('.')[-1]}")
        assert spec_module.OPENAPI["paths"], spec_module.__name__
