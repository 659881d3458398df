"""What a donor kit releases about the donor's images: per-image features or class prototypes.

The paper ships one latent feature vector per donor image (``release="per_image"``). Anyone who
holds a candidate image can encode it with the kit's encoder and find its exact feature vector
in that table, which reveals that the image was in the donor's data. The other modes release
less:

- ``release="prototypes"``: per class, k-means centres of the donor features, each the mean of
  at least ``min_count`` images, weighted by the number of images they summarise. The recipient's
  classifier trains on the centres with those weights as sample weights.
- ``release="synthetic"``: per class, the same k-means grouping (each group of at least
  ``min_count`` images), a Gaussian per group (mean and Ledoit-Wolf-shrunk covariance), and
  synthetic feature rows drawn from that mixture. No released row belongs to a donor image;
  the recipient's classifier sees the shape of each class, not only its centres.
- ``feature_noise=z`` (``"per_image"`` or ``"prototypes"``): every feature vector is first
  clipped to L2 norm ``clip_norm``, then each released row gets Gaussian noise of standard
  deviation ``z`` times its sensitivity: ``2 * clip_norm`` for a per-image row, ``2 * clip_norm
  / m`` for a prototype summarising ``m`` images (replacing one image moves the row by at most
  that much). Each image affects one row, so the whole table is (epsilon, delta)-differentially
  private *given the encoder and the grouping of images into prototypes*; epsilon is computed
  exactly for the Gaussian mechanism (Balle and Wang, ICML 2018). The encoder is itself a
  function of the donor images unless it was trained with DP-SGD
  (``DCSAETransformer(dp=True)``).
"""

from __future__ import annotations

import math
import secrets
from numbers import Integral, Real

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm as _normal

__all__ = ["RELEASE_MODES", "gaussian_mechanism_epsilon", "release_features"]

RELEASE_MODES = ("per_image", "prototypes", "synthetic")


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
        ``inf`` if no finite epsilon reaches ``delta`` (never happens for ``delta > 0``).

    Examples
    --------
    >>> from skdcsae.kit._release import gaussian_mechanism_epsilon
    >>> round(gaussian_mechanism_epsilon(1.0, 1e-5), 2)
    4.38
    """
    z = float(noise_multiplier)
    if not z > 0:
        raise ValueError(f"noise_multiplier must be positive, got {noise_multiplier!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if _gaussian_delta(0.0, z) <= delta:
        return 0.0
    hi = 1.0
    while _gaussian_delta(hi, z) > delta:
        hi *= 2.0
        if hi > 1e6:
            return math.inf
    return float(brentq(lambda e: _gaussian_delta(e, z) - delta, 0.0, hi, xtol=1e-10))


def _clip_rows(features: np.ndarray, clip_norm: float) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    factor = np.minimum(1.0, clip_norm / np.maximum(norms, np.finfo(np.float64).tiny))
    return features * factor


def _groups(features: np.ndarray, n_prototypes: int, min_count: int, seed: int) -> np.ndarray:
    """k-means grouping of one class's rows into groups of at least ``min_count`` rows.

    Returns the group index (0..k-1) of every row. Clusters smaller than ``min_count`` are
    dissolved one at a time (smallest first) and their rows reassigned to the nearest
    remaining centre.
    """
    from sklearn.cluster import KMeans

    n = len(features)
    k = max(1, min(int(n_prototypes), n // min_count))
    if k == 1:
        return np.zeros(n, dtype=int)
    assign = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features)
    while True:
        labels, counts = np.unique(assign, return_counts=True)
        if counts.min() >= min_count or len(labels) == 1:
            return np.searchsorted(labels, assign)
        centres = np.stack([features[assign == lab].mean(axis=0) for lab in labels])
        keep = np.ones(len(labels), dtype=bool)
        keep[np.argmin(counts)] = False
        dist = ((features[:, None, :] - centres[None, keep, :]) ** 2).sum(axis=2)
        assign = labels[keep][np.argmin(dist, axis=1)]


def _prototypes(features: np.ndarray, n_prototypes: int, min_count: int, seed: int):
    """k-means centres of one class, each the mean of at least ``min_count`` rows.

    Returns ``(centres, counts)``.
    """
    groups = _groups(features, n_prototypes, min_count, seed)
    counts = np.bincount(groups)
    centres = np.stack([features[groups == g].mean(axis=0) for g in range(len(counts))])
    return centres, counts


def _synthetic(features, n_prototypes, min_count, n_draws, rng, seed):
    """``n_draws`` rows from a Gaussian mixture fitted to one class's grouped rows."""
    from sklearn.covariance import LedoitWolf

    groups = _groups(features, n_prototypes, min_count, seed)
    counts = np.bincount(groups)
    # draws per group in proportion to its size (largest remainders get the leftovers)
    share = n_draws * counts / counts.sum()
    draws = np.floor(share).astype(int)
    draws[np.argsort(share - draws)[::-1][: n_draws - draws.sum()]] += 1
    parts = []
    for g, m in enumerate(draws):
        rows = features[groups == g]
        cov = LedoitWolf().fit(rows).covariance_
        parts.append(rng.multivariate_normal(rows.mean(axis=0), cov, size=int(m)))
    return np.concatenate(parts), len(counts)


