"""DonorKit <-> (meta, tensors): the layout of a format-3 kit, every field checked on the way in.

:func:`kit_to_content` turns a :class:`DonorKit` into the JSON metadata and named arrays of a
container; :func:`content_to_kit` checks untrusted metadata and arrays field by field and
builds a kit from them. The checks are exact (key sets, types, shapes, dtypes), bounded (every
list's length before its items, the encoder's architecture by arithmetic before any layer is
built or any weight is read) and about meaning (finite values, labels in range, release
settings consistent with the rows). Accepted content re-encodes to exactly the same bytes.

Metadata (canonical JSON)::

    {"model": str, "created": str, "versions": {name: version},
     "classes": [sorted, distinct; all str, all int or all float],
     "image_shape": [C, H, W] or null, "n_features_in": int,
     "preprocessing": {"scaling": "minmax" | "standard" | null, "input_range": [lo, hi]},
     "feature_mode": "means" | "paper",
     "release": {every ReleaseSettings field}, "n_images_per_class": [int per class],
     "image_preparation": null or {"n_resized", "resized_from": [[h, w, count], ...],
                                   "n_resized_unlisted", "n_color_converted"},
     "members": [{"encoder_config", "sampling_seed", "hyperparameters", "privacy",
                  "n_groups_per_class", "n_clipped"}, ...]}

Tensors: ``preprocessing.offset`` and ``preprocessing.scale`` (float32, scalar or one per
input value); per member ``k``: ``members.{k}.encoder.{parameter}`` (the encoder's
``state_dict``), ``members.{k}.features`` (float32, rows x features), ``members.{k}.labels``
(int64 indices into ``classes``) and ``members.{k}.feature_weights`` (float64).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._nn._shapes import DEFAULT_ENCODER_LIMITS, encoder_state_shapes
from ._checks import (
    check_choice,
    check_exact_keys,
    check_int,
    check_int_list,
    check_str,
    check_tensor,
    fail,
    short,
)
from ._container import SignatureStatus
from ._donor_kit import DonorKit, KitMember
from ._fields import (
    COUNT,
    INT64,
    TEXT,
    check_classes,
    check_hyperparameters,
    check_image_preparation,
    check_image_shape,
    check_preprocessing,
    check_privacy,
    check_release,
    check_string_dict,
)
from ._limits import DEFAULT_LIMITS, KitLimits
from ._release import ReleaseSettings

__all__ = ["MEMBER_KEYS", "META_KEYS", "content_to_kit", "kit_to_content"]

META_KEYS = (
    "classes",
    "created",
    "feature_mode",
    "image_preparation",
    "image_shape",
    "members",
    "model",
    "n_features_in",
    "n_images_per_class",
    "preprocessing",
    "release",
    "versions",
)
MEMBER_KEYS = (
    "encoder_config",
    "hyperparameters",
    "n_clipped",
    "n_groups_per_class",
    "privacy",
    "sampling_seed",
)
_OFFSET, _SCALE = "preprocessing.offset", "preprocessing.scale"
_FLOATS = ("float16", "float32", "float64")


# --------------------------------------------------------------------------------------------
# DonorKit -> content
# --------------------------------------------------------------------------------------------
def kit_to_content(kit: DonorKit) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and arrays a kit is written as (see the module docstring).

    Parameters
    ----------
    kit : DonorKit

    Returns
    -------
    meta : dict
        Plain JSON data.
    tensors : dict of str to ndarray
        Every array, named as in the module docstring.
    """
    members, tensors = [], {_OFFSET: kit.input_offset, _SCALE: kit.input_scale}
    for k, m in enumerate(kit.members):
        groups = m.n_groups_per_class
        members.append(
            {
                "encoder_config": m.encoder_config,
                "sampling_seed": m.sampling_seed,
                "hyperparameters": m.hyperparameters,
                "privacy": m.privacy,
                "n_groups_per_class": None if groups is None else list(groups),
                "n_clipped": m.n_clipped,
            }
        )
        for name, weight in m.encoder_weights.items():
            tensors[f"members.{k}.encoder.{name}"] = weight
        tensors[f"members.{k}.features"] = m.features
        tensors[f"members.{k}.labels"] = m.label_index
        tensors[f"members.{k}.feature_weights"] = m.feature_weights
    meta = {
        "model": kit.model,
        "created": kit.created,
        "versions": kit.versions,
        "classes": np.asarray(kit.classes).tolist(),
        "image_shape": None if kit.image_shape is None else list(kit.image_shape),
        "n_features_in": kit.n_features_in,
        "preprocessing": {"scaling": kit.scaling, "input_range": list(kit.input_range)},
        "feature_mode": kit.feature_mode,
        "release": kit.release.as_dict(),
        "n_images_per_class": list(kit.n_images_per_class),
        "image_preparation": kit.image_preparation,
        "members": members,
    }
    return meta, tensors


