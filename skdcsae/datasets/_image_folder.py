"""Load folders of PNG / JPEG / DICOM images into uint8 arrays.

Pillow (and pydicom, for DICOM files) are optional dependencies, imported only when a folder
is loaded: ``pip install skdcsae[images]``.
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["load_image_folder"]

_PIL_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
_DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
_EXTENSIONS = _PIL_EXTENSIONS | _DICOM_EXTENSIONS
_MAX_LISTED = 20  # files named in an error or warning message
_INSTALL_HINT = "pip install skdcsae[images]"


def _import_pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            f"load_image_folder needs Pillow to read and resize images: {_INSTALL_HINT}"
        ) from exc
    return Image, ImageOps


def _import_pydicom():
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as exc:
        raise ImportError(
            f"load_image_folder needs pydicom >= 3 to read DICOM (.dcm) files: {_INSTALL_HINT}"
        ) from exc
    return pydicom, apply_modality_lut, apply_voi_lut


def _listing(items, describe=str) -> str:
    lines = [f"  {describe(item)}" for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        lines.append(f"  ... and {len(items) - _MAX_LISTED} more")
    return "\n".join(lines)


def _to_uint8(arr) -> np.ndarray:
    """Min-max normalise an array to 0-255 (a constant image becomes all zeros)."""
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("pixel data contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _scan(root: Path):
    """Supported image files (relative POSIX paths, sorted), other files, and empty folders."""
    images, ignored = [], []
    folders_with_images: set[str] = set()
    subfolders: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        if rel_dir.parts:
            subfolders.add(rel_dir.parts[0])
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (rel_dir / name).as_posix() if rel_dir.parts else name
            if Path(name).suffix.lower() in _EXTENSIONS:
                images.append(rel)
                if rel_dir.parts:
                    folders_with_images.add(rel_dir.parts[0])
            else:
                ignored.append(rel)
    return sorted(images), sorted(ignored), sorted(subfolders - folders_with_images)


def _read_dicom(path: Path, Image, dicom):
    """A DICOM file's pixels as an 8-bit PIL image. Nothing from the header is kept."""
    pydicom, apply_modality_lut, apply_voi_lut = dicom
    ds = pydicom.dcmread(path, force=True)
    if "PixelData" not in ds:
        raise ValueError("the DICOM file has no pixel data")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ValueError(f"multi-frame DICOM ({frames} frames) is not supported")
    arr = ds.pixel_array
    if int(ds.get("SamplesPerPixel", 1)) == 1:
        arr = apply_modality_lut(arr, ds)  # RescaleSlope / RescaleIntercept or Modality LUT
        arr = apply_voi_lut(arr, ds)  # VOI LUT or WindowCenter / WindowWidth, if present
        pixels = _to_uint8(arr)
        if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
            pixels = 255 - pixels  # MONOCHROME1: low values are bright
        return Image.fromarray(pixels)
    # Colour: pydicom returns RGB (YBR is converted); scale deeper data to 8 bits.
    pixels = arr if arr.dtype == np.uint8 else _to_uint8(arr)
    return Image.fromarray(np.ascontiguousarray(pixels))


def _read_pil(path: Path, Image, ImageOps):
    with Image.open(path) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I", "F") or img.mode.startswith("I;16"):
            # 16-bit / 32-bit images (common for medical PNG/TIFF): Pillow's convert("L")
            # would clip at 255, so normalise the full range instead.
            return Image.fromarray(_to_uint8(np.asarray(img)))
        return img.copy()


