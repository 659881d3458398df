"""Shared by test_stream.py and test_dask.py: a small kit and a generated archive (not tests)."""

from __future__ import annotations

import csv

import numpy as np

from ..kit_helpers import digits_images, train_donor


def uint8_digits():
    """Digits 0 vs 1 as uint8 (n, 8, 8) images in 0-255, and their labels."""
    X, y = digits_images()
    return np.rint(X * 255 / 16).astype(np.uint8), y


def make_kit(folder):
    """A small conv kit trained on 60 uint8 digit images per class; its path."""
    X, y = uint8_digits()
    donor = np.concatenate([np.flatnonzero(y == c)[:60] for c in (0, 1)])
    est = train_donor(X[donor], y[donor], max_epochs=5)
    path = folder / "kit.joblib"
    est.export_donor_kit(path, X[donor], y[donor])
    return path


def make_archive(n, seed=0):
    """``n`` noisy copies of digit images (uint8 (n, 8, 8)) and their true labels."""
    X, y = uint8_digits()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(X), n)
    noise = rng.integers(-20, 21, (n, 8, 8))
    return np.clip(X[idx].astype(int) + noise, 0, 255).astype(np.uint8), y[idx]


def read_labels(path):
    """``(files, labels as str, probabilities as float)`` of a labels CSV."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        [r["file"] for r in rows],
        np.array([r["label"] for r in rows]),
        np.array([float(r["probability"]) for r in rows]),
    )


def label_probability(labeler, X):
    """The probability RecipientLabeler gives each image's predicted label."""
    labels, proba = labeler.predict(X), labeler.predict_proba(X)
    return proba[np.arange(len(X)), np.searchsorted(labeler.classes_, labels)]
