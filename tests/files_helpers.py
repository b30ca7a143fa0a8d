"""Shared test helpers."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import httpx

from tests.conftest import Account
from tests.harness import Service

BOUNDARY = "comptoir-test-boundary-7d1f"


def part(
    name: str,
    data: bytes,
    *,
    filename: bytes | str | None = None,
    content_type: bytes | str | None = None,
) -> bytes:
    """One multipart part, with raw bytes where a test needs odd ones."""
    disposition = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
    if filename is not None:
        raw = filename.encode() if isinstance(filename, str) else filename
        disposition += b'; filename="' + raw.replace(b'"', b'\\"') + b'"'
    lines = [disposition]
    if content_type is not None:
        raw_type = content_type.encode() if isinstance(content_type, str) else content_type
        lines.append(b"Content-Type: " + raw_type)
    return b"--" + BOUNDARY.encode() + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + data + b"\r\n"


def multipart(*parts: bytes) -> tuple[bytes, dict[str, str]]:
    body = b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def upload(
    http: httpx.AsyncClient,
    account: Account | None,
    data: bytes,
    *,
    filename: bytes | str | None = "data.bin",
    content_type: bytes | str | None = "application/octet-stream",
) -> httpx.Response:
    body, headers = multipart(part("file", data, filename=filename, content_type=content_type))
    if account is not None:
        headers.update(account.headers)
    return await http.post("/files", content=body, headers=headers)


def stored_files(directory: Path) -> list[Path]:
    """Every file under UPLOAD_DIR (blobs and partial writes)."""
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def empty_upload_dir(service: Service) -> Path:
    """UPLOAD_DIR, emptied first: tables are emptied per test, blobs are not."""
    directory = service.settings.upload_dir
    for path in stored_files(directory):
        path.unlink()
    return directory


def disposition_names(header: str) -> tuple[str, str]:
    """(ASCII fallback, exact name) from an RFC 6266 Content-Disposition."""
    assert header.startswith("attachment;"), header
    fallback = re.search(r'filename="([^"\\]*)"', header)
    exact = re.search(r"filename\*=UTF-8''([A-Za-z0-9%!#$&+.^_`|~-]+)$", header)
    assert fallback, header
    assert exact, header
    return fallback.group(1), unquote(exact.group(1), errors="strict")


FILE_FIELDS = "id filename contentType size sha256 url createdAt owner { id displayName email }"


UPLOAD = f"mutation Upload($file: Upload!) {{ uploadFile(file: $file) {{ {FILE_FIELDS} }} }}"


FILES = f"""
query Files($first: Int, $after: String, $last: Int, $before: String) {{
  files(first: $first, after: $after, last: $last, before: $before) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {FILE_FIELDS} }} }}
  }}
}}
"""


DELETE = "mutation Delete($id: ID!) { deleteFile(id: $id) }"
