"""Private skorch nets: the training loop, customised through ``get_loss`` only."""

from __future__ import annotations

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._augment import augment_images
from ._loss import dcsae_loss_terms, kl_to_standard_normal, reconstruction_error

__all__ = ["_DCSAENet", "_LatentNet", "_VAENet"]


def _reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


class _LatentNet(NeuralNet):
    """Base for nets whose loss is a weighted sum of named per-sample terms.

    Subclasses implement :meth:`loss_terms` (per-sample tensors) and :meth:`term_weights`.
    Each term's batch mean is recorded in the history (``train_<term>`` / ``valid_<term>``)
    and averaged per epoch by :class:`skorch.callbacks.PassthroughScoring`.

    ``augment`` (settings of :func:`~skdcsae._nn._augment.augment_images`, or None) jitters
    every training batch of images on the fly, from a generator seeded with ``augment_seed``;
    the reconstruction target is the jittered image. Validation batches are never augmented.
    """

    term_names: tuple[str, ...] = ()

    def __init__(
        self, module, *args, criterion=torch.nn.Module, augment=None, augment_seed=0, **kwargs
    ):
        # The loss lives in ``get_loss``; skorch still wants a criterion module to hold.
        super().__init__(module, criterion, *args, **kwargs)
        self.augment = augment
        self.augment_seed = augment_seed

    def initialize(self):
        super().initialize()
        self.augment_generator_ = torch.Generator().manual_seed(int(self.augment_seed))
        return self

    def train_step_single(self, batch, **fit_params):
        if self.augment:
            Xi, yi = unpack_data(batch)
            Xi = to_tensor(Xi, device=self.device)
            if Xi.ndim == 4 and len(Xi):
                batch = (augment_images(Xi, self.augment_generator_, self.augment), yi)
        return super().train_step_single(batch, **fit_params)

    def loss_terms(self, y_pred, y_true, X) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def term_weights(self) -> dict[str, float]:
        raise NotImplementedError

    def reconstruct(self, z: torch.Tensor, X) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode latent samples ``z``; returns ``(x, x_hat)`` on the same device and shape."""
        x_hat = self.module_.decode(z)
        x = X.to(x_hat.device) if isinstance(X, torch.Tensor) else x_hat.new_tensor(X)
        return x, x_hat.view_as(x)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        terms = self.loss_terms(y_pred, y_true, X)
        weights = self.term_weights()
        total = sum(weights[name] * terms[name] for name in self.term_names).mean()
        prefix = "train_" if training else "valid_"
        # one device-to-host copy for all terms (each .item() would wait for the GPU)
        values = torch.stack([terms[name].detach().mean() for name in self.term_names]).tolist()
        for name, value in zip(self.term_names, values, strict=True):
            self.history.record_batch(prefix + name, value)
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
        x, x_hat = self.reconstruct(_reparameterize(mus[rows, y], logvars[rows, y]), X)
        return dcsae_loss_terms(x, x_hat, mus, logvars, y, rho=self.rho)


class _VAENet(_LatentNet):
    """skorch net for a standard VAE: ``module`` has one head; ``y`` is ignored.

    Per sample: ``alpha * ||x - x_hat||^2 + kl_weight * KL(N(mu, sigma^2) || N(0, I))`` with
    ``x_hat`` decoded from a reparameterised sample of the head.
    """

    term_names = ("mse", "kl")

    def __init__(self, module, *args, alpha=1.0, kl_weight=1.0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.alpha = alpha
        self.kl_weight = kl_weight

    def term_weights(self):
        return {"mse": self.alpha, "kl": self.kl_weight}

    def loss_terms(self, y_pred, y_true, X):
        mus, logvars = y_pred
        mu, logvar = mus[:, 0], logvars[:, 0]
        x, x_hat = self.reconstruct(_reparameterize(mu, logvar), X)
        return {"mse": reconstruction_error(x, x_hat), "kl": kl_to_standard_normal(mu, logvar)}
