"""Typed checks of untrusted kit values: each returns the value or raises a one-line DonorKitError.

Types are exact (``bool`` is not an ``int``, an ``int`` is not a ``float``), so that a kit
that passes decodes and re-encodes to the same bytes: a value the schema accepted is written
back exactly as it was read, and the digest of a loaded kit can be recomputed from it.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

from ._errors import DonorKitError

__all__ = [
    "check_choice",
    "check_exact_keys",
    "check_float",
    "check_int",
    "check_int_list",
    "check_str",
    "check_tensor",
    "fail",
    "short",
]


def short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (repr escapes control characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(where: str, what: str):
    """Raise the one-line error of a field that fails its check."""
    raise DonorKitError(f"invalid donor kit: {where} {what}")


def _names(names) -> str:
    names = sorted(names)
    listed = ", ".join(short(n, 30) for n in names[:5])
    return listed + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def check_exact_keys(value: Any, keys: Collection[str], where: str) -> dict:
    """A dict whose keys are exactly ``keys``."""
    if type(value) is not dict:
        fail(where, f"must be a JSON object, got {type(value).__name__}")
    if len(value) != len(keys) or set(value) != set(keys):
        missing, unexpected = set(keys) - set(value), set(value) - set(keys)
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if unexpected:
            parts.append(f"unexpected {_names(unexpected)}")
        fail(where, f"has the wrong keys ({'; '.join(parts)})")
    return value


def check_int(value: Any, where: str, low: int, high: int) -> int:
    """An ``int`` (not a ``bool``) in ``[low, high]``."""
    if type(value) is not int or not low <= value <= high:
        fail(where, f"must be an integer in [{low}, {high}], got {short(value)}")
    return value


def check_float(
    value: Any, where: str, *, low: float = -math.inf, high: float = math.inf, open_low=False
) -> float:
    """A finite ``float`` (not an ``int``) in ``[low, high]`` (``(low, high]`` if open_low)."""
    ok = type(value) is float and math.isfinite(value) and value <= high
    ok = ok and (value > low if open_low else value >= low)
    if not ok:
        bracket = "(" if open_low else "["
        fail(where, f"must be a finite float in {bracket}{low:g}, {high:g}], got {short(value)}")
    return value


def check_str(value: Any, where: str, max_length: int, *, empty: bool = True) -> str:
    """A ``str`` of at most ``max_length`` characters."""
    if type(value) is not str or len(value) > max_length or (not empty and not value):
        fail(
            where,
            f"must be a string of {int(not empty)} to {max_length} characters, got {short(value)}",
        )
    return value


def check_choice(value: Any, where: str, choices: tuple) -> Any:
    """One of ``choices`` (strings or None), compared by type and value."""
    if not any(type(value) is type(c) and value == c for c in choices):
        fail(where, f"must be one of {list(choices)}, got {short(value)}")
    return value


def check_int_list(
    value: Any, where: str, *, length: tuple[int, int], low: int, high: int
) -> list[int]:
    """A list of ``length[0]`` to ``length[1]`` ints in ``[low, high]`` (length checked first)."""
    if type(value) is not list:
        fail(where, f"must be a list, got {type(value).__name__}")
    if not length[0] <= len(value) <= length[1]:
        fail(where, f"must have {length[0]} to {length[1]} entries, got {len(value)}")
    for v in value:
        check_int(v, f"{where} entries", low, high)
    return value


def check_tensor(
    tensors: dict, name: str, dtypes: tuple[str, ...], shape: tuple[int | None, ...]
) -> np.ndarray:
    """The tensor ``name``: one of ``dtypes``, of ``shape`` (None: any size), finite floats."""
    array = tensors[name]
    if array.dtype.name not in dtypes:
        fail(f"tensor {name!r}", f"must be {' or '.join(dtypes)}, got {array.dtype.name}")
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        wanted = tuple("n" if s is None else s for s in shape)
        fail(f"tensor {name!r}", f"must have shape {wanted}, got {array.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        fail(f"tensor {name!r}", "holds NaN or infinite values")
    return array
