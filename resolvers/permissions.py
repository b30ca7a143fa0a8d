"""Who may do what: every permission of the domain, declared once.

As Saleor declares ``Meta.permissions`` on each mutation, :data:`TABLE`
maps each :class:`Action` to a :class:`Permission`: the :class:`Rule` that
admits a caller and what a refused caller gets. Everything else reads it:

- resolvers check it with :func:`require` (raises) or :func:`allowed`
  (asks), before they read or change anything;
- the GraphQL field descriptions and the OpenAPI text are written from it
  (:func:`who`, :func:`describe`, :func:`refusal`);
- the authorization matrix (``tests/test_authz_matrix.py``) derives its
  expected cells from it, and fails when an entry is probed nowhere.

Rules:

- no rule admits anyone anonymous: :func:`require` answers UNAUTHENTICATED
  first, then the entry's refusal (FORBIDDEN, or NOT_FOUND for an entry
  that hides what the caller may not touch);
- ``owner`` is the user id a thing belongs to (a file's owner, a message's
  author, the user whose address it is); without one, an owner rule asks
  whether the caller may act on *anyone's* (an ADMIN's listing);
- ``member`` says whether the caller belongs to the room at hand: the
  resolver reads it (``resolvers.rooms.is_member``) and the MEMBER rule
  decides. An ADMIN is no member by role: a private room stays NOT_FOUND
  to them too.

Which rows a listing or a search returns (public rooms, the caller's rooms
and DMs) is a query filter, not a check of one thing, and stays with those
queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Protocol, TypeVar

from core.errors import ComptoirError, Forbidden, NotFound, Unauthenticated
from models import Role


class Actor(Protocol):
    """What a rule reads of a caller (a ``models.User``)."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> Role: ...


A = TypeVar("A", bound=Actor)


class Rule(Enum):
    """Who a rule admits; the value is how descriptions say it."""

    AUTHENTICATED = "authenticated"
    ADMIN = "ADMIN only"
    OWNER = "{owner} only"
    OWNER_OR_ADMIN = "{owner} or an ADMIN"
    SELF_OR_ADMIN = "the user themself or an ADMIN"
    MEMBER = "members of the room only"


class Action(StrEnum):
    PRODUCT_WRITE = "product.write"
    RESOURCE_READ = "resource.read"
    RESOURCE_CREATE = "resource.create"
    RESOURCE_DELETE = "resource.delete"
    FILE_UPLOAD = "file.upload"
    FILE_LIST = "file.list"
    FILE_READ = "file.read"
    FILE_DELETE = "file.delete"
    USER_DEACTIVATE = "user.deactivate"
    USER_EMAIL_READ = "user.email.read"
    MESSAGE_DELETE = "message.delete"
    DIRECT_MESSAGE_DELETE = "direct_message.delete"
    PRIVATE_ROOM_READ = "room.private.read"
    ROOM_MEMBER_ADD = "room.member.add"
    MESSAGE_EDIT = "message.edit"


@dataclass(frozen=True, slots=True)
class Permission:
    rule: Rule
    # The message of the refusal (FORBIDDEN, or NOT_FOUND when ``hidden``).
    refusal: str = Forbidden.default_message
    # How descriptions name the owner of the thing.
    owner: str = "the owner"
    # Refused callers are told the thing does not exist.
    hidden: bool = False


