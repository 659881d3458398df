"""Recipient images against the donor's input range: refused with the fix when they leave it."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["check_input_range"]


def check_input_range(X: np.ndarray, kit, tolerance: float | None, batch_size: int) -> None:
    """Raise a ``ValueError`` when ``X`` leaves the donor's input range of a min-max kit.

    Values more than ``tolerance`` of the range's width outside it are refused, and so are
    images that look rescaled to [0, 1] when the donor's were not (read ``batch_size`` rows at
    a time, so no float copy of ``X`` is made). ``tolerance=None`` checks nothing.
    """
    if tolerance is None or kit.scaling != "minmax" or X.size == 0:
        return
    lo, hi = kit.input_range
    span = hi - lo
    tol = tolerance * (span if span > 0 else max(1.0, abs(hi)))
    xmin, xmax = float(X.min()) + 0.0, float(X.max()) + 0.0  # + 0.0: no "-0" in messages
    if xmin < lo - tol or xmax > hi + tol:
        if hi <= 1.0 + tol and xmax > 1.0 + tol:
            hint = (
                "The donor's images were scaled to [0, 1]: divide uint8 images by 255 (X / 255.0)."
            )
        else:
            hint = "Rescale X to the donor's range (or check that the images match)."
        raise ValueError(
            f"X has values in [{xmin:g}, {xmax:g}] but the kit's encoder was trained on "
            f"images in [{lo:g}, {hi:g}] (tolerance {tolerance:g} of the range). "
            f"{hint} Set range_tolerance=None to skip this check."
        )
    if span > 2.0 and xmin >= 0.0 and xmax <= 1.0 and _has_fractions(X, batch_size):
        multiply = ""
        if hi >= 2.0:  # the donor's maximum (e.g. 249) is not the scale: its bit depth is
            bits = math.ceil(math.log2(hi + 1.0))
            multiply = f", or multiply X by {2**bits - 1} if the images were {bits}-bit"
        raise ValueError(
            f"X looks scaled to [0, 1] (values in [{xmin:g}, {xmax:g}]) but the kit's "
            f"encoder was trained on the donor's values in [{lo:g}, {hi:g}]. Pass images in "
            f"the donor's units (the original uint8 or uint16 array){multiply}. Set "
            "range_tolerance=None to skip this check."
        )


def _has_fractions(X: np.ndarray, batch_size: int) -> bool:
    if X.dtype.kind != "f":
        return False
    for start in range(0, X.shape[0], batch_size):
        batch = X[start : start + batch_size]
        if np.any(batch != np.floor(batch)):
            return True
    return False
