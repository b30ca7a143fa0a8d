"""Ids of a conversation's live channel, taken outside a message insert.

Changes (``resolvers.message_changes``) and mentions (``resolvers.mentions``)
take their ids from the sequence of the conversation's messages, so a
channel's messages and changes share one strictly increasing id.
"""

from __future__ import annotations

from typing import Any


async def next_seq(conn: Any, table: str) -> int:
    """The next id of ``table``'s sequence (messages or direct_messages)."""
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS seq"
        )
        return int(rows[0]["seq"])
    # SQLite AUTOINCREMENT: the next rowid is above sqlite_sequence's value.
    await conn.execute_query(
        "INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
        [table, table],
    )
    _, rows = await conn.execute_query(
        f'UPDATE sqlite_sequence SET seq = max(seq, (SELECT COALESCE(MAX(id), 0) FROM "{table}"))'
        " + 1 WHERE name = ? RETURNING seq",
        [table],
    )
    return int(rows[0]["seq"])
