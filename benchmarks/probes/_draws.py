"""The benchmark's donor draws on balanced PneumoniaMNIST, for the probe scripts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, recipient_sets


def balanced_draws(n: int, seeds: list[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray, dict]]:
    """``(seed, X_donor, y_donor, sets)`` per seed: ``n`` donor images per class drawn as
    ``benchmarks/run.py`` draws them, and ``sets = {"A": (X, y), "B": (X, y)}`` (the rest of
    the train split, and the test split)."""
    X_train, y_train, X_test, y_test = load_dataset("balanced")
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets("balanced", X_train, y_train, X_test, y_test, donor)
        yield seed, X_train[donor], y_train[donor], sets
