"""Self-training of :class:`~skdcsae.DCSAETransformer` on unlabelled donor images.

:func:`balanced_pseudo_labels` picks the unlabelled donor images (``y == -1``) that join a
second fit, and their pseudo-labels.
"""

from __future__ import annotations

import numpy as np

from ._classifier import default_classifier

__all__ = ["balanced_pseudo_labels"]


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
