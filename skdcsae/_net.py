"""Private skorch nets: the training loop, customised through ``get_loss`` only."""

from __future__ import annotations

import torch
from skorch import NeuralNet

from ._loss import dcsae_loss_terms

__all__ = ["_DCSAENet", "_LatentNet"]


def _reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class _LatentNet(NeuralNet):
    """Base for nets whose loss is a weighted sum of named per-sample terms.

    Subclasses implement :meth:`loss_terms` (per-sample tensors) and :meth:`term_weights`.
    Each term's batch mean is recorded in the history (``train_<term>`` / ``valid_<term>``)
    and averaged per epoch by :class:`skorch.callbacks.PassthroughScoring`.
    """

    term_names: tuple[str, ...] = ()

    def __init__(self, module, *args, criterion=torch.nn.Module, **kwargs):
        # The loss lives in ``get_loss``; skorch still wants a criterion module to hold.
        super().__init__(module, criterion, *args, **kwargs)

    def loss_terms(self, y_pred, y_true, X) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def term_weights(self) -> dict[str, float]:
        raise NotImplementedError

    def get_loss(self, y_pred, y_true, X=None, training=False):
        terms = self.loss_terms(y_pred, y_true, X)
        weights = self.term_weights()
        total = sum(weights[name] * terms[name] for name in self.term_names).mean()
        prefix = "train_" if training else "valid_"
        for name in self.term_names:
            self.history.record_batch(prefix + name, terms[name].mean().item())
        return total


class _DCSAENet(_LatentNet):
    """skorch net for the DC-SAE: ``module`` returns ``(mus, logvars)`` of every class head."""

    term_names = ("mse", "kl", "rep")

    def __init__(self, module, *args, alpha=10.0, beta=10.0, rho=5.0, kl_weight=1.0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.alpha = alpha
        self.beta = beta
        self.rho = rho
        self.kl_weight = kl_weight

    def term_weights(self):
        return {"mse": self.alpha, "kl": self.kl_weight, "rep": self.beta}

    def loss_terms(self, y_pred, y_true, X):
        mus, logvars = y_pred
        y = y_true.to(mus.device).long()
        rows = torch.arange(mus.shape[0], device=mus.device)
        z = _reparameterize(mus[rows, y], logvars[rows, y])
        x_hat = self.module_.decode(z)
        x = X.to(x_hat.device) if isinstance(X, torch.Tensor) else x_hat.new_tensor(X)
        return dcsae_loss_terms(x, x_hat.view_as(x), mus, logvars, y, rho=self.rho)
