"""Calibrated probabilities for the recipient, and how to measure them.

The default classifier of :class:`~skdcsae.RecipientLabeler` is an SVC whose decision values are
mapped to probabilities by Platt's sigmoid, fitted on cross-validated decision values of the
donor's own features (:class:`~sklearn.calibration.CalibratedClassifierCV`). The measures --
expected calibration error, the risk-coverage curve and accuracy at a coverage -- are the ones
the calibration benchmark (``benchmarks/calibration.py``) reports.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.svm import SVC
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .._classifier import N_SPLITS, _CalibratedSVC, default_classifier

__all__ = [
    "N_SPLITS",
    "accuracy_at_coverage",
    "default_classifier",
    "expected_calibration_error",
    "risk_coverage_curve",
]


def _classifier_has(attr: str):
    """``available_if`` check: the (fitted, or else the configured) classifier has ``attr``."""

    def check(self) -> bool:
        if hasattr(self, "classifier_"):
            getattr(self.classifier_, attr)
        else:
            default = _CalibratedSVC(SVC())
            getattr(self.classifier if self.classifier is not None else default, attr)
        return True

    return check


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}.")
    return float(value)


def n_least_confident(n_samples: int, fraction: float) -> int:
    """How many of ``n_samples`` a review fraction sends to review: ``ceil(fraction * n)``."""
    return min(n_samples, math.ceil(fraction * n_samples - 1e-9))


def confidence_order(confidence) -> np.ndarray:
    """Indices from the least to the most confident; ties keep their input order."""
    return np.argsort(np.asarray(confidence, dtype=float), kind="stable")


def _check_predictions(y_true, y_pred, confidence):
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    confidence = column_or_1d(confidence).astype(float)
    check_consistent_length(y_true, y_pred, confidence)
    if len(y_true) == 0:
        raise ValueError("The risk-coverage curve needs at least one prediction.")
    if not np.all(np.isfinite(confidence)):
        raise ValueError("confidence must be finite.")
    return y_true, y_pred, confidence


def risk_coverage_curve(y_true, y_pred, confidence):
    """Accuracy of the most confident predictions against the fraction kept (coverage).

    Predictions are sorted from the most to the least confident; the curve has one point per
    distinct confidence value (tied predictions enter together).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    confidence : array-like of shape (n_samples,)
        Any score that ranks predictions (higher: more confident), e.g. the predicted class's
        probability.

    Returns
    -------
    coverage : ndarray of shape (n_points,)
        Fraction of predictions kept, increasing to 1.
    accuracy : ndarray of shape (n_points,)
        Accuracy of the kept predictions (1 - risk).
    thresholds : ndarray of shape (n_points,)
        The lowest confidence kept at each point.

    Examples
    --------
    >>> from skdcsae.recipient import risk_coverage_curve
    >>> coverage, accuracy, _ = risk_coverage_curve(
    ...     [0, 1, 1, 0], [0, 1, 0, 0], [0.9, 0.8, 0.6, 0.7])
    >>> coverage.tolist(), accuracy.round(3).tolist()
    ([0.25, 0.5, 0.75, 1.0], [1.0, 1.0, 1.0, 0.75])
    """
    y_true, y_pred, confidence = _check_predictions(y_true, y_pred, confidence)
    order = confidence_order(-confidence)
    correct = np.cumsum(y_true[order] == y_pred[order])
    kept = np.arange(1, len(order) + 1)
    sorted_conf = confidence[order]
    last_of_tie = np.append(sorted_conf[1:] != sorted_conf[:-1], True)
    return (
        kept[last_of_tie] / len(order),
        correct[last_of_tie] / kept[last_of_tie],
        sorted_conf[last_of_tie],
    )


def accuracy_at_coverage(y_true, y_pred, confidence, coverage):
    """Accuracy of the labels kept when the least confident ``1 - coverage`` go to review.

    Exactly the images :meth:`~skdcsae.RecipientLabeler.label` keeps with
    ``review_fraction=1 - coverage``: ``ceil((1 - coverage) * n)`` least confident are set
    aside (ties: earlier rows first), the rest are scored.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    confidence : array-like of shape (n_samples,)
        Any score that ranks predictions (higher: more confident).
    coverage : float
        Fraction of images kept, in (0, 1].

    Returns
    -------
    accuracy : float
        Accuracy of the kept labels (NaN when none is kept).

    Examples
    --------
    >>> from skdcsae.recipient import accuracy_at_coverage
    >>> accuracy_at_coverage([0, 1, 1, 0], [0, 1, 0, 0], [0.9, 0.8, 0.6, 0.7], 0.75)
    1.0
    """
    y_true, y_pred, confidence = _check_predictions(y_true, y_pred, confidence)
    coverage = _check_fraction(coverage, "coverage")
    flagged = n_least_confident(len(y_true), 1.0 - coverage)
    kept = confidence_order(confidence)[flagged:]
    if kept.size == 0:
        return float("nan")
    return float(np.mean(y_true[kept] == y_pred[kept]))


def expected_calibration_error(y_true, y_proba, *, labels=None, n_bins=15):
    """Expected calibration error of the most probable class (equal-width bins).

    Each prediction is the class of highest probability, its confidence that probability.
    Confidences are grouped in ``n_bins`` equal-width bins of [0, 1] (bin ``b`` holds
    ``(b/n_bins, (b+1)/n_bins]``, the first also 0), and
    ``ECE = sum_b |B_b| / n * |accuracy(B_b) - mean confidence(B_b)|``
    (Guo et al., 2017; Naeini et al., 2015). 0 is perfect; a classifier that says 0.9 and is
    right 80% of the time has an ECE of 0.1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``labels``.
    labels : array-like of shape (n_classes,), default=None
        The classes of the columns; None means the sorted unique values of ``y_true``.
    n_bins : int, default=15
        Number of equal-width confidence bins.

    Returns
    -------
    ece : float
        In [0, 1].

    Examples
    --------
    >>> from skdcsae.recipient import expected_calibration_error
    >>> round(expected_calibration_error([0, 1, 1, 1], [[0.9, 0.1], [0.2, 0.8],
    ...                                                [0.3, 0.7], [0.6, 0.4]]), 3)
    0.3
    """
    y_true = column_or_1d(y_true)
    y_proba = np.asarray(y_proba, dtype=float)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if y_proba.ndim != 2 or y_proba.shape[1] != len(labels):
        raise ValueError(
            f"y_proba must have one column per class ({len(labels)}); got shape {y_proba.shape}."
        )
    check_consistent_length(y_true, y_proba)
    if len(y_true) == 0:
        raise ValueError("The expected calibration error needs at least one prediction.")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}.")
    confidence = y_proba.max(axis=1)
    correct = labels[np.argmax(y_proba, axis=1)] == y_true
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bins = np.searchsorted(inner_edges, confidence, side="left")  # right-closed bins
    ece = 0.0
    for b in np.unique(bins):
        members = bins == b
        ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)
