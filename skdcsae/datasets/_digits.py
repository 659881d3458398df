"""A small embedded image task for demos, examples and quick tests (no download)."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

__all__ = ["load_demo_digits"]


def load_demo_digits(classes=(3, 8)):
    """Two digit classes of scikit-learn's bundled digits, as 8x8 images.

    Parameters
    ----------
    classes : tuple of two int, default=(3, 8)
        The two digits that form the binary task (3 vs 8 is one of the harder pairs).

    Returns
    -------
    X : ndarray of shape (n, 8, 8)
        Pixel values in [0, 16] (float64).
    y : ndarray of shape (n,)
        The digit each image shows (``classes[0]`` or ``classes[1]``).

    Examples
    --------
    >>> from skdcsae.datasets import load_demo_digits
    >>> X, y = load_demo_digits()
    >>> X.shape, sorted(set(y.tolist()))
    ((357, 8, 8), [3, 8])
    """
    if len(classes) != 2 or len(set(classes)) != 2 or not set(classes) <= set(range(10)):
        raise ValueError(f"classes must be two different digits 0-9, got {classes!r}.")
    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return X[keep].reshape(-1, 8, 8), y[keep]
