"""Input checks shared by the estimators: image shapes, flattening and dtypes."""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import sparse

__all__ = ["check_image_shape", "flatten_images", "output_dtype", "unlabelled_mask"]

#: scikit-learn's mark of an unlabelled row (``LabelSpreading``, ``SelfTrainingClassifier``).
UNLABELLED = -1


def check_image_shape(image_shape) -> tuple[int, int, int] | None:
    """Normalise ``image_shape`` to ``(C, H, W)``; ``None`` stays ``None`` (tabular data)."""
    if image_shape is None:
        return None
    shape = tuple(image_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            f"image_shape must be (H, W) or (C, H, W) with positive integers, got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def flatten_images(X, image_shape):
    """Flatten ``(n, H, W)`` / ``(n, C, H, W)`` arrays to ``(n, C*H*W)``.

    Returns ``(X_flat, shape)`` where ``shape`` is the ``(C, H, W)`` the array implies, checked
    against ``image_shape`` when both are known. Anything that is not a 3-d/4-d array passes
    through unchanged (sklearn's ``validate_data`` checks it afterwards).
    """
    expected = check_image_shape(image_shape)
    if sparse.issparse(X) or not hasattr(X, "shape") or not hasattr(X, "reshape"):
        return X, expected
    ndim = len(X.shape)
    if ndim not in (3, 4):
        return X, expected
    found = (1, *X.shape[1:]) if ndim == 3 else tuple(X.shape[1:])
    found = tuple(int(s) for s in found)
    if expected is not None and found != expected:
        raise ValueError(
            f"X has image shape {found} (C, H, W) but image_shape={expected} was given. "
            "Pass images of that shape, or set image_shape to match the images."
        )
    # an explicit width (not -1): numpy cannot infer it for zero samples
    return np.asarray(X).reshape(X.shape[0], math.prod(found)), found


def output_dtype(X) -> np.dtype:
    """float32 stays float32; everything else (float64, ints, uint8) computes to float64."""
    dtype = getattr(X, "dtype", None)
    if dtype is not None and np.dtype(dtype) == np.float32:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def unlabelled_mask(y) -> np.ndarray:
    """True where a numeric label is ``-1`` (unlabelled); all False for other labels."""
    y = np.asarray(y)
    if y.dtype.kind in "iuf":
        return y == UNLABELLED
    return np.zeros(len(y), dtype=bool)
