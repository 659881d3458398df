"""The DonorKit and KitMember data classes: a kit's content as Python objects, nothing more.

A kit holds one or more **members** (an ensemble of encoders, e.g. DC-SAEs trained with
different seeds on the same images): each member has its own encoder and its own released
feature table. The classes, image shape, preprocessing, release settings and provenance are
shared. Reading, writing and validating are in :mod:`skdcsae.kit._io` and
:mod:`skdcsae.kit._schema`; this module only holds the data and derived facts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._container import SignatureStatus
from ._release import ReleaseSettings
from ._summary import kit_repr, kit_summary, what_it_reveals

__all__ = ["DonorKit", "KitMember"]


def _same(a: Any, b: Any) -> bool:
    """Exact equality of kit values: arrays by dtype, shape and bytes; containers item-wise."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _fields_equal(a: Any, b: Any, skip: tuple[str, ...] = ()) -> bool:
    if type(a) is not type(b):
        return NotImplemented
    return all(
        _same(getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(a)
        if f.name not in skip
    )


@dataclass(frozen=True, eq=False)
class KitMember:
    """One encoder of a donor kit and the feature table released through it.

    Parameters
    ----------
    encoder_config : dict
        Plain-data architecture of the encoder (``kind``, ``input_shape``, ``conv_channels``,
        ``dense_sizes``, ``latent_dim``, ``n_heads``, ``norm``).
    encoder_weights : dict of str to ndarray
        The encoder's ``state_dict`` as numpy arrays. No decoder parameters.
    features : ndarray of shape (n_rows, n_features_out), float32
        The released feature rows (per image, prototypes or synthetic rows).
    label_index : ndarray of shape (n_rows,), int64
        Index into the kit's ``classes`` of each row.
    feature_weights : ndarray of shape (n_rows,), float64
        How many donor images each row stands for (1 for per-image and synthetic rows).
    sampling_seed : int or None, default=None
        Seed of the paper-mode samples; None in ``"means"`` mode.
    hyperparameters : dict, default={}
        The donor transformer's parameters (plain data) and the epochs run.
    privacy : dict or None, default=None
        How the encoder was trained when that was differentially private (DP-SGD figures).
    n_groups_per_class : tuple of int or None, default=None
        Groups per class behind prototypes or synthetic rows; None for per-image rows.
    n_clipped : int or None, default=None
        Donor feature vectors longer than the release's ``clip_norm``; None without clipping.

    Examples
    --------
    >>> from skdcsae.kit._examples import example_kit
    >>> member = example_kit().members[0]
    >>> member.features.shape, member.n_rows
    ((40, 4), 40)
    """

    encoder_config: dict
    encoder_weights: dict
    features: np.ndarray
    label_index: np.ndarray
    feature_weights: np.ndarray
    sampling_seed: int | None = None
    hyperparameters: dict = field(default_factory=dict)
    privacy: dict | None = None
    n_groups_per_class: tuple[int, ...] | None = None
    n_clipped: int | None = None

    __hash__ = None  # holds arrays

    def __eq__(self, other: object) -> bool:
        return _fields_equal(self, other)

    @property
    def n_rows(self) -> int:
        """Number of released feature rows."""
        return int(self.features.shape[0])

    @property
    def latent_dim(self) -> int:
        """Latent dimensions per head of this member's encoder."""
        return int(self.encoder_config["latent_dim"])

    @property
    def nbytes(self) -> int:
        """Bytes of this member's arrays."""
        arrays = [*self.encoder_weights.values(), self.features, self.label_index]
        return int(sum(a.nbytes for a in arrays) + self.feature_weights.nbytes)


def _single(kit: DonorKit, name: str) -> KitMember:
    if len(kit.members) != 1:
        raise ValueError(
            f"DonorKit.{name} is defined for a kit of one member, and this kit has "
            f"{len(kit.members)}; use kit.members[k].{name} for member k."
        )
    return kit.members[0]


class _OneMember:
    """A read-only attribute of a kit: its only member's attribute of the same name.

    A kit of several members has no single value: reading it raises ``ValueError``.
    """

    def __init__(self, doc: str):
        self.__doc__ = f"{doc} (one member only)."

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, kit, owner=None):
        if kit is None:
            return self
        return getattr(_single(kit, self.name), self.name)


