"""Probe for issue #12: do the heads' variances add to their means as recipient features?

The KL term pulls every wrong head towards N(0, I), so a head's posterior variance (and its
KL from the prior) says whether the image belongs to that head's class. This probe fits
``DCSAETransformer(random_state=seed, **params)`` once per (n, seed) on balanced
PneumoniaMNIST (the benchmark's donor draw) and scores ``SVC()`` on four feature sets of the
same encoder: the means of all heads (the library's ``"means"``), the means plus the
log-variances, the means plus each head's ``log(1 + KL)``, and the means plus the standard
deviations. One JSON row per (feature set, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/head_statistics.py 180 0,1,2,3 '{}'

Results: ``benchmarks/results/probes/head_statistics.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

from skdcsae import DCSAETransformer


def feature_sets(est: DCSAETransformer, X: np.ndarray) -> dict[str, np.ndarray]:
    """The four candidate feature sets of images ``X`` under a fitted transformer."""
    mus, logvars = est._encode(est._validate_transform_input(X)[0])
    n = len(mus)
    means = mus.reshape(n, -1)
    kl = 0.5 * (np.exp(logvars) + mus**2 - 1 - logvars).sum(-1)
    return {
        "means": means,
        "means_logvars": np.hstack([means, logvars.reshape(n, -1)]),
        "means_kl": np.hstack([means, np.log1p(kl)]),
        "means_sd": np.hstack([means, np.exp(0.5 * logvars).reshape(n, -1)]),
    }


def main(n: int, seeds: list[int], params: dict) -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        t0 = time.perf_counter()
        est = DCSAETransformer(random_state=seed, device="cpu", **params)
        est.fit(X_donor, y_donor)
        fit_s = round(time.perf_counter() - t0, 1)
        donor_sets = feature_sets(est, X_donor)
        recipient = {name: feature_sets(est, X) for name, (X, _) in sets.items()}
        for mode, F in donor_sets.items():
            svc = SVC().fit(F, y_donor)
            row = {"mode": mode, "params": params, "n": n, "seed": seed, "fit_s": fit_s}
            for name, (_, y) in sets.items():
                G = recipient[name][mode]
                row[name] = round(accuracy_score(y, svc.predict(G)), 4)
                row[name + "_auc"] = round(roc_auc_score(y, svc.decision_function(G)), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], json.loads(sys.argv[3]))
