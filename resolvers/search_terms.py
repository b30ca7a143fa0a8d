"""What a search asks for: its query, its time filters and its cursor
(:mod:`resolvers.search`, whose module doc has the rules).

The query is plain words and "quoted phrases", parsed into :class:`Terms`
(never passed on as FTS5 or tsquery syntax); a cursor is an opaque
encoding of where a hit sorts (:class:`Key`); anything else is
BAD_USER_INPUT naming the field.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import BadUserInput
from resolvers import limits, validation
from resolvers.search_snippets import WORD

# The kinds of hit, in the order they rank on an equal score.
ROOM, DM = 0, 1
PHRASE = re.compile(r'"([^"]*)"?')


# --- the query ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Terms:
    """A parsed query: lone words and phrases (lists of words), lowercased."""

    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]

    @property
    def all_words(self) -> frozenset[str]:
        return frozenset(self.words).union(*self.phrases)

    def fts5(self) -> str:
        """The FTS5 MATCH expression: every word and phrase quoted (words hold
        letters and digits only, so no quote can close early)."""
        parts = [f'"{w}"' for w in self.words]
        parts += ['"' + " ".join(p) + '"' for p in self.phrases]
        return " ".join(parts)


def parse_query(value: object) -> Terms:
    text = validation.text(
        value, "query", min_len=1, max_len=limits.SEARCH_QUERY_MAX_CHARS, strip=True
    )
    phrases: list[tuple[str, ...]] = []
    rest: list[str] = []
    last = 0
    for match in PHRASE.finditer(text):
        rest.append(text[last : match.start()])
        words = tuple(w.lower() for w in WORD.findall(match.group(1)))
        if len(words) > 1:
            phrases.append(words)
        elif words:
            rest.append(words[0])
        last = match.end()
    rest.append(text[last:])
    words = tuple(dict.fromkeys(w.lower() for w in WORD.findall(" ".join(rest))))
    count = len(words) + sum(len(p) for p in phrases)
    if count == 0:
        raise BadUserInput("query must contain at least one word.", field="query")
    if count > limits.SEARCH_QUERY_MAX_TERMS:
        raise BadUserInput(
            f"query has more than {limits.SEARCH_QUERY_MAX_TERMS} words.", field="query"
        )
    return Terms(words, tuple(dict.fromkeys(phrases)))


# --- filters and cursors ------------------------------------------------------------------


def parse_time(value: object, field: str) -> datetime | None:
    """An ISO 8601 time (naive: UTC), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadUserInput(f"{field} must be an ISO 8601 date or time.", field=field) from None
    if not isinstance(value, datetime):
        raise BadUserInput(f"{field} must be an ISO 8601 date or time.", field=field)
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC time
        raise BadUserInput(f"{field} is out of range.", field=field) from None


@dataclass(frozen=True, slots=True)
class Key:
    """Where a hit sorts: score descending, kind ascending, id descending."""

    score: float
    kind: int
    id: int


def encode_cursor(key: Key) -> str:
    raw = f"s:{key.score!r}:{key.kind}:{key.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def decode_cursor(cursor: object, field: str = "after") -> Key | None:
    """A cursor this server issued, else BAD_USER_INPUT."""
    if cursor is None or cursor == "":
        return None
    try:
        if not isinstance(cursor, str) or len(cursor) > 100:
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        prefix, score, kind, row_id = raw.split(":")
        key = Key(float(score), int(kind), int(row_id))
        if prefix != "s" or not math.isfinite(key.score) or key.kind not in (ROOM, DM):
            raise ValueError(cursor)
        if not 0 < key.id <= validation.MAX_INT32:
            raise ValueError(cursor)
    except (ValueError, UnicodeError, binascii.Error):
        raise BadUserInput(f"{field} is not a valid search cursor.", field=field) from None
    return key
