"""The calibrated SVC that labels from latent features: the recipient's default classifier.

Also what :class:`~skdcsae.DCSAETransformer` uses to pseudo-label a donor's unlabelled images.
Kept apart from :mod:`skdcsae.recipient` so that the estimators can use it without importing
the recipient side.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

__all__ = ["N_SPLITS", "default_classifier"]

#: Cross-validation folds of the default calibration (fewer when a class has fewer rows).
N_SPLITS = 5

#: Slope of the near-flat sigmoid that replaces a reversed one: probabilities within about
#: 0.001 of 0.5 for decision values up to 2, still ordered as the SVC's decision.
_FLAT_SLOPE = 1e-3


class _CalibratedSVC(CalibratedClassifierCV):
    """``CalibratedClassifierCV`` that also exposes its SVC's decision values.

    ``predict_proba`` and ``predict`` are the calibrated ones; ``decision_function`` is the
    mean decision value of the fitted SVC(s) (one SVC with ``ensemble=False``), so that code
    written for the plain-SVC default keeps working.

    The calibration never reverses the SVC. When the features barely separate the classes,
    the out-of-fold decision values can run against the labels, and Platt's sigmoid then
    comes out decreasing: it would turn every label of the SVC into its opposite. Such a
    sigmoid is replaced by a nearly flat increasing one, so the probabilities stay within
    about 0.001 of 0.5 and the labels are the SVC's own, and a warning says so.
    """

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the SVC and its sigmoid(s) as ``CalibratedClassifierCV`` does, never reversed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        **fit_params : dict
            Passed to ``CalibratedClassifierCV.fit``.

        Returns
        -------
        self : _CalibratedSVC
            Fitted.
        """
        super().fit(X, y, sample_weight=sample_weight, **fit_params)
        reversed_ = [
            calibrator
            for member in self.calibrated_classifiers_
            for calibrator in member.calibrators
            if getattr(calibrator, "a_", -1.0) > 0  # P = 1 / (1 + exp(a * f + b)): a < 0
        ]
        for calibrator in reversed_:
            calibrator.a_, calibrator.b_ = -_FLAT_SLOPE, 0.0
        if reversed_:
            warnings.warn(
                "The calibration would have reversed the SVC (its out-of-fold decision values "
                "on the training rows run against their labels), so its probabilities are "
                "kept within about 0.001 of 0.5 and the labels are the SVC's own: the features "
                "barely separate the classes (a kit's encoder may be undertrained).",
                UserWarning,
                stacklevel=2,
            )
        return self

    def decision_function(self, X):
        """Decision values of the underlying SVC(s), averaged over ensemble members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            What ``SVC.decision_function`` returns.
        """
        members = [c.estimator for c in self.calibrated_classifiers_]
        return np.mean([m.decision_function(X) for m in members], axis=0)


def default_classifier(labels, *, random_state=None):
    """The classifier a :class:`~skdcsae.RecipientLabeler` trains when given none.

    An ``SVC()`` (the paper's classifier, unchanged) whose probabilities come from Platt's
    sigmoid fitted on out-of-fold decision values of the donor's features:
    ``CalibratedClassifierCV(SVC(), method="sigmoid", cv=StratifiedKFold(k), ensemble=False)``
    with ``k = min(5, rows of the smallest class)``. Kits with a class of a single row cannot
    be cross-validated: they get a plain ``SVC()`` (no probabilities) and a warning.

    Parameters
    ----------
    labels : array-like of shape (n_rows,)
        The kit's labels (one per feature row).
    random_state : int, RandomState instance or None, default=None
        Shuffles the rows into folds. None keeps the kit's row order (no randomness: the same
        kit always gives the same probabilities).

    Returns
    -------
    classifier : estimator
        Unfitted.
    """
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    smallest = int(counts.min()) if counts.size else 0
    if smallest < 2:
        warnings.warn(
            f"the kit has a class with {smallest} feature row(s): too few to calibrate "
            "probabilities by cross-validation, so the labeler uses a plain SVC (predict only).",
            UserWarning,
            stacklevel=3,
        )
        return SVC()
    shuffle = random_state is not None
    cv = StratifiedKFold(
        min(N_SPLITS, smallest), shuffle=shuffle, random_state=random_state if shuffle else None
    )
    return _CalibratedSVC(SVC(), method="sigmoid", cv=cv, ensemble=False)
