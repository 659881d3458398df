"""Probes for issue #12: random erasing in the on-the-fly augmentation, and a deeper net.

One change at a time from ``DCSAETransformer(random_state=seed)`` + ``SVC()``, on the
benchmark's balanced PneumoniaMNIST draws, one JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/erasing.py 10 0,1,2,3 erase0.5,deep

- ``defaults``: nothing changed (reproduces the benchmark's rows);
- ``eraseP``: after the default affine and gamma, with probability ``P`` per image, one
  rectangle of 2-15% of the image (aspect 1/2 to 2, placed at random) is set to the image's
  own mean, drawn from the fit's seeded augmentation generator (cutout / random erasing:
  occlusion a classifier should not depend on);
- ``deep``: a third convolution, ``conv_channels=(32, 64, 16)`` in place of the ``"auto"``
  net's ``(32, 16)`` at 28x28, the dense layer unchanged.

Results: ``benchmarks/results/probes/erasing.md`` (``paired.py`` prints the tables).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv

from skdcsae import DCSAETransformer
from skdcsae._nn import _nets
from skdcsae._nn._augment import augment_images


def random_erasing(x: torch.Tensor, generator: torch.Generator, p: float) -> torch.Tensor:
    """One rectangle per chosen image of ``x`` (``(n, C, H, W)``) set to the image's mean."""
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator)
    area = (0.02 + 0.13 * u[:, 0]) * h * w
    aspect = torch.exp((u[:, 1] * 2 - 1) * torch.log(torch.tensor(2.0)))
    eh = (area * aspect).sqrt().round().clamp(1, h).long()
    ew = (area / aspect).sqrt().round().clamp(1, w).long()
    top = (u[:, 2] * (h - eh + 1)).floor().long()
    left = (u[:, 3] * (w - ew + 1)).floor().long()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (
            (rows >= top.view(n, 1, 1))
            & (rows < (top + eh).view(n, 1, 1))
            & (cols >= left.view(n, 1, 1))
            & (cols < (left + ew).view(n, 1, 1))
            & (u[:, 4] < p).view(n, 1, 1)
        )
        .unsqueeze(1)
        .to(x.device)
    )
    return torch.where(inside, x.mean(dim=(1, 2, 3), keepdim=True), x)


def make(name: str, seed: int) -> DCSAETransformer:
    # The training loop calls ``_nets.augment_images``; each config sets it (back) here.
    if name.startswith("erase"):
        p = float(name[len("erase") :])

        def augment(x, generator, settings):
            return random_erasing(augment_images(x, generator, settings), generator, p)

        _nets.augment_images = augment
    else:
        _nets.augment_images = augment_images
    if name == "deep":
        return DCSAETransformer(random_state=seed, device="cpu", conv_channels=(32, 64, 16))
    return DCSAETransformer(random_state=seed, device="cpu")


if __name__ == "__main__":
    score_from_argv(make)
