"""MedMNIST loaders in the scikit-learn ``fetch_*`` convention, checksum-verified.

Where the checksums and URLs come from
--------------------------------------
The URL and the MD5s (in ``medmnist.json``) are copied from MedMNIST's own metadata,
``medmnist/info.py`` of the ``MedMNIST/MedMNIST`` GitHub repository (version 3.0.2, commit
``3bb56be69bca38e5f105b21e4d6482b91354d3a4``), which points at the official Zenodo record
10519652 (MedMNIST v2 and MedMNIST+). Only one of them has been checked against a real file
by the skdcsae developers: the 28x28 ``pneumoniamnist.npz`` (MD5
``28209eda62fecd6e6a2d98b1501bb15f``, 4,170,669 bytes; split sizes 4708 / 524 / 624 as
published). The other MD5s are transcribed, not verified here; if one of them is wrong the
fetcher refuses the file with a message that says so, and never loads unverified data.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Options, StrOptions, validate_params

from .._files import open_regular_file
from .._sanitize import terminal_text
from ._base import MAX_DATASET_BYTES, download_verified, file_md5, get_data_home

__all__ = ["fetch_medmnist", "load_medmnist_npz"]

#: URL template of the official MedMNIST files (Zenodo record 10519652).
MEDMNIST_URL = "https://zenodo.org/records/10519652/files/{filename}?download=1"

#: Environment variable overriding :data:`MEDMNIST_URL`: a base URL (the file name is
#: appended) or a template containing ``{filename}``. Used by the tests to serve files locally.
MEDMNIST_URL_ENV = "SKDCSAE_MEDMNIST_URL"

_SPLITS = ("train", "val", "test")
_SIZES = (28, 64, 128, 224)

_CITATION = (
    "Jiancheng Yang, Rui Shi, Donglai Wei, Zequan Liu, Lin Zhao, Bilian Ke, Hanspeter Pfister, "
    "Bingbing Ni. MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical "
    "image classification. Scientific Data 10, 41 (2023). doi:10.1038/s41597-022-01721-8. "
    "Data: Zenodo, doi:10.5281/zenodo.10519652."
)


# name -> metadata, kept as data in medmnist.json: title, description, labels, channels, split
# sizes, license, "md5" (image size -> MD5 of the official file; see the module docstring:
# only pneumoniamnist at size 28 was verified against a real file here) and "binary", the
# dataset's binary view (None when already binary). RetinaMNIST's view is grade 0 (no DR)
# against grades 1-4 (any DR), as the DC-SAE paper merges APTOS.
def _read_info() -> dict[str, dict]:
    text = resources.files(__package__).joinpath("medmnist.json").read_text(encoding="utf-8")
    table = json.loads(text)
    for info in table.values():
        info["md5"] = {int(size): md5 for size, md5 in info["md5"].items()}
        info["labels"] = tuple(info["labels"])
        if info["binary"] is not None:
            info["binary"] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in info["binary"].items()
            }
    return table


MEDMNIST_INFO: dict[str, dict] = _read_info()


def medmnist_filename(name: str, size: int) -> str:
    """File name of an official MedMNIST file: ``name.npz`` at 28x28, else ``name_SIZE.npz``."""
    return f"{name}.npz" if size == 28 else f"{name}_{size}.npz"


def medmnist_url(name: str, size: int) -> str:
    """Download URL of a MedMNIST file, honouring ``SKDCSAE_MEDMNIST_URL``."""
    filename = medmnist_filename(name, size)
    override = os.environ.get(MEDMNIST_URL_ENV)
    if not override:
        return MEDMNIST_URL.format(filename=filename)
    if "{filename}" in override:
        return override.format(filename=filename)
    return override.rstrip("/") + "/" + filename


def binarize_labels(name: str, labels) -> np.ndarray:
    """Map a dataset's official labels to its binary view (0 / 1).

    Already-binary datasets are returned unchanged. RetinaMNIST: grade 0 -> 0 (no diabetic
    retinopathy), grades 1-4 -> 1 (any retinopathy).
    """
    labels = np.asarray(labels)
    view = MEDMNIST_INFO[name]["binary"] if name in MEDMNIST_INFO else None
    if view is None:
        found = np.unique(labels)
        if not np.isin(found, (0, 1)).all():
            raise ValueError(
                f"No binary view is defined for {name!r} and its labels are not 0/1 "
                f"(found {found.tolist()})."
            )
        return labels.astype(np.int64)
    mapping = np.asarray(view["mapping"], dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(mapping)):
        raise ValueError(
            f"{name} labels must lie in 0..{len(mapping) - 1} for its binary view "
            f"({view['note']}); found {np.unique(labels).tolist()}."
        )
    return mapping[labels.astype(np.int64)]


def _read_split(archive, split: str, path) -> tuple[np.ndarray, np.ndarray]:
    """Read one split's images and labels by key, checking the MedMNIST layout."""
    keys = set(archive.files)
    image_key, label_key = f"{split}_images", f"{split}_labels"
    missing = [k for k in (image_key, label_key) if k not in keys]
    if missing:
        raise ValueError(
            f"{path} is not in the MedMNIST layout: keys {missing} are missing "
            f"(found {sorted(keys)})."
        )
    images, labels = archive[image_key], archive[label_key]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
        raise ValueError(
            f"{path}: {image_key} must have shape (n, H, W) or (n, H, W, 1|3), got {images.shape}."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"{path}: {label_key} must have shape (n,) or (n, 1) (single-label data), "
            f"got {labels.shape}."
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{path}: {image_key} has {len(images)} images but {label_key} has "
            f"{len(labels)} labels."
        )
    if images.ndim == 4:  # (n, H, W, C) -> (n, C, H, W), or (n, H, W) for one channel
        images = images[..., 0] if images.shape[-1] == 1 else images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images, dtype=np.uint8), labels.astype(np.int64)


