"""Users and authentication on GraphQL."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.errors import NotFound
from models import Role as RoleEnum
from models import User as UserRow
from models.records import AuthorRow
from resolvers import auth, permissions, users
from resolvers.auth import TokenPair
from resolvers.permissions import Action
from schema import loaders
from schema.context import Info
from schema.fanout_keys import VIEWER_DEPENDENT

Role = strawberry.enum(RoleEnum, name="Role")


@strawberry.type
class User:
    id: strawberry.ID
    display_name: str
    role: Role  # type: ignore[valid-type]
    created_at: datetime
    _email: strawberry.Private[str]

    @strawberry.field(
        description=f"The address, shown to {permissions.who(Action.USER_EMAIL_READ)}; "
        "empty for others.",
        metadata=VIEWER_DEPENDENT,
    )
    def email(self, info: Info) -> str:
        return users.visible_email(
            viewer=info.context.user, user_id=int(self.id), email=self._email
        )

    @classmethod
    def from_row(cls, row: UserRow | AuthorRow) -> User:
        return cls(
            id=strawberry.ID(str(row.id)),
            display_name=row.display_name,
            role=row.role,
            created_at=row.created_at,
            _email=row.email,
        )


@strawberry.type
class AuthPayload:
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    user: User

    @classmethod
    def from_pair(cls, pair: TokenPair) -> AuthPayload:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            user=User.from_row(pair.user),
        )


@strawberry.input
class RegisterInput:
    email: str
    password: str
    display_name: str | None = None


@strawberry.type
class UserQueries:
    @strawberry.field(description="The caller, or null when anonymous.")
    def me(self, info: Info) -> User | None:
        user = info.context.user
        return User.from_row(user) if user else None


@strawberry.type
class UserMutations:
    @strawberry.mutation(description=f"Creates an account and logs it in. {auth.REGISTRATION_RULE}")
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        # A fresh account is the viewer of its own payload (its email shows).
        pair = await auth.register(
            email=input.email,
            password=input.password,
            display_name=input.display_name,
            client_ip=info.context.client_ip,
        )
        info.context.user = pair.user
        return AuthPayload.from_pair(pair)

    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        pair = await auth.login(email=email, password=password, client_ip=info.context.client_ip)
        info.context.user = pair.user
        return AuthPayload.from_pair(pair)

    @strawberry.mutation(description="Rotates; reusing a spent token revokes its whole family.")
    async def refresh_tokens(self, info: Info, refresh_token: str) -> AuthPayload:
        pair = await auth.refresh(refresh_token=refresh_token)
        info.context.user = pair.user
        return AuthPayload.from_pair(pair)

    @strawberry.mutation
    async def logout(self, refresh_token: str) -> bool:
        return await auth.logout(refresh_token=refresh_token)

    @strawberry.mutation(
        description=f"{permissions.describe(Action.USER_DEACTIVATE)} The account can no "
        "longer log in; every session, WebSocket connection and subscription of it ends."
    )
    async def deactivate_user(self, info: Info, id: strawberry.ID) -> bool:
        return await auth.deactivate_user(actor=info.context.user, user_id=id)


async def user_by_id(info: Info, user_id: int | None) -> User | None:
    """A user some row points to, through the request's loader; null for
    none, or for a user gone since."""
    if user_id is None:
        return None
    row = await loaders.users_by_id(info.context).load(user_id)
    return User.from_row(row) if row else None


async def known_user(info: Info, user_id: int) -> User:
    """A user a row must point to; NOT_FOUND for one gone since."""
    user = await user_by_id(info, user_id)
    if user is None:
        raise NotFound(users.USER_NOT_FOUND)
    return user
