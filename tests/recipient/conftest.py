"""Fixtures of the recipient tests: a small real kit and its recipient images, as files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skdcsae import DCSAETransformer


@pytest.fixture(scope="package")
def digits_kit(tmp_path_factory):
    """A conv DC-SAE kit trained on 60 uint8 digit images per class (0 vs 1).

    Returns ``(kit path, X uint8 (n, 8, 8), y, donor indices, recipient indices)``.
    """
    X, y = load_digits(n_class=2, return_X_y=True)
    X = np.rint(X.reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    donor = np.concatenate([np.flatnonzero(y == c)[:60] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), donor)
    est = DCSAETransformer(
        conv_channels=(8, 4),
        dense_sizes=(32,),
        max_epochs=10,
        min_steps=0,
        batch_size=16,
        device="cpu",
        random_state=0,
    ).fit(X[donor], y[donor])
    path = tmp_path_factory.mktemp("kit") / "digits.joblib"
    est.export_donor_kit(path, X[donor], y[donor])
    return path, X, y, donor, rest
