"""Hostile filenames on REST and GraphQL uploads (security checklist 24): stored
under a safe name inside UPLOAD_DIR, served back as attachments with nosniff."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account
from tests.harness import Service

NASTY_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a\x00b.txt",
    "x" * 1000 + ".txt",
    "résumé 🎉 東京.pdf",
    "page.html",
    "image.svg",
    ".htaccess",
    "\u202etxt.exe",
]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def multipart_file(filename: str, data: bytes, field: str = "file") -> tuple[bytes, str]:
    boundary = "nasty-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/svg+xml\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def assert_safe_name(name: str) -> None:
    assert "/" not in name
    assert "\\" not in name
    assert "\x00" not in name
    assert not name.startswith(".")
    assert 0 < len(name) <= 255


async def assert_served_inert(http: httpx.AsyncClient, account: Account, file_id: int) -> None:
    download = await http.get(f"/files/{file_id}", headers=account.headers)
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.content == SVG


def no_escape(service: Service, tmp_root: Path) -> None:
    """Nothing was written outside UPLOAD_DIR."""
    assert not any(p.name in {"passwd", "win.ini"} for p in tmp_root.rglob("*"))
    root = service.settings.upload_dir.resolve()
    assert all(p.resolve().is_relative_to(root) for p in root.rglob("*"))


@pytest.mark.checklist(24, "rest")
async def test_nasty_filenames_are_stored_safely_and_served_inert_on_rest(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    for name in NASTY_NAMES:
        body, boundary = multipart_file(name, SVG)
        response = await http.post(
            "/files",
            content=body,
            headers={**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 201, name
        assert_safe_name(response.json()["filename"])
        await assert_served_inert(http, member, response.json()["id"])
    no_escape(service, service.settings.upload_dir.parent)


@pytest.mark.checklist(24, "graphql")
async def test_nasty_filenames_are_stored_safely_and_served_inert_on_graphql(
    service: Service, http: httpx.AsyncClient, member: Account
) -> None:
    operations = json.dumps(
        {
            "query": "mutation ($f: Upload!) { uploadFile(file: $f) { id filename url } }",
            "variables": {"f": None},
        }
    )
    for name in NASTY_NAMES:
        file_part, boundary = multipart_file(name, SVG, field="0")
        fields = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
            for key, value in (("operations", operations), ("map", '{"0": ["variables.f"]}'))
        ).encode()
        response = await http.post(
            "/graphql",
            content=fields + file_part,
            headers={**member.headers, "content-type": f"multipart/form-data; boundary={boundary}"},
        )
        created = response.json()["data"]["uploadFile"]
        assert_safe_name(created["filename"])
        await assert_served_inert(http, member, int(created["id"]))
    no_escape(service, service.settings.upload_dir.parent)
