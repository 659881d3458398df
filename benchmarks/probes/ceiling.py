"""Probe for issue #12: how far can any method go on balanced PneumoniaMNIST?

Fits the DC-SAE defaults, pixels PCA + SVC and the supervised ResNet-18 skyline on donors far
larger than the benchmark's largest (n=180 per class), with the benchmark's donor draw, and
scores recipient A (the rest of the train split) and B (the test split). If no method reaches
0.96 on A with 1,000 labelled images per class, 0.96 at 180 per class measures the data, not
the method. One JSON row per (method, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/ceiling.py 1000 0,1 dcsae,pixels,resnet

A fourth argument ``official`` draws the donor from the official train split and scores the
official (imbalanced) test split instead, as the benchmark's official rows do.

Results: ``benchmarks/results/probes/ceiling.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

from skdcsae import DCSAETransformer, ResNet18Classifier


def model(name: str, seed: int):
    """An unfitted model that takes images ``(n, 28, 28)``."""
    if name == "dcsae":
        return Pipeline(
            [("dcsae", DCSAETransformer(random_state=seed, device="cpu")), ("svc", SVC())]
        )
    if name == "dcsae_d16":
        return Pipeline(
            [
                ("dcsae", DCSAETransformer(n_components=16, random_state=seed, device="cpu")),
                ("svc", SVC()),
            ]
        )
    if name == "resnet":  # the benchmark's skyline settings
        return ResNet18Classifier(
            width=16, batch_size=16, max_epochs=30, device="cpu", random_state=seed
        )
    if name == "pixels":
        flat = _Flatten()
        return make_pipeline(flat, PCA(n_components=0.95, random_state=seed), SVC())
    raise ValueError(f"unknown method {name!r}")


class _Flatten:
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X).reshape(len(X), -1)

    def fit_transform(self, X, y=None):
        return self.transform(X)


def _score(est, X):
    if hasattr(est, "decision_function"):
        return est.decision_function(X)
    return est.predict_proba(X)[:, 1]


def main(n: int, seeds: list[int], names: list[str], dataset: str = "balanced") -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds, dataset):
        for name in names:
            t0 = time.perf_counter()
            est = model(name, seed).fit(X_donor, y_donor)
            row = {
                "method": name,
                "n": n,
                "seed": seed,
                "fit_s": round(time.perf_counter() - t0, 1),
            }
            for recipient, (X, y) in sets.items():
                row[recipient] = round(accuracy_score(y, est.predict(X)), 4)
                row[recipient + "_auc"] = round(roc_auc_score(y, _score(est, X)), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(
        int(sys.argv[1]),
        [int(s) for s in sys.argv[2].split(",")],
        sys.argv[3].split(","),
        *sys.argv[4:5],
    )
