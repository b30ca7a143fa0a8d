"""Refresh the browser assets that GraphiQL and /docs load (``make assets``).

The pinned list is ``core/static/manifest.json``: for each npm package, an
exact version and the files to take from its published tarball (prebuilt
distributables, no build step). This script fetches each tarball with
``npm pack`` (the npm registry is the only network it touches), checks the
tarball's integrity against the one recorded when the version has not
changed, copies the listed files (and the package's LICENSE and NOTICE) to
``core/static/<package>@<version>/`` and records their sha384, which the
pages put in ``integrity=`` attributes. To upgrade a package, edit its
version in the manifest and run ``make assets``; commit the result.

Nothing here runs at serve time: the app only reads the committed files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "core" / "static"
MANIFEST = STATIC / "manifest.json"


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def pack(name: str, version: str, workdir: Path) -> tuple[Path, str]:
    out = subprocess.run(
        ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)[0]
    return workdir / info["filename"], info["integrity"]


def refresh() -> None:
    manifest = json.loads(MANIFEST.read_text())
    for name, entry in manifest["packages"].items():
        version = entry["version"]
        target = STATIC / f"{name}@{version}"
        with tempfile.TemporaryDirectory() as tmp:
            tarball, integrity = pack(name, version, Path(tmp))
            if entry.get("tarball_version") == version and entry.get("tarball") != integrity:
                sys.exit(f"{name}@{version}: the registry's tarball changed ({integrity})")
            entry["tarball"], entry["tarball_version"] = integrity, version
            for old in STATIC.glob(f"{name}@*"):
                shutil.rmtree(old)
            with tarfile.open(tarball) as archive:
                names = set(archive.getnames())
                legal = [f for f in ("LICENSE", "NOTICE") if f"package/{f}" in names]
                for member in [*entry["files"], *legal]:
                    source = archive.extractfile(f"package/{member}")
                    if source is None:
                        sys.exit(f"{name}@{version}: no {member} in the tarball")
                    data = source.read()
                    (target / member).parent.mkdir(parents=True, exist_ok=True)
                    (target / member).write_bytes(data)
                    if member in entry["files"]:
                        entry["files"][member] = sri(data)
        print(f"{name}@{version}: {len(entry['files'])} files")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    refresh()
