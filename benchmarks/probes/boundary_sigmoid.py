"""Probe for issue #12: labels by the SVC's own decision, probabilities by a sigmoid through it.

The kit path's default classifier (Platt's sigmoid, ``CalibratedClassifierCV(SVC(),
method="sigmoid", ensemble=False)``) labels by the most probable class, and Platt's intercept
moves that boundary off the SVC's zero (``results/probes/kit_gap.md``). The candidate here,
:class:`BoundarySigmoidSVC`, fits Platt's sigmoid with its intercept fixed at zero (one slope,
to Platt's smoothed targets, on out-of-fold decision values), so its labels are the SVC's own
and still the most probable class. Two experiments, one JSON row per unit:

- ``cached``: on the calibration benchmark's cached features (``benchmarks/.cache/calibration``,
  the library's defaults, n=10/50/180, selection seeds 100-103 and evaluation seeds 0-3), the
  default against the candidate and a plain SVC, on recipients A and B;
- ``weak``: a deliberately weak encoder (``conv_channels=(16, 8)``, ``dense_sizes=(64,)``, few
  epochs), where the SVC's own boundary is poorly placed::

    OMP_NUM_THREADS=1 python benchmarks/probes/boundary_sigmoid.py cached
    OMP_NUM_THREADS=1 python benchmarks/probes/boundary_sigmoid.py weak

Results: ``benchmarks/results/probes/boundary_sigmoid.md``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import calibration
from run import donor_indices, load_dataset, recipient_sets

from skdcsae import DCSAETransformer, RecipientLabeler
from skdcsae.recipient import expected_calibration_error
from skdcsae.recipient._members import fit_member_classifier

OUT = Path(__file__).resolve().parents[1] / "results" / "probes" / "boundary_sigmoid.jsonl"


def _logits(scores, n_classes):
    """Decision values as one column per class: a binary SVC's ``d`` becomes ``(0, d)``."""
    scores = np.asarray(scores, dtype=float)
    if n_classes == 2 and scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


def _log_softmax(z):
    """Row-wise log-softmax (numpy: scipy's array-API version imports dask when it is there)."""
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _fit_slope(logits, y_index, sample_weight):
    """The slope ``a`` of ``softmax(a * logits)`` that best predicts Platt's smoothed targets.

    Platt (1999): a class of ``N`` (weighted) rows is given the target ``(N + 1) / (N + 2)``
    rather than 1, the rest shared by the other classes, so that the fit stays finite when the
    out-of-fold decisions separate the classes (the usual case with a few rows per class).
    """
    n_classes = logits.shape[1]
    counts = np.bincount(y_index, weights=sample_weight, minlength=n_classes)
    own = (counts[y_index] + 1.0) / (counts[y_index] + 2.0)
    targets = np.repeat(((1.0 - own) / (n_classes - 1))[:, None], n_classes, axis=1)
    targets[np.arange(len(y_index)), y_index] = own

    def loss(log_slope):
        log_p = _log_softmax(np.exp(log_slope) * logits)
        return -np.sum(sample_weight * np.sum(targets * log_p, axis=1))

    return float(np.exp(minimize_scalar(loss, bounds=(-10.0, 10.0), method="bounded").x))