# --------------------------------------------------------------------------------------------
# Members
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Shared:
    n_classes: int
    image_shape: tuple | None
    n_features_in: int
    feature_mode: str
    release: ReleaseSettings
    counts: list[int]


def _member_meta(k: int, value: Any, shared: _Shared) -> tuple[dict, dict]:
    """A member's metadata, checked; and its encoder's state shapes (by arithmetic)."""
    where = f"members[{k}]"
    check_exact_keys(value, MEMBER_KEYS, where)
    try:
        shapes = encoder_state_shapes(value["encoder_config"])
    except ValueError as exc:
        fail(f"{where} encoder_config", f"is refused: {exc}")
    config = value["encoder_config"]
    if shared.image_shape is not None:
        expected = {"kind": "conv", "input_shape": list(shared.image_shape)}
    else:
        expected = {"kind": "mlp", "input_shape": [shared.n_features_in]}
    for name, want in expected.items():
        if config[name] != want:
            fail(
                f"{where} encoder_config",
                f"{name} is {short(config[name])}, the kit's inputs need {want!r}",
            )
    if config["n_heads"] != shared.n_classes:
        fail(
            f"{where} encoder_config",
            f"has {config['n_heads']} heads for {shared.n_classes} classes",
        )
    seed = value["sampling_seed"]
    if shared.feature_mode == "paper":
        check_int(seed, f"{where} sampling_seed", 0, INT64)
    elif seed is not None:
        fail(f"{where} sampling_seed", "must be null in 'means' mode")
    check_hyperparameters(value["hyperparameters"], f"{where} hyperparameters")
    check_privacy(value["privacy"], f"{where} privacy")
    rel = shared.release
    groups = value["n_groups_per_class"]
    if rel.mode == "per_image":
        if groups is not None:
            fail(f"{where} n_groups_per_class", "must be null for per-image rows")
    else:
        n = shared.n_classes
        check_int_list(
            groups, f"{where} n_groups_per_class", length=(n, n), low=1, high=rel.n_prototypes
        )
        for g, count in zip(groups, shared.counts, strict=True):
            if g * rel.min_count > count:
                fail(
                    f"{where} n_groups_per_class",
                    f"has {g} groups of at least {rel.min_count} images in a class of {count}",
                )
    clipped = value["n_clipped"]
    if rel.clip_norm is None:
        if clipped is not None:
            fail(f"{where} n_clipped", "must be null without clip_norm")
    else:
        check_int(clipped, f"{where} n_clipped", 0, sum(shared.counts))
    return value, shapes


def _encoder_weights(prefix: str, shapes: dict, tensors: dict) -> dict[str, np.ndarray]:
    weights = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            array = check_tensor(tensors, prefix + name, ("int64",), shape)
            if array < 0:
                fail(f"tensor {prefix + name!r}", "must not be negative")
        else:
            array = check_tensor(tensors, prefix + name, _FLOATS, shape)
            if name.endswith("running_var") and (array < 0).any():
                fail(f"tensor {prefix + name!r}", "holds negative variances")
        weights[name] = array
    return weights


