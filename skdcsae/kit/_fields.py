"""Checks of a kit's shared fields: classes, image shape, preprocessing, release, provenance.

Each function takes an untrusted JSON value and returns it (or what it stands for) when it
passes, or raises a one-line :class:`DonorKitError` naming the field.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from .._nn._shapes import DEFAULT_ENCODER_LIMITS
from ._checks import (
    check_choice,
    check_exact_keys,
    check_float,
    check_int,
    check_int_list,
    check_str,
    fail,
    short,
)
from ._limits import KitLimits
from ._release import RELEASE_MODES, ReleaseSettings

__all__ = [
    "MAX_LISTED_SIZES",
    "PREPARATION_KEYS",
    "PRIVACY_KEYS",
    "check_classes",
    "check_hyperparameters",
    "check_image_preparation",
    "check_image_shape",
    "check_preprocessing",
    "check_privacy",
    "check_release",
    "check_string_dict",
]

PREPARATION_KEYS = ("n_color_converted", "n_resized", "n_resized_unlisted", "resized_from")
PRIVACY_KEYS = (
    "accountant",
    "delta",
    "epochs",
    "epsilon",
    "library",
    "max_grad_norm",
    "mechanism",
    "noise_multiplier",
    "sample_rate",
    "steps",
)
MAX_LISTED_SIZES = 20
TEXT = 200  # longest model name, version, creation time or hyperparameter string
_CLASS_NAME = 256
INT64 = 2**63 - 1
COUNT = 2**40  # most images of one kind


def check_classes(value: Any) -> np.ndarray:
    high = DEFAULT_ENCODER_LIMITS.max_heads
    if type(value) is not list or not 2 <= len(value) <= high:
        fail("classes", f"must be a list of 2 to {high} labels, got {short(value)}")
    kind = type(value[0])
    if kind not in (str, int, float) or any(type(c) is not kind for c in value):
        fail("classes", "must be all strings, all integers or all floats (not mixed kinds)")
    if kind is str and any(len(c) > _CLASS_NAME or "\0" in c for c in value):
        # numpy's string arrays drop trailing NULs: "a\0" would silently become "a"
        fail("classes", f"must be names of at most {_CLASS_NAME} characters, without NUL")
    if kind is int and any(not -INT64 - 1 <= c <= INT64 for c in value):
        fail("classes", "must be integers that fit in 64 bits")
    if any(a >= b for a, b in itertools.pairwise(value)):
        fail("classes", "must be sorted and distinct (head k belongs to classes[k])")
    dtype = {str: str, int: np.int64, float: np.float64}[kind]
    return np.asarray(value, dtype=dtype)


def check_image_shape(value: Any, limits: KitLimits) -> tuple[int, int, int] | None:
    if value is None:
        return None
    if type(value) is not list or len(value) != 3:
        fail("image_shape", f"must be [channels, height, width] or null, got {short(value)}")
    c = check_int(value[0], "image_shape channels", 1, limits.max_image_channels)
    h = check_int(value[1], "image_shape height", 1, limits.max_image_side)
    w = check_int(value[2], "image_shape width", 1, limits.max_image_side)
    return c, h, w


def check_preprocessing(value: Any) -> tuple[str | None, tuple[float, float]]:
    check_exact_keys(value, ("input_range", "scaling"), "preprocessing")
    scaling = check_choice(value["scaling"], "preprocessing scaling", ("minmax", "standard", None))
    rng = value["input_range"]
    if type(rng) is not list or len(rng) != 2:
        fail("preprocessing input_range", f"must be [min, max], got {short(rng)}")
    lo = check_float(rng[0], "preprocessing input_range min")
    hi = check_float(rng[1], "preprocessing input_range max", low=lo)
    return scaling, (lo, hi)


def check_release(value: Any) -> ReleaseSettings:
    names = [f.name for f in dataclasses.fields(ReleaseSettings)]
    check_exact_keys(value, names, "release")
    check_choice(value["mode"], "release mode", RELEASE_MODES)
    for name in ("n_prototypes", "min_count", "n_synthetic"):
        if not (name == "n_synthetic" and value[name] is None):
            check_int(value[name], f"release {name}", 1, COUNT)
    for name in ("feature_noise", "clip_norm", "delta"):
        if value[name] is not None:
            check_float(value[name], f"release {name}", low=0.0, open_low=True)
    try:
        settings = ReleaseSettings(**value)
    except ValueError as exc:
        fail("release", f"is inconsistent: {exc}")
    if settings.feature_noise is not None and settings.delta is None:
        fail("release", "has feature noise but no delta")
    return settings


def check_image_preparation(value: Any, image_shape, n_donor: int) -> dict | None:
    if value is None:
        return None
    if image_shape is None:
        fail("image_preparation", "must be null for a tabular kit")
    check_exact_keys(value, PREPARATION_KEYS, "image_preparation")
    listed = value["resized_from"]
    if type(listed) is not list or len(listed) > MAX_LISTED_SIZES:
        fail("image_preparation resized_from", f"must list at most {MAX_LISTED_SIZES} sizes")
    for entry in listed:
        check_int_list(entry, "image_preparation resized_from", length=(3, 3), low=1, high=2**31)
    where = "image_preparation"
    n_resized = check_int(value["n_resized"], f"{where} n_resized", 0, n_donor)
    check_int(value["n_color_converted"], f"{where} n_color_converted", 0, n_donor)
    unlisted = check_int(value["n_resized_unlisted"], f"{where} n_resized_unlisted", 0, n_donor)
    if len({(h, w) for h, w, _ in listed}) != len(listed):
        fail("image_preparation resized_from", "lists a size twice")
    if sum(c for *_, c in listed) + unlisted != n_resized:
        fail("image_preparation", "counts do not add up to n_resized")
    return value


def _plain(value: Any, where: str) -> None:
    """A scalar, or a flat list of scalars (hyperparameter values)."""
    scalars = (type(None), bool, int, float, str)
    items = value if type(value) is list else [value]
    for item in items:
        if type(item) not in scalars:
            fail(
                where,
                f"must be a number, string, bool, null or a flat list of them, got {short(value)}",
            )
        if type(item) is str and len(item) > TEXT:
            fail(where, f"must be strings of at most {TEXT} characters")


def check_string_dict(value: Any, where: str, max_items: int) -> dict:
    if type(value) is not dict or len(value) > max_items:
        fail(where, f"must be a JSON object of at most {max_items} entries")
    for k, v in value.items():
        check_str(k, f"{where} keys", 64)
        check_str(v, f"{where} {short(k)}", TEXT)
    return value


def check_hyperparameters(value: Any, where: str) -> dict:
    if type(value) is not dict or len(value) > 100:
        fail(where, "must be a JSON object of at most 100 entries")
    for k, v in value.items():
        check_str(k, f"{where} keys", 64)
        _plain(v, f"{where} {short(k)}")
    return value


def check_privacy(value: Any, where: str) -> dict | None:
    if value is None:
        return None
    check_exact_keys(value, PRIVACY_KEYS, where)
    for name in ("mechanism", "library", "accountant"):
        check_str(value[name], f"{where} {name}", TEXT)
    if value["epsilon"] is not None:  # None: infinite (noise multiplier 0)
        check_float(value["epsilon"], f"{where} epsilon", low=0.0)
    check_float(value["delta"], f"{where} delta", low=0.0, high=1.0)
    check_float(value["noise_multiplier"], f"{where} noise_multiplier", low=0.0)
    check_float(value["max_grad_norm"], f"{where} max_grad_norm", low=0.0, open_low=True)
    check_float(value["sample_rate"], f"{where} sample_rate", low=0.0, high=1.0, open_low=True)
    check_int(value["epochs"], f"{where} epochs", 0, COUNT)
    check_int(value["steps"], f"{where} steps", 0, COUNT)
    return value
