"""OpenAPI description of the REST files paths (handlers: ``rest_compat.files``)."""

from __future__ import annotations

from typing import Any

from resolvers import limits, permissions
from resolvers.pagination import ORDERS
from resolvers.permissions import Action
from rest_compat.files import FIELD
from rest_compat.spec import common as oa

_FILE = {
    "type": "object",
    "required": [
        "id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "url",
        "owner_id",
        "created_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "filename": {"type": "string", "maxLength": limits.FILENAME_MAX},
        "content_type": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "url": {"type": "string"},
        "owner_id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
_ID = [
    {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }
]
_NOT_FOUND = oa.error("404", "No such file, or not the caller's")
OPENAPI: dict[str, Any] = {
    "schemas": {
        "File": oa.with_example(
            _FILE,
            {
                "id": 1,
                "filename": "report.pdf",
                "content_type": "application/pdf",
                "size": 48213,
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "url": "/files/1",
                "owner_id": 1,
                "created_at": oa.WHEN,
            },
        )
    },
    "paths": {
        "/files": {
            "get": {
                "operationId": "listFiles",
                "summary": f"The files the caller may read as {permissions.who(Action.FILE_READ)}, "
                "newest first",
                "security": oa.BEARER,
                "parameters": [
                    *oa.PAGING,
                    {
                        "name": "order",
                        "in": "query",
                        "description": "By id: `desc` (default, newest first) or `asc`.",
                        "schema": {"type": "string", "enum": list(ORDERS)},
                    },
                ],
                "responses": {
                    **oa.ok("200", {"type": "array", "items": oa.ref("File")}),
                    **oa.AUTH_ERRORS,
                    **oa.error("422", "Invalid paging or order"),
                },
            },
            "post": {
                "operationId": "uploadFile",
                "summary": "Upload a file (streamed; at most MAX_UPLOAD_BYTES)",
                "security": oa.BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": [FIELD],
                                "properties": {
                                    FIELD: {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    **oa.ok("201", oa.ref("File")),
                    **oa.AUTH_ERRORS,
                    **oa.error("413", "Over MAX_UPLOAD_BYTES or the storage quota"),
                    **oa.error("415", "Not multipart/form-data"),
                    **oa.error("422", "Malformed body or no file part"),
                },
            },
        },
        "/files/{id}": {
            "get": {
                "operationId": "downloadFile",
                "summary": f"Download a file ({permissions.who(Action.FILE_READ)}, or any user "
                "for a resource's file, or a reader of a message carrying it)",
                "security": oa.BEARER,
                "parameters": _ID,
                "responses": {
                    "200": {
                        "description": "The bytes, as an attachment",
                        "headers": {
                            "Content-Disposition": {"schema": {"type": "string"}},
                            "X-Content-Type-Options": {"schema": {"type": "string"}},
                        },
                        "content": {
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                            "*/*": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    **oa.AUTH_ERRORS,
                    **_NOT_FOUND,
                    **oa.error("422", "Invalid id"),
                },
            },
            "delete": {
                "operationId": "deleteFile",
                "summary": f"Delete a file ({permissions.who(Action.FILE_DELETE)})",
                "security": oa.BEARER,
                "parameters": _ID,
                "responses": {
                    "204": {"description": "Deleted"},
                    **oa.AUTH_ERRORS,
                    **oa.error("403", permissions.refusal(Action.FILE_DELETE)),
                    **oa.error(
                        "409",
                        "Resources link this file: the caller may not delete them "
                        f"({permissions.who(Action.RESOURCE_DELETE)})",
                    ),
                    **_NOT_FOUND,
                    **oa.error("422", "Invalid id"),
                },
            },
        },
    },
}
