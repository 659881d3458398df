"""Sanity probes on sklearn's ``load_digits`` (8x8, offline): a guard against choices that only
help PneumoniaMNIST (resumable; one JSON line per (config, task, n, seed)).

Tasks: three hard binary pairs (3 vs 8, 4 vs 9, 1 vs 7) and all 10 classes. Donor: ``n`` images
per class drawn with ``default_rng(seed)``; recipient: every other image of the task's classes.
Scores: accuracy of member 0 (``single``), of the K members' averaged SVC decisions (``ens``),
with raw features (``svc``) and standardised (``std_svc``), and TTA for augmented configs;
pixels PCA(0.95) + SVC on the same split.

Example::

    OMP_NUM_THREADS=1 PYTHONPATH=/work/wt-acc /work/main/.venv/bin/python \
        benchmarks/probes/digits.py --configs base aug --sizes 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import RESULTS, append_rows, read_rows, stamp, train_members
from probe import full_config

TASKS = {"3v8": (3, 8), "4v9": (4, 9), "1v7": (1, 7), "10class": tuple(range(10))}


def accuracy_of(dec, y):
    pred = (dec > 0).astype(int) if dec.ndim == 1 else dec.argmax(1)
    return float((pred == y).mean())


def run_job(name, task, n, seed):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    cfg = full_config(name)
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, TASKS[task])
    X, y = X[keep].reshape(-1, 8, 8), np.searchsorted(TASKS[task], y[keep])
    rng = np.random.default_rng(seed)
    donor = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c in np.unique(y)])
    )
    rest = np.setdiff1d(np.arange(len(y)), donor)
    Xd, yd, Xr, yr = X[donor], y[donor], X[rest], y[rest]
    t0 = time.perf_counter()
    members, secs = train_members(Xd, yd, len(TASKS[task]), cfg, seed)
    makers = {
        "svc": lambda: SVC(decision_function_shape="ovr"),
        "std_svc": lambda: make_pipeline(StandardScaler(), SVC(decision_function_shape="ovr")),
    }
    res = {}
    views = [(0, "")] + ([(cfg["tta"], "_tta")] if cfg["tta"] else [])
    for nv, suffix in views:
        Fd = [m.features(Xd) for m in members]
        Fr = [m.features(Xr, cfg["aug"], nv, seed + 7) for m in members]
        for v, make in makers.items():
            decs = np.stack([make().fit(F, yd).decision_function(G) for F, G in zip(Fd, Fr)])
            res[v + suffix] = {
                "single": accuracy_of(decs[0], yr),
                "member_mean": float(np.mean([accuracy_of(d, yr) for d in decs])),
                "ens": accuracy_of(decs.mean(0), yr),
            }
    pca = make_pipeline(PCA(n_components=0.95, random_state=seed), SVC())
    pca.fit(Xd.reshape(len(Xd), -1), yd)
    return {
        "config": name,
        "task": task,
        "n": n,
        "seed": seed,
        "fit_s_member": [round(s, 2) for s in secs],
        "job_s": round(time.perf_counter() - t0, 1),
        "eval": res,
        "pixels_pca": float(pca.score(Xr.reshape(len(Xr), -1), yr)),
        **stamp(),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--sizes", nargs="+", type=int, default=[10])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    p.add_argument("--results", default=str(RESULTS / "digits.jsonl"))
    a = p.parse_args()
    done = {(r["config"], r["task"], r["n"], r["seed"]) for r in read_rows(a.results)}
    for seed in a.seeds:
        for n in a.sizes:
            for task in a.tasks:
                for name in a.configs:
                    if (name, task, n, seed) in done:
                        continue
                    row = run_job(name, task, n, seed)
                    append_rows(a.results, [row])
                    print(
                        name,
                        task,
                        n,
                        seed,
                        row["fit_s_member"][0],
                        {k: v for k, v in row["eval"].items()},
                        "pca",
                        round(row["pixels_pca"], 3),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
