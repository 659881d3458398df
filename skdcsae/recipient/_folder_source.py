"""Folder sources: image files under a folder, decoded one piece (a list of files) at a time.

Each file goes through the bounded decoders of :mod:`skdcsae.datasets` (regular files only,
per-file byte and pixel caps checked before decoding); a file that cannot be read is listed
with its reason in the piece's :class:`~._source_base.Batch` instead of failing the piece.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._sanitize import terminal_text
from ._source_base import Batch, _Source

__all__ = ["FolderSource"]


class FolderSource(_Source):
    """Image files under a folder, decoded one by one when read.

    The layout rules are :func:`skdcsae.datasets.load_image_folder`'s: a ``labels.csv`` lists
    the files and their labels; otherwise images in one sub-folder per class are labelled by
    it, images directly in the folder are not, and a mixture needs ``labelled``.
    """

    def __init__(
        self, root, *, image_size, color, labelled=None, max_pixels=None, max_file_bytes=None
    ):
        from ..datasets._folder import EXTENSIONS, folder_targets, labels_file, listing, scan
        from ..datasets._image_folder import MAX_FILE_BYTES, MAX_PIXELS
        from ..datasets._labels_csv import read_labels_csv

        root = Path(root)
        shown = terminal_text(root)
        csv_path = labels_file(root, None, labelled)
        files, ignored, _, _ = scan(root)
        targets = None
        if csv_path is not None:
            files, targets, _ = read_labels_csv(csv_path, root, extensions=EXTENSIONS)
            ignored = [f for f in ignored if root / f != csv_path]
        elif not files:
            raise ValueError(f"No image files under {shown}.")
        else:
            targets = folder_targets(files, labelled, shown)
        if ignored:
            warnings.warn(
                f"Ignored {len(ignored)} file(s) under {shown} that are not images of a "
                f"supported type:\n{listing(ignored)}",
                UserWarning,
                stacklevel=3,
            )
        shape = (*((3,) if color == "rgb" else ()), *image_size)
        super().__init__(len(files), shape, str(root), targets)
        self.root, self.files, self.from_folder = str(root), list(files), csv_path is None
        self.options = {
            "image_size": tuple(image_size),
            "color": color,
            "max_pixels": max_pixels or MAX_PIXELS,
            "max_file_bytes": max_file_bytes or MAX_FILE_BYTES,
        }

    def piece(self, start, stop):
        targets = None if self.targets is None else list(self.targets[start:stop])
        return _FolderPiece(self.root, self.files[start:stop], targets, self.options)

    def read(self, start, stop) -> Batch:
        return self.piece(start, stop).read()

    def fingerprint(self) -> dict:
        digest = hashlib.sha256("\n".join(self.files).encode("utf-8", "surrogateescape"))
        return {
            "kind": "folder",
            "path": os.path.abspath(self.root),
            "files": len(self.files),
            "sha256": digest.hexdigest(),
            **self.options,
            "image_size": list(self.options["image_size"]),
        }


@dataclass
class _FolderPiece:
    root: str
    files: list
    targets: list | None  # the true label of each file, or None
    options: dict

    def read(self) -> Batch:
        from ..datasets._decoders import Limits, finish
        from ..datasets._folder import DICOM_EXTENSIONS, describe_error
        from ..datasets._image_folder import _import_pillow, _import_pydicom
        from ..datasets._read import Decoders, read_file

        Image, ImageOps = _import_pillow()
        size, color = self.options["image_size"], self.options["color"]
        limits = Limits(self.options["max_pixels"], self.options["max_file_bytes"])
        is_dicom = [Path(f).suffix.lower() in DICOM_EXTENSIONS for f in self.files]
        decoders = Decoders(Image, ImageOps, _import_pydicom() if any(is_dicom) else None)
        shape = (len(self.files), *((3,) if color == "rgb" else ()), *size)
        images, names, bad = np.empty(shape, np.uint8), [], []
        for rel, dicom_file in zip(self.files, is_dicom, strict=True):
            try:
                decoded = read_file(
                    Path(self.root) / rel,
                    is_dicom=dicom_file,
                    limits=limits,
                    draft_side=max(size),
                    decoders=decoders,
                )
                images[len(names)] = finish(decoded, size=size, color=color, Image=Image)
            except Exception as exc:  # any decoder error makes the file "unreadable"
                bad.append((rel, describe_error(exc)))
                continue
            names.append(rel)
        targets = None
        if self.targets is not None:
            label = dict(zip(self.files, self.targets, strict=True))
            targets = np.array([label[n] for n in names], dtype=object)
        return Batch(images[: len(names)], names, bad, targets)
