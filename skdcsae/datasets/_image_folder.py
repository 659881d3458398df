"""Load folders of PNG / JPEG / DICOM images into uint8 arrays.

Pillow is a dependency of the package; pydicom, for DICOM files, is the optional extra
``skdcsae[images]``. Both are imported only when a folder is loaded.
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._sanitize import terminal_text
from ._decoders import Limits, finish
from ._folder import (
    DICOM_EXTENSIONS,
    EXTENSIONS,
    MAX_LISTED,
    describe_error,
    folder_targets,
    labels_file,
    listing,
    report,
    scan,
    sizes,
)
from ._labels_csv import read_labels_csv
from ._read import Decoders, read_file

__all__ = ["load_image_folder"]

_INSTALL_HINT = 'pip install "pydicom>=3" (from a clone: pip install -e ".[images]")'
_STACKLEVEL = 3  # warnings point at the caller of load_image_folder, past validate_params

#: Default cap on height x width x channels of one image: 100 million values, e.g. a
#: 10000x10000 grayscale image or a 6000x4000 RGB photograph (a 3000x3000 X-ray is 9 million).
MAX_PIXELS = 100_000_000
#: Default cap on the size of one image file: 256 MiB (an uncompressed 16-bit DICOM of
#: 10000x10000 pixels is 200 MB).
MAX_FILE_BYTES = 256 << 20


def _import_pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise ImportError(
            "load_image_folder needs Pillow to read and resize images: pip install pillow"
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
        "labels": [None, "boolean", str, os.PathLike],
        "skip_bad": ["boolean"],
        "max_pixels": [Interval(Integral, 1, None, closed="left")],
        "max_file_bytes": [Interval(Integral, 1, None, closed="left")],
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
    labels=None,
    skip_bad=False,
    max_pixels=MAX_PIXELS,
    max_file_bytes=MAX_FILE_BYTES,
    return_X_y=False,
):
    """Load a folder of PNG, JPEG or DICOM images as a uint8 array.

    Three layouts are understood:

    - **one subfolder per class** (a donor's images): ``path/<class_name>/<image>``, any
      depth below it. The labels are the subfolder names.
    - **a labels file** (a donor's images): ``path/labels.csv`` (or the file given as
      ``labels``) lists ``file,label`` rows; see *Labels file* below.
    - **unlabelled** (a recipient's images): image files anywhere under ``path``, with no
      class structure.

    Files ending in ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif``, ``.tiff``, ``.dcm`` or
    ``.dicom`` (any case) are read; hidden files and folders (names starting with ``.``) are
    skipped; other files, empty class folders and symbolic links to folders (not followed)
    are ignored with a warning. Symbolic links to image files are followed. Images are
    listed in sorted order of their relative paths (in the file's order with a labels file),
    so the result is deterministic.

    Parameters
    ----------
    path : str or path-like
        The folder.
    image_size : (int, int), int or None, default=(28, 28)
        ``(height, width)`` every image is resized to (Pillow, bilinear with antialiasing;
        the aspect ratio is not kept, so crop beforehand if it matters). An int means a
        square. ``None`` keeps the original size, which must then be the same for all
        images. Resizing is announced with a ``UserWarning`` and recorded per image.
    color : {"gray", "rgb"}, default="gray"
        Convert every image to 8-bit grayscale or to RGB. Converting colour images to
        grayscale, or grayscale ones to RGB, is announced with a ``UserWarning``.
    labelled : bool or None, default=None
        Whether the images are labelled. ``None`` decides from the layout: a labels file
        if there is one, else labelled when all images are in subfolders, unlabelled when
        all are directly in ``path``; a mixture is an error (say which you mean). With
        ``labelled=False`` all images under ``path`` are read, subfolders included, and no
        labels file is read.
    labels : str, path-like, bool or None, default=None
        The labels file. ``None`` reads ``path/labels.csv`` when it exists (and
        ``labelled`` is not false); ``True`` requires it; a path names another file
        (relative paths are relative to the working folder, as usual); ``False`` never
        reads a labels file (use the subfolders).
    skip_bad : bool, default=False
        What to do with files that cannot be read or are refused by the limits: ``False``
        raises one ``ValueError`` listing every bad file and why (one line each); ``True``
        skips them with a warning listing them.
    max_pixels : int, default=100_000_000
        Largest image accepted, as height x width x channels (an RGB pixel counts 3),
        checked from the file's header before any pixel is decoded. The default takes a
        10000x10000 grayscale image or a 6000x4000 RGB photograph; a 3000x3000 X-ray is
        9 million.
    max_file_bytes : int, default=268_435_456
        Largest file accepted, in bytes (256 MiB), checked before it is read; a deflated
        DICOM file is held to it after inflation.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of uint8
            ``(n, H, W)`` for ``color="gray"``, ``(n, 3, H, W)`` (channels first, the layout
            :class:`~skdcsae.DCSAETransformer` takes) for ``color="rgb"``.
        target : ndarray of str of shape (n,), or None
            The label of each image: its class folder name, or its label in the labels
            file, as a string. Estimators take string labels, so a donor kit exported with
            ``target`` keeps the class names. ``None`` when unlabelled.
        target_names : ndarray of str, or None
            The distinct labels, sorted; ``None`` when unlabelled.
        filenames : ndarray of str, shape (n,)
            Path of each image relative to ``path``, with ``/`` separators.
        original_shapes : ndarray of int of shape (n, 2)
            ``(height, width)`` of each image as stored (after its EXIF orientation).
        original_color : ndarray of str of shape (n,)
            ``"gray"`` or ``"rgb"``: whether each file holds a colour image.
        resized : ndarray of bool of shape (n,)
            Whether each image was resized to ``image_size``.
        color_converted : ndarray of bool of shape (n,)
            Whether each image was converted from colour to gray or from gray to RGB.
        rescaled : ndarray of bool of shape (n,)
            Whether each image's values were scaled from its own minimum and maximum to
            0-255 (16-bit and 32-bit images, DICOM), rather than kept as 8-bit values.
        image_size : (int, int)
            ``(height, width)`` of the images in ``data``.
        color : str
            ``"gray"`` or ``"rgb"``, the layout of ``data``.
        labels_file : str or None
            The labels file read, or ``None``.
        DESCR : str
            How the images were read.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If there are no images, the layout is ambiguous, the labels file has problems,
        sizes differ with ``image_size=None``, or files cannot be read and
        ``skip_bad=False``.
    ImportError
        If Pillow (or pydicom, when there are DICOM files) is not installed.

    Notes
    -----
    **Untrusted files.** Only regular files are read (a FIFO, a device such as
    ``/dev/zero`` or a link to one is refused, never waited on). Each file's size is
    checked against ``max_file_bytes`` and its declared image size against ``max_pixels``
    before decoding; multi-frame files (TIFF pages, animated PNG, multi-frame DICOM) are
    refused rather than reduced to one frame, except MPO JPEGs, whose first frame is the
    photograph. In DICOM files a deflated data set is inflated only up to
    ``max_file_bytes``, RLE segments that would decode to more than the declared size and
    embedded JPEG streams that declare another size than the header are refused. Names
    printed in errors and warnings have their control characters escaped.

    **Labels file.** UTF-8 text (a byte-order mark is allowed), separated by ``,`` (or
    ``;`` or tab, detected from the first line), at most 64 MiB and a million rows. A
    first row naming the columns ``file`` and ``label`` (any case, other columns
    ignored, so a recipient's output ``file,label,score`` can be read back) is a header;
    without one every row is ``file,label``. Paths are relative to ``path`` with ``/``
    separators; absolute paths, ``..`` and symbolic links leading out of ``path`` are
    refused, as are missing files, unsupported types, empty labels and files listed
    twice: all problems are reported together, with their line numbers. Spaces around
    cells are ignored; labels are kept as strings (``"01"`` stays ``"01"``). Images under
    ``path`` that the file does not list are not read (a warning names them).

    **Pixel values.** DICOM files are decoded with pydicom: the Modality LUT or
    RescaleSlope/RescaleIntercept is applied, then the VOI LUT or WindowCenter/WindowWidth
    when present; the result is scaled to 0-255 from its own minimum and maximum, and
    MONOCHROME1 images are inverted so that bright means dense in every output. 16-bit and
    32-bit PNG/TIFF images are likewise scaled rather than clipped. The scaling works on
    blocks of rows, so a large image costs its own size plus a few megabytes, never a
    float64 copy. Nothing from the DICOM header (patient or study data) is kept in the
    result, but file names are returned as they are: make sure they carry no patient
    identifiers before you share anything derived from them.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skdcsae.datasets import load_image_folder
    >>> root = tempfile.mkdtemp()
    >>> for label in ("normal", "pneumonia"):
    ...     os.makedirs(os.path.join(root, label))
    ...     for i in range(3):
    ...         pixels = np.full((28, 28), 60 * i, dtype=np.uint8)
    ...         Image.fromarray(pixels).save(os.path.join(root, label, f"{i}.png"))
    >>> donor = load_image_folder(root, image_size=(28, 28))
    >>> donor.data.shape, donor.data.dtype
    ((6, 28, 28), dtype('uint8'))
    >>> donor.target.tolist()
    ['normal', 'normal', 'normal', 'pneumonia', 'pneumonia', 'pneumonia']
    >>> donor.target_names.tolist()
    ['normal', 'pneumonia']
    >>> donor.filenames[:2].tolist()
    ['normal/0.png', 'normal/1.png']

    A list of labels instead of class folders, and images of another size:

    >>> flat = tempfile.mkdtemp()
    >>> for name in ("a.png", "b.png"):
    ...     Image.fromarray(np.zeros((40, 56), np.uint8)).save(os.path.join(flat, name))
    >>> with open(os.path.join(flat, "labels.csv"), "w") as f:
    ...     _ = f.write("file,label\\na.png,normal\\nb.png,pneumonia\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     bunch = load_image_folder(flat)
    >>> bunch.target.tolist(), bunch.original_shapes.tolist(), bunch.resized.tolist()
    (['normal', 'pneumonia'], [[40, 56], [40, 56]], [True, True])
    >>> print(str(caught[0].message).split(": ", 1)[1])  # doctest: +NORMALIZE_WHITESPACE
    resized 2 of 2 image(s) from 40x56 (2) to 28x28 (height x width; bilinear, ...
    """
    root = Path(os.fspath(path)).expanduser()
    shown_root = terminal_text(root)
    if not root.is_dir():
        raise ValueError(f"{shown_root} is not a folder.")
    size = _check_image_size(image_size)
    limits = Limits(max_pixels=int(max_pixels), max_file_bytes=int(max_file_bytes))
    Image, ImageOps = _import_pillow()
    csv_path = labels_file(root, labels, labelled)

    found, ignored, empty, folder_links = scan(root)
    if csv_path is not None:
        files, file_labels, delimiter = read_labels_csv(csv_path, root, extensions=EXTENSIONS)
        csv_real = os.path.realpath(csv_path)
        ignored = [f for f in ignored if os.path.realpath(root / f) != csv_real]
        listed = set(files)
        unlisted = [f for f in found if f not in listed]
        labelled, empty = True, []
        if unlisted:
            warnings.warn(
                f"{len(unlisted)} image file(s) under {shown_root} are not listed in "
                f"{terminal_text(csv_path)} and were not read:\n{listing(unlisted)}",
                UserWarning,
                stacklevel=_STACKLEVEL,
            )
    else:
        files = found
        if not files:
            raise ValueError(
                f"No image files (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .dcm, .dicom) under "
                f"{shown_root}."
            )
        file_labels = folder_targets(files, labelled, shown_root)
        labelled = file_labels is not None
    for items, what in (
        (ignored, "file(s) that are not images of a supported type"),
        (folder_links, "symbolic link(s) to folders, which are not followed"),
    ):
        if items:
            warnings.warn(
                f"Ignored {len(items)} {what} under {shown_root}:\n{listing(items)}",
                UserWarning,
                stacklevel=_STACKLEVEL,
            )
    if labelled and empty:
        warnings.warn(
            f"Ignored {len(empty)} subfolder(s) of {shown_root} without images (not "
            f"classes): {terminal_text(', '.join(empty[:MAX_LISTED]))}",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )

    is_dicom = [Path(f).suffix.lower() in DICOM_EXTENSIONS for f in files]
    decoders = Decoders(Image, ImageOps, _import_pydicom() if any(is_dicom) else None)
    channels = () if color == "gray" else (3,)
    data = None if size is None else np.empty((len(files), *channels, *size), np.uint8)
    arrays, keep, bad, info = [], [], [], []
    for i, rel in enumerate(files):
        try:
            decoded = read_file(
                root / rel,
                is_dicom=is_dicom[i],
                limits=limits,
                draft_side=None if size is None else max(size),
                decoders=decoders,
            )
            pixels = finish(decoded, size=size, color=color, Image=Image)
        except Exception as exc:  # any decoder error makes the file "unreadable"
            bad.append((rel, describe_error(exc)))
            continue
        if data is None:
            arrays.append(pixels)
        else:
            data[len(keep)] = pixels
        keep.append(i)
        info.append((decoded.height, decoded.width, decoded.color, decoded.rescaled))
    kept = [files[i] for i in keep]
    if bad:
        bad_files = listing(bad, lambda item: f"{item[0]}: {item[1]}")
        if not skip_bad:
            raise ValueError(
                f"Could not read {len(bad)} of {len(files)} image file(s) under {shown_root}:\n"
                f"{bad_files}\nFix or remove them, or pass skip_bad=True to skip them."
            )
        lost = ""
        if labelled:
            gone = sorted(set(file_labels) - {file_labels[i] for i in keep})
            if gone:
                lost = f"\nNo image is left for class(es): {terminal_text(', '.join(gone))}"
        warnings.warn(
            f"Skipped {len(bad)} unreadable image file(s) under {shown_root}:\n{bad_files}{lost}",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )
    if not kept:
        raise ValueError(
            f"None of the {len(files)} image file(s) under {shown_root} could be read."
        )

    if data is None:
        shapes = sorted({a.shape for a in arrays})
        if len(shapes) > 1:
            examples = {}
            for rel, a in zip(kept, arrays, strict=True):
                examples.setdefault(a.shape, rel)
            raise ValueError(
                "With image_size=None all images must have the same size, but found "
                + ", ".join(f"{s[-2]}x{s[-1]} (e.g. {terminal_text(examples[s])})" for s in shapes)
                + ". Pass image_size=(height, width) to resize them."
            )
        data = np.stack(arrays)
        del arrays
    elif len(kept) < len(files):
        data = data[: len(kept)].copy()

    original_shapes = np.array([(h, w) for h, w, _, _ in info], dtype=np.int64)
    original_color = np.array([c for _, _, c, _ in info], dtype=str)
    out_size = tuple(int(s) for s in data.shape[-2:])
    resized = np.any(original_shapes != np.asarray(out_size), axis=1)
    color_converted = original_color != color
    rescaled = np.array([r for *_, r in info], dtype=bool)
    what_was_done = report(
        shown_root, out_size, color, original_shapes, original_color, resized, color_converted
    )
    if what_was_done:
        warnings.warn(what_was_done, UserWarning, stacklevel=_STACKLEVEL)

    if labelled:
        target = np.asarray([file_labels[i] for i in keep], dtype=str)
        target_names = np.unique(target)
    else:
        target_names = target = None

    mode = "grayscale (n, H, W)" if color == "gray" else "RGB (n, 3, H, W), channels first"
    descr = [
        f"Images loaded from {shown_root}",
        "",
        f"{len(kept)} image(s), uint8 {mode}, {out_size[0]}x{out_size[1]}.",
        f"Original sizes: {sizes(original_shapes)}; {int(resized.sum())} resized (bilinear), "
        f"{int(color_converted.sum())} converted to {'grayscale' if color == 'gray' else 'RGB'}"
        f", {int(rescaled.sum())} scaled from their own min-max to 0-255.",
    ]
    if csv_path is not None:
        descr.append(
            f"Labelled by {terminal_text(csv_path)} ({delimiter!r}-separated): "
            f"{terminal_text(', '.join(target_names))}."
        )
    elif labelled:
        descr.append(f"Labelled by subfolder: {terminal_text(', '.join(target_names))}.")
    else:
        descr.append("Unlabelled (no class subfolders).")
    if decoders.dicom is not None:
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
        original_shapes=original_shapes,
        original_color=original_color,
        resized=resized,
        color_converted=color_converted,
        rescaled=rescaled,
        image_size=out_size,
        color=color,
        labels_file=None if csv_path is None else str(csv_path),
        DESCR="\n".join(descr),
    )
    return (bunch.data, bunch.target) if return_X_y else bunch
