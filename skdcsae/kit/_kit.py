"""Donor kits: what crosses the institution boundary, written and read without running code.

A donor kit is one file holding a ``dict`` of plain data only -- numpy arrays of numbers or
strings, ``str``, ``int``, ``float``, ``bool``, ``None``, ``list`` and ``dict`` -- with these
fields (format version 1):

==================  =========================================================================
``format``          ``"skdcsae-donor-kit"``
``format_version``  ``1``
``model``           the estimator that produced it (``"DCSAETransformer"``)
``encoder_config``  the encoder's architecture (:func:`skdcsae._nn.make_config`)
``encoder_weights`` ``{parameter name: ndarray}`` of the *encoder only* (never the decoder)
``features``        the donor images' latent features, ``(n, n_features_out)`` float32
``labels``          their labels, ``(n,)``
``classes``         the classes, sorted; head ``k`` belongs to ``classes[k]``
``image_shape``     ``[C, H, W]``, or ``None`` for tabular data
``n_features_in``   values per sample (``C * H * W`` for images)
``preprocessing``   ``{"scaling", "offset", "scale", "input_range"}``: the encoder sees
                    ``(x - offset) / scale``; ``input_range`` is the donor data's [min, max]
``feature_mode``    ``"means"`` or ``"paper"``
``sampling_seed``   seed of the paper-mode samples (``None`` in ``"means"`` mode)
``hyperparameters`` the transformer's parameters (no callbacks, no device), epochs run
``versions``        skdcsae, torch, scikit-learn, numpy and Python versions
``created``         UTC creation time, ISO 8601
``sha256``          SHA-256 of the canonical encoding of every field above
``hmac_sha256``     optional HMAC-SHA256 of the same bytes under a shared key, or ``None``
==================  =========================================================================

No raw images, no file names or paths, no pickled classes or functions.

**The file format.** The dict is written as a standard pickle stream (protocol 4), which is
also what ``joblib.load`` reads for an uncompressed file, so a trusting user can open a kit
with ``joblib.load``. We do not write it with ``joblib.dump``: joblib stores arrays through its
own ``NumpyArrayWrapper`` object and an unpickler whose internals (constructor, array layout,
alignment padding, the nested pickle of object arrays) change between joblib releases; a
security boundary should not rest on them.

**Loading never unpickles freely.** :func:`load_donor_kit` reads the bytes and then

1. checks that they are one complete pickle stream (nothing after its end) and parses every
   opcode with :func:`pickletools.genops`, *executing none*: persistent ids, extension codes,
   ``INST``/``OBJ`` and out-of-band buffers are refused, and so is every global outside the
   allow-list whose name can be read statically (``GLOBAL``, and ``STACK_GLOBAL`` by tracking
   the strings pushed before it) -- so a hostile file is usually refused before a single
   object is built;
2. unpickles with :class:`pickle.Unpickler` whose ``find_class`` -- the actual gate -- knows
   three names (numpy's array ``_reconstruct``, under its numpy 1 and 2 module paths,
   ``ndarray`` and ``dtype``) and returns inert stand-ins for them, never the real callables.
   The stand-ins accept only plain numeric, boolean and string dtypes (object, structured and
   void dtypes are refused when the dtype is named, before any element is read) and build
   each array with :func:`numpy.frombuffer` from raw bytes of exactly the announced size.
   Anything else -- ``os.system``, ``eval``, a function, a class -- is refused by name
   before it is imported, let alone called;
3. accepts only the kit's fields with their expected types and shapes, checks that the
   encoder weights match the architecture (on torch's ``meta`` device: nothing allocated),
   recomputes the SHA-256 digest and, given a key, verifies the HMAC signature.

The digest catches corruption and naive edits; anybody can recompute it, so it does not prove
who made the kit. The HMAC with a key shared out of band does.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import io
import math
import os
import pickle
import pickletools
import platform
import re
import secrets
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from .._nn import MultiHeadEncoder
from .._version import __version__
from ._release import RELEASE_MODES, release_features

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "DonorKit",
    "DonorKitError",
    "load_donor_kit",
]

FORMAT_NAME = "skdcsae-donor-kit"
FORMAT_VERSION = 2
SUPPORTED_FORMAT_VERSIONS = (1, 2)

_PICKLE_PROTOCOL = 4
_DIGEST_FIELDS = ("sha256", "hmac_sha256")
_CONTENT_FIELDS = (
    "format",
    "format_version",
    "model",
    "encoder_config",
    "encoder_weights",
    "features",
    "labels",
    "classes",
    "image_shape",
    "n_features_in",
    "preprocessing",
    "feature_mode",
    "sampling_seed",
    "hyperparameters",
    "versions",
    "created",
)
# Version 2 adds what the kit releases (per-image features or prototypes, noise) and how the
# encoder was trained (DP-SGD or not). Version 1 kits load as per-image, non-private kits.
_CONTENT_FIELDS_V2 = (*_CONTENT_FIELDS, "feature_weights", "release", "privacy")
_PREPROCESSING_FIELDS = ("scaling", "offset", "scale", "input_range")
_CONFIG_FIELDS = (
    "kind",
    "input_shape",
    "conv_channels",
    "dense_sizes",
    "latent_dim",
    "n_heads",
    "norm",
)
_MAX_DEPTH = 16


class DonorKitError(ValueError):
    """A file or object is not a valid, intact donor kit, or is unsafe to load.

    Raised by :func:`load_donor_kit` and :class:`skdcsae.RecipientLabeler` for files that are
    not kits, hostile pickles, corrupted or tampered kits, bad signatures and unsupported
    format versions. A subclass of :class:`ValueError`.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae import DonorKitError, load_donor_kit
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a kit")
    >>> try:
    ...     load_donor_kit(path)
    ... except DonorKitError as exc:
    ...     print("refused")
    refused
    """


# --------------------------------------------------------------------------------------------
# The data class
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, repr=False)
class DonorKit:
    """A loaded donor kit: the encoder and the donor's latent features, as plain data.

    Created by :meth:`skdcsae.DCSAETransformer.export_donor_kit` and
    :func:`load_donor_kit`; consumed by :class:`skdcsae.RecipientLabeler`. ``repr(kit)`` is
    a one-line overview and :meth:`summary` lists every part with its size.

    Parameters
    ----------
    encoder_config : dict
        Plain-data architecture of the encoder (``kind``, ``input_shape``, ``conv_channels``,
        ``dense_sizes``, ``latent_dim``, ``n_heads``, ``norm``).
    encoder_weights : dict of str to ndarray
        The encoder's ``state_dict`` as numpy arrays (CPU). No decoder parameters.
    features : ndarray of shape (n_donor, n_features_out)
        Latent features of the donor's labelled images (float32).
    labels : ndarray of shape (n_donor,)
        Their labels.
    classes : ndarray of shape (n_classes,)
        Sorted classes; head ``k`` of the encoder belongs to ``classes[k]``.
    image_shape : tuple of int or None
        ``(C, H, W)`` the encoder takes, or None for tabular data.
    n_features_in : int
        Values per sample (``C * H * W`` for images).
    scaling : {"minmax", "standard"} or None
        How the donor's inputs were scaled.
    input_offset, input_scale : ndarray
        The encoder sees ``(x - input_offset) / input_scale`` (float32; scalar or per feature).
    input_range : tuple of float
        Minimum and maximum value of the donor's training data.
    feature_mode : {"means", "paper"}
        ``"means"``: features are all heads' means. ``"paper"``: Algorithm 1 -- donor
        features are true-label-head samples; recipients read positive-head samples.
    sampling_seed : int or None
        Seed of the paper-mode samples; None in ``"means"`` mode.
    hyperparameters : dict
        The donor transformer's parameters (plain data) and the number of epochs run.
    versions : dict of str to str
        Versions of skdcsae, torch, scikit-learn, numpy and Python at export.
    created : str
        UTC creation time (ISO 8601).
    feature_weights : ndarray of shape (n_donor,) or None, default=None
        How many donor images each feature row stands for: 1 for per-image rows, the
        prototype's size for prototypes. The recipient's classifier uses them as sample
        weights. None means all ones.
    release : dict or None, default=None
        What the features are: ``mode`` (``"per_image"``, ``"prototypes"`` or
        ``"synthetic"``), images per class, clipping, feature noise and its (epsilon, delta).
        None means the paper's per-image release.
    privacy : dict or None, default=None
        How the encoder was trained when that was differentially private (DP-SGD: epsilon,
        delta, noise multiplier, clipping, ...); None for ordinary training.
    model : str, default="DCSAETransformer"
        The estimator that produced the kit.
    format_version : int, default=1
        Version of the kit format.
    sha256 : str, default=""
        SHA-256 (hex) of the canonical encoding of all fields above.
    hmac_sha256 : str or None, default=None
        HMAC-SHA256 (hex) of the same bytes under the donor's key, if signed.

    See Also
    --------
    load_donor_kit : read and verify a kit file.
    skdcsae.RecipientLabeler : label images with a kit.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(dense_sizes=(16,), max_epochs=2, device="cpu",
    ...                          random_state=0).fit(X[:100], y[:100])
    >>> kit = dcsae.export_donor_kit(os.path.join(tempfile.mkdtemp(), "kit.joblib"),
    ...                              X[:100], y[:100])
    >>> kit  # doctest: +ELLIPSIS
    DonorKit(model='DCSAETransformer', classes=[0, 1], n_donor=100, features=(100, 4) float32, \
encoder=mlp (64,) -> 2 heads x 2, weights=4 arrays / 1,176 values, feature_mode='means', \
signed=False, sha256='...')
    >>> print(kit.summary())  # doctest: +ELLIPSIS
    skdcsae donor kit (format skdcsae-donor-kit v2), made by DCSAETransformer
      created          ...
      sha256           ...
      signature        none (unsigned)
      encoder          mlp, input (64,), dense (16,), 2 heads x 2 latent dims
      encoder weights  4 arrays, 1,176 values, 4,704 bytes
        body.0.weight  (16, 64)  float32     4,096 bytes
        body.0.bias    (16,)     float32        64 bytes
        heads.weight   (8, 16)   float32       512 bytes
        heads.bias     (8,)      float32        32 bytes
      donor features   (100, 4) float32, 1,600 bytes (means of all heads)
      donor labels     (100,) int64, 800 bytes; per class: 0: 50, 1: 50
      classes          [0, 1]
      preprocessing    standard: (x - offset) / scale, offset (64,) float32, scale (64,) \
