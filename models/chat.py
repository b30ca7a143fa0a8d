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
from models.files import StoredFile
from models.users import User

# Each foreign key ``x`` also gives its rows the raw id ``x_id`` (Tortoise
# sets it); the models declare it, typed, beside the relation.


class Room(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    # resolvers.names.unique_key(name): look-alike names are one name.
    name_key = fields.CharField(max_length=256, unique=True)
    is_private = fields.BooleanField(default=False)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="rooms_created", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = DatetimeField(auto_now_add=True)
    # The table also has ``last_message_id``, kept by a database trigger on
    # every message insert (migration 7) and read by unread counts only.

    class Meta:
        table = "rooms"


class Membership(Model):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="memberships", on_delete=fields.CASCADE
    )
    room_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("room", "user"),)
        # Migration 3: a user's rooms (unread counts, sync).
        indexes = (Index(fields=("user_id", "room_id"), name="memberships_user_room"),)


class Posted(Model):
    """What a room message and a direct message both store (abstract: no table)."""

    content = fields.TextField()
    client_id = fields.CharField(max_length=64, null=True)
    created_at = DatetimeField(auto_now_add=True)
    edited_at = DatetimeField(null=True)
    deleted = fields.BooleanField(default=False)
    reply_to_id = fields.IntField(null=True)

    class Meta:
        abstract = True


class Message(Posted):
    id = fields.IntField(primary_key=True)
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "models.Room", related_name="messages", on_delete=fields.CASCADE
    )
    room_id: int
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="messages", on_delete=fields.CASCADE
    )
    author_id: int
    # Mentioned user ids, comma-separated (resolvers.mentions).
    mentions = fields.CharField(max_length=1024, default="")

    class Meta:
        table = "messages"
        unique_together = (("author", "client_id"),)
        indexes = (Index(fields=("room_id", "id"), name="messages_room_id_id"),)


class DirectMessage(Posted):
    id = fields.IntField(primary_key=True)
    sender: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="dms_sent", on_delete=fields.CASCADE
    )
    sender_id: int
    recipient: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="dms_received", on_delete=fields.CASCADE
    )
    recipient_id: int
    user_low = fields.IntField()
    user_high = fields.IntField()

    class Meta:
        table = "direct_messages"
        unique_together = (("sender", "client_id"),)
        indexes = (Index(fields=("user_low", "user_high", "id"), name="dms_pair_id"),)


class MessageChange(Model):
    """The change log of a conversation: one row per edit, deletion or reaction.

    ``seq`` is the change's place in its conversation's live channel. It is
    taken from the same id sequence as the conversation's messages
    (``messages.id`` for a room, ``direct_messages.id`` for a DM), under
    the same row lock, so messages and changes of a channel share one
    strictly increasing order (see ``resolvers.message_changes``).
    ``room_id`` is set for a room message; ``user_low``/``user_high`` for
    a direct message.
    """

    id = fields.IntField(primary_key=True)
    seq = fields.IntField()
    room_id = fields.IntField(null=True)
    user_low = fields.IntField(null=True)
    user_high = fields.IntField(null=True)
    message_id = fields.IntField()
    kind = fields.CharField(max_length=16)
    actor_id = fields.IntField()
    reaction = fields.CharField(max_length=64, null=True)
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "message_changes"
        indexes = (
            Index(fields=("room_id", "seq"), name="changes_room_seq"),
            Index(fields=("user_low", "seq"), name="changes_low_seq"),
            Index(fields=("user_high", "seq"), name="changes_high_seq"),
        )


class Reaction(Model):
    """One user's reaction to a room message (``message_id``) or a DM (``dm_id``)."""

    id = fields.IntField(primary_key=True)
    message_id = fields.IntField(null=True)
    dm_id = fields.IntField(null=True)
    user_id = fields.IntField()
    reaction = fields.CharField(max_length=64)
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "reactions"
        unique_together = (("message_id", "user_id", "reaction"), ("dm_id", "user_id", "reaction"))


class Attachment(Model):
    """A file of the sender's linked to a room message (``message_id``) or a
    DM (``dm_id``); goes with the file (cascade) and with the message's deletion."""

    id = fields.IntField(primary_key=True)
    message_id = fields.IntField(null=True)
    dm_id = fields.IntField(null=True)
    file: fields.ForeignKeyRelation[StoredFile] = fields.ForeignKeyField(
        "models.StoredFile", related_name="attachments", on_delete=fields.CASCADE
    )
    file_id: int
    position = fields.IntField()

    class Meta:
        table = "attachments"
        indexes = (
            Index(fields=("message_id", "position"), name="attachments_message"),
            Index(fields=("dm_id", "position"), name="attachments_dm"),
            Index(fields=("file_id",), name="attachments_file"),
        )