def _member(k: int, value: dict, shapes: dict, tensors: dict, shared: _Shared) -> KitMember:
    prefix = f"members.{k}."
    config = value["encoder_config"]
    weights = _encoder_weights(prefix + "encoder.", shapes, tensors)
    heads = config["n_heads"] if shared.feature_mode == "means" else 1
    features = check_tensor(
        tensors, prefix + "features", ("float32",), (None, heads * config["latent_dim"])
    )
    n_rows = features.shape[0]
    labels = check_tensor(tensors, prefix + "labels", ("int64",), (n_rows,))
    weights_ = check_tensor(tensors, prefix + "feature_weights", ("float64",), (n_rows,))
    n = shared.n_classes
    if n_rows and (labels.min() < 0 or labels.max() >= n):
        fail(f"tensor {prefix + 'labels'!r}", f"holds class indices outside [0, {n - 1}]")
    rows = np.bincount(labels, minlength=n)
    if (rows == 0).any():
        fail(f"tensor {prefix + 'labels'!r}", f"has no row of class index {int(np.argmin(rows))}")
    if (weights_ <= 0).any():
        fail(f"tensor {prefix + 'feature_weights'!r}", "must be positive")
    rel, counts = shared.release, np.asarray(shared.counts)
    groups = value["n_groups_per_class"]
    where = f"members[{k}] rows"
    if rel.mode == "prototypes":
        if (weights_ != np.round(weights_)).any() or (weights_ < rel.min_count).any():
            fail(where, f"must be prototypes of at least {rel.min_count} whole images each")
        if not np.array_equal(np.bincount(labels, weights=weights_, minlength=n), counts):
            fail(where, "do not add up to n_images_per_class")
        if not np.array_equal(rows, groups):
            fail(where, "do not match n_groups_per_class")
    elif (weights_ != 1).any():
        fail(f"tensor {prefix + 'feature_weights'!r}", f"must be 1 for {rel.mode} rows")
    elif rel.mode == "per_image" and not np.array_equal(rows, counts):
        fail(where, "per class do not match n_images_per_class")
    elif rel.mode == "synthetic":
        wanted = 2 * counts if rel.n_synthetic is None else np.full(n, rel.n_synthetic)
        if not np.array_equal(rows, wanted):
            fail(where, f"per class are {rows.tolist()}, the release draws {wanted.tolist()}")
    return KitMember(
        encoder_config=config,
        encoder_weights=weights,
        features=features,
        label_index=labels,
        feature_weights=weights_,
        sampling_seed=value["sampling_seed"],
        hyperparameters=value["hyperparameters"],
        privacy=value["privacy"],
        n_groups_per_class=None if groups is None else tuple(groups),
        n_clipped=value["n_clipped"],
    )


def _tensor_names(members: list, shapes: list[dict]) -> set[str]:
    names = {_OFFSET, _SCALE}
    for k, member_shapes in enumerate(shapes):
        names.update(f"members.{k}.encoder.{name}" for name in member_shapes)
        names.update(f"members.{k}.{part}" for part in ("features", "labels", "feature_weights"))
    return names


