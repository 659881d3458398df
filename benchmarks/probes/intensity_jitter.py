"""Probe for issue #12: intensity jitter in the training augmentation.

Two hospitals' scanners differ in contrast and brightness as much as in positioning. This
probe adds a random per-image intensity change after the library's random affine (with the
library's own gamma curve, the default since commit ``77265ed``, switched off) (training
only: the recipient's images are untouched, so the kit format does not change), and fits
``DCSAETransformer(random_state=seed)`` + ``SVC()`` on balanced PneumoniaMNIST with the
benchmark's donor draw. A is the rest of the train split, B the test split (the shifted
population). One JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/intensity_jitter.py 180 0,1,2,3 linear,gamma

Configs (inputs are min-max scaled to about [0, 1]):

- ``linear``: ``(x - m) * c + m + b`` with ``m`` the image's mean, contrast ``c ~ U(0.8, 1.2)``
  and brightness ``b ~ U(-0.1, 0.1)``;
- ``gamma``: ``x ** g`` with ``g = exp(U(-0.4, 0.4))`` (0.67 to 1.49).

The baseline (the defaults, same seeds and draw) is the ``DC-SAE (defaults)`` rows of
``benchmarks/results/accuracy.jsonl``. Results: ``benchmarks/results/probes/intensity_jitter.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

import skdcsae._nn._nets as nets
from skdcsae import DCSAETransformer

_augment = nets.augment_images


def _uniform(n: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    u = torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1
    return u.to(device=like.device, dtype=like.dtype)


def linear(x, generator):
    c = 1 + 0.2 * _uniform(len(x), generator, x)
    b = 0.1 * _uniform(len(x), generator, x)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * c + m + b


def gamma(x, generator):
    g = torch.exp(0.4 * _uniform(len(x), generator, x))
    return x.clamp(min=0) ** g


CONFIGS = {"linear": linear, "gamma": gamma}


def main(n: int, seeds: list[int], names: list[str]) -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        for name in names:
            jitter = CONFIGS[name]

            def augmented(x, generator, settings, jitter=jitter):
                return jitter(_augment(x, generator, settings), generator)

            nets.augment_images = augmented
            t0 = time.perf_counter()
            # the library's own gamma off: its affine alone, then the probe's change
            est = DCSAETransformer(random_state=seed, device="cpu", augment={"gamma": 0.0})
            features = est.fit_transform(X_donor, y_donor)
            nets.augment_images = _augment
            svc = SVC().fit(features, y_donor)
            row = {
                "config": name,
                "n": n,
                "seed": seed,
                "fit_s": round(time.perf_counter() - t0, 1),
            }
            for recipient, (X, y) in sets.items():
                row[recipient] = round(accuracy_score(y, svc.predict(est.transform(X))), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3].split(","))
