"""OpenAPI description of the REST resources paths (handlers: ``rest_compat.resources``)."""

from __future__ import annotations

from typing import Any

from models import ResourceKind
from resolvers import limits, permissions
from resolvers.permissions import Action
from rest_compat.spec import common as oa

_KINDS = [k.value for k in ResourceKind]
_RESOURCE = {
    "type": "object",
    "required": ["id", "title", "description", "kind", "url", "file_id", "created_at"],
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "kind": {"type": "string", "enum": _KINDS},
        "url": {"type": ["string", "null"]},
        "file_id": {"type": ["integer", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_INPUT = {
    "type": "object",
    "required": ["title"],
    "description": "Exactly one of url (http or https) and file_id.",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": limits.RESOURCE_TITLE_MAX},
        "description": {"type": "string", "maxLength": limits.RESOURCE_DESCRIPTION_MAX},
        "kind": {"type": "string", "enum": _KINDS, "default": "DOCUMENT"},
        "url": {"type": "string", "format": "uri", "maxLength": limits.RESOURCE_URL_MAX},
        "file_id": {"type": "integer", "minimum": 1},
    },
}


def _operations(summary_suffix: str, id_suffix: str) -> dict[str, Any]:
    return {
        "get": {
            "operationId": "listResources" + id_suffix,
            "summary": f"List internal resources ({permissions.who(Action.RESOURCE_READ)})"
            + summary_suffix,
            "security": oa.BEARER,
            "parameters": [
                {"name": "kind", "in": "query", "schema": {"type": "string", "enum": _KINDS}},
                *oa.PAGING,
            ],
            "responses": {
                **oa.ok("200", {"type": "array", "items": oa.ref("Resource")}),
                **oa.AUTH_ERRORS,
                **oa.error("422", "Invalid kind or paging"),
            },
        },
        "post": {
            "operationId": "createResource" + id_suffix,
            "summary": f"Create an internal resource ({permissions.who(Action.RESOURCE_CREATE)})"
            + summary_suffix,
            "security": oa.BEARER,
            "requestBody": oa.json_body(
                _INPUT,
                example={"title": "Wiki", "kind": "LINK", "url": "https://wiki.example.com"},
            ),
            "responses": {
                **oa.ok("201", oa.ref("Resource")),
                **oa.COMMON_ERRORS,
                **oa.AUTH_ERRORS,
                **oa.error("403", permissions.refusal(Action.RESOURCE_CREATE)),
            },
        },
    }


OPENAPI: dict[str, Any] = {
    "schemas": {
        "Resource": oa.with_example(
            _RESOURCE,
            {
                "id": 1,
                "title": "Employee handbook",
                "description": "Policies and practical information.",
                "kind": "DOCUMENT",
                "url": "https://example.com/handbook",
                "file_id": None,
                "created_at": oa.WHEN,
            },
        )
    },
    "paths": {
        "/ressources": _operations("", ""),
        "/resources": _operations(" (alias of /ressources)", "Alias"),
    },
}
