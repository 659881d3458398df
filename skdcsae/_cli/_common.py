"""What every command shares: option types, data loading, key files, output checks, errors."""

from __future__ import annotations

import argparse
import inspect
import os
from pathlib import Path

import numpy as np

__all__ = [
    "CLIError",
    "add_data_options",
    "add_device_option",
    "check_writable",
    "estimator_default",
    "load_data",
    "match_label_type",
    "pick_per_class",
    "read_key",
]


class CLIError(Exception):
    """Bad input to print as one line (exit status 2)."""


def positive_ints(text: str) -> tuple[int, ...]:
    """``"32,16"`` -> ``(32, 16)``; an argparse type."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def image_size(text: str) -> tuple[int, int]:
    """``"64"`` or ``"64x48"`` -> ``(H, W)``; an argparse type."""
    values = positive_ints(text.replace("x", ","))
    if len(values) == 1:
        return (values[0], values[0])
    if len(values) == 2:
        return values
    raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")


def estimator_default(estimator_class, name: str):
    """The default of ``name`` in ``estimator_class.__init__``: the CLI never restates it."""
    return inspect.signature(estimator_class).parameters[name].default


def add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (auto)")


def add_data_options(p: argparse.ArgumentParser) -> None:
    """``--split``, ``--image-size``, ``--color`` and ``--skip-bad``."""
    p.add_argument(
        "--split",
        default="train",
        choices=["train", "val", "test", "all"],
        help="split to read from a MedMNIST-layout .npz (default: train)",
    )
    p.add_argument(
        "--image-size",
        type=image_size,
        default=None,
        help="resize folder images to N or HxW pixels (default: 28 for the donor, "
        "the kit's size for the recipient)",
    )
    p.add_argument(
        "--color",
        choices=["gray", "rgb"],
        default=None,
        help="read folder images as gray or RGB (default: gray; the recipient follows the kit)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable image files (listed in a warning) instead of failing",
    )


def read_key(path: str | None) -> bytes | None:
    """The signing key from ``--key-file``, else ``$SKDCSAE_KIT_KEY``, else None."""
    if path is None:
        env = os.environ.get("SKDCSAE_KIT_KEY")
        return env.encode() if env else None
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise CLIError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if not key:
        raise CLIError(f"key file {path} is empty")
    return key


def load_data(path: str, *, split: str, image_size, color, skip_bad: bool, return_bunch=False):
    """Images, labels (or None) and a name per image, from a .npz or a folder.

    With ``return_bunch``, also the folder's Bunch (how each image was prepared), or None.
    """
    from ..datasets import load_image_folder, load_medmnist_npz

    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path} does not exist")
    if p.is_dir():
        bunch = load_image_folder(
            p, image_size=image_size or (28, 28), color=color or "gray", skip_bad=skip_bad
        )
        # the class names themselves (sub-folder names or labels.csv's), or None
        y = None if bunch.target is None else np.asarray(bunch.target)
        found = bunch.data, y, list(bunch.filenames)
        return (*found, bunch) if return_bunch else found
    if p.suffix.lower() != ".npz":
        raise CLIError(f"{path} is neither a folder of images nor a .npz file")
    bunch = load_medmnist_npz(p, split=split)
    names = [f"{p.name}:{s}[{i}]" for s, i in _split_indices(bunch, split)]
    found = bunch.data, np.asarray(bunch.target), names
    return (*found, None) if return_bunch else found


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


def match_label_type(y, classes):
    """Folder labels are strings; compare them with a kit's integer classes as integers."""
    y = np.asarray(y)
    if classes.dtype.kind in "iu" and y.dtype.kind in "US":
        try:
            return y.astype(classes.dtype)
        except ValueError:
            return y
    return y
