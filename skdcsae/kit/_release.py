"""What a donor kit releases about the donor's images: the release settings and their effect.

The paper ships one latent feature vector per donor image (``mode="per_image"``). Anyone who
holds a candidate image can encode it with the kit's encoder and find its exact feature vector
in that table, which reveals that the image was in the donor's data. The other modes release
summaries of groups of at least ``min_count`` images instead:

- ``mode="synthetic"`` (the default): per class, a k-means grouping of the donor features
  into at most ``n_prototypes`` groups of at least ``min_count`` images, a Gaussian per group
  (mean and Ledoit-Wolf-shrunk covariance), and synthetic feature rows drawn from that mixture.
  No released row belongs to a donor image; the recipient's classifier sees the shape of each
  class, not only its centres.
- ``mode="prototypes"``: the same groups' centres, each weighted by the number of images it
  summarises. The recipient's classifier trains on the centres with those weights as sample
  weights.
- ``feature_noise=z`` (``"per_image"`` or ``"prototypes"``): every feature vector is first
  clipped to L2 norm ``clip_norm``, then each released row gets Gaussian noise of standard
  deviation ``z`` times its sensitivity: ``2 * clip_norm`` for a per-image row, ``2 * clip_norm
  / m`` for a prototype summarising ``m`` images (replacing one image moves the row by at most
  that much). Each image affects one row, so the whole table is (epsilon, delta)-differentially
  private *given the encoder and the grouping of images into prototypes*; epsilon is computed
  exactly for the Gaussian mechanism (Balle and Wang, ICML 2018). The encoder is itself a
  function of the donor images unless it was trained with DP-SGD
  (``DCSAETransformer(dp=True)``).

:class:`ReleaseSettings` is the one definition of these settings: the estimator's
``export_donor_kit(release=...)`` takes it (or a mode name), the kit records it, and the
command line builds its ``--release`` options from its fields. The default was chosen by
``benchmarks/privacy.py defaults`` (``benchmarks/results/privacy_defaults.md``).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._gaussian import default_delta, gaussian_mechanism_epsilon

__all__ = [
    "DEFAULT_RELEASE_MODE",
    "RELEASE_MODES",
    "ReleaseSettings",
    "ReleasedFeatures",
    "default_delta",
    "gaussian_mechanism_epsilon",
    "release_features",
]

RELEASE_MODES = ("per_image", "prototypes", "synthetic")
DEFAULT_RELEASE_MODE = "synthetic"


def _count(value: Any, name: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        what = "a positive integer or None" if optional else "a positive integer"
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return int(value)


def _positive(value: Any, name: str, *, below_one: bool = False) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and value > 0 and (value < 1 if below_one else True)
    if not ok:
        allowed = "a number in (0, 1)" if below_one else "a positive finite number"
        raise ValueError(f"{name} must be {allowed} or None, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class ReleaseSettings:
    """What a donor kit's feature table holds: one frozen record of every release setting.

    Parameters
    ----------
    mode : {"synthetic", "prototypes", "per_image"}, default="synthetic"
        ``"synthetic"``: per class, rows drawn from a Gaussian mixture fitted to k-means groups
        of at least ``min_count`` donor images; no row belongs to a donor image.
        ``"prototypes"``: per class, the groups' centres, weighted by their size.
        ``"per_image"``: the paper's setting, one feature row per donor image; whoever holds
        one of the donor's images can tell that it was used (see
        :func:`skdcsae.audit_donor_kit`).
    n_prototypes : int, default=3
        Most groups (prototypes or mixture components) per class.
    min_count : int, default=10
        Fewest donor images behind one group; a class with fewer images is refused.
    n_synthetic : int or None, default=None
        Synthetic rows per class (``"synthetic"``); None means twice the class's images.
    feature_noise : float or None, default=None
        Gaussian noise multiplier for the released rows (``"per_image"`` and
        ``"prototypes"``): standard deviation over sensitivity. Needs ``clip_norm``.
    clip_norm : float or None, default=None
        Clip every feature vector to this L2 norm before summarising or adding noise; choose
        it from prior knowledge, not from the data.
    delta : float or None, default=None
        Delta of the feature noise's (epsilon, delta); None means ``min(1e-5, 1 / (10 n))``
        for ``n`` donor images (a kit records the value used).

    Raises
    ------
    ValueError
        If a value is out of range, or ``feature_noise`` is given without ``clip_norm`` or
        with ``mode="synthetic"``.

    See Also
    --------
    skdcsae.DCSAETransformer.export_donor_kit : takes ``release=ReleaseSettings(...)``.

    Examples
    --------
    >>> from skdcsae import ReleaseSettings
    >>> ReleaseSettings()
    ReleaseSettings(mode='synthetic', n_prototypes=3, min_count=10, n_synthetic=None, \
feature_noise=None, clip_norm=None, delta=None)
    >>> ReleaseSettings("prototypes", min_count=5).min_count
    5
    >>> ReleaseSettings.from_release("per_image").mode
    'per_image'
    """

    mode: str = field(
        default=DEFAULT_RELEASE_MODE,
        metadata={
            "flag": "--release",
            "help": "what the kit's feature table holds: rows drawn from a per-class Gaussian "
            "mixture fitted to groups of at least --min-count images (synthetic), the groups' "
            "centres (prototypes), or one row per donor image (per_image, the paper's setting: "
            "reveals which images the donor had)",
        },
    )
    n_prototypes: int = field(
        default=3, metadata={"help": "most groups (prototypes, mixture components) per class"}
    )
    min_count: int = field(default=10, metadata={"help": "fewest donor images behind one group"})
    n_synthetic: int | None = field(
        default=None, metadata={"help": "synthetic rows per class (default: twice its images)"}
    )
    feature_noise: float | None = field(
        default=None,
        metadata={"help": "Gaussian noise multiplier for the released rows (needs --clip-norm)"},
    )
    clip_norm: float | None = field(
        default=None, metadata={"help": "clip feature vectors to this L2 norm"}
    )
    delta: float | None = field(
        default=None,
        metadata={"help": "delta of the feature noise (default: min(1e-5, 1/(10 n)))"},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.mode, str) or self.mode not in RELEASE_MODES:
            raise ValueError(
                f"release must be one of {', '.join(map(repr, RELEASE_MODES))}, got {self.mode!r}."
            )
        values = {
            "n_prototypes": _count(self.n_prototypes, "n_prototypes"),
            "min_count": _count(self.min_count, "min_count"),
            "n_synthetic": _count(self.n_synthetic, "n_synthetic", optional=True),
            "feature_noise": _positive(self.feature_noise, "feature_noise"),
            "clip_norm": _positive(self.clip_norm, "clip_norm"),
            "delta": _positive(self.delta, "delta", below_one=True),
        }
        for name, value in values.items():  # plain int / float, never numpy scalars
            object.__setattr__(self, name, value)
        if self.feature_noise is not None and self.mode == "synthetic":
            raise ValueError(
                "feature_noise applies to release='per_image' or release='prototypes', not to "
                "synthetic rows, which are draws from a fitted mixture."
            )
        if self.feature_noise is not None and self.clip_norm is None:
            raise ValueError(
                "feature_noise needs clip_norm, which bounds how far one image moves a released "
                "row; choose it from prior knowledge (a value read from the data leaks)."
            )

    @classmethod
    def from_release(cls, release: str | ReleaseSettings) -> ReleaseSettings:
        """The settings a ``release=`` argument stands for: a mode name or the settings.

        Parameters
        ----------
        release : str or ReleaseSettings
            A mode name (its other settings at their defaults) or a :class:`ReleaseSettings`.

        Returns
        -------
        settings : ReleaseSettings

        Raises
        ------
        TypeError
            If ``release`` is neither.
        ValueError
            If the mode name is unknown.
        """
        if isinstance(release, ReleaseSettings):
            return release
        if isinstance(release, str):
            return cls(mode=release)
        raise TypeError(
            f"release must be a mode name or a ReleaseSettings, not {type(release).__name__}."
        )

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain data, field by field (what a kit records)."""
        return dataclasses.asdict(self)

    def check_class_sizes(self, counts, class_names=None) -> None:
        """Refuse classes with fewer donor images than ``min_count`` (summarising modes).

        Parameters
        ----------
        counts : sequence of int
            Donor images per class.
        class_names : sequence or None, default=None
            Names for the message (class indices when None).

        Raises
        ------
        ValueError
            Naming the classes that are too small and the choices: more images, a smaller
            ``min_count``, or ``release='per_image'``.
        """
        if not self.summarises:
            return
        names = list(range(len(counts))) if class_names is None else list(class_names)
        small = [(names[k], int(c)) for k, c in enumerate(counts) if c < self.min_count]
        if small:
            listed = ", ".join(f"{name!r} has {c}" for name, c in small)
            raise ValueError(
                f"release={self.mode!r} summarises groups of at least min_count="
                f"{self.min_count} donor images per class, but {listed}: add images, pass a "
                "smaller min_count (each group then reveals more about its images), or "
                "release='per_image' (the paper's setting: one feature row per donor image)."
            )

    @property
    def summarises(self) -> bool:
        """Whether the rows summarise groups of images (every mode but ``"per_image"``)."""
        return self.mode != "per_image"

    @property
    def epsilon(self) -> float | None:
        """Epsilon of the feature noise at ``delta`` (None without noise or delta)."""
        if self.feature_noise is None or self.delta is None:
            return None
        return gaussian_mechanism_epsilon(self.feature_noise, self.delta)


