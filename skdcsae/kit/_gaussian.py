"""The Gaussian mechanism's exact (epsilon, delta), for the noise a kit may add to its rows."""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.stats import norm as _normal

__all__ = ["default_delta", "gaussian_mechanism_epsilon"]


def _gaussian_delta(epsilon: float, z: float) -> float:
    """delta(epsilon) of the Gaussian mechanism, noise multiplier z (sigma = z * sensitivity)."""
    a = 1.0 / (2.0 * z)
    b = epsilon * z
    # exp(eps) * Phi(-a - b), computed in log space so that large epsilon does not overflow
    second = math.exp(epsilon + _normal.logcdf(-a - b))
    return float(_normal.cdf(a - b) - second)


def gaussian_mechanism_epsilon(noise_multiplier: float, delta: float) -> float:
    """Smallest epsilon for which the Gaussian mechanism is (epsilon, delta)-DP.

    Exact ("analytic") calibration of Balle and Wang (ICML 2018): noise of standard deviation
    ``noise_multiplier * sensitivity`` added to a query of L2 sensitivity ``sensitivity``.

    Parameters
    ----------
    noise_multiplier : float
        Noise standard deviation divided by the L2 sensitivity; positive.
    delta : float
        Target delta, in (0, 1).

    Returns
    -------
    epsilon : float
        ``inf`` if no finite epsilon up to 1e6 reaches ``delta``.

    Raises
    ------
    ValueError
        If ``noise_multiplier`` is not positive or ``delta`` is not in (0, 1).

    Examples
    --------
    >>> from skdcsae.kit._gaussian import gaussian_mechanism_epsilon
    >>> round(gaussian_mechanism_epsilon(1.0, 1e-5), 2)
    4.38
    """
    z = float(noise_multiplier)
    if not z > 0:
        raise ValueError(f"noise_multiplier must be positive, got {noise_multiplier!r}.")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}.")
    if _gaussian_delta(0.0, z) <= delta:
        return 0.0
    hi = 1.0
    while _gaussian_delta(hi, z) > delta:
        hi *= 2.0
        if hi > 1e6:
            return math.inf
    return float(brentq(lambda e: _gaussian_delta(e, z) - delta, 0.0, hi, xtol=1e-10))


def default_delta(n_images: int) -> float:
    """The delta used when none is given: ``min(1e-5, 1 / (10 n))``, well below ``1 / n``."""
    return min(1e-5, 1.0 / (10.0 * max(int(n_images), 1)))