class BoundarySigmoidSVC(ClassifierMixin, BaseEstimator):
    """An SVC whose probabilities are a sigmoid of its decision values through its boundary.

    ``predict_proba`` is ``sigmoid(a * d)`` (binary) or ``softmax(a * d)`` over the one-vs-rest
    decision values: Platt's sigmoid with its intercept fixed at zero, one slope ``a`` fitted
    on out-of-fold decision values to Platt's smoothed targets. Because it only rescales, the
    most probable class is the SVC's own decision, and ``predict`` returns it.

    Parameters
    ----------
    estimator : classifier with ``decision_function``, default=None
        The SVC (cloned); None means ``SVC()``.
    cv : int or cross-validation splitter, default=5
        Folds of the out-of-fold decision values.
    """

    def __init__(self, estimator=None, cv=5):
        self.estimator = estimator
        self.cv = cv

    def fit(self, X, y, sample_weight=None):
        """Fit the slope on out-of-fold decision values, then the SVC on every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to the SVC and to the slope's fit.

        Returns
        -------
        self : object
            Fitted.
        """
        X, y = validate_data(self, X, y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        estimator = SVC() if self.estimator is None else self.estimator
        params = {} if sample_weight is None else {"sample_weight": weight}
        oof = cross_val_predict(
            clone(estimator), X, y, cv=self.cv, method="decision_function", params=params
        )
        self.slope_ = _fit_slope(_logits(oof, len(self.classes_)), y_index, weight)
        self.estimator_ = clone(estimator).fit(X, y, **params)
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        return self.estimator_.decision_function(validate_data(self, X, reset=False))

    def predict_proba(self, X):
        """``softmax(slope_ * decision values)``, one column per class."""
        logits = _logits(self.decision_function(X), len(self.classes_))
        return np.exp(_log_softmax(self.slope_ * logits))

    def predict(self, X):
        """The class of the highest decision value (the most probable class)."""
        scores = _logits(self.decision_function(X), len(self.classes_))
        return self.classes_[scores.argmax(axis=1)]


def classifiers(labels):
    folds = StratifiedKFold(min(5, int(np.unique(labels, return_counts=True)[1].min())))
    return {
        "svc": SVC(),
        "platt": calibration.candidate_methods(labels)["sigmoid, 5-fold, one SVC"],
        "boundary": BoundarySigmoidSVC(SVC(), cv=folds),
    }


def score(row, name, clf, recipient, F, y):
    row[f"{name}_{recipient}_acc"] = float(np.mean(clf.predict(F) == y))
    if hasattr(clf, "predict_proba"):
        row[f"{name}_{recipient}_ece"] = expected_calibration_error(y, clf.predict_proba(F))


def cached():
    for n, seed, data, folder in calibration.cached_units():
        kit = RecipientLabeler(folder / "kit.joblib", device="cpu").fit().kit_
        row = {"experiment": "cached", "n": n, "seed": seed}
        for name, clf in classifiers(kit.labels).items():
            clf = clone(clf)
            fit_member_classifier(clf, kit.members[0], kit.classes)
            for r in ("A", "B"):
                score(row, name, clf, r, data[f"F_{r}"], data[f"y_{r}"])
        yield row


def weak():
    X_train, y_train, X_test, y_test = load_dataset("balanced")
    for epochs, n, seed in [(8, 30, 0), (20, 30, 0), (40, 30, 0), (20, 30, 1), (20, 10, 0)]:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets("balanced", X_train, y_train, X_test, y_test, donor)
        Xd, yd = X_train[donor], y_train[donor]
        est = DCSAETransformer(
            conv_channels=(16, 8), dense_sizes=(64,), max_epochs=epochs, min_steps=0,
            device="cpu", random_state=seed,
        ).fit(Xd, yd)  # fmt: skip
        row = {"experiment": "weak", "epochs": epochs, "n": n, "seed": seed}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "kit.joblib"
            est.export_donor_kit(path, Xd, yd)
            labeler = RecipientLabeler(path, device="cpu").fit()
            features = {r: (labeler.transform(X), y) for r, (X, y) in sets.items()}
            for name, clf in classifiers(labeler.kit_.labels).items():
                clf = clone(clf)
                fit_member_classifier(clf, labeler.kit_.members[0], labeler.kit_.classes)
                for r, (F, y) in features.items():
                    score(row, name, clf, r, F, y)
        yield row


if __name__ == "__main__":
    with OUT.open("a", encoding="utf-8") as out:
        for row in {"cached": cached, "weak": weak}[sys.argv[1]]():
            print(json.dumps(row), file=out, flush=True)
            print(json.dumps(row), flush=True)