TABLE: dict[Action, Permission] = {
    Action.PRODUCT_WRITE: Permission(Rule.ADMIN, "Only an ADMIN may change products."),
    Action.RESOURCE_READ: Permission(Rule.AUTHENTICATED),
    Action.RESOURCE_CREATE: Permission(Rule.ADMIN, "Only an ADMIN may create resources."),
    # A file's resources go with it only when an ADMIN deletes it (resolvers.files).
    Action.RESOURCE_DELETE: Permission(Rule.ADMIN, "Only an ADMIN may delete resources."),
    Action.FILE_UPLOAD: Permission(Rule.AUTHENTICATED),
    # Lists the files FILE_READ lets the caller read as their owner or an ADMIN.
    Action.FILE_LIST: Permission(Rule.AUTHENTICATED),
    # Also granted by a resource or a readable message linking the file (resolvers.files).
    Action.FILE_READ: Permission(Rule.OWNER_OR_ADMIN, "File not found.", hidden=True),
    Action.FILE_DELETE: Permission(
        Rule.OWNER_OR_ADMIN, "Only the owner or an ADMIN may delete this file."
    ),
    Action.USER_DEACTIVATE: Permission(Rule.ADMIN, "Only an ADMIN may deactivate users."),
    # Others are shown an empty address rather than refused.
    Action.USER_EMAIL_READ: Permission(Rule.SELF_OR_ADMIN),
    Action.MESSAGE_DELETE: Permission(
        Rule.OWNER_OR_ADMIN, "Only the author or an ADMIN deletes a message.", owner="its author"
    ),
    Action.DIRECT_MESSAGE_DELETE: Permission(
        Rule.OWNER, "Only the author deletes a direct message.", owner="its author"
    ),
    # A public room is seen by every signed-in user; a private one exists
    # only for its members (NOT_FOUND, so its existence does not leak).
    Action.PRIVATE_ROOM_READ: Permission(Rule.MEMBER, "Room not found.", hidden=True),
    # Checked once the room is visible: on a public room a non-member may
    # join it first (joinRoom), then invite.
    Action.ROOM_MEMBER_ADD: Permission(Rule.MEMBER, "Only members of this room may add members."),
    # A room message or a direct message, within MESSAGE_EDIT_WINDOW_SECONDS.
    Action.MESSAGE_EDIT: Permission(
        Rule.OWNER, "Only the author edits a message.", owner="its author"
    ),
}
if set(TABLE) != set(Action):
    raise RuntimeError(f"actions without a permission: {set(Action) - set(TABLE)}")


def _admits(rule: Rule, actor: Actor, owner: int | None, member: bool) -> bool:
    admin = actor.role == Role.ADMIN
    owns = owner is not None and actor.id == owner
    match rule:
        case Rule.AUTHENTICATED:
            return True
        case Rule.ADMIN:
            return admin
        case Rule.OWNER:
            return owns
        case Rule.OWNER_OR_ADMIN | Rule.SELF_OR_ADMIN:
            return admin or owns
        case Rule.MEMBER:
            return member


def allowed(
    action: Action, actor: Actor | None, *, owner: int | None = None, member: bool = False
) -> bool:
    """Whether the table lets ``actor`` do ``action`` (to a thing of ``owner``,
    in a room the actor is a ``member`` of or not)."""
    return actor is not None and _admits(TABLE[action].rule, actor, owner, member)


def refused(action: Action) -> ComptoirError:
    """The error a signed-in caller refused ``action`` gets."""
    entry = TABLE[action]
    return NotFound(entry.refusal) if entry.hidden else Forbidden(entry.refusal)


def require(
    action: Action, actor: A | None, *, owner: int | None = None, member: bool = False
) -> A:
    """``actor``, if allowed; else UNAUTHENTICATED (nobody) or the refusal."""
    if actor is None:
        raise Unauthenticated()
    if not _admits(TABLE[action].rule, actor, owner, member):
        raise refused(action)
    return actor


def who(action: Action) -> str:
    """Who may, as a phrase: ``ADMIN only``, ``the owner or an ADMIN``..."""
    entry = TABLE[action]
    return entry.rule.value.format(owner=entry.owner)


def describe(action: Action) -> str:
    """Who may, as a sentence (GraphQL descriptions): ``ADMIN only.``"""
    phrase = who(action)
    return phrase[:1].upper() + phrase[1:] + "."


def refusal(action: Action) -> str:
    """What a refused caller is told (OpenAPI 403/404 descriptions)."""
    return TABLE[action].refusal
