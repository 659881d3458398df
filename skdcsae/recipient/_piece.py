"""One partition: read it, encode each image once, classify, write its part, describe it."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

import numpy as np

from ._members import average_outputs, ensemble_predict
from ._parts import part_bytes, write_part

__all__ = ["label_piece", "labels_and_scores", "score_column"]


def score_column(labeler) -> str:
    """``"probability"`` when every classifier gives probabilities (the default), else
    ``"score"`` (decision values)."""
    if all(hasattr(c, "predict_proba") for c in labeler.classifiers_):
        return "probability"
    return "score"


def labels_and_scores(labeler, images):
    """Labels and one confidence per image, from a single encoding of each image.

    The confidence is the probability of the image's label when the classifier gives
    probabilities (the calibrated default does), else the decision value (binary) or the
    winning class's value. An ensemble kit's members are averaged as
    :meth:`~skdcsae.RecipientLabeler.predict` averages them.
    """
    classes = labeler.classes_
    if len(images) == 0:
        return np.empty(0, dtype=classes.dtype), np.empty(0)
    features = labeler._member_features(labeler._check_X(images))  # every member, once
    classifiers = labeler.classifiers_
    probabilities = score_column(labeler) == "probability"
    method = "predict_proba" if probabilities else "decision_function"
    if len(classifiers) == 1:
        labels = classifiers[0].predict(features[0])
        values = np.asarray(getattr(classifiers[0], method)(features[0]))
    else:
        labels = ensemble_predict(classifiers, features, classes)
        values = np.asarray(average_outputs(classifiers, features, method))
    if probabilities:  # the probability of the label given
        return labels, values[
            np.arange(len(labels)), np.searchsorted(classifiers[0].classes_, labels)
        ]
    return labels, values if values.ndim == 1 else values.max(axis=1)


def _plain(value):
    """A JSON value for a true label: a NumPy scalar as its Python value, else itself."""
    return value.item() if isinstance(value, np.generic) else value


def label_piece(labeler, piece, partition, start, stop, parts_dir, skip_bad) -> dict:
    """Read, encode, classify and write one partition; return its record for ``done.jsonl``.

    Unreadable files make a ``{"failed": [...]}`` record and no part unless ``skip_bad``.
    """
    t0 = time.perf_counter()
    batch = piece.read()
    record = {"partition": partition, "start": start, "stop": stop}
    if batch.bad and not skip_bad:
        return {**record, "failed": [list(b) for b in batch.bad]}
    labels, scores = labels_and_scores(labeler, batch.images)
    data = part_bytes(batch.names, labels, scores, score_column(labeler))
    write_part(parts_dir, partition, data)
    confusion = None  # (true label, label given, images) triples, when the source has labels
    if batch.targets is not None:
        pairs = Counter(zip(map(_plain, batch.targets), map(str, labels), strict=True))
        confusion = [[true, given, n] for (true, given), n in pairs.items()]
    return {
        **record,
        "rows": len(labels),
        "counts": dict(Counter(str(label) for label in labels)),
        "confusion": confusion,
        "skipped": [list(b) for b in batch.bad],
        "seconds": round(time.perf_counter() - t0, 4),
        "process": f"{socket.gethostname()}:{os.getpid()}",
    }
