"""Shared fixtures: the real PneumoniaMNIST files in ../shared/data and small fast settings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKDCSAE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# Small networks so that the suite stays fast on two CPU cores.
# n_components=2 (the paper's latent size) keeps the shapes these tests were written for.
# Few steps (min_steps=0): the defaults' augmentation and cosine decay need the 1500 steps
# they run for, so the fast settings switch them off (tests/test_training_defaults.py tests them).
FAST_MLP = {
    "n_components": 2,
    "augment": False,
    "lr_schedule": "constant",
    "dense_sizes": (16,),
    "max_epochs": 3,
    "min_steps": 0,
    "batch_size": 16,
    "device": "cpu",
}
FAST_CONV = {
    "n_components": 2,
    "augment": False,
    "lr_schedule": "constant",
    "conv_channels": (8, 4),
    "dense_sizes": (32,),
    "max_epochs": 3,
    "min_steps": 0,
    "batch_size": 16,
    "device": "cpu",
}
# A ResNet-18 a sixteenth as wide as the standard one (4-8-16-32 channels). lr=0.01 so that
# three epochs learn sklearn's blobs (its classifier checks want > 0.83 training accuracy).
FAST_RESNET = {"width": 4, "lr": 0.01, "max_epochs": 3, "batch_size": 16, "device": "cpu"}


def shared_data_file(name: str) -> Path:
    """Path of a file in ../shared/data; fails under CI=true and skips elsewhere if missing."""
    path = SHARED_DATA / name
    if not path.is_file():
        message = f"real data file {path} is missing (expected beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def donor_split(y: np.ndarray, n_per_class: int, seed: int = 0):
    """Indices of n donor images per class and of the rest (the recipient)."""
    rng = np.random.default_rng(seed)
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in np.unique(y)]
    )
    rest = np.setdiff1d(np.arange(len(y)), donor)
    return donor, rest


@pytest.fixture(scope="session")
def pneumonia_balanced():
    """Train split of the balanced PneumoniaMNIST: (images uint8 (n, 28, 28), labels (n,))."""
    with np.load(shared_data_file("pneumoniamnist_balanced.npz")) as data:
        return data["train_images"], data["train_labels"].ravel()


@pytest.fixture
def digits_binary():
    """scikit-learn's bundled digits 0 vs 1 as 8x8 images (always available, no download)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=2, return_X_y=True)
    return X.reshape(-1, 8, 8), y
