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
    """Image files under a folder (sorted relative paths), decoded one by one when read."""

    def __init__(
        self, root, *, image_size, color, labelled=None, max_pixels=None, max_file_bytes=None
    ):
        from ..datasets._folder import listing, scan
        from ..datasets._image_folder import MAX_FILE_BYTES, MAX_PIXELS

        root = Path(root)
        files, ignored, _, _ = scan(root)
        if not files:
            raise ValueError(f"No image files under {terminal_text(root)}.")
        if ignored:
            warnings.warn(
                f"Ignored {len(ignored)} file(s) under {terminal_text(root)} that are not "
                f"images of a supported type:\n{listing(ignored)}",
                UserWarning,
                stacklevel=3,
            )
        channels = 3 if color == "rgb" else 1
        shape = (*((channels,) if channels == 3 else ()), *image_size)
        if labelled is None:
            labelled = all("/" in f for f in files)
        super().__init__(len(files), shape, str(root))
        self.root, self.files, self.labelled = str(root), files, labelled
        self.options = {
            "image_size": tuple(image_size),
            "color": color,
            "max_pixels": max_pixels or MAX_PIXELS,
            "max_file_bytes": max_file_bytes or MAX_FILE_BYTES,
        }

    def piece(self, start, stop):
        return _FolderPiece(self.root, self.files[start:stop], self.labelled, self.options)

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
    labelled: bool
    options: dict

    def read(self) -> Batch:
        from ..datasets._decoders import Limits, finish
        from ..datasets._folder import DICOM_EXTENSIONS, describe_error
        from ..datasets._image_folder import _import_pillow, _import_pydicom
        from ..datasets._read import read_file

        Image, ImageOps = _import_pillow()
        size, color = self.options["image_size"], self.options["color"]
        limits = Limits(self.options["max_pixels"], self.options["max_file_bytes"])
        is_dicom = [Path(f).suffix.lower() in DICOM_EXTENSIONS for f in self.files]
        dicom = _import_pydicom() if any(is_dicom) else None
        shape = (len(self.files), *((3,) if color == "rgb" else ()), *size)
        images, names, bad = np.empty(shape, np.uint8), [], []
        for rel, dicom_file in zip(self.files, is_dicom, strict=True):
            try:
                decoded = read_file(
                    Path(self.root) / rel,
                    is_dicom=dicom_file,
                    limits=limits,
                    draft_side=max(size),
                    Image=Image,
                    ImageOps=ImageOps,
                    dicom=dicom,
                )
                images[len(names)] = finish(decoded, size=size, color=color, Image=Image)
            except Exception as exc:  # any decoder error makes the file "unreadable"
                bad.append((rel, describe_error(exc)))
                continue
            names.append(rel)
        targets = np.array([n.split("/", 1)[0] for n in names]) if self.labelled else None
        return Batch(images[: len(names)], names, bad, targets)
