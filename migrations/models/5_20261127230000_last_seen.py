"""Last seen, kept in the database (issue 15).

``users.last_seen_at``: when the user was last known to be connected,
written once per offline transition (``resolvers.last_seen``), so a presence
query still reports it after a restart of the embedded (memory) presence
store or a Redis flush. NULL: never seen since the column exists.

Both dialects in one file, as ``2_...``. Numbered after ``4_...`` (search);
it does not depend on it.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

SQLITE = """
ALTER TABLE "users" ADD "last_seen_at" TIMESTAMP;
"""

POSTGRES = """
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "last_seen_at" TIMESTAMPTZ;
"""


async def upgrade(db: BaseDBAsyncClient) -> str:
    return POSTGRES if db.capabilities.dialect == "postgres" else SQLITE


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """ALTER TABLE "users" DROP COLUMN "last_seen_at";"""
