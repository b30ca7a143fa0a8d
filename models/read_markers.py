"""Read markers: per user, per room or DM conversation, the last id read.

``room_id`` is set for a room, ``other_id`` (the other party) for a direct
conversation. ``seq`` is the marker's last move in the user's own live
channel: taken from the DM id sequence under the user's row lock, as a
mention's is (``resolvers.read_markers``), so a marker moves in the same
order as the user's DMs and a client resumes after it like after a DM.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.fields import DatetimeField


class ReadMarker(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    room_id = fields.IntField(null=True)
    other_id = fields.IntField(null=True)
    last_read_id = fields.IntField()
    seq = fields.IntField()
    updated_at = DatetimeField(auto_now=True)

    class Meta:
        table = "read_markers"
        unique_together = (("user_id", "room_id"), ("user_id", "other_id"))
        indexes = (Index(fields=("user_id", "seq"), name="read_markers_user_seq"),)
