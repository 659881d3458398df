"""The DC-SAE loss (Padhye et al., CIKM 2023, section 4.4), generalised to K classes.

Per sample ``i`` with label ``l`` and the other classes ``~l``::

    L = kl_weight * L_kl + alpha * L_mse + beta * L_rep
    L_mse = ||x - x_hat||^2                       decoder fed z ~ N(mu_l, sigma_l^2)
    L_kl  = sum_{k != l} 1/2 sum_j (mu_kj^2 + sigma_kj^2 - 1 - log sigma_kj^2)
    L_rep = sum_{k != l} 1/rho * max(0, rho - ||mu_l - mu_k||^2)^2

Every function returns per-sample values; the caller averages over the batch.
"""

from __future__ import annotations

import torch

__all__ = [
    "REFERENCE_INPUT_SIZE",
    "auto_alpha",
    "dcsae_loss_terms",
    "kl_to_standard_normal",
    "reconstruction_error",
    "repulsion",
]


#: Values per input (pixels times channels) of one 28x28 grey image, the size at which the
#: paper set ``alpha = 10`` and at which the defaults were measured.
REFERENCE_INPUT_SIZE = 28 * 28


def auto_alpha(n_values: int, alpha: float = 10.0) -> float:
    """The reconstruction weight for inputs of ``n_values`` values: ``"auto"`` alpha.

    ``L_mse`` is summed over the input's values, so against the latent terms a 64x64 image's
    reconstruction weighs 5.2 times a 28x28 image's, and a colour image's 3 times a grey
    one's. ``alpha`` holds up to one 28x28 grey image (784 values); beyond, it shrinks by
    ``784 / n_values``, so that no input's reconstruction weighs more than a 28x28 image's.
    Smaller inputs keep ``alpha``.
    """
    return float(alpha) * min(1.0, REFERENCE_INPUT_SIZE / max(int(n_values), 1))


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence ``KL(N(mu, exp(logvar)) || N(0, I))`` summed over the last axis.

    Zero exactly when ``mu == 0`` and ``logvar == 0``; non-negative otherwise.
    """
    return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=-1)


def repulsion(mu_true: torch.Tensor, mu_other: torch.Tensor, rho: float) -> torch.Tensor:
    """Hinge-squared repulsion ``1/rho * max(0, rho - ||mu_true - mu_other||^2)^2``.

    Zero once the two means are at least ``rho`` apart in squared Euclidean distance,
    positive below. Reduced over the last axis.
    """
    sq_dist = torch.sum((mu_true - mu_other).pow(2), dim=-1)
    return torch.clamp(rho - sq_dist, min=0.0).pow(2) / rho


def reconstruction_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean reconstruction error per sample (summed over every non-batch axis)."""
    return (x - x_hat).pow(2).flatten(start_dim=1).sum(dim=1)


def dcsae_loss_terms(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mus: torch.Tensor,
    logvars: torch.Tensor,
    y: torch.Tensor,
    *,
    rho: float,
) -> dict[str, torch.Tensor]:
    """Per-sample DC-SAE loss terms.

    Parameters
    ----------
    x, x_hat : Tensor of shape (n, ...)
        Input and its reconstruction from a sample of the true-label head.
    mus, logvars : Tensor of shape (n, K, d)
        Mean and log-variance of every class head.
    y : LongTensor of shape (n,)
        Index of each sample's true class, in ``[0, K)``.
    rho : float
        Repulsion margin (squared distance).

    Returns
    -------
    terms : dict
        ``{"mse", "kl", "rep"}``, each a tensor of shape (n,).
    """
    n_heads = mus.shape[1]
    true_mask = torch.nn.functional.one_hot(y, n_heads).to(mus.dtype)  # (n, K)
    wrong_mask = 1.0 - true_mask
    kl = (kl_to_standard_normal(mus, logvars) * wrong_mask).sum(dim=1)
    mu_true = mus[torch.arange(mus.shape[0], device=mus.device), y]  # (n, d)
    rep = (repulsion(mu_true.unsqueeze(1), mus, rho) * wrong_mask).sum(dim=1)
    mse = reconstruction_error(x, x_hat)
    return {"mse": mse, "kl": kl, "rep": rep}
