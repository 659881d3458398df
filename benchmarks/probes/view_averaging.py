"""Probe for issue #12: features averaged over augmented views, on the donor's side too.

The earlier test-time augmentation probe (``accuracy_probes.md``, lever 5) averaged the
recipient's features over augmented views while the donor's features stayed those of the
plain images, so the two sides were computed differently; it lost 2 points on A and 7 on B
at n=180. Here both sides are computed the same way: every image's feature vector (all heads'
means) is the mean over the plain image and ``V - 1`` views drawn from the training
augmentation (the library's random affine and gamma), for the donor's rows that train the SVC
and for the recipient's rows alike. The encoder is trained as usual. Cost: ``V`` forward
passes per image at both sides. Fits ``DCSAETransformer(random_state=seed)`` + ``SVC()`` on
balanced PneumoniaMNIST with the benchmark's donor draw; A is the rest of the train split, B
the test split. One JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/view_averaging.py 180 0,1,2,3 views4,views8

Views are drawn from a generator seeded by the fit's seed and the view's index, so a row is
reproducible. The baseline (the defaults, same seeds and draw) is the ``DC-SAE (defaults)``
rows of ``benchmarks/results/accuracy.jsonl``. Results:
``benchmarks/results/probes/view_averaging.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv

from skdcsae import DCSAETransformer
from skdcsae._inference import encode_in_batches
from skdcsae._nn._augment import augment_images, check_augmentation


def encode_view(est: DCSAETransformer, X: np.ndarray, view: int) -> tuple[np.ndarray, np.ndarray]:
    """Every head's ``(mus, logvars)`` for augmented view ``view >= 1`` of the images ``X``,
    drawn with ``est``'s training augmentation from a generator seeded by the fit's seed and
    ``view``; ``est`` is fitted."""
    settings = check_augmentation(est.augment)
    generator = torch.Generator().manual_seed(int(est._seed) * 1000 + view)

    def to_tensor(chunk):
        return augment_images(est._to_tensor(chunk), generator, settings)

    return encode_in_batches(est.net_.module_, X, to_tensor, est.net_.device)


class _ViewAveraged(DCSAETransformer):
    """Every head's means averaged over the plain image and ``n_views - 1`` augmented views."""

    n_views = 1

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mus, logvars = super()._encode(X)
        for view in range(1, type(self).n_views):
            mu, logvar = encode_view(self, X, view)
            mus, logvars = mus + mu, logvars + logvar
        return mus / type(self).n_views, logvars / type(self).n_views


def make_estimator(name: str, seed: int) -> DCSAETransformer:
    if not name.startswith("views"):
        raise SystemExit(f"unknown config {name!r}; use views<V>")
    cls = type(f"_Probe_{name}", (_ViewAveraged,), {"n_views": int(name[5:])})
    return cls(random_state=seed, device="cpu")


if __name__ == "__main__":
    score_from_argv(make_estimator)
