"""Probe for issue #12: two regularisers the issue lists as untried, weight decay and mixup.

Fits ``DCSAETransformer(random_state=seed)`` + ``SVC()`` on balanced PneumoniaMNIST with the
benchmark's donor draw, changing one thing in the training loop. A is the rest of the train
split, B the test split (the shifted population). One JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/regularisers.py 180 0,1,2,3 mixup,wd0.1

Configs:

- ``wd<w>``: AdamW with decoupled weight decay ``w`` in place of Adam (AdamW with ``w=0`` is
  Adam), over every weight of the encoder and decoder;
- ``mixup``: mixup (Zhang et al., ICLR 2018) inside the training step, after the on-the-fly
  augmentation. Each image is blended with a partner drawn by permuting the batch,
  ``x = lam x_a + (1 - lam) x_b`` with ``lam ~ Beta(0.4, 0.4)`` per image, and each per-image
  loss term is ``lam`` times its value under ``x_a``'s label plus ``1 - lam`` times its value
  under ``x_b``'s. The reconstruction target is the blended image. Draws come from a generator
  seeded by the fit, so a row is reproducible.

Nothing in the library changes: the probe subclasses the private skorch net. The baseline
(the defaults, same seeds and draw) is the ``DC-SAE (defaults)`` rows of
``benchmarks/results/accuracy.jsonl``. Results: ``benchmarks/results/probes/regularisers.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv, trained_by

from skdcsae import DCSAETransformer
from skdcsae._nn._augment import augment_images
from skdcsae._nn._nets import _DCSAENet

MIXUP_ALPHA = 0.4


class _MixupNet(_DCSAENet):
    """The DC-SAE net with mixup in the training step (validation batches are left alone)."""

    _mix = None

    def initialize(self):
        super().initialize()
        self.mix_rng_ = np.random.default_rng(int(self.augment_seed) + 1)
        return self

    def train_step_single(self, batch, **fit_params):
        Xi, yi = unpack_data(batch)
        Xi = to_tensor(Xi, device=self.device)
        yi = to_tensor(yi, device=self.device)
        if self.augment and Xi.ndim == 4 and len(Xi):
            Xi = augment_images(Xi, self.augment_generator_, self.augment)
        n = len(Xi)
        lam = torch.as_tensor(self.mix_rng_.beta(MIXUP_ALPHA, MIXUP_ALPHA, n), dtype=Xi.dtype)
        perm = torch.as_tensor(self.mix_rng_.permutation(n))
        lam, perm = lam.to(Xi.device), perm.to(Xi.device)
        weight = lam.view(-1, *([1] * (Xi.ndim - 1)))
        mixed = weight * Xi + (1 - weight) * Xi[perm]
        self._mix = (lam, yi[perm])
        try:
            # skip _LatentNet's augmentation: the batch is already augmented and mixed
            return NeuralNet.train_step_single(self, (mixed, yi), **fit_params)
        finally:
            self._mix = None

    def loss_terms(self, y_pred, y_true, X):
        terms = super().loss_terms(y_pred, y_true, X)
        if self._mix is None:
            return terms
        lam, y_partner = self._mix
        partner = super().loss_terms(y_pred, y_partner, X)
        return {k: lam * terms[k] + (1 - lam) * partner[k] for k in terms}


def _adamw_net(weight_decay: float) -> type:
    class _AdamWNet(_DCSAENet):
        def __init__(self, *args, **kwargs):
            kwargs["optimizer"] = torch.optim.AdamW
            kwargs.setdefault("optimizer__weight_decay", weight_decay)
            super().__init__(*args, **kwargs)

    return _AdamWNet


def make_estimator(name: str, seed: int) -> DCSAETransformer:
    if name == "mixup":
        net = _MixupNet
    elif name.startswith("wd"):
        net = _adamw_net(float(name[2:]))
    else:
        raise SystemExit(f"unknown config {name!r}")
    return trained_by(net, name, seed)


if __name__ == "__main__":
    score_from_argv(make_estimator)
