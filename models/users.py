"""Users, their sessions (refresh-token families) and refresh tokens."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class Role(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    # resolvers.names.unique_key(email): look-alike addresses are one account.
    email_key = fields.CharField(max_length=1024, unique=True)
    password_hash = fields.CharField(max_length=128)
    display_name = fields.CharField(max_length=100)
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    is_active = fields.BooleanField(default=True)
    created_at = DatetimeField(auto_now_add=True)
    # Written once per offline transition (resolvers.last_seen); None: never seen.
    last_seen_at = DatetimeField(null=True)

    class Meta:
        table = "users"


class AuthSession(Model):
    """One login: the family every rotated refresh token belongs to.

    Access tokens carry the session id (``sid``); revoking the session
    invalidates them and every refresh token of the family.
    """

    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = DatetimeField(auto_now_add=True)
    revoked_at = DatetimeField(null=True)

    class Meta:
        table = "auth_sessions"


class RefreshToken(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "models.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    session_id: UUID
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = DatetimeField(auto_now_add=True)
    expires_at = DatetimeField()
    used_at = DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"
