"""The recipient's calibration on a kit that barely separates its classes (reversed sigmoid).

A toy: 12 images per class of 28x28 uniform noise, class 1 with a bright square, a DC-SAE
trained for 3 epochs (too few) and exported with one row per image. New images of the same
kind are labelled twice from the kit's features: by scikit-learn's
``CalibratedClassifierCV(SVC(), method="sigmoid", ensemble=False)`` as it is, and by
``RecipientLabeler`` (whose calibration never reverses the SVC). Prints one JSON row::

    OMP_NUM_THREADS=1 python benchmarks/probes/reversed_sigmoid.py

Quoted in ``docs/reviewing.rst`` ("How they are calibrated").
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from skdcsae import DCSAETransformer, RecipientLabeler, load_donor_kit


def images(n_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = (rng.random((2 * n_per_class, 28, 28)) * 255).astype(np.uint8)
    y = np.repeat([0, 1], n_per_class)
    X[y == 1, 8:20, 8:20] = 255
    return X, y


def main() -> None:
    rng = np.random.default_rng(0)
    X, y = images(12, rng)
    X_new, y_new = images(100, rng)
    est = DCSAETransformer(max_epochs=3, min_steps=0, random_state=0, device="cpu").fit(X, y)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kit.joblib"
        est.export_donor_kit(path, X, y, release="per_image")
        member = load_donor_kit(path).members[0]
        plain = CalibratedClassifierCV(
            SVC(), method="sigmoid", cv=StratifiedKFold(5), ensemble=False
        ).fit(member.features, member.label_index)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            labeler = RecipientLabeler(kit=path, self_training=None).fit(X)
    features = est.transform(X_new)
    row = {
        "platt_slope_sklearn": float(plain.calibrated_classifiers_[0].calibrators[0].a_),
        "accuracy_sklearn": float(np.mean(plain.predict(features) == y_new)),
        "accuracy_labeler": float(np.mean(labeler.predict(X_new) == y_new)),
        "labeler_max_distance_from_half": float(np.abs(labeler.predict_proba(X_new) - 0.5).max()),
        "warned": any("would have reversed" in str(w.message) for w in caught),
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
