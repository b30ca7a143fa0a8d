"""REST: /login, /refresh, /logout, /register, /me."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from models import User
from resolvers import auth
from rest_compat import openapi as oa
from rest_compat.http import client_ip, iso, json_object, require_user, required


def token_body(pair: auth.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


def user_body(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": str(user.role),
        "created_at": iso(user.created_at),
    }


async def login(request: Request) -> Response:
    body = await json_object(request)
    pair = await auth.login(
        email=required(body, "email"),
        password=required(body, "password"),
        client_ip=client_ip(request),
    )
    return JSONResponse(token_body(pair))


async def register(request: Request) -> Response:
    body = await json_object(request)
    pair = await auth.register(
        email=required(body, "email"),
        password=required(body, "password"),
        display_name=body.get("display_name"),
        client_ip=client_ip(request),
    )
    return JSONResponse(token_body(pair), status_code=201)


async def refresh(request: Request) -> Response:
    body = await json_object(request)
    pair = await auth.refresh(refresh_token=required(body, "refresh_token"))
    return JSONResponse(token_body(pair))


async def logout(request: Request) -> Response:
    body = await json_object(request)
    await auth.logout(refresh_token=required(body, "refresh_token"))
    return Response(status_code=204)


async def me(request: Request) -> Response:
    return JSONResponse(user_body(await require_user(request)))


async def deactivate_user(request: Request) -> Response:
    actor = await require_user(request)
    await auth.deactivate_user(actor=actor, user_id=request.path_params["user_id"], field="user_id")
    return Response(status_code=204)


routes = [
    Route("/login", login, methods=["POST"]),
    Route("/register", register, methods=["POST"]),
    Route("/refresh", refresh, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/me", me, methods=["GET"]),
    Route("/users/{user_id}/deactivate", deactivate_user, methods=["POST"]),
]


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
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
OPENAPI: dict[str, Any] = {
    "schemas": {
        "Tokens": _TOKENS,
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
        },
    },
    "paths": {
        "/login": {
            "post": {
                "summary": "Log in with email and password",
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
                    }
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
                "summary": "Create an account",
                "requestBody": oa.json_body(
                    {
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {
                            "email": {"type": "string"},
                            "password": {"type": "string"},
                            "display_name": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    **oa.ok("201", oa.ref("Tokens")),
                    **oa.COMMON_ERRORS,
                    **oa.error("403", "Registration closed"),
                    **oa.error("409", "Email cannot be registered (the reason is not given)"),
                    **oa.error("429", "Too many registrations"),
                },
            }
        },
        "/refresh": {
            "post": {
                "summary": "Rotate a refresh token",
                "requestBody": oa.json_body(_REFRESH_BODY),
                "responses": {
                    **oa.ok("200", oa.ref("Tokens")),
                    **oa.COMMON_ERRORS,
                    **oa.AUTH_ERRORS,
                },
            }
        },
        "/logout": {
            "post": {
                "summary": "Revoke a refresh token's session",
                "requestBody": oa.json_body(_REFRESH_BODY),
                "responses": {"204": {"description": "Logged out"}, **oa.COMMON_ERRORS},
            }
        },
        "/me": {
            "get": {
                "summary": "The caller",
                "security": oa.BEARER,
                "responses": {**oa.ok("200", oa.ref("Me")), **oa.AUTH_ERRORS},
            }
        },
        "/users/{user_id}/deactivate": {
            "post": {
                "summary": (
                    "ADMIN only: the account can no longer log in; every session, "
                    "WebSocket connection and subscription of it ends"
                ),
                "security": oa.BEARER,
                "parameters": [
                    {
                        "name": "user_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "204": {"description": "Deactivated"},
                    **oa.COMMON_ERRORS,
                    **oa.AUTH_ERRORS,
                    **oa.error("403", "Not an ADMIN"),
                    **oa.error("404", "No such user"),
                },
            }
        },
    },
}
