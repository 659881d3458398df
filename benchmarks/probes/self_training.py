"""Probe: does self-training on the donor's unlabelled pool help the DC-SAE? (issue #12)

The semi-supervised split of ``probe.py`` (n labelled images per class, ``pool`` unlabelled
train images drawn with ``default_rng([seed, 1])``, recipient A = the rest of the train split,
B = the test split). For each seed:

- ``supervised``: ``DCSAETransformer(random_state=seed)`` on the labelled images, ``SVC()``;
- ``self_training@t``: the same fit pseudo-labels the pool with a calibrated SVC (the
  recipient's default classifier), keeps the pool images whose probability is at least ``t``,
  and a second ``DCSAETransformer(random_state=seed)`` is trained on labelled + kept pool images;
  the SVC learns from the labelled images only (``svc=labelled``) or from both (``svc=all``);
- ``pool_pca``: PCA(0.95) fitted on pool + labelled, SVC on the labelled.

One JSON line per (seed, method, recipient) in ``--out``; resumable.

::

    OMP_NUM_THREADS=1 python benchmarks/probes/self_training.py --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run  # noqa: E402


def semi_split(y_train, donor, pool_size, seed):
    """``probe.py``'s split: the pool from the rest of the train split, and what is left."""
    rng = np.random.default_rng([seed, 1])
    rest = np.setdiff1d(np.arange(len(y_train)), donor)
    pool = np.sort(rng.choice(rest, pool_size, replace=False))
    return pool, np.setdiff1d(rest, pool)


def job(n, seed, pool_size, thresholds, balanced=(), library_only=False):
    import torch
    from sklearn.decomposition import PCA
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer
    from skdcsae.recipient._calibration import default_classifier

    torch.set_num_threads(1)
    X_train, y_train, X_test, y_test = run.load_dataset("balanced")
    donor = run.donor_indices(y_train, n, seed)
    pool, rest_a = semi_split(y_train, donor, pool_size, seed)
    Xd, yd, Xu, yu = X_train[donor], y_train[donor], X_train[pool], y_train[pool]
    recipients = {"A": (X_train[rest_a], y_train[rest_a]), "B": (X_test, y_test)}
    rows = []

    def score(method, predict, extra=None):
        for r, (Xr, yr) in recipients.items():
            y_pred, y_score = predict(Xr)
            rows.append({"n": n, "seed": seed, "pool": pool_size, "method": method,
                         "recipient": r, **run.scores(yr, y_pred, y_score), **(extra or {})})  # fmt: skip

    flat = lambda X: X.reshape(len(X), -1).astype(np.float64)  # noqa: E731
    pca = PCA(n_components=0.95, random_state=seed).fit(np.concatenate([flat(Xu), flat(Xd)]))
    svc = SVC().fit(pca.transform(flat(Xd)), yd)
    score(
        "pool_pca", lambda X: (svc.predict(F := pca.transform(flat(X))), svc.decision_function(F))
    )

    if library_only:  # the library's own semi-supervised fit, at its defaults
        t0 = time.perf_counter()
        X_all = np.concatenate([Xd, Xu])
        y_all = np.concatenate([yd, -np.ones(len(Xu), dtype=yd.dtype)])
        est = DCSAETransformer(device="cpu", random_state=seed).fit(X_all, y_all)
        svc = SVC().fit(est.transform(Xd), yd)
        info = {"kept": est.n_pseudo_labelled_, "fit_s": round(time.perf_counter() - t0, 1)}
        score("library: fit(X, y with -1), svc=labelled",
              lambda X: (svc.predict(F := est.transform(X)), svc.decision_function(F)), info)  # fmt: skip
        return [r for r in rows if r["method"].startswith("library")]
    t0 = time.perf_counter()
    est = DCSAETransformer(device="cpu", random_state=seed).fit(Xd, yd)
    fit_s = time.perf_counter() - t0
    svc = SVC().fit(est.transform(Xd), yd)
    score("supervised", lambda X: (svc.predict(F := est.transform(X)), svc.decision_function(F)),
          {"fit_s": round(fit_s, 1)})  # fmt: skip
    calibrated = default_classifier(yd).fit(est.transform(Xd), yd)
    proba = calibrated.predict_proba(est.transform(Xu))
    pseudo = calibrated.classes_[proba.argmax(axis=1)]
    variants = [(t, False) for t in thresholds] + [(t, True) for t in balanced]
    for t, bal in variants:
        keep = proba.max(axis=1) >= t
        if bal:  # the same number of rows per pseudo-class: the most confident of each
            counts = [int(np.sum(keep & (pseudo == c))) for c in calibrated.classes_]
            k = min(counts)
            keep = np.zeros(len(Xu), dtype=bool)
            for c in calibrated.classes_:
                idx = np.flatnonzero(pseudo == c)
                keep[idx[np.argsort(-proba[idx].max(axis=1), kind="stable")[:k]]] = True
        info = {
            "kept": int(keep.sum()),
            "pseudo_accuracy": float(np.mean(pseudo[keep] == yu[keep])),
            "kept_per_class": [int(np.sum(pseudo[keep] == c)) for c in calibrated.classes_],
        }
        X2 = np.concatenate([Xd, Xu[keep]])
        y2 = np.concatenate([yd, pseudo[keep]])
        t0 = time.perf_counter()
        est2 = DCSAETransformer(device="cpu", random_state=seed).fit(X2, y2)
        info["fit_s"] = round(time.perf_counter() - t0, 1)
        for which, (Xs, ys) in {"labelled": (Xd, yd), "all": (X2, y2)}.items():
            svc2 = SVC().fit(est2.transform(Xs), ys)
            score(f"self_training@{t}{', balanced' if bal else ''}, svc={which}",
                  lambda X, s=svc2, e=est2: (s.predict(F := e.transform(X)), s.decision_function(F)),
                  info)  # fmt: skip
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--pool", type=int, default=1000)
    p.add_argument("--thresholds", type=float, nargs="*", default=[0.9])
    p.add_argument(
        "--balanced", type=float, nargs="*", default=[], help="class-balanced thresholds"
    )
    p.add_argument("--library", action="store_true", help="only DCSAETransformer's own -1 fit")
    p.add_argument("--out", type=Path, default=HERE.parent / "results/probes/self_training.jsonl")
    a = p.parse_args()
    rows = run.read_rows(a.out) if a.out.exists() else []

    def wanted(method):
        if a.library:
            return method.startswith("library")
        return not a.balanced or "balanced" in method

    done = {(r["n"], r["seed"], r["pool"]) for r in rows if wanted(r["method"])}
    for seed in a.seeds:
        if (a.n, seed, a.pool) in done:
            continue
        rows = job(a.n, seed, a.pool, a.thresholds, a.balanced, a.library)
        run.append_rows(a.out, rows)
        for r in rows:
            print(seed, r["method"], r["recipient"], round(r["accuracy"], 3), r.get("kept", ""),
                  round(r.get("pseudo_accuracy", 0), 3), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
