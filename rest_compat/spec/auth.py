"""OpenAPI description of the REST auth paths (handlers: ``rest_compat.auth``)."""

from __future__ import annotations

from typing import Any

from resolvers import auth, permissions
from resolvers.permissions import Action
from rest_compat.spec import common as oa

_TOKENS = {
    "type": "object",
    "required": ["access_token", "refresh_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "refresh_token": {"type": "string", "format": "uuid"},
        "token_type": {"type": "string", "enum": ["bearer"]},
        "expires_in": {"type": "integer"},
    },
}
_REFRESH_BODY = {
    "type": "object",
    "required": ["refresh_token"],
    "properties": {"refresh_token": {"type": "string"}},
}
OPENAPI: dict[str, Any] = {
    "schemas": {
        "Tokens": oa.with_example(
            _TOKENS,
            {
                "access_token": oa.TOKEN,
                "refresh_token": oa.REFRESH,
                "token_type": "bearer",
                "expires_in": 900,
            },
        ),
        "Me": {
            "type": "object",
            "required": ["id", "email", "display_name", "role", "created_at"],
            "properties": {
                "id": {"type": "integer"},
                "email": {"type": "string"},
                "display_name": {"type": "string"},
                "role": {"type": "string", "enum": ["ADMIN", "MEMBER"]},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "examples": [
                {
                    "id": 1,
                    "email": "test@test.com",
                    "display_name": "Test Admin",
                    "role": "ADMIN",
                    "created_at": oa.WHEN,
                }
            ],
        },
    },
    "paths": {
        "/login": {
            "post": {
                "operationId": "login",
                "summary": "Log in with email and password",
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
                    },
                    example={"email": "test@test.com", "password": "supersecret"},
                ),
                "responses": {
                    **oa.ok("200", oa.ref("Tokens")),
                    **oa.COMMON_ERRORS,
                    **oa.AUTH_ERRORS,
                    **oa.error("429", "Too many failed logins"),
                },
            }
        },
        "/register": {
            "post": {
                "operationId": "register",
                "summary": "Create an account",
                "description": auth.REGISTRATION_RULE,
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {
                            "email": {"type": "string"},
                            "password": {"type": "string"},
                            "display_name": {"type": "string"},
                        },
                    },
                    example={
                        "email": "bob@example.com",
                        "password": "correct horse battery",
                        "display_name": "Bob",
                    },
                ),
                "responses": {
                    **oa.ok("201", oa.ref("Tokens")),
                    **oa.COMMON_ERRORS,
                    **oa.error("403", f"Registration closed: {auth.REGISTRATION_CLOSED}"),
                    **oa.error("409", "Email cannot be registered (the reason is not given)"),
                    **oa.error(
                        "429",
                        "Too many attempts from this address (REGISTER_IP_MAX; a refused "
                        "registration counts as a failed login)",
                    ),
                },
            }
        },
        "/refresh": {
            "post": {
                "operationId": "refreshTokens",
                "summary": "Rotate a refresh token",
                "requestBody": oa.json_body(_REFRESH_BODY, example={"refresh_token": oa.REFRESH}),
                "responses": {
                    **oa.ok("200", oa.ref("Tokens")),
                    **oa.COMMON_ERRORS,
                    **oa.AUTH_ERRORS,
                },
            }
        },
        "/logout": {
            "post": {
                "operationId": "logout",
                "summary": "Revoke a refresh token's session",
                "requestBody": oa.json_body(_REFRESH_BODY, example={"refresh_token": oa.REFRESH}),
                "responses": {"204": {"description": "Logged out"}, **oa.COMMON_ERRORS},
            }
        },
        "/me": {
            "get": {
                "operationId": "getMe",
                "summary": "The caller",
                "security": oa.BEARER,
                "responses": {**oa.ok("200", oa.ref("Me")), **oa.AUTH_ERRORS},
            }
        },
        "/users/{user_id}/deactivate": {
            "post": {
                "operationId": "deactivateUser",
                "summary": (
                    f"{permissions.who(Action.USER_DEACTIVATE)}: the account can no longer log "
                    "in; every session, WebSocket connection and subscription of it ends"
                ),
                "security": oa.BEARER,
                "parameters": [
                    {
                        "name": "user_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                        "example": 2,
                    }
                ],
                "responses": {
                    "204": {"description": "Deactivated"},
                    **oa.COMMON_ERRORS,
                    **oa.AUTH_ERRORS,
                    **oa.error("403", permissions.refusal(Action.USER_DEACTIVATE)),
                    **oa.error("404", "No such user"),
                },
            }
        },
    },
}
