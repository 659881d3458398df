"""Helpers shared by the donor-kit and recipient tests (not a test module)."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.datasets import load_digits

from skdcsae import DCSAETransformer

from .conftest import FAST_CONV


def digits_images():
    """Digits 0 vs 1 as (n, 8, 8) float images in [0, 16], and their labels."""
    X, y = load_digits(n_class=2, return_X_y=True)
    return X.reshape(-1, 8, 8), y


def train_donor(X, y, **params) -> DCSAETransformer:
    """A small, fast, seeded conv DC-SAE (override anything with ``params``)."""
    return DCSAETransformer(**{**FAST_CONV, "random_state": 0, **params}).fit(X, y)


def read_payload(path) -> dict:
    """Trusted load of a kit file *we wrote in this test* (never do this with a received kit)."""
    with open(path, "rb") as f:
        return pickle.load(f)  # test-only: our own file


def read_content(path) -> tuple[dict, dict]:
    """The (meta, tensors) of a kit file, through the verifying container reader."""
    from skdcsae.kit._container import load_container

    with open(path, "rb") as f:
        box = load_container(f.read())
    return box.meta, {k: np.array(v) for k, v in box.tensors.items()}  # writable copies


def write_content(path, meta, tensors, key=None) -> None:
    """Write any (meta, tensors) as a valid container with a correct digest: a forger's kit."""
    from skdcsae.kit._container import dump_container

    with open(path, "wb") as f:
        f.write(dump_container(meta, tensors, key=key))


def walk(obj, prefix=""):
    """Yield ``(dotted key path, value)`` for every leaf of nested dicts/lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from walk(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def image_byte_patterns(images: np.ndarray, offset, scale) -> list[bytes]:
    """Every plausible in-file encoding of each image: raw and scaled, uint8/float32/float64."""
    patterns = []
    for img in images.reshape(len(images), -1):
        img = np.asarray(img, dtype=np.float64)
        scaled = (img - np.float64(offset)) / np.float64(scale)
        variants = [img.astype(np.float32), img, scaled.astype(np.float32), scaled]
        if np.all((img >= 0) & (img <= 255) & (img == np.round(img))):
            variants.append(img.astype(np.uint8))
        patterns += [v.tobytes() for v in variants]
    return patterns
