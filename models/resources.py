"""Internal resources: documents, tutorials and links of the company."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from models.fields import DatetimeField
from models.files import StoredFile
from models.users import User


class ResourceKind(StrEnum):
    DOCUMENT = "DOCUMENT"
    TUTORIAL = "TUTORIAL"
    LINK = "LINK"
    VIDEO = "VIDEO"
    OTHER = "OTHER"


class Resource(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharEnumField(ResourceKind, max_length=16, default=ResourceKind.DOCUMENT)
    url = fields.CharField(max_length=2048, null=True)
    file: fields.ForeignKeyNullableRelation[StoredFile] = fields.ForeignKeyField(
        "models.StoredFile", related_name="resources", null=True, on_delete=fields.SET_NULL
    )
    file_id: int | None
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="resources_created", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = DatetimeField(auto_now_add=True)

    class Meta:
        table = "resources"
        indexes = (Index(fields=("kind", "id"), name="resources_kind_id"),)
