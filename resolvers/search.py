"""Full-text search over the messages a user may read (issue 15).

The rules, once for every door:

- what the caller finds is exactly what history lets them read: messages
  of public rooms (joined or not, as ``roomMessages`` reads them) and of
  the private rooms they belong to, and their own direct messages. A
  tombstone is never found; an edited message is found by its new words
  only (the index follows the content: ``migrations/models/4_...``);
- the query is plain words, and "quoted phrases" whose words must follow
  each other; every word and phrase must match (AND). Words are runs of
  letters and digits, matched whole and case-insensitively, without
  stemming; anything else in the query separates words. The input is never
  passed as FTS5 or tsquery syntax: words are quoted for FTS5 and go
  through ``plainto_tsquery``/``phraseto_tsquery`` on PostgreSQL;
- filters: ``room`` (a room the caller may read, else NOT_FOUND; only room
  messages then), ``author`` (a user id), ``from`` (inclusive) and ``to``
  (exclusive) on the sending time;
- results are ranked (FTS5 ``bm25``; PostgreSQL ``ts_rank``), best first,
  then room messages before DMs, then newest first, among the newest
  :data:`limits.SEARCH_SCAN_MAX` matches of each kind (so a very common word costs
  what a rare one does; ``from``/``to`` reach older ones); pages are
  keyset pages after an opaque cursor (score, kind, id), so a page never
  repeats or skips a hit of an unchanged index;
- each hit has a snippet: at most :data:`SNIPPET_WORDS` words around the
  first match, HTML-escaped, with every matching word inside
  :data:`MARK_OPEN` … :data:`MARK_CLOSE`, so a client may render it as HTML.

The query, time filters and cursors are read in :mod:`resolvers.search_terms`,
snippets made in :mod:`resolvers.search_snippets`; the SQL is here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise

from core.errors import BadUserInput
from models import DirectMessage, Message, Room, User
from resolvers import limits, rooms, validation
from resolvers.pagination import page_size
from resolvers.search_snippets import MARK_CLOSE, MARK_OPEN, snippet
from resolvers.search_terms import (
    DM,
    ROOM,
    Key,
    Terms,
    decode_cursor,
    encode_cursor,
    parse_query,
    parse_time,
)
from resolvers.users import require_user

# Hits are ranked among the newest limits.SEARCH_SCAN_MAX matches the caller may
# read (per kind: room messages, DMs): a word in half of a million messages
# costs what a rarer one does. ``from``/``to`` reach older matches.
QUERY_RULE = (
    f"1..{limits.SEARCH_QUERY_MAX_CHARS} characters: plain words and quoted phrases, all of "
    f"which must match (at most {limits.SEARCH_QUERY_MAX_TERMS} words)"
)
SNIPPET_RULE = (
    f"at most {limits.SNIPPET_WORDS} words around the first match, HTML-escaped, each matching "
    f"word inside {MARK_OPEN}…{MARK_CLOSE}"
)

# --- the page ------------------------------------------------------------------------------


@dataclass(slots=True)
class Hit:
    row: Message | DirectMessage
    key: Key
    snippet: str

    @property
    def cursor(self) -> str:
        return encode_cursor(self.key)


@dataclass(slots=True)
class SearchPage:
    hits: list[Hit]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        return self.hits[-1].cursor if self.hits else None

    def rooms(self) -> list[Message]:
        return [h.row for h in self.hits if isinstance(h.row, Message)]

    def dms(self) -> list[DirectMessage]:
        return [h.row for h in self.hits if isinstance(h.row, DirectMessage)]

    def results(self, rooms: list[Any], dms: list[Any]) -> list[dict[str, Any]]:
        """The hits as REST and WS show them (one shape on both doors), given
        :meth:`rooms` and :meth:`dms` as each door shows a message, in order."""
        shown = {(ROOM, r.id): body for r, body in zip(self.rooms(), rooms, strict=True)}
        shown.update({(DM, r.id): body for r, body in zip(self.dms(), dms, strict=True)})
        return [
            {
                "kind": "dm" if h.key.kind == DM else "message",
                "snippet": h.snippet,
                "cursor": h.cursor,
                "message": shown[h.key.kind, h.key.id],
            }
            for h in self.hits
        ]

    def next_after(self) -> str | None:
        return self.end_cursor if self.has_next else None


@dataclass(slots=True)
class _Sql:
    """A statement under construction, with placeholders of the dialect."""

    postgres: bool
    values: list[Any]

    def mark(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"


def _after(sql: _Sql, kind: int, after: Key | None) -> str:
    """The keyset condition on (score, id) for hits of ``kind`` after ``after``."""
    if after is None:
        return "TRUE" if sql.postgres else "1"
    if kind > after.kind:
        return f"score <= {sql.mark(after.score)}"
    if kind < after.kind:
        return f"score < {sql.mark(after.score)}"
    score, same, below = sql.mark(after.score), sql.mark(after.score), sql.mark(after.id)
    return f"(score < {score} OR (score = {same} AND id < {below}))"


def _tsquery(sql: _Sql, terms: Terms) -> str:
    """PostgreSQL: the query as tsquery, built by plainto/phraseto_tsquery
    (which take text, never tsquery syntax)."""
    parts = []
    if terms.words:
        parts.append(f"plainto_tsquery('simple', {sql.mark(' '.join(terms.words))})")
    parts += [f"phraseto_tsquery('simple', {sql.mark(' '.join(p))})" for p in terms.phrases]
    return "(" + " && ".join(parts) + ")"


def _newest(
    sql: _Sql, terms: Terms, table: str, alias: str, where: str, tail: Callable[[], str]
) -> str:
    """The newest :data:`limits.SEARCH_SCAN_MAX` matches of ``table`` (rows ``alias``,
    ``where`` over them, ``tail`` the clauses after it), with their score."""
    if not sql.postgres:
        fts = f'"{table}_fts"'
        match = f"{fts} MATCH {sql.mark(terms.fts5())}"
        return (
            f"SELECT {alias}.id AS id, -bm25({fts}) AS score FROM {fts} "
            f"JOIN {table} {alias} ON {alias}.id = {fts}.rowid {where.format(match=match)}"
            f"{tail()} ORDER BY {fts}.rowid DESC LIMIT {limits.SEARCH_SCAN_MAX}"
        )
    query = _tsquery(sql, terms)
    newest = (
        f"SELECT {alias}.id AS id, {alias}.search AS search FROM {table} {alias} "
        f"{where.format(match=f'{alias}.search @@ {query}')}{tail()} "
        f"ORDER BY {alias}.id DESC LIMIT {limits.SEARCH_SCAN_MAX}"
    )
    return f"SELECT id, ts_rank(search, {query})::float8 AS score FROM ({newest}) AS newest"


@dataclass(frozen=True, slots=True)
class Filters:
    room_id: int | None
    author_id: int | None
    since: datetime | None
    until: datetime | None


def _common(sql: _Sql, alias: str, author_col: str, filters: Filters) -> str:
    false = "FALSE" if sql.postgres else "0"
    parts = [f"{alias}.deleted = {false}"]
    if filters.author_id is not None:
        parts.append(f"{alias}.{author_col} = {sql.mark(filters.author_id)}")
    if filters.since is not None:
        parts.append(f"{alias}.created_at >= {sql.mark(_db_time(filters.since, sql.postgres))}")
    if filters.until is not None:
        parts.append(f"{alias}.created_at < {sql.mark(_db_time(filters.until, sql.postgres))}")
    return " AND ".join(parts)


def _db_time(value: datetime, postgres: bool) -> Any:
    """A time as the ORM stores it (SQLite: ISO text in UTC, compared as text)."""
    utc = value.astimezone(UTC)
    return utc if postgres else utc.isoformat(sep=" ")


def _branch(
    sql: _Sql, kind: int, user: User, terms: Terms, filters: Filters, after: Key | None
) -> str:
    """The hits of one kind after ``after``: (id, score, kind) rows."""
    false = "FALSE" if sql.postgres else "0"
    # Placeholders are taken in the order they appear in the text (SQLite's
    # are positional): the match first, then ``tail``'s, then the keyset's.
    if kind == ROOM:

        def tail() -> str:
            common = _common(sql, "m", "author_id", filters)
            member = sql.mark(user.id)
            text = (
                f" AND {common} AND (r.is_private = {false} OR EXISTS (SELECT 1 FROM "
                f"memberships ms WHERE ms.room_id = m.room_id AND ms.user_id = {member}))"
            )
            if filters.room_id is not None:
                text += f" AND m.room_id = {sql.mark(filters.room_id)}"
            return text

        where = "JOIN rooms r ON r.id = m.room_id WHERE {match}"
        inner = _newest(sql, terms, "messages", "m", where, tail)
    else:

        def tail() -> str:
            common = _common(sql, "d", "sender_id", filters)
            low, high = sql.mark(user.id), sql.mark(user.id)
            return f" AND {common} AND (d.user_low = {low} OR d.user_high = {high})"

        inner = _newest(sql, terms, "direct_messages", "d", "WHERE {match}", tail)
    keyset = _after(sql, kind, after)
    hits = f"SELECT id, score, {kind} AS kind FROM ({inner}) AS hits WHERE {keyset}"
    return f"SELECT * FROM ({hits}) AS k{kind}"


async def _keys(
    user: User, terms: Terms, filters: Filters, after: Key | None, limit: int
) -> list[Key]:
    """The next ``limit`` hits after ``after``, both kinds in one statement."""
    conn = Tortoise.get_connection("default")
    sql = _Sql(conn.capabilities.dialect == "postgres", [])
    branches = [_branch(sql, ROOM, user, terms, filters, after)]
    if filters.room_id is None:
        branches.append(_branch(sql, DM, user, terms, filters, after))
    statement = (
        " UNION ALL ".join(branches)
        + f" ORDER BY score DESC, kind ASC, id DESC LIMIT {sql.mark(limit)}"
    )
    _count, rows = await conn.execute_query(statement, sql.values)
    return [Key(float(row["score"]), int(row["kind"]), int(row["id"])) for row in rows]


async def _rows(keys: list[Key]) -> dict[tuple[int, int], Message | DirectMessage]:
    room_ids = [k.id for k in keys if k.kind == ROOM]
    dm_ids = [k.id for k in keys if k.kind == DM]
    found: dict[tuple[int, int], Message | DirectMessage] = {}
    if room_ids:
        for message in await Message.filter(id__in=room_ids).select_related("room"):
            found[ROOM, message.id] = message
    if dm_ids:
        for dm in await DirectMessage.filter(id__in=dm_ids):
            found[DM, dm.id] = dm
    return found


async def search_messages(
    *,
    actor: User | None,
    query: object,
    room: str | int | Room | None = None,
    author: object = None,
    since: object = None,
    until: object = None,
    first: int | None = None,
    after: object = None,
) -> SearchPage:
    """A page of the messages the actor may read that match ``query``, best first."""
    user = require_user(actor)
    terms = parse_query(query)
    size = page_size(first, "first", maximum=limits.SEARCH_PAGE_MAX)
    size = limits.SEARCH_PAGE_DEFAULT if size is None else size
    key = decode_cursor(after)
    author_id = None if author is None or author == "" else validation.parse_id(author, "author")
    filters = Filters(
        room_id=None if room is None else (await rooms.resolve_room(actor=user, room=room)).id,
        author_id=author_id,
        since=parse_time(since, "from"),
        until=parse_time(until, "to"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise BadUserInput("from must not be after to.", field="from")
    if size == 0:
        return SearchPage([], False)
    keys = await _keys(user, terms, filters, key, size + 1)
    page, has_next = keys[:size], len(keys) > size
    rows = await _rows(page)
    hits = [
        Hit(rows[k.kind, k.id], k, snippet(rows[k.kind, k.id].content, terms.all_words))
        for k in page
        if (k.kind, k.id) in rows
    ]
    return SearchPage(hits, has_next)
