"""Files on GraphQL: uploadFile (multipart request spec), files, deleteFile."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, GraphQL, MakeAccount, data_of, error_codes
from tests.files_helpers import (
    DELETE,
    FILES,
    UPLOAD,
    disposition_names,
    multipart,
    part,
    stored_files,
    upload,
)
from tests.harness import Service


def upload_request(
    data: bytes,
    *,
    filename: str | bytes = "data.bin",
    content_type: str = "application/octet-stream",
    query: str = UPLOAD,
    operations: Any = None,
    files_map: Any = None,
) -> tuple[bytes, dict[str, str]]:
    """A GraphQL multipart request (operations, map, then the file part)."""
    if operations is None:
        operations = {"query": query, "variables": {"file": None}}
    if files_map is None:
        files_map = {"0": ["variables.file"]}
    return multipart(
        part("operations", json.dumps(operations).encode()),
        part("map", json.dumps(files_map).encode()),
        part("0", data, filename=filename, content_type=content_type),
    )


async def post_graphql_upload(
    http: httpx.AsyncClient, account: Account | None, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    if account is not None:
        headers = {**headers, **account.headers}
    return await http.post("/graphql", content=body, headers=headers)


async def graphql_upload(
    http: httpx.AsyncClient, account: Account | None, data: bytes, **kwargs: Any
) -> dict[str, Any]:
    body, headers = upload_request(data, **kwargs)
    response = await post_graphql_upload(http, account, body, headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_upload_round_trip_keeps_bytes_and_sha256(
    http: httpx.AsyncClient, member: Account, upload_dir: Path
) -> None:
    # Given 2 MiB of random bytes sent per the GraphQL multipart request spec
    data = os.urandom(2 * 1024 * 1024 + 3)
    result = await graphql_upload(
        http, member, data, filename="photo.png", content_type="image/png"
    )
    # Then the File describes them
    created = data_of(result)["uploadFile"]
    assert created["filename"] == "photo.png"
    assert created["contentType"] == "image/png"
    assert created["size"] == len(data)
    assert created["sha256"] == hashlib.sha256(data).hexdigest()
    assert created["url"] == f"/files/{created['id']}"
    assert created["owner"] == {
        "id": str(member.id),
        "displayName": "member",
        "email": member.email,
    }
    # and the REST download gives the same bytes back
    download = await http.get(created["url"], headers=member.headers)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == created["sha256"]
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert disposition_names(download.headers["content-disposition"])[1] == "photo.png"
    assert len(stored_files(upload_dir)) == 1


async def test_upload_sanitizes_the_filename(http: httpx.AsyncClient, member: Account) -> None:
    result = await graphql_upload(
        http, member, b"x", filename=b"../../etc/pass\x00wd", content_type="not a type"
    )
    created = data_of(result)["uploadFile"]
    assert created["filename"] == "passwd"
    assert created["contentType"] == "application/octet-stream"


async def test_upload_requires_authentication(
    http: httpx.AsyncClient, member: Account, upload_dir: Path
) -> None:
    # Refused before the body is read (issue 11, finding 7): a 401, as for a
    # bad token, with the GraphQL error shape.
    body, headers = upload_request(b"anonymous")
    response = await post_graphql_upload(http, None, body, headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert stored_files(upload_dir) == []
    assert (await http.get("/files", headers=member.headers)).json() == []


async def test_upload_over_the_limit_is_refused_and_leaves_nothing(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    # One byte over MAX_UPLOAD_BYTES: the body fits the multipart allowance,
    # the file does not.
    data = b"o" * (service.settings.max_upload_bytes + 1)
    result = await graphql_upload(http, member, data)
    assert error_codes(result) == ["PAYLOAD_TOO_LARGE"]
    assert result["data"] is None
    assert stored_files(upload_dir) == []
    assert (await http.get("/files", headers=member.headers)).json() == []


async def test_body_over_the_limit_streamed_is_refused(
    http: httpx.AsyncClient, member: Account, service: Service, upload_dir: Path
) -> None:
    size = service.settings.max_upload_bytes + 2 * 1024 * 1024
    body, headers = upload_request(b"s" * size)

    async def chunks() -> Any:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    response = await http.post("/graphql", content=chunks(), headers={**headers, **member.headers})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert error_codes(response.json()) == ["PAYLOAD_TOO_LARGE"]
    assert stored_files(upload_dir) == []


async def test_a_string_is_not_a_file(http: httpx.AsyncClient, member: Account) -> None:
    response = await http.post(
        "/graphql",
        json={"query": UPLOAD, "variables": {"file": "not a file"}},
        headers=member.headers,
    )
    assert response.status_code == 200
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("name", "files_map"),
    [
        ("map names a missing part", {"1": ["variables.file"]}),
        ("map is not an object", ["variables.file"]),
        ("map path does not exist", {"0": ["variables.nothing.here"]}),
    ],
)
async def test_malformed_multipart_requests_are_client_errors(
    http: httpx.AsyncClient, member: Account, upload_dir: Path, name: str, files_map: Any
) -> None:
    body, headers = upload_request(b"x", files_map=files_map)
    response = await post_graphql_upload(http, member, body, headers)
    assert 400 <= response.status_code < 500, (name, response.text)
    assert stored_files(upload_dir) == []


async def test_files_lists_own_files_with_paging(
    http: httpx.AsyncClient, graphql: GraphQL, make_account: MakeAccount, admin: Account
) -> None:
    alice, bob = await make_account(), await make_account()
    ids = [(await upload(http, alice, b"a%d" % i)).json()["id"] for i in range(3)]
    bob_id = (await upload(http, bob, b"b")).json()["id"]

    first = data_of(await graphql(FILES, {"first": 2}, token=alice.token))["files"]
    assert first["totalCount"] == 3
    assert [e["node"]["id"] for e in first["edges"]] == [str(i) for i in ids[:2]]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["edges"][0]["node"]["owner"]["id"] == str(alice.id)
    rest = data_of(
        await graphql(
            FILES, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=alice.token
        )
    )["files"]
    assert [e["node"]["id"] for e in rest["edges"]] == [str(ids[2])]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    last = data_of(await graphql(FILES, {"last": 1}, token=alice.token))["files"]
    assert [e["node"]["id"] for e in last["edges"]] == [str(ids[2])]

    bobs = data_of(await graphql(FILES, {}, token=bob.token))["files"]
    assert [e["node"]["id"] for e in bobs["edges"]] == [str(bob_id)]
    everyone = data_of(await graphql(FILES, {}, token=admin.token))["files"]
    assert everyone["totalCount"] == 4
    # The admin sees owners, and their email, as an admin may.
    owners = {e["node"]["owner"]["email"] for e in everyone["edges"]}
    assert owners == {alice.email, bob.email}

    assert error_codes(await graphql(FILES, {})) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(FILES, {"first": -1}, token=alice.token)) == ["BAD_USER_INPUT"]
    assert error_codes(await graphql(FILES, {"after": "garbage"}, token=alice.token)) == [
        "BAD_USER_INPUT"
    ]


async def test_delete_file_by_owner_admin_and_not_others(
    http: httpx.AsyncClient,
    graphql: GraphQL,
    make_account: MakeAccount,
    admin: Account,
    upload_dir: Path,
) -> None:
    owner, other = await make_account(), await make_account()
    first = (await upload(http, owner, b"one")).json()
    second = (await upload(http, owner, b"two")).json()

    # Another member: as if the file did not exist.
    denied = await graphql(DELETE, {"id": str(first["id"])}, token=other.token)
    assert error_codes(denied) == ["NOT_FOUND"]
    assert error_codes(await graphql(DELETE, {"id": "999999"}, token=owner.token)) == ["NOT_FOUND"]
    assert error_codes(await graphql(DELETE, {"id": str(first["id"])})) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(DELETE, {"id": "abc"}, token=owner.token)) == [
        "BAD_USER_INPUT"
    ]
    assert len(stored_files(upload_dir)) == 2

    assert data_of(await graphql(DELETE, {"id": str(first["id"])}, token=owner.token)) == {
        "deleteFile": True
    }
    assert data_of(await graphql(DELETE, {"id": str(second["id"])}, token=admin.token)) == {
        "deleteFile": True
    }
    assert stored_files(upload_dir) == []
    assert data_of(await graphql(FILES, {}, token=owner.token))["files"]["totalCount"] == 0


async def test_other_members_see_owner_without_email(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, admin: Account
) -> None:
    """Through a resource, a member sees another's file; not the owner's email."""
    created = (await upload(http, admin, b"handbook")).json()
    resource = await http.post(
        "/ressources",
        json={"title": "Handbook", "file_id": created["id"]},
        headers=admin.headers,
    )
    assert resource.status_code == 201, resource.text
    query = "{ resources { edges { node { file { id owner { id email } } } } } }"
    [edge] = data_of(await graphql(query, token=member.token))["resources"]["edges"]
    assert edge["node"]["file"] == {
        "id": str(created["id"]),
        "owner": {"id": str(admin.id), "email": ""},
    }


@pytest.mark.parametrize(
    ("name", "extra_parts"),
    [
        ("thousands of fields", [part(f"f{i}", b"1") for i in range(5000)]),
        ("many files", [part(f"x{i}", b"1", filename=f"{i}.txt") for i in range(10)]),
    ],
)
async def test_too_many_multipart_parts_are_refused(
    http: httpx.AsyncClient,
    member: Account,
    upload_dir: Path,
    name: str,
    extra_parts: list[bytes],
) -> None:
    operations = {"query": UPLOAD, "variables": {"file": None}}
    body, headers = multipart(
        part("operations", json.dumps(operations).encode()),
        part("map", b'{"0": ["variables.file"]}'),
        part("0", b"data", filename="a.txt"),
        *extra_parts,
    )
    response = await post_graphql_upload(http, member, body, headers)
    assert response.status_code == 400, response.text
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    assert stored_files(upload_dir) == []
    # and a well-formed upload still goes through
    assert data_of(await graphql_upload(http, member, b"ok"))["uploadFile"]["size"] == 2