def _check_release_params(
    mode, n_prototypes, min_count, feature_noise, clip_norm, delta, n_synthetic
):
    if mode not in RELEASE_MODES:
        raise ValueError(
            f"release must be one of {', '.join(repr(m) for m in RELEASE_MODES)}; got {mode!r}."
        )
    if not isinstance(n_prototypes, Integral) or isinstance(n_prototypes, bool) or n_prototypes < 1:
        raise ValueError(f"n_prototypes must be a positive integer, got {n_prototypes!r}.")
    if not isinstance(min_count, Integral) or isinstance(min_count, bool) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}.")
    if feature_noise is not None and (not isinstance(feature_noise, Real) or not feature_noise > 0):
        raise ValueError(
            f"feature_noise is a noise multiplier (noise std / sensitivity) and must be "
            f"positive, or None for no noise; got {feature_noise!r}."
        )
    if feature_noise is not None and mode == "synthetic":
        raise ValueError(
            "feature_noise applies to release='per_image' or 'prototypes'; synthetic rows are "
            "draws from a fitted mixture, not noisy copies of donor features."
        )
    if n_synthetic is not None and (
        not isinstance(n_synthetic, Integral) or isinstance(n_synthetic, bool) or n_synthetic < 1
    ):
        raise ValueError(f"n_synthetic must be a positive integer or None, got {n_synthetic!r}.")
    if clip_norm is not None and (not isinstance(clip_norm, Real) or not clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}.")
    if delta is not None and (not isinstance(delta, Real) or not 0 < delta < 1):
        raise ValueError(f"delta must be in (0, 1), got {delta!r}.")