float32, 512 bytes; donor input range [0, 16]
      release          per image: one feature row per donor image. ...
      encoder training ordinary (not differentially private): ...
      hyperparameters  alpha=10.0, ...
      versions         skdcsae ..., torch ..., scikit-learn ..., numpy ..., python ...
      not included     decoder, images, file names
      total            8,432 bytes of arrays
    """

    encoder_config: dict
    encoder_weights: dict
    features: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    image_shape: tuple | None
    n_features_in: int
    scaling: str | None
    input_offset: np.ndarray
    input_scale: np.ndarray
    input_range: tuple
    feature_mode: str
    sampling_seed: int | None
    hyperparameters: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    created: str = ""
    feature_weights: np.ndarray | None = None
    release: dict | None = None
    privacy: dict | None = None
    model: str = "DCSAETransformer"
    format_version: int = FORMAT_VERSION
    sha256: str = ""
    hmac_sha256: str | None = None

    def __post_init__(self):
        # frozen dataclass: fill the defaults through object.__setattr__
        if self.feature_weights is None:
            object.__setattr__(self, "feature_weights", np.ones(len(self.features)))
        if self.release is None:
            object.__setattr__(self, "release", {"mode": "per_image"})

    # --- derived facts ----------------------------------------------------------------------
    @property
    def release_mode(self) -> str:
        """``"per_image"`` (one row per donor image), ``"prototypes"`` or ``"synthetic"``."""
        return str(self.release.get("mode", "per_image"))

    @property
    def signed(self) -> bool:
        """Whether the kit carries an HMAC-SHA256 signature."""
        return self.hmac_sha256 is not None

    @property
    def n_heads(self) -> int:
        """Number of latent heads of the encoder (one per class)."""
        return int(self.encoder_config["n_heads"])

    @property
    def latent_dim(self) -> int:
        """Latent dimensions per head."""
        return int(self.encoder_config["latent_dim"])

    @property
    def n_donor(self) -> int:
        """Number of donor feature rows."""
        return int(self.features.shape[0])

    @property
    def nbytes(self) -> int:
        """Total size of the kit's arrays in bytes."""
        arrays = [
            *self.encoder_weights.values(),
            self.features,
            self.labels,
            self.classes,
            self.input_offset,
            self.input_scale,
            self.feature_weights,
        ]
        return int(sum(a.nbytes for a in arrays))

    # --- plain-data form --------------------------------------------------------------------
    def _content(self) -> dict[str, Any]:
        """Every field covered by the digest, in the file's layout."""
        content = {
            "format": FORMAT_NAME,
            "format_version": int(self.format_version),
            "model": self.model,
            "encoder_config": self.encoder_config,
            "encoder_weights": self.encoder_weights,
            "features": self.features,
            "labels": self.labels,
            "classes": self.classes,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "n_features_in": int(self.n_features_in),
            "preprocessing": {
                "scaling": self.scaling,
                "offset": self.input_offset,
                "scale": self.input_scale,
                "input_range": [float(v) for v in self.input_range],
            },
            "feature_mode": self.feature_mode,
            "sampling_seed": self.sampling_seed,
            "hyperparameters": self.hyperparameters,
            "versions": self.versions,
            "created": self.created,
        }
        if self.format_version >= 2:
            content["feature_weights"] = self.feature_weights
            content["release"] = self.release
            content["privacy"] = self.privacy
        return content

    def _payload(self) -> dict[str, Any]:
        """The dict written to the file: the content plus its digest and signature."""
        return {**self._content(), "sha256": self.sha256, "hmac_sha256": self.hmac_sha256}

    # --- presentation -----------------------------------------------------------------------
    def _privacy_lines(self) -> list[str]:
        """What the feature table reveals and how the encoder was trained, in plain words."""
        rel = self.release
        if self.release_mode == "prototypes":
            sizes = self.feature_weights
            lines = [
                f"  release          prototypes: {self.n_donor} feature rows, each the mean of "
                f"{int(sizes.min())} to {int(sizes.max())} donor images (k-means per class, at "
                f"least {rel.get('min_count')} images each); no per-image features"
            ]
        elif self.release_mode == "synthetic":
            groups = rel.get("n_groups_per_class", [])
            lines = [
                f"  release          synthetic: {self.n_donor} feature rows drawn from a Gaussian "
                f"mixture per class ({', '.join(map(str, groups))} components, each fitted to at "
                f"least {rel.get('min_count')} donor images); no row belongs to a donor image"
            ]
        else:
            lines = [
                "  release          per image: one feature row per donor image. Whoever holds "
                "a donor image can find its row (membership); check with `skdcsae audit`"
            ]
        if rel.get("clip_norm") is not None:
            lines.append(
                f"  clipping         feature vectors clipped to L2 norm {rel['clip_norm']:g} "
                f"({rel.get('n_clipped', 0)} were longer)"
            )
        if rel.get("feature_noise") is not None:
            lines.append(
                f"  feature noise    Gaussian, noise multiplier {rel['feature_noise']:g}: the "
                f"feature table is (epsilon={rel['epsilon']:.3g}, delta={rel['delta']:.3g})-"
                "differentially private per donor image, given the encoder"
                + (" and the grouping into prototypes" if self.release_mode == "prototypes" else "")
            )
        p = self.privacy
        if p is None:
            lines.append(
                "  encoder training ordinary (not differentially private): the weights are "
                "a function of the donor images"
            )
        else:
            lines.append(
                f"  encoder training {p.get('mechanism', 'DP')} ({p.get('library', '?')}): "
                f"(epsilon={p.get('epsilon', float('nan')):.3g}, "
                f"delta={p.get('delta', float('nan')):.3g})-differentially private per donor "
                f"image; noise multiplier {p.get('noise_multiplier', float('nan')):.3g}, "
                f"per-sample gradients clipped to {p.get('max_grad_norm', float('nan')):g}, "
                f"{p.get('epochs', '?')} epochs"
            )
        return lines

    def _encoder_line(self) -> str:
        c = self.encoder_config
        return f"{c['kind']} {tuple(c['input_shape'])} -> {c['n_heads']} heads x {c['latent_dim']}"

    def __repr__(self) -> str:
        n_values = sum(int(a.size) for a in self.encoder_weights.values())
        return (
            f"DonorKit(model={self.model!r}, classes={self.classes.tolist()!r}, "
            f"n_donor={self.n_donor}, features={self.features.shape} {self.features.dtype}, "
            f"encoder={self._encoder_line()}, weights={len(self.encoder_weights)} arrays / "
            f"{n_values:,} values, feature_mode={self.feature_mode!r}, signed={self.signed}, "
            f"sha256={self.sha256[:12] + '...'!r})"
        )

    def summary(self) -> str:
        """Describe exactly what is inside the kit and how big each part is.

        Returns
        -------
        text : str
            A multi-line description: provenance, digest and signature, the encoder
            architecture, every weight array with its shape, dtype and size, the donor features
            and labels (with per-class counts), the preprocessing, hyperparameters and versions.

        Examples
        --------
        >>> from skdcsae.kit._kit import _example_kit
        >>> print(_example_kit().summary().splitlines()[0])
        skdcsae donor kit (format skdcsae-donor-kit v2), made by DCSAETransformer
        """
        c = self.encoder_config
        arch = f"{c['kind']}, input {tuple(c['input_shape'])}"
        if c["kind"] == "conv":
            arch += f", conv {tuple(c['conv_channels'])}"
        arch += (
            f", dense {tuple(c['dense_sizes'])}, {c['n_heads']} heads x {c['latent_dim']} "
            "latent dims"
        )
        if c["kind"] == "conv":
            arch += f", norm {c['norm']}"
        weights = self.encoder_weights
        w_bytes = sum(a.nbytes for a in weights.values())
        w_values = sum(int(a.size) for a in weights.values())
        name_w = max([len(k) for k in weights] + [10])
        shape_w = max([len(str(a.shape)) for a in weights.values()] + [5])
        lines = [
            f"skdcsae donor kit (format {FORMAT_NAME} v{self.format_version}), "
            f"made by {self.model}",
            f"  created          {self.created}",
            f"  sha256           {self.sha256}",
            "  signature        "
            + ("HMAC-SHA256 " + self.hmac_sha256 if self.signed else "none (unsigned)"),
            f"  encoder          {arch}",
            f"  encoder weights  {len(weights)} arrays, {w_values:,} values, {w_bytes:,} bytes",
        ]
        for name, a in weights.items():
            lines.append(
                f"    {name:<{name_w}}  {a.shape!s:<{shape_w}}  {a.dtype!s:<8} {a.nbytes:>8,} bytes"
            )
        what = (
            "means of all heads"
            if self.feature_mode == "means"
            else ("paper: samples of each image's true-label head")
        )
        if self.release_mode != "per_image":
            what = f"{self.release_mode} rows in the space of the " + what
        labels, counts = np.unique(self.labels, return_counts=True)
        per_class = ", ".join(
            f"{lab}: {n}" for lab, n in zip(labels.tolist(), counts.tolist(), strict=True)
        )
        lo, hi = self.input_range
        pre = (
            f"{self.scaling}: (x - offset) / scale, offset {self.input_offset.shape} "
            f"{self.input_offset.dtype}, scale {self.input_scale.shape} {self.input_scale.dtype}, "
            f"{self.input_offset.nbytes + self.input_scale.nbytes:,} bytes; "
            f"donor input range [{lo:g}, {hi:g}]"
        )
        hyper = ", ".join(f"{k}={v!r}" for k, v in sorted(self.hyperparameters.items()))
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        lines += [
            f"  donor features   {self.features.shape} {self.features.dtype}, "
            f"{self.features.nbytes:,} bytes ({what})",
            f"  donor labels     {self.labels.shape} {self.labels.dtype}, "
            f"{self.labels.nbytes:,} bytes; per class: {per_class}",
            f"  classes          {self.classes.tolist()}",
            f"  preprocessing    {pre}",
        ]
        if self.feature_mode == "paper":
            lines.append(f"  sampling seed    {self.sampling_seed}")
        lines += self._privacy_lines()
        lines += [
            f"  hyperparameters  {hyper}",
            f"  versions         {versions}",
            "  not included     decoder, images, file names",
            f"  total            {self.nbytes:,} bytes of arrays",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Canonical encoding, digest and signature
# --------------------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    return struct.pack("<Q", n)


def _feed(h, obj) -> None:
    """Feed an unambiguous, type-tagged, length-prefixed encoding of ``obj`` to ``h``."""
    if obj is None:
        h.update(b"N")
    elif obj is True or obj is False:
        h.update(b"T" if obj else b"F")
    elif type(obj) is int:
        text = str(obj).encode()
        h.update(b"i" + _length(len(text)) + text)
    elif type(obj) is float:
        h.update(b"f" + struct.pack("<d", obj))
    elif type(obj) is str:
        text = obj.encode("utf-8")
        h.update(b"s" + _length(len(text)) + text)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise DonorKitError("object arrays cannot be part of a donor kit")
        arr = np.array(obj, dtype=obj.dtype.newbyteorder("<"), order="C")
        dtype = arr.dtype.str.encode()
        h.update(b"a" + _length(len(dtype)) + dtype + _length(arr.ndim))
        for dim in arr.shape:
            h.update(_length(dim))
        h.update(_length(arr.nbytes))
        h.update(arr.reshape(-1).view(np.uint8).data if arr.size else b"")
    elif isinstance(obj, (list, tuple)):
        h.update(b"l" + _length(len(obj)))
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, Mapping):
        h.update(b"d" + _length(len(obj)))
        for key in sorted(obj):
            if type(key) is not str:
                raise DonorKitError(f"donor kit dict keys must be strings, got {key!r}")
            _feed(h, key)
            _feed(h, obj[key])
    else:
        raise DonorKitError(f"a donor kit cannot hold a {type(obj).__name__} object")


