"""Scanning an image folder, choosing its labels file, and saying what was done to it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path, PurePosixPath

from .._sanitize import terminal_text
from ._decoders import ImageRefused
from ._labels_csv import LABELS_FILENAME

PIL_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
EXTENSIONS = PIL_EXTENSIONS | DICOM_EXTENSIONS
MAX_LISTED = 20  # files named in an error or warning message


def listing(items, describe=str) -> str:
    lines = [f"  {terminal_text(describe(item))}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"  ... and {len(items) - MAX_LISTED} more")
    return "\n".join(lines)


def scan(root: Path):
    """Supported image files (relative POSIX paths, sorted), other files, empty folders and
    symbolic links to folders (which are not followed)."""
    images, ignored, folder_links = [], [], []
    folders_with_images: set[str] = set()
    subfolders: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        visible = sorted(d for d in dirnames if not d.startswith("."))
        dirnames[:] = [d for d in visible if not os.path.islink(os.path.join(dirpath, d))]
        folder_links += [(rel_dir / d).as_posix() for d in visible if d not in dirnames]
        if rel_dir.parts:
            subfolders.add(rel_dir.parts[0])
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (rel_dir / name).as_posix() if rel_dir.parts else name
            if Path(name).suffix.lower() in EXTENSIONS:
                images.append(rel)
                if rel_dir.parts:
                    folders_with_images.add(rel_dir.parts[0])
            else:
                ignored.append(rel)
    empty = sorted(subfolders - folders_with_images)
    return sorted(images), sorted(ignored), empty, sorted(folder_links)


def labels_file(root: Path, labels, labelled):
    """The labels CSV to read, or None for the folder layout."""
    if labels is None:
        found = root / LABELS_FILENAME
        return found if labelled is not False and os.path.lexists(found) else None
    if labels is False:
        return None
    if labelled is False:
        raise ValueError("labelled=False contradicts labels=...: leave one of them out.")
    csv_path = root / LABELS_FILENAME if labels is True else Path(os.fspath(labels)).expanduser()
    if not os.path.lexists(csv_path):
        raise ValueError(f"The labels file {terminal_text(csv_path)} does not exist.")
    return csv_path


def folder_targets(files, labelled, shown: str):
    """The class of each file from its subfolder, or None: the folder layout rule.

    ``labelled=None`` decides from the layout: every image in a subfolder means labelled,
    every image directly inside means unlabelled, and a mix is refused.

    Raises
    ------
    ValueError
        If the layout is mixed and ``labelled`` is None, or ``labelled`` is True and some
        images are directly inside the folder.
    """
    top_level = [f for f in files if "/" not in f]
    if labelled is None:
        if top_level and len(top_level) < len(files):
            raise ValueError(
                f"{shown} has images both directly inside it ({len(top_level)}) and in "
                f"subfolders ({len(files) - len(top_level)}). Pass labelled=True (one "
                "subfolder per class), labelled=False (no labels, read everything), or "
                f"put a {LABELS_FILENAME} file in the folder."
            )
        labelled = not top_level
    if labelled and top_level:
        raise ValueError(
            f"labelled=True needs every image in a class subfolder of {shown}, but "
            f"these are directly inside it:\n{listing(top_level)}"
        )
    return [f.split("/", 1)[0] for f in files] if labelled else None


def describe_error(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if isinstance(exc, ImageRefused):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def sizes(shapes) -> str:
    counts = Counter(f"{h}x{w}" for h, w in shapes).most_common()
    text = ", ".join(f"{s} ({n})" for s, n in counts[:3])
    return text + (f" and {len(counts) - 3} other sizes" if len(counts) > 3 else "")


def report(shown_root, size, color, shapes, colors, resized, converted):
    """One sentence on what was resized and converted, or None if nothing was."""
    n = len(shapes)
    parts = []
    if resized.any():
        distorted = any(
            h * size[1] != w * size[0] for (h, w), r in zip(shapes, resized, strict=True) if r
        )
        parts.append(
            f"resized {int(resized.sum())} of {n} image(s) from {sizes(shapes[resized])} to "
            f"{size[0]}x{size[1]} (height x width; bilinear"
            + (", aspect ratio not kept)" if distorted else ")")
        )
    n_rgb = int((colors == "rgb").sum())
    mixed = f" (the folder mixes {n_rgb} colour and {n - n_rgb} grayscale images)"
    if converted.any():
        if color == "gray":
            parts.append(
                f"converted {int(converted.sum())} colour image(s) to grayscale"
                + (mixed if 0 < n_rgb < n else " (pass color='rgb' to keep colour)")
            )
        else:
            parts.append(
                f"converted {int(converted.sum())} grayscale image(s) to RGB by repeating "
                "the gray channel" + (mixed if 0 < n_rgb < n else "")
            )
    if not parts:
        return None
    return (
        f"{shown_root}: " + "; ".join(parts) + "; the Bunch's original_shapes, resized and "
        "color_converted say which images."
    )
