"""Listings show the newest files by default, so a client sees its last upload.

``GET /files`` with no parameters used to list the oldest 100: the 101st
upload did not appear (issue 12). REST now lists newest first (``?order=asc``
for the old order); GraphQL ``files`` with no size gives the newest page,
still oldest first within it, with keyset cursors to page back.
"""

from __future__ import annotations

import httpx

from resolvers.limits import FILES_PAGE_DEFAULT as PAGE_DEFAULT
from resolvers.limits import OFFSET_LIMIT_DEFAULT
from tests.conftest import Account, GraphQL, data_of, error_codes
from tests.files_helpers import FILES, upload


async def upload_many(http: httpx.AsyncClient, account: Account, count: int) -> list[int]:
    return [(await upload(http, account, b"%d" % i)).json()["id"] for i in range(count)]


async def test_rest_lists_newest_first_so_the_101st_upload_shows(
    http: httpx.AsyncClient, member: Account
) -> None:
    ids = await upload_many(http, member, OFFSET_LIMIT_DEFAULT + 1)

    listed = [f["id"] for f in (await http.get("/files", headers=member.headers)).json()]
    assert listed == ids[::-1][:OFFSET_LIMIT_DEFAULT]
    assert listed[0] == ids[-1]
    older = await http.get(f"/files?offset={OFFSET_LIMIT_DEFAULT}", headers=member.headers)
    assert [f["id"] for f in older.json()] == [ids[0]]
    oldest = await http.get("/files?order=asc&limit=2", headers=member.headers)
    assert [f["id"] for f in oldest.json()] == ids[:2]

    bad = await http.get("/files?order=sideways", headers=member.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_graphql_default_page_is_the_newest(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account
) -> None:
    ids = [str(i) for i in await upload_many(http, member, PAGE_DEFAULT + 1)]

    newest = data_of(await graphql(FILES, {}, token=member.token))["files"]
    assert newest["totalCount"] == PAGE_DEFAULT + 1
    assert [e["node"]["id"] for e in newest["edges"]] == ids[1:]
    assert newest["pageInfo"]["hasPreviousPage"] is True
    assert newest["pageInfo"]["hasNextPage"] is False
    # Keyset paging back from the start of the newest page.
    before = newest["pageInfo"]["startCursor"]
    older = data_of(await graphql(FILES, {"last": 10, "before": before}, token=member.token))
    assert [e["node"]["id"] for e in older["files"]["edges"]] == ids[:1]
    # Forward from a cursor, without a size, reads forward as before.
    after = older["files"]["pageInfo"]["endCursor"]
    forward = data_of(await graphql(FILES, {"after": after}, token=member.token))["files"]
    assert [e["node"]["id"] for e in forward["edges"]] == ids[1:]
    assert error_codes(await graphql(FILES, {"first": 1, "last": 1}, token=member.token)) == [
        "BAD_USER_INPUT"
    ]
