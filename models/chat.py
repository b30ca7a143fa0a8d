"""Rooms, memberships, room messages and direct messages.

History reads are keyset scans: ``(room_id, id)`` for rooms and
``(user_low, user_high, id)`` for direct messages, where the pair is the
conversation's canonical key (the smaller user id first).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.fields import DatetimeField
from models.users import User


class Room(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    # resolvers.names.unique_key(name): look-alike names are one name.
    name_key = fields.CharField(max_length=256, unique=True)
    is_private = fields.BooleanField(default=False)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="rooms_created", null=True, on_delete=fields.SET_NULL
    )
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "rooms"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="memberships", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("room", "user"),)


class Message(Model):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="messages", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="messages", on_delete=fields.CASCADE
    )
    content = fields.TextField()
    client_id = fields.CharField(max_length=64, null=True)
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "messages"
        unique_together = (("author", "client_id"),)
        indexes = (Index(fields=("room_id", "id"), name="messages_room_id_id"),)


class DirectMessage(Model):
    id = fields.IntField(primary_key=True)
    sender: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="dms_sent", on_delete=fields.CASCADE
    )
    recipient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="dms_received", on_delete=fields.CASCADE
    )
    user_low = fields.IntField()
    user_high = fields.IntField()
    content = fields.TextField()
    client_id = fields.CharField(max_length=64, null=True)
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "direct_messages"
        unique_together = (("sender", "client_id"),)
        indexes = (Index(fields=("user_low", "user_high", "id"), name="dms_pair_id"),)