def _digest(content: Mapping) -> str:
    h = hashlib.sha256()
    _feed(h, content)
    return h.hexdigest()


def _key_bytes(key) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)) or len(key) == 0:
        raise ValueError("key must be a non-empty str or bytes (the shared secret).")
    return bytes(key)


def _signature(content: Mapping, key: bytes) -> str:
    h = hmac.new(key, digestmod=hashlib.sha256)
    _feed(h, content)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------------
_NOT_EXECUTED = "Nothing from the file was executed."
_ALLOWED_DTYPE = re.compile(r"(b1|[iu][1248]|f[248]|[US][0-9]{1,6})")
_FORBIDDEN_OPCODES = {
    "PERSID": "a persistent id",
    "BINPERSID": "a persistent id",
    "EXT1": "a copyreg extension code",
    "EXT2": "a copyreg extension code",
    "EXT4": "a copyreg extension code",
    "INST": "an old-style class instantiation",
    "OBJ": "an old-style class instantiation",
    "NEXT_BUFFER": "an out-of-band buffer",
    "READONLY_BUFFER": "an out-of-band buffer",
}
_COMPRESSED_MAGIC = {
    b"\x78": "zlib",
    b"\x1f\x8b": "gzip",
    b"BZ": "bz2",
    b"\xfd7zXZ": "xz",
    b"\x5d\x00": "lzma",
    b"\x04\x22\x4d\x18": "lz4",
    b"ZF": "old joblib (< 0.10)",
}


