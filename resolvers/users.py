"""Accounts: creation, lookup, and who sees an address (``Action.USER_EMAIL_READ``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from core import runtime
from core.errors import BadUserInput, Conflict, NotFound, Unauthenticated
from core.security import MIN_PASSWORD_CHARS, PasswordHasher
from models import Role, User
from models.prepared import Prepared
from resolvers import names, permissions, validation

USER_NOT_FOUND = "User not found."

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,253}\.[^@\s\x00-\x1f\x7f.]{1,63}$"
)


def normalize_email(value: object) -> str:
    email = validation.text(value, "email", min_len=1, max_len=254, strip=True).lower()
    if not _EMAIL.match(email):
        raise BadUserInput("email is not a valid address.", field="email")
    return names.refuse_controls(email, "email")


def email_key(address: str) -> str:
    """The uniqueness key of an email (:mod:`resolvers.names`): look-alike
    addresses are one account."""
    return names.unique_key(address.strip())


def check_password(password: object) -> str:
    if not isinstance(password, str):
        raise BadUserInput("password must be a string.", field="password")
    PasswordHasher.check_length(password)
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadUserInput(
            f"password must be at least {MIN_PASSWORD_CHARS} characters.", field="password"
        )
    return password


# What a taken email answers where the reason may be said (the CLI, for an
# operator); register says less (``resolvers.auth.REGISTER_REFUSED``).
EMAIL_TAKEN = "An account with this email already exists."


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A checked request for an account; nothing is stored yet."""

    email: str
    email_key: str
    password: str = field(repr=False)
    display_name: str


def new_account(*, email: object, password: object, display_name: object = None) -> NewAccount:
    """Check the input (BAD_USER_INPUT otherwise), without touching the database."""
    address = normalize_email(email)
    secret = check_password(password)
    name = (
        address.split("@", 1)[0][:100]
        if display_name is None or display_name == ""
        else validation.single_line(display_name, "displayName", max_len=100)
    )
    key = names.checked_key(address, "email", names.EMAIL_KEY_MAX)
    return NewAccount(email=address, email_key=key, password=secret, display_name=name)


async def insert_account(account: NewAccount, role: Role = Role.MEMBER) -> User:
    """Store the account, or CONFLICT (:data:`EMAIL_TAKEN`) if its email is taken.

    The password is hashed first, whether the email turns out taken or not
    (in the hasher's thread pool, off the event loop): a taken email costs
    what a new one does, so the time of the answer tells nothing more.
    """
    password_hash = await runtime.get().hasher.hash(account.password)
    if await User.filter(email_key=account.email_key).exists():
        raise Conflict(EMAIL_TAKEN, field="email")
    try:
        return await User.create(
            email=account.email,
            email_key=account.email_key,
            password_hash=password_hash,
            display_name=account.display_name,
            role=role,
        )
    except IntegrityError:
        raise Conflict(EMAIL_TAKEN, field="email") from None


async def create_user(
    *, email: object, password: object, display_name: object = None, role: Role = Role.MEMBER
) -> User:
    return await insert_account(
        new_account(email=email, password=password, display_name=display_name), role
    )


def require_user(actor: User | None) -> User:
    if actor is None:
        raise Unauthenticated()
    return actor


async def active_user(user_id: object, field: str) -> User:
    """The active user ``user_id`` names (an id, parsed as ``field``); NOT_FOUND otherwise."""
    target = await User.get_or_none(id=validation.parse_id(user_id, field), is_active=True)
    if target is None:
        raise NotFound(USER_NOT_FOUND)
    return target


def _users_in(count: int, **ids: int) -> QuerySet[User]:
    return User.filter(id__in=list(ids.values()))


# Batches of up to PREPARED_BATCH ids are read through one prepared
# statement per batch size (models.prepared): a chat page's authors, say.
PREPARED_BATCH = 100
_USERS_IN = Prepared(User, _users_in)


async def get_users(ids: list[int]) -> list[User | None]:
    """Batch lookup in the order asked (for DataLoaders)."""
    if 0 < len(ids) <= PREPARED_BATCH:
        found = await _USERS_IN.objects(len(ids), **{f"id{n}": i for n, i in enumerate(ids)})
    else:
        found = await User.filter(id__in=ids)
    rows = {u.id: u for u in found}
    return [rows.get(i) for i in ids]


def visible_email(*, viewer: User | None, user_id: int, email: str) -> str:
    """``email`` (the address of ``user_id``) if the viewer may read it, else ""."""
    if permissions.allowed(permissions.Action.USER_EMAIL_READ, viewer, owner=user_id):
        return email
    return ""