@dataclass(frozen=True)
class ReleasedFeatures:
    """What :func:`release_features` gives: the rows a kit ships and how they were made.

    Attributes
    ----------
    features : ndarray of shape (n_rows, d), float32
    label_index : ndarray of shape (n_rows,), int64
        Class index of each row.
    weights : ndarray of shape (n_rows,), float64
        How many images each row stands for (1 for per-image and synthetic rows).
    settings : ReleaseSettings
        The settings, with the ``delta`` actually used when there is feature noise.
    n_groups_per_class : tuple of int or None
        Groups per class (prototypes, mixture components); None for ``"per_image"``.
    n_clipped : int or None
        Feature vectors longer than ``clip_norm``; None without clipping.
    """

    features: np.ndarray
    label_index: np.ndarray
    weights: np.ndarray
    settings: ReleaseSettings
    n_groups_per_class: tuple[int, ...] | None
    n_clipped: int | None


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
    """k-means centres of one class, each the mean of at least ``min_count`` rows."""
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


def release_features(
    features,
    label_index,
    n_classes: int,
    settings: ReleaseSettings,
    *,
    random_state: int = 0,
    class_names=None,
) -> ReleasedFeatures:
    """Turn per-image donor features into what a kit releases.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Per-image latent features of the donor images.
    label_index : ndarray of shape (n,)
        Class index (0 to ``n_classes - 1``) of each row.
    n_classes : int
        Number of classes.
    settings : ReleaseSettings
        What to release.
    random_state : int, default=0
        Seeds k-means and the synthetic draws. The noise is never seeded: it comes from the
        operating system's secure random source.
    class_names : sequence or None, default=None
        Class names for messages (class indices when None).

    Returns
    -------
    released : ReleasedFeatures
        The rows, their class indices and weights, and how they were made.

    Raises
    ------
    ValueError
        If a class has fewer than ``settings.min_count`` images in a summarising mode.

    Examples
    --------
    >>> import numpy as np
    >>> from skdcsae.kit._release import ReleaseSettings, release_features
    >>> rng = np.random.default_rng(0)
    >>> out = release_features(rng.normal(size=(40, 4)), np.repeat([0, 1], 20), 2,
    ...                        ReleaseSettings("prototypes", n_prototypes=1))
    >>> out.features.shape, out.weights.tolist(), out.n_groups_per_class
    ((2, 4), [20.0, 20.0], (1, 1))
    """
    if not isinstance(settings, ReleaseSettings):
        raise TypeError(f"settings must be a ReleaseSettings, not {type(settings).__name__}.")
    features = np.asarray(features, dtype=np.float64)
    label_index = np.asarray(label_index, dtype=np.int64)
    n = len(features)
    counts = np.bincount(label_index, minlength=n_classes)
    settings.check_class_sizes(counts, class_names)
    clip = settings.clip_norm
    work = _clip_rows(features, clip) if clip is not None else features
    n_clipped = None if clip is None else int(np.sum(np.linalg.norm(features, axis=1) > clip))
    rng = np.random.default_rng([int(random_state), 7])  # k-means and synthetic draws
    groups: list[int] = []
    if settings.mode == "per_image":
        released, row_index, weights = work, label_index.copy(), np.ones(n)
    elif settings.mode == "synthetic":
        parts, idx = [], []
        for k in range(n_classes):
            n_draws = 2 * int(counts[k]) if settings.n_synthetic is None else settings.n_synthetic
            rows, n_g = _synthetic(
                work[label_index == k],
                settings.n_prototypes,
                settings.min_count,
                n_draws,
                rng,
                random_state,
            )
            parts.append(rows)
            idx.append(np.full(len(rows), k))
            groups.append(n_g)
        released, row_index = np.concatenate(parts), np.concatenate(idx)
        weights = np.ones(len(released))
    else:
        parts, idx, wts = [], [], []
        for k in range(n_classes):
            centres, sizes = _prototypes(
                work[label_index == k], settings.n_prototypes, settings.min_count, random_state
            )
            parts.append(centres)
            idx.append(np.full(len(centres), k))
            wts.append(sizes.astype(np.float64))
            groups.append(len(centres))
        released = np.concatenate(parts)
        row_index, weights = np.concatenate(idx), np.concatenate(wts)
    if settings.feature_noise is not None:
        # sensitivity of a row to replacing one of its images: 2C for one image, 2C/m for a mean
        sensitivity = 2.0 * clip / weights
        # Drawn from the operating system's secure source, never from a seed: whoever could
        # regenerate the noise could subtract it. Two exports therefore differ.
        secure = np.random.default_rng(secrets.randbits(128))
        scale = settings.feature_noise * sensitivity
        released = released + secure.standard_normal(released.shape) * scale[:, None]
        if settings.delta is None:
            settings = dataclasses.replace(settings, delta=default_delta(n))
    return ReleasedFeatures(
        features=np.ascontiguousarray(released, dtype=np.float32),
        label_index=np.asarray(row_index, dtype=np.int64),
        weights=np.asarray(weights, dtype=np.float64),
        settings=settings,
        n_groups_per_class=None if settings.mode == "per_image" else tuple(groups),
        n_clipped=n_clipped,
    )
