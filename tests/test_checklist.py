"""Every line of the security checklist has a test named after its number on
every door it applies to (``test_07_..._on_rest``, ``..._on_graphql``,
``..._on_ws``): a line, or a door of a line, without one fails here.

The checklist is ``../shared/security-checklist.md`` beside the checkout;
when it is there, its numbered lines must be the ones listed below.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CHECKLIST = TESTS.parent.parent / "shared" / "security-checklist.md"

REST, GRAPHQL, WS = "rest", "graphql", "ws"
ALL_DOORS = (REST, GRAPHQL, WS)
HTTP = (REST, GRAPHQL)

LINES: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("someone else's DMs and private rooms look missing", ALL_DOORS),
    2: ("no posting to or joining a private room uninvited", ALL_DOORS),
    3: ("MEMBERs may not write products or resources", HTTP),
    4: ("no mass assignment", ALL_DOORS),
    5: ("no hashes, nobody else's email", ALL_DOORS),
    6: ("files: no IDOR", HTTP),
    7: ("forged or stale tokens are 401", ALL_DOORS),
    8: ("refresh families and concurrent refreshes", HTTP),
    9: ("logout revokes and closes WebSockets", ALL_DOORS),
    10: ("unknown email and wrong password look alike", HTTP),
    11: ("failed logins throttled", HTTP),
    12: ("passwords over 72 bytes are 422", HTTP),
    13: ("GraphQL document limits", (GRAPHQL,)),
    14: ("batches capped, aliased logins throttled", (GRAPHQL,)),
    15: ("paging values clamped or 422", ALL_DOORS),
    16: ("huge or deep bodies 413 or 422", ALL_DOORS),
    17: ("upload limits leave nothing behind", HTTP),
    18: ("WebSocket floods and caps", (WS,)),
    19: ("production mode hides internals", ALL_DOORS),
    20: ("no GraphQL over GET or simple POSTs", (GRAPHQL,)),
    21: ("CORS and Origin", ALL_DOORS),
    22: ("graphql-transport-ws close codes", (GRAPHQL,)),
    23: ("WS frame fuzzing", (WS, GRAPHQL)),
    24: ("nasty filenames", HTTP),
    25: ("hostile strings come back inert", ALL_DOORS),
    26: ("http(s) links only, never fetched", HTTP),
    27: ("client_id resends store one row", ALL_DOORS),
    28: ("SIGTERM and SIGKILL mid-traffic", ("sigterm", "sigkill")),
    29: ("commit order; history equals the live stream", ALL_DOORS),
    30: ("reconnecting after the last id misses nothing", ALL_DOORS),
}


def collected_test_names() -> list[str]:
    names = []
    for path in TESTS.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("test_"):
                    names.append(node.name)
    return names


def test_every_checklist_line_has_a_named_test_on_each_of_its_doors() -> None:
    names = collected_test_names()
    missing = []
    for number, (title, doors) in LINES.items():
        numbered = [n for n in names if n.startswith(f"test_{number:02d}_")]
        if not numbered:
            missing.append(f"{number:02d} {title}: no test")
        for door in doors:
            word = re.compile(rf"(^|_){door}(_|$)")
            if not any(word.search(n) for n in numbered):
                missing.append(f"{number:02d} {title}: nothing on {door}")
    assert missing == []


def test_the_table_follows_the_checklist() -> None:
    assert sorted(LINES) == list(range(1, 31))
    if CHECKLIST.exists():
        text = CHECKLIST.read_text(encoding="utf-8")
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]
        assert numbers == sorted(LINES)
