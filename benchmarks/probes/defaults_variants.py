"""Probes for issue #12: one change at a time from the DC-SAE defaults.

Fits ``DCSAETransformer(random_state=seed, **params)`` + ``SVC()`` on ``n`` balanced
PneumoniaMNIST images per class (the benchmark's donor draw). It scores recipient A (the rest
of the train split) and recipient B (the test split), and prints one JSON row per
(config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/defaults_variants.py 180 0,1,2,3 defaults,d16

A config changes estimator parameters, or applies an image-by-image intensity step to the
donor's and the recipient's images alike. Results: ``benchmarks/results/probes/latent_width.md``,
``per_image_intensity.md``, ``net_width.md`` and (``alpha*``, ``beta*``, ``lr*``)
``loss_weights.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

from skdcsae import DCSAETransformer


def stretch(X: np.ndarray) -> np.ndarray:
    """Each image's own [min, max] mapped to [0, 255]."""
    X = X.astype(np.float32)
    low, high = X.min(axis=(1, 2), keepdims=True), X.max(axis=(1, 2), keepdims=True)
    return 255 * (X - low) / np.maximum(high - low, 1)


def zscore(X: np.ndarray) -> np.ndarray:
    """Each image standardised by its own mean and standard deviation."""
    X = X.astype(np.float32)
    mean, std = X.mean(axis=(1, 2), keepdims=True), X.std(axis=(1, 2), keepdims=True)
    return (X - mean) / np.maximum(std, 1e-3)


def _unchanged(X: np.ndarray) -> np.ndarray:
    return X


#: name -> (estimator parameters, per-image step)
CONFIGS = {
    "defaults": ({}, _unchanged),
    "steps3000": ({"min_steps": 3000}, _unchanged),
    "d16": ({"n_components": 16}, _unchanged),
    "alpha3": ({"alpha": 3.0}, _unchanged),
    "alpha30": ({"alpha": 30.0}, _unchanged),
    "beta3": ({"beta": 3.0}, _unchanged),
    "beta30": ({"beta": 30.0}, _unchanged),
    "lr3e-4": ({"lr": 3e-4}, _unchanged),
    "lr3e-3": ({"lr": 3e-3}, _unchanged),
    "d32": ({"n_components": 32}, _unchanged),
    "wide": ({"conv_channels": (64, 32), "dense_sizes": (512,)}, _unchanged),
    "stretch": ({}, stretch),
    "zscore": ({}, zscore),
}


def main(n: int, seeds: list[int], names: list[str]) -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        for name in names:
            params, prepare = CONFIGS[name]
            t0 = time.perf_counter()
            est = DCSAETransformer(random_state=seed, device="cpu", **params)
            features = est.fit_transform(prepare(X_donor), y_donor)
            svc = SVC().fit(features, y_donor)
            row = {"config": name, "n": n, "seed": seed, "fit_s": time.perf_counter() - t0}
            for recipient, (X, y) in sets.items():
                row[recipient] = accuracy_score(y, svc.predict(est.transform(prepare(X))))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3].split(","))
