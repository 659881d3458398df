"""Probes for issue #12: augmentation strength, batch size, normalisation and margin.

One change at a time from ``DCSAETransformer(random_state=seed)`` + ``SVC()``, on the
benchmark's balanced PneumoniaMNIST draws, one JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/training_variants.py 10 0,1,2,3 affine0.5,batch32

- ``defaults``: nothing changed (reproduces the benchmark's rows);
- ``affine0.5`` / ``affine2``: the default affine (rotation, shift, scale) halved / doubled,
  the gamma unchanged;
- ``batch8`` / ``batch32``: another mini-batch size (``min_steps`` unchanged);
- ``group``: ``norm="group"`` instead of BatchNorm;
- ``rho1.25`` / ``rho5``: the margin at 1.25 or 5 per latent dimension instead of 2.5;
- ``deep``: a third convolution, ``conv_channels=(32, 64, 16)`` in place of the ``"auto"``
  net's ``(32, 16)`` at 28x28 (``erasing.md``);
- ``wide_long``: twice the ``"auto"`` net's width at 28x28 (``(64, 32)``, ``(512,)``) and
  twice the step budget (``min_steps=3000``) (``combined.md``).

Results: ``benchmarks/results/probes/training_variants.md``, ``erasing.md`` and
``combined.md`` (``paired.py`` prints the tables).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv

from skdcsae import DCSAETransformer
from skdcsae._nn._augment import DEFAULT_AUGMENTATION


def _affine(factor: float) -> dict:
    return {
        key: value * (factor if key != "gamma" else 1.0)
        for key, value in DEFAULT_AUGMENTATION.items()
    }


PARAMS = {
    "defaults": {},
    "affine0.5": {"augment": _affine(0.5)},
    "affine2": {"augment": _affine(2.0)},
    "batch8": {"batch_size": 8},
    "batch32": {"batch_size": 32},
    "group": {"norm": "group"},
    "deep": {"conv_channels": (32, 64, 16)},
    "wide_long": {"conv_channels": (64, 32), "dense_sizes": (512,), "min_steps": 3000},
}

MARGINS = {"rho1.25": 1.25, "rho5": 5.0}


def make(name: str, seed: int) -> DCSAETransformer:
    if name in MARGINS:
        per_dimension = MARGINS[name]
        hook = {"_rho": lambda self: per_dimension * self.n_components_}
        return type(f"_Probe_{name}", (DCSAETransformer,), hook)(random_state=seed, device="cpu")
    return DCSAETransformer(random_state=seed, device="cpu", **PARAMS[name])


if __name__ == "__main__":
    score_from_argv(make)