class _NDArrayToken:
    """Stand-in for ``numpy.ndarray`` in the stream: a marker, never called."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<numpy.ndarray token>"


_NDARRAY = _NDArrayToken()


class _DtypeStub:
    """Stand-in for ``numpy.dtype(code, align, copy)``: accepts plain dtypes only."""

    __slots__ = ("byteorder", "code")

    def __init__(self, code=None, align=False, copy=True):
        if not (isinstance(code, str) and _ALLOWED_DTYPE.fullmatch(code)):
            raise DonorKitError(
                f"refusing an array of dtype {code!r}: a donor kit holds only numeric, boolean "
                "and string arrays (object, structured and void arrays can smuggle Python "
                f"objects). {_NOT_EXECUTED}"
            )
        if not (isinstance(align, bool) and isinstance(copy, bool)):
            raise DonorKitError("malformed numpy dtype in the kit file.")
        self.code = code
        self.byteorder = None

    def __setstate__(self, state):
        ok = (
            isinstance(state, tuple)
            and len(state) == 8
            and state[0] == 3
            and state[1] in ("<", ">", "|", "=")
            and state[2] is None
            and state[3] is None
            and state[4] is None
            and self.byteorder is None
        )
        if not ok:
            raise DonorKitError(
                "refusing a numpy dtype with sub-arrays, fields or metadata: a donor kit holds "
                f"only plain numeric, boolean and string arrays. {_NOT_EXECUTED}"
            )
        self.byteorder = state[1]

    def to_dtype(self) -> np.dtype:
        if self.byteorder is None:
            raise DonorKitError("malformed numpy dtype in the kit file (no byte order).")
        prefix = "" if self.byteorder == "|" else self.byteorder
        return np.dtype(prefix + self.code)


class _ArrayStub:
    """Stand-in for a pickled ndarray: builds it with ``np.frombuffer`` from checked bytes."""

    __slots__ = ("array",)

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if self.array is not None:
            raise DonorKitError("malformed numpy array in the kit file (state set twice).")
        if not (isinstance(state, tuple) and len(state) == 5):
            raise DonorKitError("malformed numpy array in the kit file.")
        version, shape, dtype, fortran, raw = state
        if not (
            version == 1
            and isinstance(shape, tuple)
            and len(shape) <= 8
            and all(type(s) is int and s >= 0 for s in shape)
            and isinstance(dtype, _DtypeStub)
            and isinstance(fortran, bool)
            and isinstance(raw, bytes)
        ):
            raise DonorKitError(
                "malformed or disallowed numpy array in the kit file (only plain arrays whose "
                f"data are raw bytes are accepted). {_NOT_EXECUTED}"
            )
        dt = dtype.to_dtype()
        count = math.prod(shape)
        if len(raw) != count * dt.itemsize:
            raise DonorKitError(
                f"malformed numpy array in the kit file: shape {shape} of {dt} needs "
                f"{count * dt.itemsize} bytes but {len(raw)} are stored."
            )
        flat = np.frombuffer(raw, dtype=dt, count=count) if count else np.empty(0, dt)
        array = flat.reshape(shape, order="F" if fortran else "C")
        self.array = np.array(array, dtype=dt.newbyteorder("="), order="C")


def _reconstruct_stub(cls=None, shape=None, typecode=None, *extra):
    if cls is not _NDARRAY or shape != (0,) or typecode != b"b" or extra:
        raise DonorKitError(
            "refusing a numpy array reconstruction that is not a plain ndarray. " + _NOT_EXECUTED
        )
    return _ArrayStub()


# Every global a kit may name, mapped to an inert stand-in (never to the real callable).
_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_stub,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_stub,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeStub,
}


def _refuse_global(module, name) -> DonorKitError:
    return DonorKitError(
        f"refusing to load: the file references the Python object '{module}.{name}'. A donor "
        "kit may contain only numpy arrays (of numbers or strings) and builtin containers; "
        f"unpickling anything else can run arbitrary code. {_NOT_EXECUTED}"
    )


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` returns stand-ins from the allow-list and refuses the rest."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise _refuse_global(module, name) from None

    def persistent_load(self, pid):
        raise DonorKitError(f"refusing a persistent id in the kit file. {_NOT_EXECUTED}")


_STRING_OPCODES = {
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
}
_NO_PUSH_OPCODES = {"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "STOP"}


def _scan_opcodes(data: bytes) -> int | None:
    """Parse every opcode (executing nothing); refuse forbidden opcodes and globals.

    Returns the end of the stream (just past ``STOP``). ``STACK_GLOBAL`` takes its names from
    the stack, so the strings pushed just before it are tracked (through the memo) to name and
    refuse a disallowed global here already; when they cannot be resolved statically, the
    unpickler's ``find_class`` -- the actual gate -- still refuses it. Parse errors propagate
    as they are.
    """
    memo: dict[int, Any] = {}
    pushed: list[Any] = []  # what the last two pushes were: a str, or None for anything else
    for opcode, arg, pos in pickletools.genops(data):
        name = opcode.name
        if name in _FORBIDDEN_OPCODES:
            raise DonorKitError(
                f"refusing to load: the file contains {_FORBIDDEN_OPCODES[name]} "
                f"(pickle opcode {name} at byte {pos}), which a donor kit never needs. "
                f"{_NOT_EXECUTED}"
            )
        if name == "GLOBAL":
            module, _, qualname = str(arg).partition(" ")
            if (module, qualname) not in _ALLOWED_GLOBALS:
                raise _refuse_global(module, qualname)
        elif name == "STACK_GLOBAL" and len(pushed) == 2:
            module, qualname = pushed
            resolved = isinstance(module, str) and isinstance(qualname, str)
            if resolved and (module, qualname) not in _ALLOWED_GLOBALS:
                raise _refuse_global(module, qualname)
        if name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(arg))
        elif name in _STRING_OPCODES:
            pushed.append(arg)
        elif name not in _NO_PUSH_OPCODES:
            pushed.append(None)
        del pushed[:-2]
        if name == "STOP":
            return pos + 1
    return None


def _scan(data: bytes) -> None:
    """Check the bytes are one complete pickle stream with only allowed opcodes and globals."""
    if not data:
        raise DonorKitError("not a donor kit: the file is empty.")
    if data[:1] != b"\x80":
        for magic, name in _COMPRESSED_MAGIC.items():
            if data.startswith(magic):
                raise DonorKitError(
                    f"not a donor kit: the file looks {name}-compressed. Donor kits are "
                    "written uncompressed by DCSAETransformer.export_donor_kit; re-export it."
                )
        try:  # an old-protocol pickle: name what it would have run, if anything
            _scan_opcodes(data)
        except DonorKitError:
            raise
        except Exception:
            pass
        raise DonorKitError(
            f"not a donor kit: the file does not start with a pickle protocol header (first "
            f"bytes {data[:8]!r}). Export kits with DCSAETransformer.export_donor_kit."
        )
    if data[1] > pickle.HIGHEST_PROTOCOL:
        raise DonorKitError(f"not a donor kit: unknown pickle protocol {data[1]}.")
    try:
        end = _scan_opcodes(data)
    except DonorKitError:
        raise
    except Exception as exc:
        raise DonorKitError(
            f"not a donor kit, or a truncated or corrupt one: the pickle stream is invalid "
            f"({exc}). {_NOT_EXECUTED}"
        ) from None
    if end != len(data):
        raise DonorKitError(
            f"refusing to load: {len(data) - end} unexpected bytes follow the end of the kit "
            f"(the file was modified or is not a kit). {_NOT_EXECUTED}"
        )


def _materialize(obj, depth: int = 0):
    """Replace array stand-ins by arrays and refuse every type a kit does not use."""
    if depth > _MAX_DEPTH:
        raise DonorKitError("not a donor kit: the data are nested too deeply.")
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise DonorKitError("malformed numpy array in the kit file (no data).")
        return obj.array
    kind = type(obj)
    if obj is None or kind in (bool, int, float, str):
        return obj
    if kind is list:
        return [_materialize(v, depth + 1) for v in obj]
    if kind is tuple:
        return tuple(_materialize(v, depth + 1) for v in obj)
    if kind is dict:
        out = {}
        for key, value in obj.items():
            if type(key) is not str:
                raise DonorKitError(f"not a donor kit: non-string dict key {key!r}.")
            out[key] = _materialize(value, depth + 1)
        return out
    raise DonorKitError(
        f"not a donor kit: it contains a {kind.__name__} object, which a kit never holds."
    )


def _safe_loads(data: bytes):
    """Unpickle ``data`` through the allow-list (after a full opcode scan)."""
    _scan(data)
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except DonorKitError:
        raise
    except Exception as exc:
        raise DonorKitError(
            f"not a donor kit, or a corrupt one: unpickling failed ({type(exc).__name__}: {exc})."
        ) from None
    return _materialize(obj)


# --------------------------------------------------------------------------------------------
# Validation: payload dict -> DonorKit
# --------------------------------------------------------------------------------------------
def _fail(message: str):
    raise DonorKitError(f"invalid donor kit: {message}")


def _check_int(value, name, minimum=0) -> int:
    if type(value) is not int or value < minimum:
        _fail(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_int_list(value, name, *, minimum=1, min_len=0) -> list[int]:
    if type(value) is not list or len(value) < min_len:
        _fail(f"{name} must be a list of ints, got {value!r}")
    for v in value:
        _check_int(v, name, minimum)
    return value


def _check_array(value, name, kinds: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        _fail(f"{name} must be a numpy array of kind {kinds!r}, got {type(value).__name__}")
    if value.ndim not in ndims:
        _fail(f"{name} must have {ndim} dimension(s), got shape {value.shape}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        _fail(f"{name} contains NaN or infinite values")
    return value


def _check_config(config) -> dict:
    if type(config) is not dict or set(config) != set(_CONFIG_FIELDS):
        _fail(f"encoder_config must be a dict with the fields {list(_CONFIG_FIELDS)}")
    if config["kind"] not in ("conv", "mlp"):
        _fail(f"encoder_config kind must be 'conv' or 'mlp', got {config['kind']!r}")
    if config["norm"] not in ("batch", "group", "instance", "none"):
        _fail(f"encoder_config norm must be 'batch', 'group' or 'none', got {config['norm']!r}")
    conv = config["kind"] == "conv"
    shape = _check_int_list(config["input_shape"], "encoder_config input_shape", min_len=1)
    if len(shape) != (3 if conv else 1):
        _fail(f"encoder_config input_shape {shape} does not fit kind {config['kind']!r}")
    _check_int_list(
        config["conv_channels"], "encoder_config conv_channels", min_len=1 if conv else 0
    )
    if not conv and config["conv_channels"]:
        _fail("an mlp encoder_config has no conv_channels")
    _check_int_list(config["dense_sizes"], "encoder_config dense_sizes")
    _check_int(config["latent_dim"], "encoder_config latent_dim", 1)
    _check_int(config["n_heads"], "encoder_config n_heads", 1)
    return config


def _check_weights(config: dict, weights) -> dict:
    """The weights must be exactly the encoder's state_dict: same names, shapes and kinds."""
    if type(weights) is not dict:
        _fail("encoder_weights must be a dict of arrays")
    with torch.device("meta"):  # builds the architecture without allocating any memory
        expected = MultiHeadEncoder(config).state_dict()
    if set(weights) != set(expected):
        missing = sorted(set(expected) - set(weights))
        unexpected = sorted(set(weights) - set(expected))
        _fail(
            "encoder_weights do not match the encoder architecture "
            f"(missing {missing}, unexpected {unexpected})"
        )
    for name, tensor in expected.items():
        array = _check_array(
            weights[name],
            f"encoder weight {name!r}",
            "f" if tensor.is_floating_point() else "iu",
            tensor.dim(),
        )
        if tuple(array.shape) != tuple(tensor.shape):
            _fail(
                f"encoder weight {name!r} has shape {array.shape}; the architecture needs "
                f"{tuple(tensor.shape)}"
            )
    return weights