def release_features(
    features,
    y_index,
    classes,
    *,
    mode="per_image",
    n_prototypes=3,
    min_count=10,
    n_synthetic=None,
    feature_noise=None,
    clip_norm=None,
    delta=None,
    random_state=0,
):
    """Turn per-image donor features into what a kit releases.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Per-image latent features of the donor images.
    y_index : ndarray of shape (n,)
        Index into ``classes`` of each row.
    classes : ndarray of shape (n_classes,)
        Class labels (used in messages).
    mode : {"per_image", "prototypes", "synthetic"}, default="per_image"
        See the module docstring.
    n_prototypes : int, default=3
        Most prototypes (or mixture components) per class; fewer when a class has fewer
        than ``n_prototypes * min_count`` images.
    min_count : int, default=10
        Fewest images a prototype or component summarises; a class with fewer images is
        refused.
    n_synthetic : int or None, default=None
        Synthetic rows per class (``"synthetic"``); None means twice the class's images.
    feature_noise : float or None, default=None
        Gaussian noise multiplier (standard deviation / sensitivity); needs ``clip_norm``.
    clip_norm : float or None, default=None
        Clip every feature vector to this L2 norm before summarising or adding noise.
    delta : float or None, default=None
        Delta of the reported (epsilon, delta) when ``feature_noise`` is set; None means
        ``min(1e-5, 1 / (10 * n))``.
    random_state : int, default=0
        Seeds k-means and the synthetic draws. The noise is never seeded: it comes from the
        operating system's secure random source.

    Returns
    -------
    released : ndarray of shape (n_rows, d), float32
    row_index : ndarray of shape (n_rows,)
        Class index of each released row.
    weights : ndarray of shape (n_rows,), float64
        How many images each row stands for (1 for per-image rows).
    info : dict
        Plain-data description of the release, stored in the kit.
    """
    _check_release_params(
        mode, n_prototypes, min_count, feature_noise, clip_norm, delta, n_synthetic
    )
    features = np.asarray(features, dtype=np.float64)
    y_index = np.asarray(y_index)
    n = len(features)
    norms = np.linalg.norm(features, axis=1)
    if feature_noise is not None and clip_norm is None:
        raise ValueError(
            "feature_noise needs clip_norm: the noise is calibrated to how far one image can "
            "move a released row, which clipping bounds. The donor features here have L2 norms "
            f"up to {norms.max():.3g} (median {np.median(norms):.3g}); choose clip_norm from "
            "prior knowledge (a value taken from the data itself leaks a little)."
        )
    counts = np.bincount(y_index, minlength=len(classes))
    if mode != "per_image":
        names = np.asarray(classes).tolist()
        small = [(names[k], int(c)) for k, c in enumerate(counts) if c < min_count]
        if small:
            listed = ", ".join(f"{c!r} ({m})" for c, m in small)
            raise ValueError(
                f"release={mode!r} summarises at least min_count={min_count} images per "
                f"group, but these classes have fewer donor images: {listed}. Add images, "
                "lower min_count (a group of few images reveals more about each), or use "
                "release='per_image'."
            )
    work = _clip_rows(features, float(clip_norm)) if clip_norm is not None else features
    rng = np.random.default_rng([int(random_state), 7])  # k-means and synthetic draws
    n_groups = []
    if mode == "per_image":
        released, row_index, weights = work, y_index.copy(), np.ones(n)
    elif mode == "synthetic":
        parts, idx = [], []
        for k in range(len(classes)):
            n_draws = 2 * int(counts[k]) if n_synthetic is None else int(n_synthetic)
            rows, n_g = _synthetic(
                work[y_index == k], n_prototypes, min_count, n_draws, rng, random_state
            )
            parts.append(rows)
            idx.append(np.full(len(rows), k))
            n_groups.append(n_g)
        released, row_index = np.concatenate(parts), np.concatenate(idx)
        weights = np.ones(len(released))
    else:
        parts, idx, wts = [], [], []
        for k in range(len(classes)):
            centres, sizes = _prototypes(work[y_index == k], n_prototypes, min_count, random_state)
            parts.append(centres)
            idx.append(np.full(len(centres), k))
            wts.append(sizes.astype(np.float64))
            n_groups.append(len(centres))
        released, row_index, weights = (
            np.concatenate(parts),
            np.concatenate(idx),
            np.concatenate(wts),
        )
    info = {
        "mode": mode,
        "n_rows": len(released),
        "n_images_per_class": [int(c) for c in counts],
        "clip_norm": None if clip_norm is None else float(clip_norm),
        "n_clipped": 0 if clip_norm is None else int(np.sum(norms > clip_norm)),
        "feature_noise": None,
        "epsilon": None,
        "delta": None,
    }
    if mode != "per_image":
        info["n_prototypes"] = int(n_prototypes)
        info["min_count"] = int(min_count)
        info["n_groups_per_class"] = [int(g) for g in n_groups]
    if feature_noise is not None:
        # sensitivity of a row to replacing one of its images: 2C for one image, 2C/m for a mean
        sensitivity = 2.0 * float(clip_norm) / weights
        # Drawn from the operating system's secure source, never from a seed: whoever could
        # regenerate the noise could subtract it. Two exports therefore differ.
        secure = np.random.default_rng(secrets.randbits(128))
        noise = (
            secure.standard_normal(released.shape) * (float(feature_noise) * sensitivity)[:, None]
        )
        released = released + noise
        delta = min(1e-5, 1.0 / (10.0 * n)) if delta is None else float(delta)
        info["feature_noise"] = float(feature_noise)
        info["delta"] = delta
        info["epsilon"] = gaussian_mechanism_epsilon(float(feature_noise), delta)
    return np.ascontiguousarray(released, dtype=np.float32), row_index, weights, info
