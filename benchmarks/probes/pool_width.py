"""Probe for issue #12: the latent width of the semi-supervised track (the donor's pool).

The benchmark's ``pool`` unit (``benchmarks/run.py``): ``n`` labelled images per class and
1,000 unlabelled train images marked -1, ``DCSAETransformer(random_state=seed,
n_components=d)`` fitted on both (self-training at its default), ``SVC()`` on the labelled
images' features; recipient A_pool is the train split minus donor and pool, B the test split.
One JSON row per (n, seed, width)::

    OMP_NUM_THREADS=1 python benchmarks/probes/pool_width.py 10 0,1 16

Results: ``benchmarks/results/probes/net_width.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, pool_split

from skdcsae import DCSAETransformer


def main(n: int, seeds: list[int], widths: list[int]) -> None:
    X_train, y_train, X_test, y_test = load_dataset("balanced")
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        pool, rest = pool_split(y_train, donor, seed)
        X = np.concatenate([X_train[donor], X_train[pool]])
        y = np.concatenate([y_train[donor], np.full(len(pool), -1, dtype=y_train.dtype)])
        sets = {"A_pool": (X_train[rest], y_train[rest]), "B": (X_test, y_test)}
        for width in widths:
            t0 = time.perf_counter()
            est = DCSAETransformer(n_components=width, device="cpu", random_state=seed).fit(X, y)
            svc = SVC().fit(est.transform(X_train[donor]), y_train[donor])
            row = {
                "n": n,
                "seed": seed,
                "width": width,
                "fit_s": round(time.perf_counter() - t0, 1),
            }
            for name, (Xr, yr) in sets.items():
                row[name] = accuracy_score(yr, svc.predict(est.transform(Xr)))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")],
         [int(w) for w in sys.argv[3].split(",")])  # fmt: skip
