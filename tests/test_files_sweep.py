"""Uploads cut short by a crash do not pile up in UPLOAD_DIR."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import scratch_database
from tests.process_server import serving_process

pytestmark = pytest.mark.slow


async def test_partial_uploads_left_by_a_crash_are_swept_at_start(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    stale = uploads / ".part-0123456789abcdef0123456789abcdef"
    recent = uploads / ".part-fedcba9876543210fedcba9876543210"
    kept = uploads / "00112233445566778899aabbccddeeff"
    for path in (stale, recent, kept):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))
    async with (
        scratch_database(os.environ.get("DATABASE_URL"), tmp_path) as database_url,
        serving_process(
            {"DATABASE_URL": database_url, "UPLOAD_DIR": str(uploads), "DEMO": "0"}, tmp_path
        ) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        assert (await client.get("/health")).status_code == 200
        assert not stale.exists()
        # Another process may still be writing a recent one; finished files stay.
        assert recent.exists()
        assert kept.exists()
