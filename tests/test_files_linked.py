"""A file that a resource links: its owner may not delete it, an ADMIN deletes both.

No resource is ever left with neither ``url`` nor ``file_id`` (issue 12):
deleting a linked file is CONFLICT (409) for its owner, on both doors, and
an ADMIN's delete takes the resources that link it along.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Account, GraphQL, data_of, error_codes
from tests.files_helpers import DELETE, stored_files, upload

RESOURCES = "{ resources { totalCount edges { node { id title url file { id } } } } }"


async def linked_file(http: httpx.AsyncClient, owner: Account, admin: Account) -> tuple[int, int]:
    """(file id, resource id): ``owner``'s file, published by ``admin`` as a resource."""
    file_id = (await upload(http, owner, b"minutes of the meeting")).json()["id"]
    body = {"title": "Minutes", "file_id": file_id}
    created = await http.post("/ressources", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    return file_id, created.json()["id"]


async def test_owner_cannot_delete_a_linked_file_on_either_door(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, admin: Account, upload_dir: Path
) -> None:
    file_id, resource_id = await linked_file(http, member, admin)

    rest = await http.delete(f"/files/{file_id}", headers=member.headers)
    assert rest.status_code == 409
    assert rest.json()["error"]["code"] == "CONFLICT"
    assert str(resource_id) in rest.json()["error"]["message"]
    body = await graphql(DELETE, {"id": str(file_id)}, token=member.token)
    assert error_codes(body) == ["CONFLICT"]

    # The resource still points at the file, whose bytes are still there.
    [listed] = (await http.get("/ressources", headers=member.headers)).json()
    assert listed["file_id"] == file_id
    download = await http.get(f"/files/{file_id}", headers=member.headers)
    assert download.content == b"minutes of the meeting"
    assert len(stored_files(upload_dir)) == 1


async def test_unlinked_files_of_the_same_owner_still_delete(
    http: httpx.AsyncClient, member: Account, admin: Account, upload_dir: Path
) -> None:
    await linked_file(http, member, admin)
    loose = (await upload(http, member, b"draft")).json()["id"]
    assert (await http.delete(f"/files/{loose}", headers=member.headers)).status_code == 204
    assert len(stored_files(upload_dir)) == 1


async def test_admin_deletes_a_linked_file_with_its_resources_over_rest(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, admin: Account, upload_dir: Path
) -> None:
    file_id, _ = await linked_file(http, member, admin)
    url_resource = await http.post(
        "/ressources", json={"title": "Site", "url": "https://example.com/"}, headers=admin.headers
    )
    assert (await http.delete(f"/files/{file_id}", headers=admin.headers)).status_code == 204

    listed = await http.get("/ressources", headers=member.headers)
    assert listed.json() == [url_resource.json()]
    assert (await http.get(f"/files/{file_id}", headers=member.headers)).status_code == 404
    assert stored_files(upload_dir) == []
    nodes = data_of(await graphql(RESOURCES, token=member.token))["resources"]["edges"]
    assert [n["node"]["title"] for n in nodes] == ["Site"]


async def test_admin_deletes_a_linked_file_with_its_resources_over_graphql(
    http: httpx.AsyncClient, graphql: GraphQL, member: Account, admin: Account, upload_dir: Path
) -> None:
    file_id, _ = await linked_file(http, member, admin)
    deleted = await graphql(DELETE, {"id": str(file_id)}, token=admin.token)
    assert data_of(deleted) == {"deleteFile": True}
    assert data_of(await graphql(RESOURCES, token=member.token))["resources"]["totalCount"] == 0
    assert stored_files(upload_dir) == []