def _plain_check(value, name, depth=0):
    if depth > _MAX_DEPTH:
        _fail(f"{name} is nested too deeply")
    if value is None or type(value) in (bool, int, float, str):
        return
    if type(value) is list:
        for v in value:
            _plain_check(v, name, depth + 1)
        return
    if type(value) is dict:
        for v in value.values():
            _plain_check(v, name, depth + 1)
        return
    _fail(f"{name} must hold plain values only, found {type(value).__name__}")


def _kit_from_payload(payload, *, key=None) -> DonorKit:
    """Validate a loaded payload (format, version, digest, signature, fields) into a DonorKit."""
    if type(payload) is not dict:
        raise DonorKitError(
            f"not a donor kit: the file holds a {type(payload).__name__}, not a kit dict."
        )
    if payload.get("format") != FORMAT_NAME:
        raise DonorKitError(
            f"not a donor kit: its 'format' field is {payload.get('format')!r}, expected "
            f"{FORMAT_NAME!r}. Export kits with DCSAETransformer.export_donor_kit."
        )
    version = payload.get("format_version")
    if type(version) is not int or version not in SUPPORTED_FORMAT_VERSIONS:
        raise DonorKitError(
            f"donor kit format version {version!r} is not supported by skdcsae {__version__} "
            f"(supported: {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}). Ask the donor to "
            "export with a compatible skdcsae, or upgrade skdcsae."
        )
    fields = _CONTENT_FIELDS if version == 1 else _CONTENT_FIELDS_V2
    expected = set(fields) | set(_DIGEST_FIELDS)
    if set(payload) != expected:
        missing = sorted(expected - set(payload))
        unexpected = sorted(set(payload) - expected)
        raise DonorKitError(
            f"not a valid donor kit: missing fields {missing}, unexpected fields {unexpected}."
        )

    # Integrity first, so that a tampered kit is reported as tampered.
    content = {name: payload[name] for name in fields}
    stored = payload["sha256"]
    if not (isinstance(stored, str) and re.fullmatch(r"[0-9a-f]{64}", stored)):
        raise DonorKitError("invalid donor kit: its sha256 digest is missing or malformed.")
    if not hmac.compare_digest(_digest(content), stored):
        raise DonorKitError(
            "donor kit content does not match its SHA-256 digest: the file was modified or "
            "corrupted after export. Ask the donor for a fresh copy."
        )
    signature = payload["hmac_sha256"]
    if signature is not None and not (
        isinstance(signature, str) and re.fullmatch(r"[0-9a-f]{64}", signature)
    ):
        raise DonorKitError("invalid donor kit: its HMAC signature is malformed.")
    key = _key_bytes(key)
    if key is not None:
        if signature is None:
            raise DonorKitError(
                "the donor kit is not signed, but a key was given: refusing an unsigned kit. "
                "Ask the donor to export with export_donor_kit(..., key=...)."
            )
        if not hmac.compare_digest(_signature(content, key), signature):
            raise DonorKitError(
                "the donor kit's HMAC-SHA256 signature does not match this key: the kit was "
                "made with another key or modified after signing."
            )

    # Structure.
    config = _check_config(payload["encoder_config"])
    weights = _check_weights(config, payload["encoder_weights"])
    n_heads, latent = config["n_heads"], config["latent_dim"]
    classes = _check_array(payload["classes"], "classes", "biuUS", 1)
    if len(classes) != n_heads or len(np.unique(classes)) != len(classes):
        _fail(f"classes must be {n_heads} distinct labels (one per head), got {classes!r}")
    if not np.array_equal(np.sort(classes), classes):
        _fail("classes must be sorted")
    feature_mode = payload["feature_mode"]
    if feature_mode not in ("means", "paper"):
        _fail(f"feature_mode must be 'means' or 'paper', got {feature_mode!r}")
    features = _check_array(payload["features"], "features", "f", 2)
    n_out = n_heads * latent if feature_mode == "means" else latent
    if features.shape[0] < 1 or features.shape[1] != n_out:
        _fail(f"features must have shape (n, {n_out}), got {features.shape}")
    labels = _check_array(payload["labels"], "labels", "biuUS", 1)
    if len(labels) != len(features):
        _fail(f"{len(labels)} labels for {len(features)} feature rows")
    if labels.dtype.kind != classes.dtype.kind or not np.all(np.isin(labels, classes)):
        _fail("labels must all be among classes")
    seed = payload["sampling_seed"]
    if feature_mode == "paper":
        if n_heads != 2:
            _fail("feature_mode 'paper' needs exactly 2 heads")
        _check_int(seed, "sampling_seed")
    elif seed is not None:
        _fail("sampling_seed must be None in 'means' mode")
    image_shape = payload["image_shape"]
    if config["kind"] == "conv":
        if image_shape != config["input_shape"]:
            _fail(f"image_shape {image_shape} does not match the encoder {config['input_shape']}")
        image_shape = tuple(image_shape)
    elif image_shape is not None:
        _fail("a tabular (mlp) kit has no image_shape")
    n_features = _check_int(payload["n_features_in"], "n_features_in", 1)
    if n_features != math.prod(config["input_shape"]):
        _fail(f"n_features_in {n_features} does not match the encoder {config['input_shape']}")
    pre = payload["preprocessing"]
    if type(pre) is not dict or set(pre) != set(_PREPROCESSING_FIELDS):
        _fail(f"preprocessing must be a dict with the fields {list(_PREPROCESSING_FIELDS)}")
    if pre["scaling"] not in ("minmax", "standard", None):
        _fail(f"unknown scaling {pre['scaling']!r}")
    offset = _check_array(pre["offset"], "preprocessing offset", "f", (0, 1))
    scale = _check_array(pre["scale"], "preprocessing scale", "f", (0, 1))
    for name, arr in (("offset", offset), ("scale", scale)):
        if arr.ndim == 1 and arr.shape[0] != n_features:
            _fail(f"preprocessing {name} has {arr.shape[0]} values for {n_features} features")
    if np.any(scale <= 0):
        _fail("preprocessing scale must be positive")
    rng = pre["input_range"]
    if not (
        type(rng) is list
        and len(rng) == 2
        and all(type(v) is float and math.isfinite(v) for v in rng)
        and rng[0] <= rng[1]
    ):
        _fail(f"preprocessing input_range must be [min, max] floats, got {rng!r}")
    for name in ("hyperparameters", "versions"):
        if type(payload[name]) is not dict:
            _fail(f"{name} must be a dict")
        _plain_check(payload[name], name)
    for name in ("created", "model"):
        if type(payload[name]) is not str:
            _fail(f"{name} must be a string")
    weights_, release, privacy = _check_release(payload, version, len(features), len(classes))
    return DonorKit(
        encoder_config=config,
        encoder_weights=weights,
        features=features,
        labels=labels,
        classes=classes,
        image_shape=image_shape,
        n_features_in=n_features,
        scaling=pre["scaling"],
        input_offset=offset,
        input_scale=scale,
        input_range=tuple(rng),
        feature_mode=feature_mode,
        sampling_seed=seed,
        hyperparameters=payload["hyperparameters"],
        versions=payload["versions"],
        created=payload["created"],
        feature_weights=weights_,
        release=release,
        privacy=privacy,
        model=payload["model"],
        format_version=version,
        sha256=stored,
        hmac_sha256=signature,
    )


