"""Full-text search over room messages and direct messages (issue 15).

SQLite: one FTS5 external-content table per message table
(``messages_fts``, ``direct_messages_fts``; rowid = the message id), kept
in step by triggers on insert, on an update of ``content`` (an edit; a
deletion, which empties the content of a tombstone) and on delete. The
tokenizer is ``unicode61`` without diacritics folding, so both dialects
split and match words alike. Rows already stored are indexed
(``rebuild``).

PostgreSQL: a stored generated column ``search`` = ``to_tsvector('simple',
content with punctuation as spaces)`` on each table (always in step with
the content, edits and tombstones included), with a GIN index. ``simple``:
no stemming and no stop words, in any language; punctuation as spaces: a
word is a run of letters and digits, as for FTS5's tokenizer (else
PostgreSQL's parser would keep ``3.14``, ``bob@example.com`` or
``x_y`` whole, and ``14`` or ``example`` would not find them).

Queries: ``resolvers.search``. Both dialects in one file, as the initial
migration. Numbered after ``3_...`` (read markers, another branch); it
does not depend on it.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

TABLES = ("messages", "direct_messages")

SQLITE_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS "{t}_fts" USING fts5(
    content, content='{t}', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS "{t}_fts_insert" AFTER INSERT ON "{t}" BEGIN
    INSERT INTO "{t}_fts" (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS "{t}_fts_delete" AFTER DELETE ON "{t}" BEGIN
    INSERT INTO "{t}_fts" ("{t}_fts", rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS "{t}_fts_update" AFTER UPDATE OF content ON "{t}" BEGIN
    INSERT INTO "{t}_fts" ("{t}_fts", rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO "{t}_fts" (rowid, content) VALUES (new.id, new.content);
END;
INSERT INTO "{t}_fts" ("{t}_fts") VALUES ('rebuild');
"""

POSTGRES_TABLE = """
ALTER TABLE "{t}" ADD COLUMN IF NOT EXISTS "search" tsvector
    GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, regexp_replace(content, '[[:punct:]]+', ' ', 'g'))
    ) STORED;
CREATE INDEX IF NOT EXISTS "{t}_search" ON "{t}" USING GIN ("search");
"""

SQLITE_DROP = """
DROP TRIGGER IF EXISTS "{t}_fts_insert";
DROP TRIGGER IF EXISTS "{t}_fts_delete";
DROP TRIGGER IF EXISTS "{t}_fts_update";
DROP TABLE IF EXISTS "{t}_fts";
"""

POSTGRES_DROP = """
DROP INDEX IF EXISTS "{t}_search";
ALTER TABLE "{t}" DROP COLUMN IF EXISTS "search";
"""


def _each(template: str) -> str:
    return "".join(template.format(t=table) for table in TABLES)


async def upgrade(db: BaseDBAsyncClient) -> str:
    postgres = db.capabilities.dialect == "postgres"
    return _each(POSTGRES_TABLE if postgres else SQLITE_TABLE)


async def downgrade(db: BaseDBAsyncClient) -> str:
    postgres = db.capabilities.dialect == "postgres"
    return _each(POSTGRES_DROP if postgres else SQLITE_DROP)
