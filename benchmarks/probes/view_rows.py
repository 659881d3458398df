"""Probe for issue #12: augmented views of the donor's images as extra rows for the SVC.

The encoder is trained as usual (``DCSAETransformer(random_state=seed)``). The SVC then
learns from the donor's plain features *and* the features of ``V - 1`` augmented views of
every donor image (the training augmentation: the library's random affine and gamma), each
row labelled as its image. The recipient's images are encoded once, as usual. Unlike
``view_averaging.py``, which averaged views into one row per image, this enlarges the SVC's
training set, so the decision boundary sees how each class's features vary under the jitter.
Only a donor kit could do this (a Pipeline's transformer must return one row per image): the
feature table would carry the view rows. Cost: ``V`` forward passes per donor image, nothing
at the recipient.

Each fit is scored twice, plain (the baseline, identical to the benchmark's
``DC-SAE (defaults)`` rows) and with view rows, on balanced PneumoniaMNIST with the
benchmark's donor draw; A is the rest of the train split, B the test split::

    OMP_NUM_THREADS=1 python benchmarks/probes/view_rows.py 10 0,1,2,3 4,8

prints one JSON row per (config, n, seed), configs ``rows<V>``. Views are drawn from a
generator seeded by the fit's seed and the view's index. ``view_rows.py boundary N SEEDS
VIEWS`` also prints, per recipient, the share of images labelled positive (``<recipient>_pos``)
and each class's recall (``<recipient>_recall0``, ``_recall1``). Results:
``benchmarks/results/probes/view_rows.md`` (``paired.py`` prints the table).
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
from view_averaging import encode_view

from skdcsae import DCSAETransformer


class _ViewEncoder(DCSAETransformer):
    """``transform`` encodes augmented view ``view_`` of each image (0: the plain image)."""

    view_ = 0

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return super()._encode(X) if self.view_ == 0 else encode_view(self, X, self.view_)


def main(n: int, seeds: list[int], views: list[int], detail: bool = False) -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        t0 = time.perf_counter()
        est = _ViewEncoder(random_state=seed, device="cpu")
        plain = est.fit_transform(X_donor, y_donor)
        fit_s = time.perf_counter() - t0
        recipients = {name: (est.transform(X), y) for name, (X, y) in sets.items()}
        rows = [plain]
        for view in range(1, max(views)):
            est.view_ = view
            rows.append(est.transform(X_donor))
        est.view_ = 0
        for V in [1, *views]:
            svc = SVC().fit(np.concatenate(rows[:V]), np.tile(y_donor, V))
            row = {"config": "plain" if V == 1 else f"rows{V}", "n": n, "seed": seed}
            row["fit_s"] = fit_s
            for name, (features, y) in recipients.items():
                labels = svc.predict(features)
                row[name] = accuracy_score(y, labels)
                if detail:  # the share labelled positive, and each class's recall
                    row[f"{name}_pos"] = round(float(np.mean(labels == 1)), 3)
                    for label in (0, 1):
                        recall = np.mean(labels[y == label] == label)
                        row[f"{name}_recall{label}"] = round(float(recall), 3)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    detail = sys.argv[1] == "boundary"
    n, seeds, views = sys.argv[1 + detail : 4 + detail]
    main(int(n), [int(s) for s in seeds.split(",")], [int(v) for v in views.split(",")], detail)
