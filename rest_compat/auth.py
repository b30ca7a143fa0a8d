"""REST: /login, /refresh, /logout, /register, /me."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models import User
from resolvers import auth
from rest_compat.http import JSONResponse, client_ip, iso, json_object, require_user, required


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
    # Closed registration refuses before the body is read.
    auth.require_registration_open()
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
