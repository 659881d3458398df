"""Small real files for driving the command line in-process: digit images, kits, a .npz."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skdcsae import DCSAETransformer

TINY = {
    "conv_channels": (8,),
    "dense_sizes": (16,),
    "max_epochs": 5,
    "min_steps": 0,
    "device": "cpu",
}


def save_pngs(folder, images, names=None):
    """Write uint8 (n, H, W) images as PNGs into ``folder`` (created)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        name = names[i] if names is not None else f"img{i:03d}.png"
        Image.fromarray(image).save(folder / name)


def save_npz(path, X, y):
    """A MedMNIST-layout .npz with the same images and labels in every split."""
    labels = np.asarray(y).reshape(-1, 1)
    splits = ("train", "val", "test")
    np.savez(path, **{f"{s}_images": X for s in splits}, **{f"{s}_labels": labels for s in splits})
    return path


@pytest.fixture(scope="session")
def digits01():
    """Digits 0 and 1 as uint8 8x8 images in 0-255 (the way PNGs hold them), and labels."""
    X, y = load_digits(n_class=2, return_X_y=True)
    return (X.reshape(-1, 8, 8) * 255 / 16).round().astype(np.uint8), y


@pytest.fixture(scope="session")
def kits(digits01, tmp_path_factory):
    """Kits trained on the first 100 digits: classes 0/1, '0'/'1' and 'normal'/'pneumonia'."""
    X, y = digits01
    folder = tmp_path_factory.mktemp("kits")
    paths = {}
    names = np.array(["normal", "pneumonia"])[y[:100]]
    for kind, labels in (("int", y[:100]), ("str", y[:100].astype(str)), ("names", names)):
        est = DCSAETransformer(**TINY, random_state=0).fit(X[:100], labels)
        paths[kind] = folder / f"{kind}.joblib"
        est.export_donor_kit(paths[kind], X[:100], labels)
    return paths
