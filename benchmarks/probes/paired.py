"""Paired table of probe rows against the benchmark's ``DC-SAE (defaults)`` rows.

Reads the JSON rows a probe printed (``config``, ``n``, ``seed``, ``A``, ``B``), pairs each
with the ``DC-SAE (defaults)`` row of ``benchmarks/results/accuracy.jsonl`` for the same size,
seed and recipient (balanced file, same donor draw), and prints a Markdown table: mean ± SEM
over the seeds, then the mean difference in points and each seed's::

    python benchmarks/probes/paired.py benchmarks/results/probes/loss_weights.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ACCURACY = Path(__file__).resolve().parents[1] / "results" / "accuracy.jsonl"
RECIPIENTS = ("A", "B")


def _baseline() -> dict[tuple[int, int, str], float]:
    rows = (json.loads(line) for line in ACCURACY.read_text().splitlines() if line.strip())
    return {
        (r["n"], r["seed"], r["recipient"]): r["accuracy"]
        for r in rows
        if r["dataset"] == "balanced" and r["method"] == "DC-SAE (defaults)"
    }


def _cell(values: list[float]) -> str:
    sem = np.std(values, ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {sem:.3f}"


def _paired(diffs: list[float]) -> str:
    seeds = ", ".join(f"{100 * d:+.1f}" for d in diffs)
    return f"{100 * np.mean(diffs):+.1f} ({seeds})".replace("-", "\N{MINUS SIGN}")


def table(paths: list[str]) -> str:
    baseline = _baseline()
    by_size = defaultdict(lambda: defaultdict(list))  # n -> config -> rows
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                by_size[row["n"]][row["config"]].append(row)
    lines = [
        "| config | n | A | paired A | B | paired B |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n, configs in sorted(by_size.items()):
        seeds = sorted({r["seed"] for rows in configs.values() for r in rows})
        base = [_cell([baseline[(n, s, rec)] for s in seeds]) for rec in RECIPIENTS]
        lines.append(f"| defaults | {n} | {base[0]} | | {base[1]} | |")
        for config, rows in sorted(configs.items()):
            rows = sorted(rows, key=lambda r: r["seed"])
            cells = []
            for rec in RECIPIENTS:
                diffs = [r[rec] - baseline[(n, r["seed"], rec)] for r in rows]
                cells += [_cell([r[rec] for r in rows]), _paired(diffs)]
            lines.append(f"| {config} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1:]))
