"""What the commands share beside their options: data loading, key files, output checks, errors."""

from __future__ import annotations

import inspect
import math
import os
from numbers import Real
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._files import read_regular_file
from .._sanitize import terminal_text

__all__ = [
    "CLIError",
    "Data",
    "check_writable",
    "estimator_default",
    "from_args",
    "info",
    "listing",
    "load_data",
    "match_labels",
    "pick_per_class",
    "read_key",
]


MAX_KEY_BYTES = 4096  # a key file holds a short secret (`skdcsae keygen` writes 65 bytes)


class CLIError(Exception):
    """Bad input to print as one line (exit status 2)."""


def estimator_default(estimator_class, name: str):
    """The default of ``name`` in ``estimator_class.__init__`` (or in a method given instead):
    the CLI never restates it."""
    return inspect.signature(estimator_class).parameters[name].default


def from_args(args, *names: str) -> dict:
    """The parsed options ``names`` as keyword arguments of the same names."""
    return {name: getattr(args, name) for name in names}


def info(args, text: str) -> None:
    """Print an information line unless ``--quiet``."""
    if not args.quiet:
        print(text, flush=True)


def listing(values, limit: int = 5) -> str:
    """``a, b, c, ...``: at most ``limit`` values, escaped for the terminal."""
    values = list(values)
    shown = ", ".join(terminal_text(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def read_key(path: str | None) -> bytes | None:
    """The signing key from ``--key-file``, else ``$SKDCSAE_KIT_KEY``, else None."""
    if path is None:
        env = os.environ.get("SKDCSAE_KIT_KEY")
        return env.encode() if env else None
    try:  # a regular file of at most 4 KiB: not a FIFO, /dev/zero or a mistaken large file
        key = read_regular_file(path, max_bytes=MAX_KEY_BYTES).strip()
    except OSError as exc:
        raise CLIError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CLIError(f"cannot use key file {path}: {exc}") from exc
    if not key:
        raise CLIError(f"key file {path} is empty")
    return key


class Data(NamedTuple):
    """Images read by a command, with their labels when the data has any."""

    X: np.ndarray
    y: np.ndarray | None
    names: list  # one per image: the path in the folder, or "file.npz:split[i]"
    label_names: np.ndarray | None = None  # a .npz's class names, indexed by its labels
    from_folder: bool = False  # the labels are sub-folder names (not a labels.csv's)
    preparation: object = None  # a folder's Bunch: how each image was resized or converted


def load_data(path: str, *, split: str, image_size, color, skip_bad: bool, labelled=None):
    """Images, labels (or None) and a name per image, from a .npz or a folder.

    A folder's labels are its sub-folder names; ``labelled`` is ``--labelled`` (True),
    ``--unlabelled`` (False) or neither (None: decided by the folder's layout).
    """
    from ..datasets import load_image_folder, load_medmnist_npz

    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path} does not exist")
    if p.is_dir():
        bunch = load_image_folder(
            p,
            image_size=image_size or (28, 28),
            color=color or "gray",
            skip_bad=skip_bad,
            labelled=labelled,
        )
        # the class names themselves (sub-folder names or labels.csv's), or None
        y = None if bunch.target is None else np.asarray(bunch.target)
        from_folder = getattr(bunch, "labels_file", None) is None
        return Data(
            bunch.data, y, list(bunch.filenames), from_folder=from_folder, preparation=bunch
        )
    if p.suffix.lower() != ".npz":
        raise CLIError(f"{path} is neither a folder of images nor a .npz file")
    bunch = load_medmnist_npz(p, split=split)
    names = [f"{p.name}:{s}[{i}]" for s, i in _split_indices(bunch, split)]
    return Data(bunch.data, np.asarray(bunch.target), names, np.asarray(bunch.target_names))


def _split_indices(bunch, split):
    splits = getattr(bunch, "sample_split", None)
    if splits is None:
        return [(split, i) for i in range(len(bunch.target))]
    counters: dict = {}
    out = []
    for s in splits:
        counters[s] = counters.get(s, -1) + 1
        out.append((s, counters[s]))
    return out


def check_writable(path: Path, force: bool, what: str) -> None:
    """Refuse to overwrite without ``--force``, and a missing parent folder."""
    if path.exists() and not force:
        raise CLIError(f"{path} already exists; pass --force to overwrite the {what}")
    if not path.parent.exists():
        raise CLIError(f"folder {path.parent} does not exist")


def pick_per_class(y, n_per_class, seed):
    """Indices of ``n_per_class`` images per class, drawn with ``seed`` (sorted)."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < n_per_class:
            raise CLIError(
                f"class {c!r} has only {len(idx)} images, fewer than --n-per-class {n_per_class}"
            )
        picked.append(rng.choice(idx, n_per_class, replace=False))
    return np.sort(np.concatenate(picked))


def _label_key(value):
    """What a label means: a number for ``3``, ``3.0``, ``"3"`` and ``b"3"``, else its text."""
    if isinstance(value, (bytes, np.bytes_)):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if isinstance(value, (Real, np.number)):
        return float(value)
    return str(value)


def match_labels(y, classes, label_names=None):
    """The kit's class each label names, comparing numbers and numeric strings as numbers.

    A folder's sub-folder names and a kit's string classes are text; a ``.npz`` and a kit
    trained on one have integers. ``"1"``, ``1`` and ``1.0`` name the same class here, so a
    kit with classes ``'0', '1'`` can be scored on an ``.npz`` with labels 0 and 1 and the
    other way round. When no label names a class and ``label_names`` is given (a ``.npz``'s
    class names), the labels are compared by those names instead: a kit trained on folders
    ``normal/`` and ``pneumonia/`` against PneumoniaMNIST's 0 and 1.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels, from a folder or a ``.npz``.
    classes : array-like of shape (n_classes,)
        The kit's classes.
    label_names : array-like of str, default=None
        Names of the integer labels ``0, 1, ...`` of ``y``.

    Returns
    -------
    y_kit : ndarray of shape (n,)
        Each label as the kit's class value (``classes``' dtype); meaningless where not
        ``known``.
    known : ndarray of bool, shape (n,)
        Which labels name one of the kit's classes.
    """
    y = np.asarray(y).ravel()
    classes = np.asarray(classes)
    keys = [_label_key(c) for c in classes]
    if len(set(keys)) < len(keys):  # e.g. classes "1" and "01": compare the text exactly
        keys = [str(c) for c in classes]
        key = str
    else:
        key = _label_key
    position = dict(zip(keys, range(len(classes)), strict=True))
    values, inverse = np.unique(y, return_inverse=True)
    found = np.array([position.get(key(v), -1) for v in values], dtype=np.intp)
    index = found[inverse.ravel()]
    known = index >= 0
    if not known.any() and label_names is not None and y.dtype.kind in "iu":
        names = np.asarray(label_names)
        if y.size and y.min() >= 0 and y.max() < len(names):
            return match_labels(names[y], classes)
    return classes[np.where(known, index, 0)], known
