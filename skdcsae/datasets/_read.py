"""Read one image file of any supported kind: a bounded open, then the right decoder."""

from __future__ import annotations

from typing import Any, NamedTuple

from .._files import open_regular_file
from ._decoders import Limits, read_pil
from ._dicom import read_dicom

__all__ = ["Decoders", "read_file"]


class Decoders(NamedTuple):
    """The imaging modules a folder's reads share, imported once per folder."""

    Image: Any  # PIL.Image
    ImageOps: Any  # PIL.ImageOps
    dicom: Any  # pydicom and its LUT functions, or None when no file is DICOM


def read_file(path, *, is_dicom: bool, limits: Limits, draft_side, decoders: Decoders):
    """Open ``path`` as a bounded regular file and decode it (see :class:`Decoded`)."""
    Image, ImageOps, dicom = decoders
    with open_regular_file(
        path, max_bytes=limits.max_file_bytes, limit_name="max_file_bytes"
    ) as handle:
        if is_dicom:
            return read_dicom(handle, Image=Image, dicom=dicom, limits=limits)
        return read_pil(
            handle, Image=Image, ImageOps=ImageOps, limits=limits, draft_side=draft_side
        )
