"""Probe for issue #12: denoising corruption of the encoder's input during training.

A denoising autoencoder (Vincent et al., ICML 2008) sees a corrupted image and is asked to
reconstruct the clean one, so its code must describe the image rather than the corruption.
Here each training image is first augmented as the library does (random affine and gamma),
then corrupted for the encoder only; the reconstruction target stays the augmented, clean
image, and the label terms (KL and repulsion) are unchanged. Inference is untouched, so the
kit format would not change. Fits ``DCSAETransformer(random_state=seed)`` + ``SVC()`` on
balanced PneumoniaMNIST with the benchmark's donor draw; A is the rest of the train split, B
the test split (the shifted population). One JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/denoising.py 180 0,1,2,3 erase,noise

Configs (images are min-max scaled by the fit's input scaling, about [0, 1]):

- ``erase``: random erasing (Zhong et al., AAAI 2020) with probability 1/2 per image: one
  rectangle of ``U(2%, 15%)`` of the image's area and log-uniform aspect ratio in
  ``[0.3, 3.3]``, filled with the image's mean;
- ``noise``: additive Gaussian noise with a standard deviation drawn per image from
  ``U(0, 0.1)`` times the image's own intensity range;
- ``erase_aug``: the control of ``erase``. The same erasing, but the reconstruction target
  is the erased image, so erasing is one more augmentation rather than a corruption to undo
  (cutout).

Draws come from a generator seeded by the fit, so a row is reproducible. The baseline (the
defaults, same seeds and draw) is the ``DC-SAE (defaults)`` rows of
``benchmarks/results/accuracy.jsonl``. Results: ``benchmarks/results/probes/denoising.md``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv, trained_by

from skdcsae import DCSAETransformer
from skdcsae._nn._augment import augment_images
from skdcsae._nn._nets import _DCSAENet


def random_erase(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One mean-filled rectangle in about half of the images of ``x`` (``(n, C, H, W)``)."""
    n, _, height, width = x.shape
    u = torch.rand(n, 5, generator=generator)
    area = (0.02 + 0.13 * u[:, 0]) * height * width
    ratio = torch.exp(math.log(0.3) + (math.log(3.3) - math.log(0.3)) * u[:, 1])
    h = torch.sqrt(area * ratio).clamp(1, height).round()
    w = torch.sqrt(area / ratio).clamp(1, width).round()
    top = ((height - h) * u[:, 2]).floor()
    left = ((width - w) * u[:, 3]).floor()
    rows = torch.arange(height).view(1, height, 1)
    cols = torch.arange(width).view(1, 1, width)
    inside = (
        (rows >= top.view(-1, 1, 1))
        & (rows < (top + h).view(-1, 1, 1))
        & (cols >= left.view(-1, 1, 1))
        & (cols < (left + w).view(-1, 1, 1))
        & (u[:, 4] < 0.5).view(-1, 1, 1)
    )
    mask = inside.unsqueeze(1).to(x.device)
    return torch.where(mask, x.mean(dim=(1, 2, 3), keepdim=True), x)


def gaussian_noise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Noise of a random per-image strength, up to 10% of each image's intensity range."""
    n = x.shape[0]
    strength = 0.1 * torch.rand(n, 1, 1, 1, generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    span = x.amax(dim=(1, 2, 3), keepdim=True) - x.amin(dim=(1, 2, 3), keepdim=True)
    return x + (strength * noise).to(device=x.device, dtype=x.dtype) * span


CORRUPTIONS = {"erase": random_erase, "noise": gaussian_noise, "erase_aug": random_erase}
#: configs whose reconstruction target is the corrupted image itself
AUGMENTATIONS = {"erase_aug"}


class _DenoisingNet(_DCSAENet):
    """The DC-SAE net trained on corrupted inputs against clean reconstruction targets (or,
    with ``clean_target = False``, against the corrupted inputs themselves)."""

    corruption = None
    clean_target = True
    _target = None

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        if Xi.ndim != 4 or not len(Xi):
            return super().train_step_single(batch, **fit_params)
        clean = augment_images(Xi, self.augment_generator_, self.augment)
        self._target = clean if type(self).clean_target else None
        try:
            corrupted = type(self).corruption(clean, self.augment_generator_)
            # skip _LatentNet's augmentation: the batch is already augmented
            return NeuralNet.train_step_single(self, (corrupted, yi), **fit_params)
        finally:
            self._target = None

    def loss_terms(self, y_pred, y_true, X):
        return super().loss_terms(y_pred, y_true, X if self._target is None else self._target)


def make_estimator(name: str, seed: int) -> DCSAETransformer:
    if name not in CORRUPTIONS:
        raise SystemExit(f"unknown config {name!r}; known: {sorted(CORRUPTIONS)}")
    attributes = {
        "corruption": staticmethod(CORRUPTIONS[name]),
        "clean_target": name not in AUGMENTATIONS,
    }
    net = type(f"_Denoising_{name}", (_DenoisingNet,), attributes)
    return trained_by(net, name, seed)


if __name__ == "__main__":
    score_from_argv(make_estimator)
