"""Run ``bench.search`` on SQLite and PostgreSQL and make the table's lines.

The target (issue 15): a search over 1M messages answers in p50 <= 50 ms
on each database. The line's figure is the p50 over the ``word``, ``two``
and ``filtered`` queries together (``bench.search`` says what they are);
the ``common`` word, the worst case, gets a line of its own, reported.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import log, module_output, percentile
from bench.report import Line

TARGET_MS = 50.0
TYPICAL = ("word", "two", "filtered")


async def run_search(url: str, rows: int, samples: int, within: float) -> dict[str, Any]:
    args = (url, "--rows", str(rows), "--samples", str(samples))
    out, status = await module_output("bench.search", *args, within=within)
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"bench.search printed no result ({status})")


def search_lines(backend: str, result: dict[str, Any]) -> list[Line]:
    latencies: dict[str, list[float]] = result["latencies"]
    typical = [x for kind in TYPICAL for x in latencies[kind]]
    p50 = percentile(typical, 50)
    rows = result["rows"]
    size = f"{rows / 1_000_000:g}M" if rows >= 1_000_000 else f"{rows // 1000}k"
    notes = {
        f"{kind}_{p}": round(percentile(latencies[kind], p), 2)
        for kind in latencies
        for p in (50, 90, 99)
    }
    notes.update({k: result[k] for k in ("rows", "dms", "load_seconds", "index_seconds")})
    log(f"  search on {backend}, {size} msgs: p50 {p50:.2f} ms (target <= {TARGET_MS:g} ms)")
    common = percentile(latencies["common"], 50)
    log(f"  common word on {backend}: p50 {common:.2f} ms")
    return [
        Line(
            f"search over {size} msgs, {backend} (word, 2 words or phrase, filtered)",
            "ms p50",
            p50,
            float("nan"),
            "none",
            extra_check=f"p50 <= {TARGET_MS:g} ms",
            extra_ok=p50 <= TARGET_MS,
            notes=notes,
        ),
        Line(
            f"search over {size} msgs, {backend}: a word in 10-50% of msgs",
            "ms p50",
            common,
            float("nan"),
            "none",
            notes={"p90": notes["common_90"], "p99": notes["common_99"]},
        ),
    ]
