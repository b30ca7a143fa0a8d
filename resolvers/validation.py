"""Input checks shared by every resolver."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.errors import BadUserInput
from resolvers.limits import PRICE_DECIMALS, PRICE_MAX

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_INT32 = 2**31 - 1
CENT = Decimal(1).scaleb(-PRICE_DECIMALS)


def parse_id(value: object, field: str = "id") -> int:
    """Ids travel as strings (GraphQL ``ID``) or integers (REST, WS)."""
    if isinstance(value, bool):
        raise BadUserInput(f"{field} must be an integer id.", field=field)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
    else:
        raise BadUserInput(f"{field} must be an integer id.", field=field)
    if not 1 <= number <= MAX_INT32:
        raise BadUserInput(f"{field} must be a positive integer id.", field=field)
    return number


def storable(value: str) -> bool:
    """Whether the database can hold ``value``: PostgreSQL refuses NUL and lone surrogates.

    Lookups by such a value can only find nothing.
    """
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(value: object, field: str, *, min_len: int = 0, max_len: int, strip: bool = False) -> str:
    if not isinstance(value, str):
        raise BadUserInput(f"{field} must be a string.", field=field)
    if strip:
        value = value.strip()
    if "\x00" in value:
        raise BadUserInput(f"{field} must not contain NUL characters.", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadUserInput(f"{field} must be valid Unicode text.", field=field) from None
    if len(value) < min_len:
        if min_len == 1:
            raise BadUserInput(f"{field} must not be empty.", field=field)
        raise BadUserInput(f"{field} must be at least {min_len} characters.", field=field)
    if len(value) > max_len:
        raise BadUserInput(f"{field} must be at most {max_len} characters.", field=field)
    return value


def single_line(value: object, field: str, *, min_len: int = 1, max_len: int) -> str:
    result = text(value, field, min_len=min_len, max_len=max_len, strip=True)
    if _CONTROL.search(result) or "\n" in result or "\r" in result:
        raise BadUserInput(f"{field} must not contain control characters.", field=field)
    return result


def non_negative_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadUserInput(f"{field} must be an integer.", field=field)
    if not 0 <= value <= MAX_INT32:
        raise BadUserInput(f"{field} must be between 0 and {MAX_INT32}.", field=field)
    return value


def money(value: object, field: str = "price") -> Decimal:
    """A price: >= 0, below ``PRICE_MAX``, at most ``PRICE_DECIMALS`` decimal places."""
    if isinstance(value, bool):
        raise BadUserInput(f"{field} must be a number.", field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadUserInput(f"{field} must be a decimal number.", field=field) from None
    if not amount.is_finite():
        raise BadUserInput(f"{field} must be a finite number.", field=field)
    if amount < 0:
        raise BadUserInput(f"{field} must be >= 0.", field=field)
    # Bound the size first: quantize() fails on numbers beyond its precision.
    if amount >= PRICE_MAX:
        raise BadUserInput(f"{field} must be less than {PRICE_MAX}.", field=field)
    if amount != amount.quantize(CENT):
        raise BadUserInput(
            f"{field} must have at most {PRICE_DECIMALS} decimal places.", field=field
        )
    return amount.quantize(CENT)
