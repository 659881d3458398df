"""The base of the VAE baselines: a one-head VAE trained with the plain VAE loss.

:class:`~skdcsae.VAETransformer` (latent means as features) and
:class:`~skdcsae.AnomalyVAETransformer` (reconstruction error as the score) differ only in what
they return; this module holds what they share.
"""

from __future__ import annotations

from dataclasses import KW_ONLY
from numbers import Real
from typing import ClassVar

import numpy as np

from .._base import _BaseLatentTransformer, estimator_parameters
from .._compat import Interval
from .._nn import _VAENet, reconstruction_error

__all__ = ["_BaseVAE"]


@estimator_parameters
class _BaseVAE(_BaseLatentTransformer):
    """A one-head :class:`~skdcsae._nn.MultiHeadVAE` trained with the plain VAE loss."""

    _: KW_ONLY
    alpha: float = 1.0
    kl_weight: float = 1.0

    _parameter_constraints: ClassVar[dict] = {
        **_BaseLatentTransformer._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
    }
    _net_class: ClassVar[type] = _VAENet

    def _net_kwargs(self):
        return {"alpha": float(self.alpha), "kl_weight": float(self.kl_weight)}

    def _fit_vae(self, X: np.ndarray):
        """Learn the input scaling on X and train the VAE on it (labels play no part)."""
        self._fit_scaling(X)
        return self._train(X, None, n_heads=1)

    def _reconstruction_error(self, X: np.ndarray) -> np.ndarray:
        """``||x - decode(mu(x))||^2`` per sample in the scaled input space, shape ``(n,)``."""

        def error(module, batch):
            mus, _ = module(batch)
            x_hat = module.decode(mus[:, 0]).view_as(batch)
            # summed in float64: the same value whatever the batch an image comes in
            return reconstruction_error(batch.double(), x_hat.double()).cpu().numpy()

        return self._forward_batches(X, error)
