"""Probe for issue #12: how much of the spread over seeds is the donor draw, how much training?

The benchmark's ``seed`` sets two things at once: which ``n`` images per class the donor holds
(``numpy.random.default_rng(seed)``) and the estimator's ``random_state``. This probe takes them
apart. For each draw seed ``d`` it fits ``DCSAETransformer(random_state=t)`` + ``SVC()`` on that
draw for training seeds ``t`` in ``d, 1000 + d, 2000 + d, ...`` (``t = d`` is the benchmark's own
row), on balanced PneumoniaMNIST, and scores recipient A (the rest of the train split) and B
(the test split). Pixels PCA(0.95) + SVC, which has no training randomness, is scored on the
same draw. One JSON row per (n, draw, training seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/seed_spread.py 10 0,1,2,3 4

Results: ``benchmarks/results/probes/seed_spread.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

from skdcsae import DCSAETransformer


def main(n: int, draws: list[int], n_training_seeds: int) -> None:
    for draw, X_donor, y_donor, sets in balanced_draws(n, draws):
        flat = X_donor.reshape(len(X_donor), -1)
        pixels = make_pipeline(PCA(0.95, random_state=draw), SVC()).fit(flat, y_donor)
        row = {"method": "pixels", "n": n, "draw": draw}
        for recipient, (X, y) in sets.items():
            row[recipient] = accuracy_score(y, pixels.predict(X.reshape(len(X), -1)))
        print(json.dumps(row), flush=True)
        for k in range(n_training_seeds):
            t0 = time.perf_counter()
            seed = 1000 * k + draw
            est = DCSAETransformer(random_state=seed, device="cpu")
            svc = SVC().fit(est.fit_transform(X_donor, y_donor), y_donor)
            row = {"method": "dcsae", "n": n, "draw": draw, "random_state": seed}
            row["fit_s"] = time.perf_counter() - t0
            for recipient, (X, y) in sets.items():
                row[recipient] = accuracy_score(y, svc.predict(est.transform(X)))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3]))