def _check_release(payload, version: int, n_rows: int, n_classes: int):
    """The version-2 fields: feature weights, release description, privacy of the encoder."""
    if version == 1:
        return np.ones(n_rows), {"mode": "per_image"}, None
    weights = _check_array(payload["feature_weights"], "feature_weights", "f", 1)
    if len(weights) != n_rows:
        _fail(f"{len(weights)} feature weights for {n_rows} feature rows")
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        _fail("feature weights must be positive and finite")
    release = payload["release"]
    if type(release) is not dict:
        _fail("release must be a dict")
    _plain_check(release, "release")
    if release.get("mode") not in RELEASE_MODES:
        _fail(f"release mode must be one of {list(RELEASE_MODES)}, got {release.get('mode')!r}")
    if release["mode"] == "per_image" and not np.all(weights == 1):
        _fail("a per-image release has weight 1 on every row")
    for name in ("clip_norm", "feature_noise", "epsilon", "delta"):
        value = release.get(name)
        if value is not None and not (type(value) is float and value >= 0):
            _fail(f"release {name} must be a non-negative float or None, got {value!r}")
    privacy = payload["privacy"]
    if privacy is not None:
        if type(privacy) is not dict:
            _fail("privacy must be a dict or None")
        _plain_check(privacy, "privacy")
        for name in ("epsilon", "delta", "noise_multiplier", "max_grad_norm"):
            value = privacy.get(name)
            if not (type(value) is float and value >= 0):
                _fail(f"privacy {name} must be a non-negative float, got {value!r}")
    return weights, release, privacy


