"""One partition: read it, encode each image once, classify, write its part, describe it."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections import Counter

import numpy as np

from ._parts import part_bytes, write_part

__all__ = ["label_piece", "labels_and_scores"]


def labels_and_scores(labeler, images):
    """Labels and one score per image from a single encoding of each image.

    The score is the classifier's decision value (binary), the winning class's value
    (several classes), or its highest probability when it has no decision function.
    """
    classes = labeler.classes_
    if len(images) == 0:
        return np.empty(0, dtype=classes.dtype), np.empty(0)
    features = labeler.transform(images)
    classifier = labeler.classifier_
    labels = classifier.predict(features)
    if hasattr(classifier, "decision_function"):
        values = np.asarray(classifier.decision_function(features))
    elif hasattr(classifier, "predict_proba"):
        values = classifier.predict_proba(features)
    else:
        values = np.full(len(labels), np.nan)
    return labels, values if values.ndim == 1 else values.max(axis=1)


def _n_correct(targets, labels) -> int:
    """Labels equal to the true ones, comparing ``1``, ``"1"`` and ``1.0`` as the same."""
    targets, labels = np.asarray(targets).astype(str), np.asarray(labels).astype(str)
    same = targets == labels
    for i in np.flatnonzero(~same):
        with contextlib.suppress(ValueError):
            same[i] = float(targets[i]) == float(labels[i])
    return int(same.sum())


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
    write_part(parts_dir, partition, part_bytes(batch.names, labels, scores))
    correct = None if batch.targets is None else _n_correct(batch.targets, labels)
    return {
        **record,
        "rows": len(labels),
        "counts": dict(Counter(str(label) for label in labels)),
        "correct": correct,
        "skipped": [list(b) for b in batch.bad],
        "seconds": round(time.perf_counter() - t0, 4),
        "process": f"{socket.gethostname()}:{os.getpid()}",
    }