@dataclass(frozen=True, eq=False, repr=False)
class DonorKit:
    """A donor kit: encoders and released donor features as plain data, with provenance.

    Made by :meth:`skdcsae.DCSAETransformer.export_donor_kit` and :func:`load_donor_kit`;
    consumed by :class:`skdcsae.RecipientLabeler`. :meth:`summary` says first what the kit
    reveals about the donor's images, then lists every part with its size.

    The convenience properties ``features``, ``labels``, ``feature_weights``,
    ``encoder_config``, ``encoder_weights``, ``sampling_seed``, ``hyperparameters``,
    ``privacy`` and ``n_rows`` are those of
    the only member; on a kit of several members (an ensemble) they raise ``ValueError``
    rather than mix rows from encoders whose feature spaces differ: read
    ``kit.members[k]`` instead.

    Two kits are equal when their content, digest and signature are (``signature``, how the
    signature was checked when loading, is not compared).

    Parameters
    ----------
    members : tuple of KitMember
        One or more encoders, each with its released feature table.
    classes : ndarray of shape (n_classes,)
        Sorted classes (all numbers or all strings); head ``k`` of every encoder belongs to
        ``classes[k]``.
    image_shape : tuple of int or None
        ``(C, H, W)`` the encoders take, or None for tabular data.
    n_features_in : int
        Values per sample (``C * H * W`` for images).
    scaling : {"minmax", "standard"} or None
        How the donor's inputs were scaled.
    input_offset, input_scale : ndarray, float32
        The encoders see ``(x - input_offset) / input_scale`` (scalar or per feature).
    input_range : tuple of float
        Minimum and maximum value of the donor's training data.
    feature_mode : {"means", "paper"}
        ``"means"``: features are all heads' means. ``"paper"``: Algorithm 1.
    release : ReleaseSettings
        What the feature tables hold (with the ``delta`` used, when there is feature noise).
    n_images_per_class : tuple of int
        Donor images per class behind the feature tables.
    image_preparation : dict or None, default=None
        How the donor's image files were prepared (resized, colour-converted), bounded
        summary; None when unknown.
    model : str, default="DCSAETransformer"
        The estimator that produced the kit.
    versions : dict of str to str, default={}
        Library versions at export.
    created : str, default=""
        UTC creation time (ISO 8601).
    sha256 : str, default=""
        SHA-256 digest of the content (set by writing or loading).
    hmac_sha256 : str or None, default=None
        HMAC-SHA256 signature of the content under the donor's key, if signed.
    signature : SignatureStatus, default=SignatureStatus.ABSENT
        What loading established about the signature: ``verified``, ``absent`` or
        ``present, not verified (no key given)``.

    See Also
    --------
    load_donor_kit : read and verify a kit file.
    skdcsae.RecipientLabeler : label images with a kit.

    Examples
    --------
    >>> from skdcsae.kit._examples import example_kit
    >>> kit = example_kit()
    >>> kit.classes, kit.features.shape, kit.release.mode
    (array([0, 1]), (40, 4), 'synthetic')
    >>> print(kit.summary().splitlines()[1])  # doctest: +NORMALIZE_WHITESPACE
      reveals          synthetic rows only: 40 rows drawn from Gaussian mixtures fitted to
      groups of at least 10 donor images per class; no row belongs to a donor image
    """

    members: tuple[KitMember, ...]
    classes: np.ndarray
    image_shape: tuple[int, int, int] | None
    n_features_in: int
    scaling: str | None
    input_offset: np.ndarray
    input_scale: np.ndarray
    input_range: tuple[float, float]
    feature_mode: str
    release: ReleaseSettings
    n_images_per_class: tuple[int, ...]
    image_preparation: dict | None = None
    model: str = "DCSAETransformer"
    versions: dict = field(default_factory=dict)
    created: str = ""
    sha256: str = ""
    hmac_sha256: str | None = None
    signature: SignatureStatus = SignatureStatus.ABSENT

    __hash__ = None  # holds arrays

    def __post_init__(self) -> None:
        if isinstance(self.members, list):
            object.__setattr__(self, "members", tuple(self.members))

    def __eq__(self, other: object) -> bool:
        return _fields_equal(self, other, skip=("signature",))

    # --- shared facts ---------------------------------------------------------------------
    @property
    def n_members(self) -> int:
        """Number of encoders (1 unless the kit is an ensemble)."""
        return len(self.members)

    @property
    def n_classes(self) -> int:
        """Number of classes (and of latent heads per encoder)."""
        return len(self.classes)

    @property
    def n_donor(self) -> int:
        """Number of donor images behind the kit (not the number of released rows)."""
        return int(sum(self.n_images_per_class))

    @property
    def signed(self) -> bool:
        """Whether the kit carries an HMAC-SHA256 signature (verified or not)."""
        return self.hmac_sha256 is not None

    @property
    def release_mode(self) -> str:
        """``"synthetic"``, ``"prototypes"`` or ``"per_image"``."""
        return self.release.mode

    @property
    def reveals(self) -> str:
        """One line: what the kit's feature tables reveal about the donor's images."""
        return what_it_reveals(self)

    @property
    def nbytes(self) -> int:
        """Total bytes of the kit's arrays."""
        shared = self.classes.nbytes + self.input_offset.nbytes + self.input_scale.nbytes
        return int(shared + sum(m.nbytes for m in self.members))

    # --- the only member's parts ------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """The class of each released row, ``classes[label_index]`` (one member only)."""
        return self.classes[_single(self, "labels").label_index]

    features = _OneMember("The released feature rows")
    feature_weights = _OneMember("Images each row stands for")
    encoder_config = _OneMember("The encoder's architecture")
    encoder_weights = _OneMember("The encoder's ``state_dict`` as arrays")
    sampling_seed = _OneMember("Seed of the paper-mode samples")
    hyperparameters = _OneMember("The donor transformer's parameters and epochs run")
    privacy = _OneMember("DP-SGD figures of the encoder's training, or None")
    n_rows = _OneMember("Number of released feature rows")

    # --- presentation -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return kit_repr(self)

    def summary(self) -> str:
        """Describe what the kit reveals, then exactly what is inside it and how big each part is.

        Every string that comes from the kit is printed with control characters escaped.

        Returns
        -------
        text : str
            Several lines: what the feature tables reveal, how the encoders were trained, the
            signature, then provenance, classes, preprocessing, image preparation and each
            member's encoder, weights and feature table.

        Examples
        --------
        >>> from skdcsae.kit._examples import example_kit
        >>> print(example_kit().summary().splitlines()[0])
        skdcsae donor kit (format 3), made by DCSAETransformer, 1 member
        """
        return kit_summary(self)
