"""Markdown tables (mean +- SEM over seeds) from the probe results files.

Example::

    /work/main/.venv/bin/python benchmarks/probes/report.py > benchmarks/results/probes/tables.md
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from _common import RESULTS, read_rows


def ms(vals):
    v = np.asarray(vals, dtype=float)
    if len(v) == 0:
        return "—"
    sem = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    tag = "" if len(v) >= 4 else f" [{len(v)}]"
    return f"{v.mean():.3f} ± {sem:.3f}{tag}" if len(v) > 1 else f"{v.mean():.3f}{tag}"


def probe_tables(path, metric="accuracy", variants=("svc", "std_svc", "std_svc_tta")):
    rows = read_rows(path)
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r.get("pool", 0))].append(r)
    out = []
    for (dataset, pool), rs in sorted(groups.items()):
        sizes = sorted({r["n"] for r in rs})
        recs = sorted({k.split("|")[1] for r in rs for k in r["eval"]})
        base_t = defaultdict(list)
        for r in rs:
            if r["config"].partition("@")[0] == "base":
                base_t[r["n"]].append(float(np.median(r["fit_s_member"])))
        cols = [(n, rec) for n in sizes for rec in recs]
        out.append(f"\n### {dataset}, pool={pool}, metric={metric}\n")
        out.append(
            "| config | classifier | members | "
            + " | ".join(f"n={n} {rec}" for n, rec in cols)
            + " | fit s/member (n: s, x base) |"
        )
        out.append("|" + " --- |" * (len(cols) + 4))
        configs = sorted({r["config"] for r in rs}, key=lambda c: (c != "base", c))
        for c in configs:
            cr = [r for r in rs if r["config"] == c]
            times = []
            for n in sizes:
                t = [float(np.median(r["fit_s_member"])) for r in cr if r["n"] == n]
                if t:
                    rel = np.mean(t) / np.mean(base_t[n]) if base_t[n] else float("nan")
                    times.append(f"{n}: {np.mean(t):.1f}s x{rel:.2f}")
            for v in variants:
                for agg in ("single", "member_mean", "ens", "cat"):
                    cells = []
                    any_val = False
                    for n, rec in cols:
                        vals = [
                            r["eval"][f"{v}|{rec}"][agg][metric]
                            for r in cr
                            if r["n"] == n
                            and f"{v}|{rec}" in r["eval"]
                            and agg in r["eval"][f"{v}|{rec}"]
                        ]
                        any_val |= bool(vals)
                        cells.append(ms(vals))
                    if any_val:
                        k = cr[0]["cfg"]["K"]
                        out.append(
                            f"| {c} | {v} | {'1 (member 0)' if agg == 'single' else f'{k} ({agg})'}"
                            f" | " + " | ".join(cells) + f" | {'; '.join(times)} |"
                        )
        for base_name in ("pixels_pca", "pool_pca"):
            cells, any_val = [], False
            for n, rec in cols:
                seen = {}
                for r in rs:
                    if r["n"] == n and base_name in r and rec in r[base_name]:
                        seen[r["seed"]] = r[base_name][rec][metric]
                any_val |= bool(seen)
                cells.append(ms(list(seen.values())))
            if any_val:
                out.append(f"| {base_name} | SVC | — | " + " | ".join(cells) + " | — |")
    return "\n".join(out)


def digits_tables(path):
    rows = read_rows(path)
    if not rows:
        return ""
    tasks = sorted({r["task"] for r in rows})
    sizes = sorted({r["n"] for r in rows})
    out = ["\n### load_digits sanity (accuracy, recipient = the task's other images)\n"]
    cols = [(n, t) for n in sizes for t in tasks]
    out.append(
        "| config | classifier | members | " + " | ".join(f"n={n} {t}" for n, t in cols) + " |"
    )
    out.append("|" + " --- |" * (len(cols) + 3))
    for c in sorted({r["config"] for r in rows}, key=lambda c: (c != "base", c)):
        cr = [r for r in rows if r["config"] == c]
        for v in ("svc", "std_svc", "std_svc_tta"):
            for agg in ("single", "member_mean", "ens"):
                cells, any_val = [], False
                for n, t in cols:
                    vals = [
                        r["eval"][v][agg]
                        for r in cr
                        if r["n"] == n and r["task"] == t and v in r["eval"]
                    ]
                    any_val |= bool(vals)
                    cells.append(ms(vals))
                if any_val:
                    out.append(
                        f"| {c} | {v} | {'1 (member 0)' if agg == 'single' else f'K ({agg})'} | "
                        + " | ".join(cells)
                        + " |"
                    )
    cells = []
    for n, t in cols:
        seen = {r["seed"]: r["pixels_pca"] for r in rows if r["n"] == n and r["task"] == t}
        cells.append(ms(list(seen.values())))
    out.append("| pixels_pca | SVC | — | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--metric", default="accuracy")
    a = p.parse_args()
    for f in sorted(RESULTS.glob("*.jsonl")):
        if f.name.startswith("digits"):
            print(digits_tables(f))
        else:
            print(f"\n## {f.name}")
            print(probe_tables(f, a.metric))


if __name__ == "__main__":
    main()
