"""Drive two ``bench.history`` processes (10k and 1M rows) in alternation."""

from __future__ import annotations

import asyncio
import json
import sys
from statistics import median
from typing import Any

from bench.common import ROOT, log, percentile
from bench.report import Line


class HistoryProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str, rows: int) -> HistoryProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.history",
            url,
            "--rows",
            str(rows),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        return cls(proc)

    async def line(self, prefix: str, within: float) -> Any:
        assert self.proc.stdout is not None
        async with asyncio.timeout(within):
            while raw := await self.proc.stdout.readline():
                text = raw.decode()
                if text.startswith(prefix + " "):
                    return json.loads(text[len(prefix) + 1 :])
        raise RuntimeError(f"bench.history ended before {prefix}")

    async def run(self, samples: int) -> dict[str, list[float]]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"go {samples}\n".encode())
        await self.proc.stdin.drain()
        result: dict[str, list[float]] = await self.line("RESULT", 120)
        return result

    async def stop(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def history_lines(
    backend: str,
    small_url: str,
    large_url: str,
    small: int,
    large: int,
    rounds: int,
    samples: int,
) -> list[Line]:
    log(f"history on {backend}: loading {small:,} and {large:,} messages")
    procs = [await HistoryProcess.start(small_url, small)]
    try:
        procs.append(await HistoryProcess.start(large_url, large))
        ready = [await p.line("READY", 300) for p in procs]
        per: dict[str, dict[str, list[list[float]]]] = {
            k: {"small": [], "large": []} for k in ("room", "dm", "rich")
        }
        for _ in range(rounds):
            for size, proc in zip(("small", "large"), procs, strict=True):
                got = await proc.run(samples)
                for kind in ("room", "dm", "rich"):
                    per[kind][size].append(got[kind])
    finally:
        for proc in procs:
            await proc.stop()
    lines = []
    for kind, label in (
        ("room", "room"),
        ("dm", "DM pair"),
        ("rich", "room with reactions, replies, attachments"),
    ):
        small_rounds, large_rounds = per[kind]["small"], per[kind]["large"]
        flat_small = [x for r in small_rounds for x in r]
        flat_large = [x for r in large_rounds for x in r]
        ratios = [
            percentile(b, 50) / percentile(a, 50)
            for a, b in zip(small_rounds, large_rounds, strict=True)
        ]
        lines.append(
            Line(
                f"last 50 of a {label}, {backend}, {large // 1000}k vs {small // 1000}k msgs",
                "ms p50",
                percentile(flat_large, 50),
                percentile(flat_small, 50),
                f"same at {small // 1000}k",
                "max",
                1.5,
                notes={
                    "p99_large": percentile(flat_large, 99),
                    "p99_small": percentile(flat_small, 99),
                    "round_ratios": [round(r, 3) for r in ratios],
                    "load_seconds": [r["load_seconds"] for r in ready],
                },
                paired_ratio=median(ratios),
            )
        )
        log(f"  {label}: {percentile(flat_large, 50):.2f} vs {percentile(flat_small, 50):.2f} ms")
    return lines
