"""Products of the shop."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class Product(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    stock = fields.IntField(default=0)
    created_at = DatetimeField(auto_now_add=True)
    updated_at = DatetimeField(auto_now=True)

    class Meta:
        table = "products"
