"""Probe for issue #12: do a wider latent or more optimiser steps help the DC-SAE defaults?

Fits ``DCSAETransformer(random_state=seed, **config)`` + ``SVC()`` on ``n`` balanced
PneumoniaMNIST images per class (the benchmark's donor draw), scores recipient A (rest of the
train split) and B (test split), and prints one JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/latent_width.py 180 0,1,2,3 defaults,d16

Results: ``benchmarks/results/probes/latent_width.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, recipient_sets

from skdcsae import DCSAETransformer

CONFIGS = {
    "defaults": {},
    "steps3000": {"min_steps": 3000},
    "d16": {"n_components": 16},
    "d32": {"n_components": 32},
}


def main(n: int, seeds: list[int], names: list[str]) -> None:
    X_train, y_train, X_test, y_test = load_dataset("balanced")
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets("balanced", X_train, y_train, X_test, y_test, donor)
        for name in names:
            t0 = time.perf_counter()
            est = DCSAETransformer(random_state=seed, device="cpu", **CONFIGS[name])
            svc = SVC().fit(est.fit_transform(X_train[donor], y_train[donor]), y_train[donor])
            row = {"config": name, "n": n, "seed": seed, "fit_s": time.perf_counter() - t0}
            for recipient, (X, y) in sets.items():
                row[recipient] = accuracy_score(y, svc.predict(est.transform(X)))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3].split(","))
