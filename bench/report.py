"""Result lines: Comptoir's figure, the baseline's, the ratio, the target, pass/fail."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Line:
    name: str
    unit: str
    comptoir: float
    baseline: float
    baseline_name: str
    # "min" means ratio >= target passes; "max" means ratio <= target passes;
    # "report" lines carry no target.
    kind: str = "report"
    target: float | None = None
    extra_check: str | None = None
    extra_ok: bool | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    # Paired measurements: the median of per-round ratios, which drift on a
    # shared machine cancels better than a ratio of two medians.
    paired_ratio: float | None = None
    # Per-round figures, when the line has rounds: the table prints their
    # min-max beside the median, so noise is visible next to the figure.
    comptoir_runs: list[float] = field(default_factory=list)
    ratio_runs: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        if self.paired_ratio is not None:
            return self.paired_ratio
        if not self.baseline or math.isnan(self.baseline) or math.isnan(self.comptoir):
            return float("nan")
        return self.comptoir / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.kind == "report" or self.target is None:
            return self.extra_ok
        ratio = self.ratio
        if math.isnan(ratio):
            return False
        ok = ratio >= self.target if self.kind == "min" else ratio <= self.target
        return ok and (self.extra_ok is not False)

    def target_text(self) -> str:
        parts = []
        if self.target is not None:
            parts.append(f"{'>=' if self.kind == 'min' else '<='} {self.target:g}x")
        if self.extra_check:
            parts.append(self.extra_check)
        return ", ".join(parts) or "report"


@dataclass
class Skipped:
    name: str
    reason: str


def _num(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _spread(median_text: str, runs: list[float], fmt: Any) -> str:
    if len(runs) < 2:
        return median_text
    return f"{median_text} ({fmt(min(runs))}–{fmt(max(runs))})"


def _ratio(value: float) -> str:
    return f"{value:.2f}x"


def table(lines: list[Line], skipped: list[Skipped]) -> str:
    """Medians, with the min–max over rounds in brackets where there were rounds."""
    header = ["what", "unit", "Comptoir", "baseline", "ratio (min–max)", "target", "result"]
    rows = [header]
    for line in lines:
        verdict = {True: "PASS", False: "FAIL", None: "-"}[line.passed]
        rows.append(
            [
                line.name,
                line.unit,
                _spread(_num(line.comptoir), line.comptoir_runs, _num),
                f"{_num(line.baseline)} ({line.baseline_name})",
                "n/a"
                if math.isnan(line.ratio)
                else _spread(_ratio(line.ratio), line.ratio_runs, _ratio),
                line.target_text(),
                verdict,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for index, row in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(row)) + " |")
        if index == 0:
            out.append("| " + " | ".join("-" * w for w in widths) + " |")
    for skip in skipped:
        out.append(f"skipped: {skip.name}: {skip.reason}")
    return "\n".join(out)


def _clean(value: Any) -> Any:
    """Strict JSON: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(lines: list[Line], skipped: list[Skipped], meta: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"bench-{stamp}.json"
    document = {
        "meta": {**meta, "python": platform.python_version(), "machine": platform.machine()},
        "lines": [{**asdict(line), "ratio": line.ratio, "passed": line.passed} for line in lines],
        "skipped": [asdict(s) for s in skipped],
    }
    path.write_text(json.dumps(_clean(document), indent=2, default=str) + "\n")
    (RESULTS_DIR / "latest.json").write_text(path.read_text())
    return path
