"""Uploaded files: the metadata row; the bytes live in storage."""

from __future__ import annotations

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.fields import DatetimeField
from models.users import User


class StoredFile(Model):
    id = fields.IntField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="files", on_delete=fields.CASCADE
    )
    owner_id: int
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=128, unique=True)
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "files"
        indexes = (Index(fields=("owner_id", "id"), name="files_owner_id_id"),)
