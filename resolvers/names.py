"""Names people tell apart by eye: the uniqueness key of emails and room names.

Two names that look the same are the same name. ``GENERAL``, ``ｇｅｎｅｒａｌ``
(fullwidth), ``general`` with a zero-width space or a right-to-left mark, and
the NFD spelling of ``café`` all have the key of ``general`` / ``café``:

- format characters (Unicode category Cf: zero-width spaces and joiners,
  bidi marks, embeddings, overrides and isolates, the BOM, soft hyphens) are
  removed;
- then NFKC (compatibility forms: fullwidth, ligatures, superscripts...),
  case folding, and NFKC again (folding may undo the normal form).

The key is stored next to the name in a unique column (``users.email_key``,
``rooms.name_key``); the name itself is kept as given. Control characters
(category Cc, C0 and C1) are refused outright: :func:`refuse_controls`.
"""

from __future__ import annotations

import unicodedata

from core.errors import BadUserInput

# Longest key the columns hold: NFKC may lengthen a name (one character can
# become several), so the columns are wider than the names.
ROOM_KEY_MAX = 256
EMAIL_KEY_MAX = 1024


def unique_key(value: str) -> str:
    visible = "".join(c for c in value if unicodedata.category(c) != "Cf")
    folded = unicodedata.normalize("NFKC", visible).casefold()
    return unicodedata.normalize("NFKC", folded)


def refuse_controls(value: str, field: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise BadUserInput(f"{field} must not contain control characters.", field=field)
    return value


def checked_key(value: str, field: str, maximum: int) -> str:
    """The key of an accepted name; BAD_USER_INPUT when it is empty (only
    invisible characters) or too long for its column."""
    key = unique_key(value)
    if not key.strip():
        raise BadUserInput(f"{field} must contain visible characters.", field=field)
    if len(key) > maximum:
        raise BadUserInput(f"{field} is too long once normalised.", field=field)
    return key
