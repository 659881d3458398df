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


class _CalibratedSVC(CalibratedClassifierCV):
    """``CalibratedClassifierCV`` that also exposes its SVC's decision values.

    ``predict_proba`` and ``predict`` are the calibrated ones; ``decision_function`` is the
    mean decision value of the fitted SVC(s) (one SVC with ``ensemble=False``), so that code
    written for the plain-SVC default keeps working.
    """

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