def _known_name(path: Path, name):
    if name is not None:
        return name
    stem = path.name.lower().split(".")[0]
    for known in MEDMNIST_INFO:
        if stem == known or stem.startswith(known + "_"):
            return known
    return None


def _load(path: Path, *, split: str, name, binary: bool, verified_md5=None) -> Bunch:
    name = _known_name(path, name)
    splits = _SPLITS if split == "all" else (split,)
    with open_regular_file(path, max_bytes=MAX_DATASET_BYTES) as handle:
        archive = np.load(handle, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{terminal_text(path)} is not an .npz archive.")
        with archive:
            # Members are inflated as they are read: bound their declared sizes first.
            inflated = sum(info.file_size for info in archive.zip.infolist())
            if inflated > MAX_DATASET_BYTES:
                raise ValueError(
                    f"{terminal_text(path)} inflates to {inflated:,} bytes, more than the "
                    f"{MAX_DATASET_BYTES:,} a MedMNIST-layout file may hold."
                )
            parts = [_read_split(archive, s, path) for s in splits]
    shapes = {p[0].shape[1:] for p in parts}
    if len(shapes) != 1:
        raise ValueError(f"{path}: the splits have different image shapes {sorted(shapes)}.")
    data = np.concatenate([p[0] for p in parts])
    target = np.concatenate([p[1] for p in parts])
    sample_split = np.repeat(np.asarray(splits), [len(p[1]) for p in parts])

    info = MEDMNIST_INFO.get(name)
    if binary:
        target = binarize_labels(name or path.name, target)
        view = info["binary"] if info is not None else None
        labels = view["labels"] if view else (info["labels"] if info else ("0", "1"))
    elif info is not None:
        labels = info["labels"]
    else:
        labels = tuple(str(v) for v in range(int(target.max()) + 1 if target.size else 0))
    if target.size and target.max() >= len(labels):
        raise ValueError(
            f"{path}: label {int(target.max())} is out of range for the {len(labels)} "
            f"classes of {name}."
        )

    layout = "(n, H, W) grayscale" if data.ndim == 3 else "(n, C, H, W), channels first"
    lines = [
        f"{info['title']} (MedMNIST)" if info else f"MedMNIST-layout file {path.name}",
        "",
        info["description"] if info else "A NumPy archive in the MedMNIST layout.",
        "",
        f"File: {path}",
        (
            f"MD5: {verified_md5} (verified against MedMNIST's published checksum)"
            if verified_md5
            else "MD5: not checked (a user-supplied file)"
        ),
        f"Split: {split} ({len(target)} images); data: uint8 {data.shape}, {layout}.",
        "Classes: " + ", ".join(f"{i} = {label}" for i, label in enumerate(labels)),
    ]
    if info is not None:
        sizes = ", ".join(f"{s} {n}" for s, n in info["n_samples"].items())
        lines.append(f"Official split sizes: {sizes}.")
    if binary and info is not None and info["binary"] is not None:
        lines.append(f"Binary view: {info['binary']['note']}.")
    if info is not None:
        lines += ["", f"License: {info['license']}.", f"Citation: {_CITATION}"]
    return Bunch(
        data=data,
        target=target,
        target_names=np.asarray(labels, dtype=object),
        DESCR="\n".join(lines),
        filename=str(path),
        split=split,
        sample_split=sample_split,
    )


@validate_params(
    {
        "path": [str, os.PathLike],
        "split": [StrOptions({*_SPLITS, "all"})],
        "name": [StrOptions(set(MEDMNIST_INFO)), None],
        "binary": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_medmnist_npz(path, *, split="train", name=None, binary=False, return_X_y=False):
    """Load a NumPy archive in the MedMNIST layout, such as a local or derived copy.

    Unlike :func:`fetch_medmnist`, the file's checksum is *not* checked: use this for files
    you made or trust (for example a class-balanced subset). Arrays are read by key
    (``train_images``, ``train_labels``, ...), never by position, with ``allow_pickle=False``.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.
    split : {"train", "val", "test", "all"}, default="train"
        Which split to return; ``"all"`` concatenates train, val and test in that order.
    name : {"pneumoniamnist", "breastmnist", "retinamnist"} or None, default=None
        The dataset, for class names and the binary view. ``None`` guesses it from the file
        name (``pneumoniamnist_balanced.npz`` -> ``"pneumoniamnist"``); when that fails the
        classes are named ``"0"``, ``"1"``, ...
    binary : bool, default=False
        Return the dataset's binary view (see :func:`fetch_medmnist`).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same fields as :func:`fetch_medmnist`.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    OSError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a regular file (a folder, FIFO or device), holds or inflates to
        more than 4 GiB, or is not in the MedMNIST layout (missing keys, wrong shapes, images and
        labels of different lengths, labels out of range), or ``binary=True`` and the labels
        cannot be made binary (no binary view is defined and they are not 0/1).

    See Also
    --------
    fetch_medmnist : Download and checksum-verify an official MedMNIST file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skdcsae.datasets import load_medmnist_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "retinamnist_mine.npz")
    >>> rng = np.random.default_rng(0)
    >>> np.savez(path, **{f"{s}_images": rng.integers(0, 256, (5, 28, 28, 3), dtype=np.uint8)
    ...                   for s in ("train", "val", "test")},
    ...          **{f"{s}_labels": np.array([[0], [1], [2], [3], [4]], dtype=np.uint8)
    ...             for s in ("train", "val", "test")})
    >>> bunch = load_medmnist_npz(path, binary=True)
    >>> bunch.data.shape, bunch.target.tolist()
    ((5, 3, 28, 28), [0, 1, 1, 1, 1])
    >>> bunch.target_names.tolist()
    ['no DR (grade 0)', 'DR (grades 1-4)']
    """
    path = Path(os.fspath(path))
    if not path.exists():
        raise OSError(f"No such file: {terminal_text(path)}")
    bunch = _load(path, split=split, name=name, binary=binary)
    return (bunch.data, bunch.target) if return_X_y else bunch


@validate_params(
    {
        "name": [StrOptions(set(MEDMNIST_INFO))],
        "size": [Options(Integral, set(_SIZES))],
        "split": [StrOptions({*_SPLITS, "all"})],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "return_X_y": ["boolean"],
        "binary": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_medmnist(
    name,
    *,
    size=28,
    split="train",
    data_home=None,
    download_if_missing=True,
    return_X_y=False,
    binary=False,
):
    """Load a MedMNIST dataset, downloading and verifying the official file if needed.

    The official ``.npz`` file lives in ``<data_home>/medmnist/`` (``pneumoniamnist.npz`` at
    28x28, ``pneumoniamnist_64.npz`` at 64x64, ...). It is downloaded from MedMNIST's Zenodo
    record when missing and ``download_if_missing`` is true, and its MD5 is checked against
    the one MedMNIST publishes on every load: a corrupted or different file is refused.

    Parameters
    ----------
    name : {"pneumoniamnist", "breastmnist", "retinamnist"}
        The dataset.
    size : {28, 64, 128, 224}, default=28
        Image side in pixels. 28 is MedMNIST v2; 64, 128 and 224 are MedMNIST+.
    split : {"train", "val", "test", "all"}, default="train"
        The official split to return; ``"all"`` concatenates train, val and test in that
        order (see ``sample_split`` in the result).
    data_home : str or path-like, default=None
        Where datasets are kept; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the file when it is not in ``data_home``. If false, a missing file raises
        ``OSError``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    binary : bool, default=False
        Return the binary view of the labels. PneumoniaMNIST (0 = normal, 1 = pneumonia) and
        BreastMNIST (0 = malignant, 1 = normal or benign) are binary already and are returned
        unchanged. RetinaMNIST's grades become 0 = no diabetic retinopathy (grade 0) and
        1 = any retinopathy (grades 1-4), the grouping the DC-SAE paper uses for APTOS.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of uint8
            The images: ``(n, H, W)`` for grayscale datasets and ``(n, 3, H, W)``
            (channels first, the layout :class:`~skdcsae.DCSAETransformer` takes) for RGB
            ones. Pixel values 0-255 as released.
        target : ndarray of int64, shape (n,)
            Class labels (the official ones, or the binary view).
        target_names : ndarray of str
            Name of each class, indexed by label.
        DESCR : str
            Description of the dataset, its licence and how to cite it.
        filename : str
            Path of the verified ``.npz`` file.
        split : str
            The requested split.
        sample_split : ndarray of str, shape (n,)
            The split of each image (useful with ``split="all"``).
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    OSError
        If the file is missing and may not or could not be downloaded (the message gives the
        URL and the exact path to save the file to by hand), or if its MD5 does not match.

    See Also
    --------
    load_medmnist_npz : Load a file in the MedMNIST layout without a checksum.

    Notes
    -----
    Set the environment variable ``SKDCSAE_MEDMNIST_URL`` to download from a mirror: either a
    base URL to which the file name is appended, or a template containing ``{filename}``.
    The checksum is verified whatever the source.

    MedMNIST is licensed CC BY 4.0; cite Yang et al., Scientific Data 10, 41 (2023) when you
    publish results (see ``DESCR``).

    Examples
    --------
    Without network access, ``download_if_missing=False`` says where the file should be:

    >>> import tempfile
    >>> from skdcsae.datasets import fetch_medmnist
    >>> empty_home = tempfile.mkdtemp()
    >>> fetch_medmnist("pneumoniamnist", data_home=empty_home, download_if_missing=False)
    Traceback (most recent call last):
        ...
    OSError: PneumoniaMNIST (28x28) was not found at ... Download it from https://zenodo.org/...

    With the file in place (or downloadable), the images come back as uint8 arrays:

    >>> X, y = fetch_medmnist("pneumoniamnist", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((4708, 28, 28), dtype('uint8'))
    >>> retina = fetch_medmnist("retinamnist", split="test", binary=True)  # doctest: +SKIP
    >>> retina.data.shape, retina.target_names.tolist()  # doctest: +SKIP
    ((400, 3, 28, 28), ['no DR (grade 0)', 'DR (grades 1-4)'])
    """
    info = MEDMNIST_INFO[name]
    md5 = info["md5"][size]
    folder = Path(get_data_home(data_home)) / "medmnist"
    path = folder / medmnist_filename(name, size)
    url = medmnist_url(name, size)
    if not path.is_file():
        if not download_if_missing:
            raise OSError(
                f"{info['title']} ({size}x{size}) was not found at {path} and "
                f"download_if_missing=False. Download it from {url} and save it as {path} "
                f"(MD5 {md5}), or call with download_if_missing=True."
            )
        download_verified(url, path, md5)
    found = file_md5(path)
    if found != md5:
        raise OSError(
            f"{path} has MD5 {found}, but the official {medmnist_filename(name, size)} has "
            f"MD5 {md5}: the file is corrupted or is not the official release, so it was not "
            f"loaded. Delete it to download it again (or save the official file from {url} "
            f"there). To load a file you trust that is not the official release, use "
            f"load_medmnist_npz."
        )
    bunch = _load(path, split=split, name=name, binary=binary, verified_md5=md5)
    return (bunch.data, bunch.target) if return_X_y else bunch