# --------------------------------------------------------------------------------------------
# content -> DonorKit
# --------------------------------------------------------------------------------------------
def content_to_kit(
    meta: Any,
    tensors: Any,
    *,
    limits: KitLimits = DEFAULT_LIMITS,
    sha256: str = "",
    hmac_sha256: str | None = None,
    signature: SignatureStatus = SignatureStatus.ABSENT,
) -> DonorKit:
    """Check untrusted metadata and arrays field by field; build the kit they describe.

    Parameters
    ----------
    meta : dict
        The parsed JSON metadata.
    tensors : dict of str to ndarray
        The arrays (already bounded by the container's limits).
    limits : KitLimits, default=DEFAULT_LIMITS
        Bounds on the image shape and the number of members.
    sha256, hmac_sha256, signature
        The container's digest, signature and signature status, stored in the kit.

    Returns
    -------
    kit : DonorKit
        Its arrays are the given ones, made read-only.

    Raises
    ------
    DonorKitError
        With one line naming the first field that fails.
    """
    check_exact_keys(meta, META_KEYS, "the metadata")
    if type(tensors) is not dict:
        fail("the tensors", f"must be a dict, got {type(tensors).__name__}")
    model = check_str(meta["model"], "model", TEXT, empty=False)
    created = check_str(meta["created"], "created", TEXT)
    versions = check_string_dict(meta["versions"], "versions", 32)
    classes = check_classes(meta["classes"])
    image_shape = check_image_shape(meta["image_shape"], limits)
    n_in = check_int(
        meta["n_features_in"], "n_features_in", 1, DEFAULT_ENCODER_LIMITS.max_input_values
    )
    if image_shape is not None and n_in != image_shape[0] * image_shape[1] * image_shape[2]:
        fail(
            "n_features_in",
            f"is {n_in}, but images of shape {list(image_shape)} have "
            f"{int(np.prod(image_shape))} values",
        )
    scaling, input_range = check_preprocessing(meta["preprocessing"])
    feature_mode = check_choice(meta["feature_mode"], "feature_mode", ("means", "paper"))
    if feature_mode == "paper" and len(classes) != 2:
        fail("feature_mode", f"'paper' needs 2 classes, the kit has {len(classes)}")
    release = check_release(meta["release"])
    low = release.min_count if release.summarises else 1
    counts = check_int_list(
        meta["n_images_per_class"],
        "n_images_per_class",
        length=(len(classes), len(classes)),
        low=low,
        high=COUNT,
    )
    preparation = check_image_preparation(meta["image_preparation"], image_shape, sum(counts))
    members = meta["members"]
    if type(members) is not list or not 1 <= len(members) <= limits.max_members:
        fail("members", f"must be a list of 1 to {limits.max_members} members")
    shared = _Shared(len(classes), image_shape, n_in, feature_mode, release, counts)
    checked = [_member_meta(k, m, shared) for k, m in enumerate(members)]
    expected = _tensor_names(members, [shapes for _, shapes in checked])
    if set(tensors) != expected:
        missing = ", ".join(short(n, 60) for n in sorted(expected - set(tensors))[:3]) or "none"
        extra = ", ".join(short(n, 60) for n in sorted(set(tensors) - expected)[:3]) or "none"
        fail("the tensors", f"do not match the metadata (missing {missing}; unexpected {extra})")
    per_input = (n_in,)
    offset = tensors[_OFFSET]
    offset = check_tensor(tensors, _OFFSET, ("float32",), () if offset.ndim == 0 else per_input)
    scale = tensors[_SCALE]
    scale = check_tensor(tensors, _SCALE, ("float32",), () if scale.ndim == 0 else per_input)
    if (scale <= 0).any():
        fail(f"tensor {_SCALE!r}", "must be positive")
    kit_members = tuple(
        _member(k, m, shapes, tensors, shared) for k, (m, shapes) in enumerate(checked)
    )
    for array in tensors.values():
        array.flags.writeable = False
    return DonorKit(
        members=kit_members,
        classes=classes,
        image_shape=image_shape,
        n_features_in=n_in,
        scaling=scaling,
        input_offset=offset,
        input_scale=scale,
        input_range=input_range,
        feature_mode=feature_mode,
        release=release,
        n_images_per_class=tuple(counts),
        image_preparation=preparation,
        model=model,
        versions=versions,
        created=created,
        sha256=sha256,
        hmac_sha256=hmac_sha256,
        signature=signature,
    )
