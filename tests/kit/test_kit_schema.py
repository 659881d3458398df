"""The kit's meaning, attacked: valid containers whose content is hostile.

Every case here is a *valid* format-3 container (correct digest; the container reader accepts
it): only what its fields say is hostile -- a huge architecture or image, NaN weights, labels
out of range, classes of mixed kinds, inconsistent release fields, wrong tensor sets. Each
must raise :class:`DonorKitError` with one line of reason -- here, and again in a child
process whose address space is capped at its size after imports plus 1 GiB (so that a memory
bomb fails the test rather than the machine) and whose time is capped too.

The schema fuzzer is in ``test_kit_schema_fuzz``; it also runs this corpus in the child.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from skdcsae.kit._container import DEFAULT_LIMITS, dump_container
from skdcsae.kit._errors import DonorKitError
from skdcsae.kit._examples import example_kit
from skdcsae.kit._io import _decode
from skdcsae.kit._limits import KitLimits
from skdcsae.kit._release import ReleaseSettings
from skdcsae.kit._schema import content_to_kit, kit_to_content

WIDE_JSON = KitLimits(max_json_items=2_000_000, max_meta_bytes=64 << 20)
NOISY = ReleaseSettings("prototypes", feature_noise=1.0, clip_norm=2.0, delta=1e-5)


# --------------------------------------------------------------------------------------------
# Valid bases
# --------------------------------------------------------------------------------------------
def bases() -> list[tuple[str, dict, dict]]:
    """``(name, meta, tensors)`` of valid kits of every layout (writable copies)."""
    kits = {
        "mlp_synthetic": example_kit(),
        "conv_per_image": example_kit(1, image_shape=(1, 8, 8), release="per_image"),
        "conv_prototypes_str": example_kit(
            2, image_shape=(3, 6, 5), release="prototypes", classes=("a", "b", "c")
        ),
        "paper_ensemble": example_kit(3, feature_mode="paper", n_members=2),
        "float_classes_noise": example_kit(4, release=NOISY, classes=(0.5, 2.0)),
    }
    out = []
    for name, kit in kits.items():
        meta, tensors = kit_to_content(kit)
        out.append((name, copy.deepcopy(meta), {k: np.array(v) for k, v in tensors.items()}))
    return out


def base(name: str = "conv_per_image") -> tuple[dict, dict]:
    for n, meta, tensors in bases():
        if n == name:
            return meta, tensors
    raise KeyError(name)


def _load(meta, tensors, limits=DEFAULT_LIMITS):
    return _decode(dump_container(meta, tensors, limits=limits), None, limits)


# --------------------------------------------------------------------------------------------
# Hand-written hostile content, one per class of finding
# --------------------------------------------------------------------------------------------
def _case(name, edit, base_name="conv_per_image", limits=DEFAULT_LIMITS, match=None):
    meta, tensors = base(base_name)
    edit(meta, tensors)
    return name, meta, tensors, limits, match


def _m(meta):
    return meta["members"][0]


def _cfg(meta):
    return meta["members"][0]["encoder_config"]


def _set(d, key, value):
    d[key] = value


def hostile_cases() -> list[tuple]:
    """``(name, meta, tensors, limits, expected message fragment or None)``."""
    w, b = "members.0.encoder.heads.weight", "members.0.encoder.body.1"
    cases = [
        # architectures refused by arithmetic, before any weight is looked at
        _case("1e6_dense_layers", lambda m, t: _set(_cfg(m), "dense_sizes", [8] * 10**6),
              limits=WIDE_JSON, match="dense_sizes must have 0 to 32 entries"),
        _case("1e6_dense_layers_json_cap", lambda m, t: _set(_cfg(m), "dense_sizes", [8] * 10**6),
              match="(limit 100000)"),
        _case("huge_width", lambda m, t: _set(_cfg(m), "dense_sizes", [2**40]),
              match="dense_sizes entries must be an int"),
        _case("huge_parameter_count", lambda m, t: _set(_cfg(m), "dense_sizes", [65536] * 3),
              match="parameters"),
        _case("huge_latent", lambda m, t: _set(_cfg(m), "latent_dim", 10**9), match="latent_dim"),
        _case("huge_feature_map", lambda m, t: (
            _set(m, "image_shape", [1, 4096, 4096]), _set(m, "n_features_in", 4096 * 4096),
            _set(_cfg(m), "input_shape", [1, 4096, 4096]),
            _set(_cfg(m), "conv_channels", [65536])), match="conv stage outputs"),
        _case("bool_as_int", lambda m, t: _set(_cfg(m), "latent_dim", True), match="latent_dim"),
        _case("architecture_weights_mismatch", lambda m, t: _set(t, w, t[w][:, :-1]),
              match="must have shape"),
        _case("config_input_not_image", lambda m, t: _set(_cfg(m), "input_shape", [1, 9, 8]),
              match="input_shape"),
        _case("heads_not_classes", lambda m, t: _set(_cfg(m), "n_heads", 3), match="heads"),
        # image shapes
        _case("huge_image", lambda m, t: _set(m, "image_shape", [4, 100_000, 100_000]),
              match="image_shape height must be an integer in [1, 4096]"),
        _case("five_channels", lambda m, t: _set(m, "image_shape", [5, 8, 8]),
              match="image_shape channels"),
        _case("zero_side", lambda m, t: _set(m, "image_shape", [1, 0, 8]), match="image_shape"),
        _case("float_side", lambda m, t: _set(m, "image_shape", [1, 8.0, 8]), match="image_shape"),
        _case("n_features_mismatch", lambda m, t: _set(m, "n_features_in", 65),
              match="n_features_in"),
        # values
        _case("nan_feature", lambda m, t: t["members.0.features"].__setitem__((0, 0), np.nan),
              match="NaN or infinite"),
        _case("inf_weight", lambda m, t: t[w].__setitem__((0, 0), np.inf), match="NaN or infinite"),
        _case("nan_feature_weight", lambda m, t: t["members.0.feature_weights"].__setitem__(
            0, np.nan), match="NaN or infinite"),
        _case("inf_offset", lambda m, t: _set(t, "preprocessing.offset",
              np.full((), np.inf, np.float32)), match="NaN or infinite"),
        _case("zero_scale", lambda m, t: _set(t, "preprocessing.scale", np.zeros((), np.float32)),
              match="must be positive"),
        _case("negative_variance", lambda m, t: t["members.0.encoder.body.1.running_var"]
              .__setitem__(0, -1.0), match="negative variances"),
        _case("negative_batches", lambda m, t: _set(t, f"{b}.num_batches_tracked",
              np.array(-1, np.int64)), match="must not be negative"),
        # labels
        _case("label_too_big", lambda m, t: t["members.0.labels"].__setitem__(0, 2),
              match="outside [0, 1]"),
        _case("label_negative", lambda m, t: t["members.0.labels"].__setitem__(0, -1),
              match="outside [0, 1]"),
        _case("label_int32", lambda m, t: _set(t, "members.0.labels",
              t["members.0.labels"].astype(np.int32)), match="must be int64"),
        _case("class_without_rows", lambda m, t: t["members.0.labels"].__setitem__(
            slice(None), 0), match="has no row of class index 1"),
        # classes
        _case("mixed_classes", lambda m, t: _set(m, "classes", [0, "a"]), match="mixed kinds"),
        _case("int_and_float_classes", lambda m, t: _set(m, "classes", [0, 1.5]),
              match="mixed kinds"),
        _case("bool_classes", lambda m, t: _set(m, "classes", [False, True]), match="classes"),
        _case("unsorted_classes", lambda m, t: _set(m, "classes", [1, 0]), match="sorted"),
        _case("duplicate_classes", lambda m, t: _set(m, "classes", [1, 1]), match="distinct"),
        _case("one_class", lambda m, t: _set(m, "classes", [0]), match="2 to"),
        _case("class_beyond_int64", lambda m, t: _set(m, "classes", [0, 2**64]),
              match="64 bits"),
        _case("nul_in_class_name", lambda m, t: _set(m, "classes", ["a", "a\x00"]),
              match="without NUL"),
        _case("nested_class", lambda m, t: _set(m, "classes", [[0], [1]]), match="classes"),
        # release
        _case("per_image_weighted", lambda m, t: t["members.0.feature_weights"].__setitem__(0, 2.0),
              match="must be 1 for per_image rows"),
        _case("unknown_release", lambda m, t: m["release"].__setitem__("mode", "everything"),
              match="release mode"),
        _case("release_zero_prototypes", lambda m, t: m["release"].__setitem__("n_prototypes", 0),
              match="n_prototypes"),
        _case("noise_without_delta", lambda m, t: m["release"].update(
            feature_noise=1.0, clip_norm=2.0), match="no delta"),
        _case("noise_on_synthetic", lambda m, t: m["release"].update(
            feature_noise=1.0, clip_norm=2.0, delta=1e-5), base_name="mlp_synthetic",
            match="feature_noise applies"),
        _case("synthetic_rows_mismatch", lambda m, t: m["release"].__setitem__("n_synthetic", 5),
              base_name="mlp_synthetic", match="the release draws"),
        _case("prototype_fractional", lambda m, t: t["members.0.feature_weights"].__setitem__(
            0, 9.5), base_name="conv_prototypes_str", match="whole images"),
        _case("prototype_below_min_count", lambda m, t: m["n_images_per_class"].__setitem__(0, 5),
              base_name="conv_prototypes_str", match="n_images_per_class entries"),
        _case("groups_exceed_prototypes", lambda m, t: _m(m).__setitem__(
            "n_groups_per_class", [4, 1, 1]), base_name="conv_prototypes_str",
            match="n_groups_per_class"),
        _case("clipped_without_clip_norm", lambda m, t: _m(m).__setitem__("n_clipped", 3),
              match="n_clipped"),
        # key and tensor sets
        _case("extra_meta_key", lambda m, t: _set(m, "surprise", 1), match="unexpected 'surprise'"),
        _case("missing_meta_key", lambda m, t: m.pop("release"), match="missing 'release'"),
        _case("extra_tensor", lambda m, t: _set(t, "members.1.features", np.zeros((1, 4),
              np.float32)), match="unexpected 'members.1.features'"),
        _case("missing_tensor", lambda m, t: t.pop("members.0.feature_weights"),
              match="missing 'members.0.feature_weights'"),
        _case("no_members", lambda m, t: _set(m, "members", []), match="members"),
        _case("too_many_members", lambda m, t: _set(m, "members", m["members"] * 65),
              match="1 to 64 members"),
        _case("member_extra_key", lambda m, t: _m(m).__setitem__("decoder", None),
              match="unexpected 'decoder'"),
        # modes and provenance
        _case("paper_with_three_classes", lambda m, t: _set(m, "feature_mode", "paper"),
              base_name="conv_prototypes_str", match="'paper' needs 2 classes"),
        _case("paper_without_seed", lambda m, t: _m(m).__setitem__("sampling_seed", None),
              base_name="paper_ensemble", match="sampling_seed"),
        _case("seed_in_means_mode", lambda m, t: _m(m).__setitem__("sampling_seed", 3),
              match="sampling_seed"),
        _case("preparation_counts", lambda m, t: _set(m, "image_preparation", {
            "n_resized": 5, "resized_from": [[56, 40, 3]], "n_resized_unlisted": 0,
            "n_color_converted": 0}), match="do not add up"),
        _case("preparation_on_tabular", lambda m, t: _set(m, "image_preparation", {
            "n_resized": 0, "resized_from": [], "n_resized_unlisted": 0, "n_color_converted": 0}),
            base_name="mlp_synthetic", match="tabular"),
        _case("preparation_many_sizes", lambda m, t: _set(m, "image_preparation", {
            "n_resized": 21, "resized_from": [[i + 1, 1, 1] for i in range(21)],
            "n_resized_unlisted": 0, "n_color_converted": 0}), match="at most 20"),
        _case("privacy_wrong_keys", lambda m, t: _m(m).__setitem__("privacy", {"epsilon": 1.0}),
              match="privacy"),
        _case("nested_hyperparameter", lambda m, t: _m(m)["hyperparameters"].__setitem__(
            "x", {"a": 1}), match="hyperparameters"),
        _case("version_not_text", lambda m, t: m["versions"].__setitem__("torch", 2),
              match="versions"),
        _case("empty_model", lambda m, t: _set(m, "model", ""), match="model"),
        _case("int_where_float", lambda m, t: _set(m["preprocessing"], "input_range", [0, 255]),
              match="input_range"),
    ]  # fmt: skip
    return cases


@pytest.mark.parametrize(
    ("meta", "tensors", "limits", "match"),
    [pytest.param(*case[1:], id=case[0]) for case in hostile_cases()],
)
def test_hostile_content_is_refused(meta, tensors, limits, match):
    started = time.perf_counter()
    with pytest.raises(DonorKitError) as info:
        _load(meta, tensors, limits)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    if match is not None:
        assert match in message
    assert time.perf_counter() - started < 10


def test_every_base_is_valid_and_round_trips_exactly():
    for name, meta, tensors in bases():
        data = dump_container(meta, tensors)
        kit = _decode(data, None, DEFAULT_LIMITS)
        assert dump_container(*kit_to_content(kit)) == data, name


def test_architecture_is_checked_before_any_layer_is_built(monkeypatch):
    import skdcsae._nn._modules as modules

    def never(*args, **kwargs):
        raise AssertionError("a layer was built")

    monkeypatch.setattr(modules.MultiHeadEncoder, "__init__", never)
    meta, tensors = base()
    _cfg(meta)["dense_sizes"] = [2**20]
    with pytest.raises(DonorKitError, match="dense_sizes"):
        _load(meta, tensors)
    content_to_kit(*base(), limits=DEFAULT_LIMITS)  # a valid kit builds nothing either
