"""Tortoise models: the rows behind every domain.

Only plain persistence lives here; rules and permission checks are in
``resolvers/``.
"""

from models.chat import (
    Attachment,
    DirectMessage,
    Membership,
    Message,
    MessageChange,
    Reaction,
    Room,
)
from models.files import StoredFile
from models.products import Product
from models.read_markers import ReadMarker
from models.resources import Resource, ResourceKind
from models.users import AuthSession, RefreshToken, Role, User

__all__ = [
    "Attachment",
    "AuthSession",
    "DirectMessage",
    "Membership",
    "Message",
    "MessageChange",
    "Product",
    "Reaction",
    "ReadMarker",
    "RefreshToken",
    "Resource",
    "ResourceKind",
    "Role",
    "Room",
    "StoredFile",
    "User",
]
