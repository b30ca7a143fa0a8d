"""REST /files: round trip, listing, access, filenames and bad bodies."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import httpx
import pytest

from resolvers import limits
from tests.conftest import Account, MakeAccount
from tests.files_helpers import (
    BOUNDARY,
    disposition_names,
    multipart,
    part,
    stored_files,
    upload,
)


async def test_upload_round_trip_keeps_bytes_and_sha256(
    http: httpx.AsyncClient, member: Account, upload_dir: Path
) -> None:
    # Given 3 MiB of random bytes
    data = os.urandom(3 * 1024 * 1024 + 17)
    # When they are uploaded
    response = await upload(
        http, member, data, filename="report.pdf", content_type="application/pdf"
    )
    # Then the row describes them
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "url",
        "owner_id",
        "created_at",
    }
    assert body["filename"] == "report.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["owner_id"] == member.id
    assert body["url"] == f"/files/{body['id']}"
    # and the download gives the same bytes, as an attachment
    download = await http.get(body["url"], headers=member.headers)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == body["sha256"]
    assert download.content == data
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-length"] == str(len(data))
    assert download.headers["x-content-type-options"] == "nosniff"
    assert disposition_names(download.headers["content-disposition"]) == (
        "report.pdf",
        "report.pdf",
    )
    head = await http.head(body["url"], headers=member.headers)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.content == b""
    # and the bytes sit under a server-chosen name
    [blob] = stored_files(upload_dir)
    assert re.fullmatch(r"[0-9a-f]{32}", blob.name)
    assert blob.read_bytes() == data


async def test_empty_file_round_trip(http: httpx.AsyncClient, member: Account) -> None:
    response = await upload(http, member, b"", filename="empty.txt", content_type="text/plain")
    assert response.status_code == 201, response.text
    assert response.json()["size"] == 0
    assert response.json()["sha256"] == hashlib.sha256(b"").hexdigest()
    download = await http.get(response.json()["url"], headers=member.headers)
    assert download.status_code == 200
    assert download.content == b""


async def test_listing_shows_own_files_and_everything_to_admin(
    http: httpx.AsyncClient, make_account: MakeAccount, admin: Account
) -> None:
    alice, bob = await make_account(), await make_account()
    a1 = (await upload(http, alice, b"a1")).json()
    b1 = (await upload(http, bob, b"b1")).json()
    a2 = (await upload(http, alice, b"a2")).json()

    # (Oldest first on request; newest first by default: test_files_newest.py.)
    alice_list = await http.get("/files?order=asc", headers=alice.headers)
    assert alice_list.status_code == 200
    assert [f["id"] for f in alice_list.json()] == [a1["id"], a2["id"]]
    bob_list = await http.get("/files?order=asc", headers=bob.headers)
    assert [f["id"] for f in bob_list.json()] == [b1["id"]]
    admin_list = await http.get("/files?order=asc", headers=admin.headers)
    assert [f["id"] for f in admin_list.json()] == [a1["id"], b1["id"], a2["id"]]

    page = await http.get("/files?order=asc&limit=1&offset=1", headers=admin.headers)
    assert [f["id"] for f in page.json()] == [b1["id"]]
    huge = await http.get("/files?limit=1000000000&offset=1000000000", headers=admin.headers)
    assert huge.status_code == 200
    assert huge.json() == []
    for query in ("limit=-1", "offset=-5", "limit=abc"):
        bad = await http.get(f"/files?{query}", headers=admin.headers)
        assert bad.status_code == 422, query
        assert bad.json()["error"]["code"] == "BAD_USER_INPUT"


async def test_other_users_cannot_read_or_delete(
    http: httpx.AsyncClient, make_account: MakeAccount, upload_dir: Path
) -> None:
    owner, other = await make_account(), await make_account()
    created = (await upload(http, owner, b"secret bytes")).json()
    url = created["url"]

    for response in (
        await http.get(url, headers=other.headers),
        await http.delete(url, headers=other.headers),
        await http.get("/files/999999", headers=owner.headers),
        await http.delete("/files/999999", headers=owner.headers),
    ):
        # Another user's file looks exactly like a file that does not exist.
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "NOT_FOUND", "message": "File not found."}}
    assert (await http.get("/files", headers=other.headers)).json() == []

    for response in (await http.get(url), await http.delete(url), await http.get("/files")):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    for bad_id in ("abc", "0", "-1", "99999999999"):
        assert (await http.get(f"/files/{bad_id}", headers=owner.headers)).status_code == 422

    # Nothing was touched.
    download = await http.get(url, headers=owner.headers)
    assert download.content == b"secret bytes"
    assert len(stored_files(upload_dir)) == 1


async def test_owner_and_admin_delete_row_and_bytes(
    http: httpx.AsyncClient, member: Account, admin: Account, upload_dir: Path
) -> None:
    mine = (await upload(http, member, b"one")).json()
    other = (await upload(http, member, b"two")).json()
    assert len(stored_files(upload_dir)) == 2

    assert (await http.delete(mine["url"], headers=member.headers)).status_code == 204
    assert (await http.delete(other["url"], headers=admin.headers)).status_code == 204

    assert stored_files(upload_dir) == []
    assert (await http.get("/files", headers=member.headers)).json() == []
    assert (await http.get(mine["url"], headers=member.headers)).status_code == 404
    assert (await http.delete(mine["url"], headers=member.headers)).status_code == 404


async def test_admin_downloads_any_file(
    http: httpx.AsyncClient, member: Account, admin: Account
) -> None:
    created = (await upload(http, member, b"for the admin")).json()
    response = await http.get(created["url"], headers=admin.headers)
    assert response.status_code == 200
    assert response.content == b"for the admin"


ODD_NAMES = [
    # (sent, stored)
    (b"../../etc/passwd", "passwd"),
    (b"..\\..\\windows\\win.ini", "win.ini"),
    (b"/absolute/path/x.txt", "x.txt"),
    (b"evil\x00.txt", "evil.txt"),
    (b"tab\there\x7f.txt", "tabhere.txt"),
    ("r\u00e9sum\u00e9 \u65e5\u672c\u8a9e \U0001f600.pdf".encode(), "résumé 日本語 😀.pdf"),
    ("bidi\u202egnp.exe".encode(), "bidignp.exe"),
    (b"<img src=x onerror=alert(1)>.html", "<img src=x onerror=alert(1)>.html"),
    (b"<script>alert(1)</script>.html", "script>.html"),
    (b"drawing.svg", "drawing.svg"),
    (b"'; DROP TABLE files; --.txt", "'; DROP TABLE files; --.txt"),
    (b'quote"semi;colon%25.txt', 'quote"semi;colon%25.txt'),
    (b"..", "file"),
    (b"", "file"),
    (b"   ", "file"),
    (b".hidden", "hidden"),
    (b"\xff\xfe latin", "\u00ff\u00fe latin"),
]


@pytest.mark.parametrize(("sent", "stored"), ODD_NAMES)
async def test_odd_filenames_are_stored_safely(
    http: httpx.AsyncClient, member: Account, upload_dir: Path, sent: bytes, stored: str
) -> None:
    response = await upload(http, member, b"payload", filename=sent)
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == stored
    # The file system only ever sees the server's name.
    [blob] = stored_files(upload_dir)
    assert re.fullmatch(r"[0-9a-f]{32}", blob.name)
    assert blob.parent == upload_dir
    download = await http.get(response.json()["url"], headers=member.headers)
    assert download.status_code == 200
    assert download.content == b"payload"
    header = download.headers["content-disposition"]
    assert header.isascii()
    fallback, exact = disposition_names(header)
    assert exact == stored
    assert fallback
    assert '"' not in fallback
    assert "\\" not in fallback


async def test_long_filename_is_cut_keeping_its_extension(
    http: httpx.AsyncClient, member: Account
) -> None:
    for sent in ("a" * 1000 + ".html", "\u00e9" * 1000 + ".svg", "b" * 1000):
        response = await upload(http, member, b"x", filename=sent)
        assert response.status_code == 201, response.text
        name = response.json()["filename"]
        assert len(name) == limits.FILENAME_MAX
        assert name.endswith(sent[-4:])
        download = await http.get(response.json()["url"], headers=member.headers)
        assert disposition_names(download.headers["content-disposition"])[1] == name


async def test_active_content_is_served_as_an_inert_attachment(
    http: httpx.AsyncClient, member: Account
) -> None:
    html = b"<html><script>alert(document.cookie)</script></html>"
    for filename, content_type in (("page.html", "text/html"), ("image.svg", "image/svg+xml")):
        created = await upload(http, member, html, filename=filename, content_type=content_type)
        assert created.status_code == 201, created.text
        download = await http.get(created.json()["url"], headers=member.headers)
        assert download.content == html
        assert download.headers["content-type"] == content_type
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in download.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("text/plain", "text/plain"),
        ("Text/HTML; charset=utf-7", "text/html"),
        ("image/svg+xml", "image/svg+xml"),
        ("not a type", "application/octet-stream"),
        ("text/", "application/octet-stream"),
        ("a/b/c", "application/octet-stream"),
        ("x" * 300 + "/y", "application/octet-stream"),
        (b"text/\xff", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
async def test_content_type_is_a_checked_token_pair(
    http: httpx.AsyncClient, member: Account, sent: str | bytes | None, stored: str
) -> None:
    response = await upload(http, member, b"x", content_type=sent)
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == stored


async def test_mass_assignment_fields_are_ignored(
    http: httpx.AsyncClient, member: Account, admin: Account
) -> None:
    body, headers = multipart(
        part("owner_id", str(admin.id).encode()),
        part("id", b"4242"),
        part("sha256", b"0" * 64),
        part("size", b"1"),
        part("file", b"mine", filename="mine.txt", content_type="text/plain"),
        part("storage_key", b"../../etc/passwd"),
    )
    response = await http.post("/files", content=body, headers={**headers, **member.headers})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["owner_id"] == member.id
    assert created["id"] != 4242
    assert created["size"] == 4
    assert created["sha256"] == hashlib.sha256(b"mine").hexdigest()
    assert [f["id"] for f in (await http.get("/files", headers=member.headers)).json()] == [
        created["id"]
    ]


async def test_plain_field_named_file_is_accepted(http: httpx.AsyncClient, member: Account) -> None:
    body, headers = multipart(part("file", b"typed in a form"))
    response = await http.post("/files", content=body, headers={**headers, **member.headers})
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "file"
    assert response.json()["content_type"] == "application/octet-stream"


async def test_httpx_files_upload(http: httpx.AsyncClient, member: Account) -> None:
    """What a client library sends works too."""
    response = await http.post(
        "/files", files={"file": ("notes.txt", b"hello", "text/plain")}, headers=member.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "notes.txt"


async def test_upload_requires_authentication(
    http: httpx.AsyncClient, member: Account, upload_dir: Path
) -> None:
    response = await upload(http, None, b"anonymous bytes")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    bad_token = await http.post(
        "/files",
        files={"file": ("a.txt", b"x")},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert bad_token.status_code == 401
    assert stored_files(upload_dir) == []
    assert (await http.get("/files", headers=member.headers)).json() == []


def _bad_bodies() -> list[tuple[str, bytes, dict[str, str], int]]:
    ok_part = part("file", b"data", filename="a.txt")
    closing = b"--" + BOUNDARY.encode() + b"--\r\n"
    ctype = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return [
        ("json", b'{"file": "x"}', {"Content-Type": "application/json"}, 415),
        ("no content type", ok_part + closing, {}, 415),
        ("urlencoded", b"file=abc", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ("no boundary", ok_part + closing, {"Content-Type": "multipart/form-data"}, 422),
        ("no file part", part("other", b"x") + closing, ctype, 422),
        ("empty body", b"", ctype, 422),
        ("no closing boundary", ok_part, ctype, 422),
        ("truncated part", ok_part[:-10], ctype, 422),
        ("garbage", b"\x00\xff" * 500, ctype, 422),
        ("two files", ok_part + part("file", b"again", filename="b.txt") + closing, ctype, 422),
        ("too many parts", part("x", b"1") * 5000 + ok_part + closing, ctype, 422),
        ("too many parts after the file", ok_part + part("x", b"1") * 5000 + closing, ctype, 422),
        ("huge extra field", part("note", b"n" * 200_000) + ok_part + closing, ctype, 422),
        (
            "too many part headers",
            b"--"
            + BOUNDARY.encode()
            + b"\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(100))
            + b'Content-Disposition: form-data; name="file"; filename="a"\r\n\r\ndata\r\n'
            + closing,
            ctype,
            422,
        ),
    ]


@pytest.mark.parametrize(
    ("name", "body", "headers", "status"), _bad_bodies(), ids=[b[0] for b in _bad_bodies()]
)
async def test_bad_upload_bodies_are_refused_and_leave_nothing(
    http: httpx.AsyncClient,
    member: Account,
    upload_dir: Path,
    name: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    response = await http.post("/files", content=body, headers={**headers, **member.headers})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == "BAD_USER_INPUT"
    assert stored_files(upload_dir) == []
    assert (await http.get("/files", headers=member.headers)).json() == []
    # The server keeps serving.
    assert (await upload(http, member, b"after")).status_code == 201


async def test_openapi_describes_the_file_paths(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    post = spec["paths"]["/files"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "401", "413", "415", "422"} <= set(post["responses"])
    download = spec["paths"]["/files/{id}"]["get"]["responses"]
    assert {"200", "401", "404", "422"} <= set(download)
    assert set(spec["paths"]["/files/{id}"]["delete"]["responses"]) >= {"204", "401", "403", "404"}
