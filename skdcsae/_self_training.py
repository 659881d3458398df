"""Donor-side checks and helpers of :class:`~skdcsae.DCSAETransformer` kept out of its module.

:func:`check_dp_parameters` checks that the differential-privacy parameters agree with each
other and with the rest of the estimator; :func:`balanced_pseudo_labels` picks the unlabelled
donor images (``y == -1``) that join a second fit, and their pseudo-labels.
"""

from __future__ import annotations

import numpy as np

from ._classifier import default_classifier

__all__ = ["balanced_pseudo_labels", "check_dp_parameters"]


def check_dp_parameters(est) -> bool:
    """Whether ``est`` trains with DP-SGD; raises if its DP parameters are inconsistent.

    Raises
    ------
    ValueError
        If a DP-only parameter is set with ``dp=False``, or with ``dp=True`` if not exactly one
        of ``target_epsilon`` and ``noise_multiplier`` is given, if images would be trained
        with ``norm="batch"``, with ``feature_mode="paper"`` or with ``early_stopping=True``.
    """
    given = [
        name
        for name in ("target_epsilon", "target_delta", "noise_multiplier")
        if getattr(est, name) is not None
    ]
    if not est.dp:
        if given:
            raise ValueError(
                f"{', '.join(given)} set but dp=False: training would not be private. "
                f"Set dp=True, or leave {', '.join(given)} at None."
            )
        return False
    if (est.target_epsilon is None) == (est.noise_multiplier is None):
        raise ValueError(
            "dp=True needs exactly one of target_epsilon (the privacy budget to reach) and "
            "noise_multiplier (the noise to add); got "
            + ("both." if est.target_epsilon is not None else "neither.")
        )
    if est.image_shape_ is not None and est.norm == "batch":
        raise ValueError(
            "dp=True cannot train with norm='batch': BatchNorm mixes the samples of a batch "
            "(and stores their statistics), so per-sample gradients and the DP guarantee "
            "are undefined. Use norm='group' (or 'instance' or 'none')."
        )
    if est.feature_mode == "paper":
        raise ValueError(
            "dp=True cannot be combined with feature_mode='paper': Algorithm 1's feature "
            "samples are seeded from the training seed and their seed travels in the donor "
            "kit, which would let a reader regenerate the training noise. Use "
            "feature_mode='means' (the default)."
        )
    if est.early_stopping:
        raise ValueError(
            "dp=True cannot be combined with early_stopping=True: the validation split and "
            "the choice of the best epoch use the data outside the privacy accounting. "
            "Set early_stopping=False and choose max_epochs in advance."
        )
    return True


def balanced_pseudo_labels(features, y_index, unlabelled, *, threshold, random_state=None):
    """``(keep, guessed)``: which unlabelled rows join the training, and their class indices.

    A calibrated SVC (the recipient's default classifier) trained on the labelled rows'
    ``features`` gives each unlabelled row a class and a probability. Of the rows whose
    probability reaches ``threshold``, the same number per class is kept, the most confident
    of each, as many as the scarcest class has, so that a first fit's bias towards one class is
    not trained back in.
    """
    classifier = default_classifier(y_index, random_state=random_state)
    classifier.fit(features, y_index)
    proba = classifier.predict_proba(unlabelled)
    guessed = classifier.classes_[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    confident = confidence >= threshold
    per_class = [np.flatnonzero(confident & (guessed == c)) for c in classifier.classes_]
    k = min(len(rows) for rows in per_class)
    keep = np.zeros(len(unlabelled), dtype=bool)
    for rows in per_class:
        keep[rows[np.argsort(-confidence[rows], kind="stable")[:k]]] = True
    return keep, guessed
