"""Probe for issue #12: the latent width on a second data set, sklearn's digits (8x8, offline).

A guard against a rule that only helps PneumoniaMNIST. For each task (all 10 classes, and the
hard pairs 3 vs 8 and 4 vs 9), ``n`` donor images per class are drawn with
``default_rng(seed)``; the recipient is every other image of the task's classes. It fits
``DCSAETransformer(random_state=seed, n_components=d)`` + ``SVC()`` for each width and prints
one JSON row per (task, n, seed, width)::

    OMP_NUM_THREADS=1 python benchmarks/probes/digits_width.py 80 0,1,2,3 8,16

A fourth argument names another estimator parameter to vary in place of ``n_components``
(its values are read as numbers), e.g. ``… 20 0,1,2,3 10,122.5 alpha``; the row's ``width``
field then holds that parameter's value, and ``param`` its name.

Rows: ``benchmarks/results/probes/digits_width.jsonl`` (read in ``weight_averaging.md`` and
``image_size.md``).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

from skdcsae import DCSAETransformer

TASKS = {"10class": tuple(range(10)), "3v8": (3, 8), "4v9": (4, 9)}


def main(n: int, seeds: list[int], widths: list, param: str = "n_components") -> None:
    X_all, y_all = load_digits(return_X_y=True)
    for task, classes in TASKS.items():
        keep = np.isin(y_all, classes)
        X, y = X_all[keep].reshape(-1, 8, 8), np.searchsorted(classes, y_all[keep])
        for seed in seeds:
            rng = np.random.default_rng(seed)
            donor = np.sort(np.concatenate(
                [rng.choice(np.flatnonzero(y == c), n, replace=False) for c in np.unique(y)]
            ))  # fmt: skip
            rest = np.setdiff1d(np.arange(len(y)), donor)
            for width in widths:
                t0 = time.perf_counter()
                est = DCSAETransformer(random_state=seed, device="cpu", **{param: width})
                svc = SVC().fit(est.fit_transform(X[donor], y[donor]), y[donor])
                accuracy = accuracy_score(y[rest], svc.predict(est.transform(X[rest])))
                row = {"task": task, "n": n, "seed": seed, "width": width,
                       "fit_s": round(time.perf_counter() - t0, 1), "accuracy": accuracy}  # fmt: skip
                if param != "n_components":
                    row["param"] = param
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    param = sys.argv[4] if len(sys.argv) > 4 else "n_components"
    cast = int if param == "n_components" else float
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")],
         [cast(w) for w in sys.argv[3].split(",")], param)  # fmt: skip
