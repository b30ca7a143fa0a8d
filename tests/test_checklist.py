"""Every line of the security checklist is covered on every door it applies to.

Domain tests say what they cover with ``@pytest.mark.checklist(n, door, ...)``
(doors: ``rest``, ``graphql``, ``ws``; ``sigterm``/``sigkill`` for line 28).
This report reads those marks from the test modules' source (``ast``), so it
gives the same answer whichever subset of the suite runs, and keeps no copy
of any test: a line, or a door of a line, that no marked test covers fails here.

The checklist is ``../shared/security-checklist.md`` beside the checkout;
when it is there, its numbered lines must be the ones listed below.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.once

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


Mark = tuple[str, int, tuple[str, ...]]  # where, line, doors


def _is_checklist_mark(node: ast.expr) -> bool:
    """``pytest.mark.checklist(...)`` (the call, not its arguments)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "checklist"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def _marks_in(node: ast.expr) -> list[ast.Call]:
    if isinstance(node, ast.List | ast.Tuple):
        return [call for element in node.elts for call in _marks_in(element)]
    return [node] if _is_checklist_mark(node) and isinstance(node, ast.Call) else []


@functools.cache
def checklist_marks() -> list[Mark]:
    """Every ``checklist`` mark on a test function, class or module, as written."""
    found: list[Mark] = []
    for path in sorted([*TESTS.glob("test_*.py"), *TESTS.glob("*/test_*.py")]):
        source = path.read_text(encoding="utf-8")
        if "checklist" not in source:
            continue
        tree = ast.parse(source)
        for node in ast.walk(tree):
            calls: list[ast.Call] = []
            where = path.relative_to(TESTS).as_posix()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                calls = [c for d in node.decorator_list for c in _marks_in(d)]
                where += "::" + node.name
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                calls = _marks_in(node.value)
            for call in calls:
                args = [ast.literal_eval(a) for a in call.args]
                found.append((where, args[0] if args else -1, tuple(args[1:])))
    return found


def test_every_checklist_mark_names_a_line_and_known_doors() -> None:
    doors = {door for _, ds in LINES.values() for door in ds}
    wrong = [
        mark
        for mark in checklist_marks()
        if mark[1] not in LINES or not mark[2] or not set(mark[2]) <= doors
    ]
    assert wrong == []


def test_every_checklist_line_has_a_marked_test_on_each_of_its_doors() -> None:
    covered = {(line, door) for _, line, doors in checklist_marks() for door in doors}
    missing = [
        f"{number:02d} {title}: nothing on {door}"
        for number, (title, doors) in LINES.items()
        for door in doors
        if (number, door) not in covered
    ]
    assert missing == []


def test_the_table_follows_the_checklist() -> None:
    assert sorted(LINES) == list(range(1, 31))
    if CHECKLIST.exists():
        text = CHECKLIST.read_text(encoding="utf-8")
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]
        assert numbers == sorted(LINES)
