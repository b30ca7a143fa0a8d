"""The README's fenced examples, as the tests that run them read them.

A fenced block opens with a line of three backticks and a language
(indented blocks in lists count too) and closes with three backticks at the
same indentation. GraphQL blocks hold one operation per line, or an
operation that spans lines until its braces balance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # 1-based line of the first line of text inside the fence
    text: str


def blocks(lang: str | None = None, path: Path = README) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent = len(opening["indent"])
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][indent:])
            index += 1
        if lang is None or opening["lang"] == lang:
            found.append(Block(opening["lang"], index - len(body) + 1, "\n".join(body)))
        index += 1
    return found


def graphql_operations(path: Path = README) -> list[tuple[int, str]]:
    """(README line, operation) of every GraphQL operation in ```graphql blocks."""
    operations: list[tuple[int, str]] = []
    for block in blocks("graphql", path):
        current: list[str] = []
        start = block.line
        for offset, line in enumerate(block.text.splitlines()):
            if not current:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                start = block.line + offset
            current.append(line)
            text = "\n".join(current)
            if text.count("{") and text.count("{") == text.count("}"):
                operations.append((start, text))
                current = []
        assert not current, f"README.md:{start}: unbalanced braces in a graphql block"
    return operations


def operation(prefix: str, path: Path = README) -> str:
    """The README's one operation that starts with ``prefix``."""
    matches = [text for _, text in graphql_operations(path) if text.startswith(prefix)]
    assert len(matches) >= 1, f"no README GraphQL operation starts with {prefix!r}"
    return matches[0]