def _check_kit(kit: DonorKit, *, key=None) -> DonorKit:
    """Verify an in-memory DonorKit exactly as a loaded file (digest, signature, fields)."""
    if not isinstance(kit, DonorKit):
        raise TypeError(f"expected a DonorKit, got {type(kit).__name__}")
    return _kit_from_payload(kit._payload(), key=key)


def load_donor_kit(path, *, key=None) -> DonorKit:
    """Read a donor kit file safely and verify it.

    The file is never passed to ``pickle.load`` or ``joblib.load``: its opcodes are scanned
    without executing anything, then it is unpickled through an allow-list that admits only
    plain numpy arrays and builtin containers (see :mod:`skdcsae.kit`). The SHA-256 digest
    is recomputed and compared, and with ``key`` the HMAC-SHA256 signature is verified.

    Parameters
    ----------
    path : str or path-like
        The kit file written by :meth:`skdcsae.DCSAETransformer.export_donor_kit`.
    key : str or bytes, default=None
        The shared secret the donor signed the kit with. When given, unsigned kits and kits
        signed with another key are refused. When None, a signed kit loads but its signature
        is not checked (``kit.signed`` tells).

    Returns
    -------
    kit : DonorKit
        The verified kit.

    Raises
    ------
    DonorKitError
        If the file is not a donor kit, is truncated, references anything but plain arrays and
        containers (a hostile pickle), fails its digest or signature, or has an unsupported
        format version.

    See Also
    --------
    skdcsae.RecipientLabeler : label images with a kit (accepts the path directly).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer, load_donor_kit
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(dense_sizes=(16,), max_epochs=2, device="cpu",
    ...                          random_state=0).fit(X[:100], y[:100])
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> _ = dcsae.export_donor_kit(path, X[:100], y[:100], key="shared secret")
    >>> kit = load_donor_kit(path, key="shared secret")
    >>> kit.classes, kit.features.shape, kit.signed
    (array([0, 1]), (100, 4), True)
    >>> load_donor_kit(path, key="wrong")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skdcsae.kit._kit.DonorKitError: ...: the donor kit's HMAC-SHA256 signature does not match \
this key: the kit was made with another key or modified after signing.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    try:
        payload = _safe_loads(data)
        return _kit_from_payload(payload, key=key)
    except DonorKitError as exc:
        raise DonorKitError(f"{name}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------
def _plain_value(value):
    """Hyperparameter values as plain data (tuples become lists, numpy scalars Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return f"<{type(value).__name__}>"


def _plain_classes(classes: np.ndarray) -> np.ndarray:
    """Classes as a numeric or string array (never object dtype)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "biuUS":
        return classes
    items = classes.tolist()
    if all(isinstance(c, str) for c in items):
        return np.asarray(items, dtype=str)
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in items):
        return np.asarray(items, dtype=np.int64)
    raise ValueError(
        f"a donor kit stores class labels as numbers or strings; got {classes.dtype} labels "
        f"{items[:5]!r}. Convert y to ints or strings before fitting."
    )


def _tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().to("cpu")
    if tensor.is_floating_point() and tensor.dtype not in (
        torch.float16,
        torch.float32,
        torch.float64,
    ):
        tensor = tensor.float()  # bfloat16 and friends have no numpy dtype
    return np.array(tensor.numpy(), order="C")  # a copy; keeps 0-d buffers 0-d


def _atomic_write(path: str, payload: dict, *, overwrite: bool) -> None:
    """Pickle ``payload`` to a temporary file beside ``path``, then move it into place."""
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    try:
        # "x": never reuse an existing file; plain open() keeps the user's umask permissions.
        with open(tmp, "xb") as f:
            pickle.dump(payload, f, protocol=_PICKLE_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # atomic and never clobbers an existing file
        except FileExistsError:
            raise _exists_error(path) from None
        except (OSError, AttributeError, NotImplementedError):
            # No hard links on this file system: check, then rename.
            if os.path.exists(path):
                raise _exists_error(path) from None
            os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _exists_error(path: str) -> FileExistsError:
    return FileExistsError(
        f"{path} already exists; pass overwrite=True to replace it, or choose another path."
    )


def _versions() -> dict[str, str]:
    import sklearn

    return {
        "skdcsae": str(__version__),
        "torch": str(torch.__version__),
        "scikit-learn": str(sklearn.__version__),
        "numpy": str(np.__version__),
        "python": str(platform.python_version()),
    }


def _export_donor_kit(
    estimator,
    path,
    X,
    y,
    *,
    release="per_image",
    n_prototypes=3,
    min_count=10,
    n_synthetic=None,
    feature_noise=None,
    clip_norm=None,
    delta=None,
    key=None,
    overwrite=False,
) -> DonorKit:
    """Implementation of :meth:`skdcsae.DCSAETransformer.export_donor_kit`."""
    check_is_fitted(estimator, "net_")
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise _exists_error(path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {overwrite!r}")
    key = _key_bytes(key)
    Xv, _ = estimator._validate_transform_input(X)
    if y is None:
        raise ValueError("export_donor_kit needs the labels y of the donor images X.")
    y = column_or_1d(y)
    check_consistent_length(Xv, y)
    classes = estimator.classes_
    known = np.isin(y, classes)
    if not np.all(known):
        raise ValueError(
            f"y has labels the transformer was not fitted on: {np.unique(y[~known])!r} "
            f"(classes_ are {classes!r})."
        )
    y_index = np.searchsorted(classes, y)
    missing = np.setdiff1d(np.arange(len(classes)), y_index)
    if len(missing):
        raise ValueError(
            f"export_donor_kit needs donor features for every class; y has no {classes[missing]!r}."
        )
    if estimator.feature_mode == "paper":
        features = estimator._true_head_samples(Xv, y_index)
    else:
        mus, _ = estimator._encode(Xv)
        features = mus.reshape(len(mus), -1)
    features, y_index, feature_weights, release_info = release_features(
        features,
        y_index,
        classes,
        mode=release,
        n_prototypes=n_prototypes,
        min_count=min_count,
        n_synthetic=n_synthetic,
        feature_noise=feature_noise,
        clip_norm=clip_norm,
        delta=delta,
        random_state=int(estimator._seed),
    )
    privacy = getattr(estimator, "privacy_", None)
    plain_classes = _plain_classes(classes)
    encoder = estimator.net_.module_.encoder
    params = estimator.get_params(deep=False)
    hyper = {
        k: _plain_value(v)
        for k, v in sorted(params.items())
        if k not in ("callbacks", "device", "verbose")
    }
    if privacy is not None:
        # the seed regenerates DP-SGD's noise: never ship it with a private encoder
        hyper["random_state"] = "<withheld: differentially private training>"
    hyper["n_iter"] = int(estimator.n_iter_)
    hyper["trained_on"] = str(estimator.device_)
    image_shape = estimator.image_shape_
    kit = DonorKit(
        encoder_config=dict(encoder.config),
        encoder_weights={k: _tensor_to_numpy(v) for k, v in encoder.state_dict().items()},
        features=np.ascontiguousarray(features, dtype=np.float32),
        labels=plain_classes[y_index],
        classes=plain_classes,
        image_shape=None if image_shape is None else tuple(int(s) for s in image_shape),
        n_features_in=int(estimator.n_features_in_),
        scaling=estimator.scaling_,
        input_offset=np.asarray(estimator.input_offset_, dtype=np.float32),
        input_scale=np.asarray(estimator.input_scale_, dtype=np.float32),
        input_range=tuple(float(v) for v in estimator.input_range_),
        feature_mode=estimator.feature_mode,
        sampling_seed=int(estimator._seed) if estimator.feature_mode == "paper" else None,
        hyperparameters=hyper,
        versions=_versions(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        feature_weights=np.asarray(feature_weights, dtype=np.float64),
        release=release_info,
        privacy=None if privacy is None else {k: _plain_value(v) for k, v in privacy.items()},
        model=type(estimator).__name__,
    )
    content = kit._content()
    kit = dataclasses.replace(
        kit,
        sha256=_digest(content),
        hmac_sha256=None if key is None else _signature(content, key),
    )
    _atomic_write(path, kit._payload(), overwrite=overwrite)
    return kit


def _example_kit() -> DonorKit:
    """A tiny kit for docstring examples (digits 0 vs 1, tabular, 2 epochs)."""
    from sklearn.datasets import load_digits

    from .._dcsae import DCSAETransformer

    X, y = load_digits(n_class=2, return_X_y=True)
    dcsae = DCSAETransformer(dense_sizes=(16,), max_epochs=2, device="cpu", random_state=0)
    dcsae.fit(X[:100], y[:100])
    with tempfile.TemporaryDirectory() as tmp:
        return dcsae.export_donor_kit(os.path.join(tmp, "kit.joblib"), X[:100], y[:100])