def _read_image(path: Path, *, size, color, Image, ImageOps, dicom) -> np.ndarray:
    if path.suffix.lower() in _DICOM_EXTENSIONS:
        img = _read_dicom(path, Image, dicom)
    else:
        img = _read_pil(path, Image, ImageOps)
    img = img.convert("L" if color == "gray" else "RGB")
    if size is not None and img.size != (size[1], size[0]):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr if color == "gray" else arr.transpose(2, 0, 1)


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else None
    if (
        size is None
        or len(size) != 2
        or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise ValueError(
            f"image_size must be None, a positive int or a (height, width) pair of positive "
            f"ints; got {image_size!r}."
        )
    return int(size[0]), int(size[1])


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [None, Integral, tuple, list],
        "color": [StrOptions({"gray", "rgb"})],
        "labelled": ["boolean", None],
        "skip_bad": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_folder(
    path,
    *,
    image_size=(28, 28),
    color="gray",
    labelled=None,
    skip_bad=False,
    return_X_y=False,
):
    """Load a folder of PNG, JPEG or DICOM images as a uint8 array.

    Two layouts are understood:

    - **labelled** (a donor's images): ``path/<class_name>/<image>``, one subfolder per class,
      any depth below it. Classes are the subfolder names, sorted.
    - **unlabelled** (a recipient's images): image files anywhere under ``path``, with no
      class structure.

    Files ending in ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif``, ``.tiff``, ``.dcm`` or
    ``.dicom`` (any case) are read; hidden files and folders (names starting with ``.``) are
    skipped; other files are ignored with a warning. Images are listed in sorted order of
    their relative paths, so the result is deterministic.

    Parameters
    ----------
    path : str or path-like
        The folder.
    image_size : (int, int), int or None, default=(28, 28)
        ``(height, width)`` every image is resized to (Pillow, bilinear with antialiasing;
        the aspect ratio is not kept, so crop beforehand if it matters). An int means a
        square. ``None`` keeps the original size, which must then be the same for all images.
    color : {"gray", "rgb"}, default="gray"
        Convert every image to 8-bit grayscale or to RGB.
    labelled : bool or None, default=None
        Whether the folder has one subfolder per class. ``None`` decides from the layout:
        labelled when all images are in subfolders, unlabelled when all are directly in
        ``path``; a mixture is an error (say which you mean). With ``labelled=False`` all
        images under ``path`` are read, subfolders included.
    skip_bad : bool, default=False
        What to do with files that cannot be read: ``False`` raises one ``ValueError``
        listing every bad file and why; ``True`` skips them with a warning listing them.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of uint8
            ``(n, H, W)`` for ``color="gray"``, ``(n, 3, H, W)`` (channels first, the layout
            :class:`~skdcsae.DCSAETransformer` takes) for ``color="rgb"``.
        target : ndarray of int64 of shape (n,), or None
            Index into ``target_names`` for each image; ``None`` when unlabelled.
        target_names : ndarray of str, or None
            The class folder names, sorted; ``None`` when unlabelled.
        filenames : ndarray of str, shape (n,)
            Path of each image relative to ``path``, with ``/`` separators.
        DESCR : str
            How the images were read.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If there are no images, the layout is ambiguous, sizes differ with
        ``image_size=None``, or files cannot be read and ``skip_bad=False``.
    ImportError
        If Pillow (or pydicom, when there are DICOM files) is not installed.

    Notes
    -----
    DICOM files are decoded with pydicom: the Modality LUT or RescaleSlope/RescaleIntercept
    is applied, then the VOI LUT or WindowCenter/WindowWidth when present; the result is
    scaled to 0-255 from its own minimum and maximum, and MONOCHROME1 images are inverted so
    that bright means dense in every output. Multi-frame files are reported as unreadable.
    Nothing from the DICOM header (patient or study data) is kept in the result, but file
    names are returned as they are: make sure they carry no patient identifiers before you
    share anything derived from them.

    16-bit PNG/TIFF images are scaled to 0-255 from their own minimum and maximum rather
    than clipped.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skdcsae.datasets import load_image_folder
    >>> root = tempfile.mkdtemp()
    >>> for label in ("normal", "pneumonia"):
    ...     os.makedirs(os.path.join(root, label))
    ...     for i in range(3):
    ...         pixels = np.full((40, 32), 60 * i, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(os.path.join(root, label, f"{i}.png"))
    >>> donor = load_image_folder(root, image_size=(28, 28))
    >>> donor.data.shape, donor.data.dtype
    ((6, 28, 28), dtype('uint8'))
    >>> donor.target.tolist(), donor.target_names.tolist()
    ([0, 0, 0, 1, 1, 1], ['normal', 'pneumonia'])
    >>> donor.filenames[:2].tolist()
    ['normal/0.png', 'normal/1.png']
    """
    root = Path(os.fspath(path)).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder.")
    size = _check_image_size(image_size)
    Image, ImageOps = _import_pillow()

    files, ignored, empty = _scan(root)
    if not files:
        raise ValueError(
            f"No image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .dcm, .dicom) under {root}."
        )
    top_level = [f for f in files if "/" not in f]
    if labelled is None:
        if top_level and len(top_level) < len(files):
            raise ValueError(
                f"{root} has images both directly inside it ({len(top_level)}) and in "
                f"subfolders ({len(files) - len(top_level)}). Pass labelled=True (one "
                "subfolder per class) or labelled=False (no labels, read everything)."
            )
        labelled = not top_level
    if labelled and top_level:
        raise ValueError(
            f"labelled=True needs every image in a class subfolder of {root}, but these are "
            f"directly inside it:\n{_listing(top_level)}"
        )
    if ignored:
        warnings.warn(
            f"Ignored {len(ignored)} file(s) under {root} that are not images of a supported "
            f"type:\n{_listing(ignored)}",
            UserWarning,
            stacklevel=2,
        )
    if labelled and empty:
        warnings.warn(
            f"Ignored {len(empty)} subfolder(s) of {root} without images (not classes): "
            f"{', '.join(empty[:_MAX_LISTED])}",
            UserWarning,
            stacklevel=2,
        )

    dicom = None
    if any(Path(f).suffix.lower() in _DICOM_EXTENSIONS for f in files):
        dicom = _import_pydicom()

    arrays, kept, bad = [], [], []
    for rel in files:
        try:
            arrays.append(
                _read_image(
                    root / rel,
                    size=size,
                    color=color,
                    Image=Image,
                    ImageOps=ImageOps,
                    dicom=dicom,
                )
            )
            kept.append(rel)
        except Exception as exc:  # any decoder error makes the file "unreadable"
            bad.append((rel, f"{type(exc).__name__}: {exc}"))
    if bad:
        listing = _listing(bad, lambda item: f"{item[0]}: {item[1]}")
        if not skip_bad:
            raise ValueError(
                f"Could not read {len(bad)} of {len(files)} image file(s) under {root}:\n"
                f"{listing}\nFix or remove them, or pass skip_bad=True to skip them."
            )
        warnings.warn(
            f"Skipped {len(bad)} unreadable image file(s) under {root}:\n{listing}",
            UserWarning,
            stacklevel=2,
        )
    if not kept:
        raise ValueError(f"None of the {len(files)} image file(s) under {root} could be read.")

    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        examples = {}
        for rel, a in zip(kept, arrays, strict=True):
            examples.setdefault(a.shape, rel)
        raise ValueError(
            "With image_size=None all images must have the same size, but found "
            + ", ".join(f"{s[-2]}x{s[-1]} (e.g. {examples[s]})" for s in shapes)
            + ". Pass image_size=(height, width) to resize them."
        )
    data = np.stack(arrays)
    del arrays

    if labelled:
        classes = [rel.split("/", 1)[0] for rel in kept]
        target_names = np.asarray(sorted({rel.split("/", 1)[0] for rel in files}), dtype=object)
        target = np.searchsorted(target_names.astype(str), classes).astype(np.int64)
    else:
        target_names = target = None

    mode = "grayscale (n, H, W)" if color == "gray" else "RGB (n, 3, H, W), channels first"
    descr = [
        f"Images loaded from {root}",
        "",
        f"{len(kept)} image(s), uint8 {mode}, "
        + (f"resized to {size[0]}x{size[1]} (bilinear)." if size else "original size."),
        (
            f"Labelled by subfolder: {', '.join(target_names)}."
            if labelled
            else "Unlabelled (no class subfolders)."
        ),
    ]
    if dicom is not None:
        descr.append(
            "DICOM: Modality LUT / rescale, then VOI LUT / windowing, min-max to 0-255, "
            "MONOCHROME1 inverted; no header values kept."
        )
    if bad:
        descr.append(f"Skipped {len(bad)} unreadable file(s).")
    bunch = Bunch(
        data=data,
        target=target,
        target_names=target_names,
        filenames=np.asarray(kept, dtype=object),
        DESCR="\n".join(descr),
    )
    return (bunch.data, bunch.target) if return_X_y else bunch
