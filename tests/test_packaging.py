"""`pip install .` ships everything the service reads at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.once

ROOT = Path(__file__).resolve().parent.parent
# Folders of the checkout that are not part of the installed service.
NOT_SHIPPED = ("tests/", "bench/", "tools/", ".ci/", "deploy/", ".github/")


def test_the_wheel_holds_every_file_of_the_service(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    # Built from a copy of the tracked files: what a clean clone builds, and
    # the build leaves nothing in the checkout.
    source = tmp_path / "src"
    for path in tracked:
        if (ROOT / path).is_file():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, source / path)
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", str(tmp_path), str(source),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("comptoir-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    # Every tracked file in a folder (modules, migrations, assets) but tests,
    # benchmarks and deployment files; files at the top are the checkout's.
    wanted = {path for path in tracked if "/" in path and not path.startswith(NOT_SHIPPED)}
    assert wanted, "no files found: is this a git checkout?"
    assert wanted - names == set(), "files missing from the wheel (pyproject.toml)"
    assert any(n.startswith("migrations/models/0_") for n in names)
    assert "comptoir = comptoir.__main__:main" in entry_points
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
