"""Self-training on unlabelled images: which of them join a second fit, and with what label.

:func:`balanced_pseudo_labels` serves :class:`~skdcsae.DCSAETransformer` (the donor's own
unlabelled images, ``y == -1``); :func:`balanced_selection` also serves
:class:`~skdcsae.RecipientLabeler` (the recipient's images, given to ``fit``).
"""

from __future__ import annotations

import numpy as np

from ._classifier import default_classifier

__all__ = ["balanced_pseudo_labels", "balanced_selection"]


def balanced_selection(proba, classes, *, threshold, max_per_class=None):
    """``(keep, guessed)``: the rows to pseudo-label, as many per class, and their classes.

    Each row's guess is its most probable class. Of the rows whose probability reaches
    ``threshold``, the same number per class is kept, the most confident of each, as many as
    the scarcest class has (at most ``max_per_class``), so that a classifier's bias towards
    one class is not trained back in.
    """
    proba = np.asarray(proba)
    guessed = np.asarray(classes)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    confident = confidence >= threshold
    per_class = [np.flatnonzero(confident & (guessed == c)) for c in classes]
    k = min(len(rows) for rows in per_class)
    k = k if max_per_class is None else min(k, max_per_class)
    keep = np.zeros(len(proba), dtype=bool)
    for rows in per_class:
        keep[rows[np.argsort(-confidence[rows], kind="stable")[:k]]] = True
    return keep, guessed


def balanced_pseudo_labels(features, y_index, unlabelled, *, threshold, random_state=None):
    """``(keep, guessed)``: which unlabelled rows join the training, and their class indices.

    A calibrated SVC (the recipient's default classifier) trained on the labelled rows'
    ``features`` gives each unlabelled row a class and a probability; the rows are chosen by
    :func:`balanced_selection`.
    """
    classifier = default_classifier(y_index, random_state=random_state)
    classifier.fit(features, y_index)
    return balanced_selection(
        classifier.predict_proba(unlabelled), classifier.classes_, threshold=threshold
    )
