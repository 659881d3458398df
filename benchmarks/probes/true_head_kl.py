"""Probe for issue #12: a KL term on the true class's head as well.

The DC-SAE loss (section 4.4 of the paper) pulls every *wrong* head of an image towards the
prior N(0, I) and leaves the true head free apart from the repulsion margin and the
reconstruction through its samples; so the true head is close to a deterministic
autoencoder's code, with no bound on its scale. A VAE would also pull it towards the prior.
This probe adds ``w * KL(N(mu_l, sigma_l^2) || N(0, I))`` for the true head ``l`` to the
per-sample KL term (weighted by ``kl_weight`` as the rest of it), with ``w`` small because
the repulsion margin (2.5 times the prior's mean squared norm) asks the true head to stay
away from the prior. Fits ``DCSAETransformer(random_state=seed)`` + ``SVC()`` on balanced
PneumoniaMNIST with the benchmark's donor draw; A is the rest of the train split, B the test
split. One JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/true_head_kl.py 180 0,1,2,3 truekl0.1,truekl0.01

The baseline (the defaults, same seeds and draw) is the ``DC-SAE (defaults)`` rows of
``benchmarks/results/accuracy.jsonl``. Results: ``benchmarks/results/probes/loss_weights.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv, trained_by

from skdcsae import DCSAETransformer
from skdcsae._nn._loss import kl_to_standard_normal
from skdcsae._nn._nets import _DCSAENet


class _TrueKLNet(_DCSAENet):
    """The DC-SAE net with a KL term on the true head, weighted by ``true_weight``."""

    true_weight = 0.0

    def loss_terms(self, y_pred, y_true, X):
        terms = super().loss_terms(y_pred, y_true, X)
        mus, logvars = y_pred
        y = y_true.to(mus.device).long()
        rows = torch.arange(mus.shape[0], device=mus.device)
        true_kl = kl_to_standard_normal(mus[rows, y], logvars[rows, y])
        return {**terms, "kl": terms["kl"] + type(self).true_weight * true_kl}


def make_estimator(name: str, seed: int) -> DCSAETransformer:
    if not name.startswith("truekl"):
        raise SystemExit(f"unknown config {name!r}; use truekl<w>")
    net = type(f"_TrueKL_{name}", (_TrueKLNet,), {"true_weight": float(name[6:])})
    return trained_by(net, name, seed)


if __name__ == "__main__":
    score_from_argv(make_estimator)
