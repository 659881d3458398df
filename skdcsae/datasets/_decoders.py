"""Decode one image file (PNG, JPEG, BMP, TIFF or DICOM) into a small uint8 array, bounded.

Every file is opened through :func:`skdcsae._files.open_regular_file` (regular files only,
at most ``max_file_bytes``), and its declared size is checked against ``max_pixels`` before
any pixel is decoded. Deep images (16-bit, 32-bit, DICOM) are scaled to 8 bits in blocks of
rows, so the float temporaries stay a few megabytes whatever the image size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: Values per block of rows when deep images are scaled to 8 bits (float64: 8 MiB).
_BLOCK_VALUES = 1 << 20
#: Pillow modes without colour.
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})


class ImageRefused(ValueError):
    """A file refused by a check of this module (its message is shown without a type)."""


@dataclass(frozen=True)
class Limits:
    """Per-file caps: pixel values (height x width x channels) and bytes on disk."""

    max_pixels: int
    max_file_bytes: int


@dataclass(frozen=True)
class Decoded:
    """One file's image as read, before conversion and resizing, and what it was."""

    image: object  # a PIL image, mode "L" or a colour mode
    height: int  # the original height and width (after EXIF orientation)
    width: int
    color: str  # "gray" or "rgb": whether the file holds colour
    rescaled: bool  # pixel values were min-max scaled to 0-255 (deep images)


def check_pixels(height: int, width: int, channels: int, limits: Limits, what="declares"):
    """Refuse an image whose declared number of pixel values exceeds ``max_pixels``."""
    if height < 1 or width < 1:
        raise ImageRefused(f"{what} an empty image ({height}x{width} pixels)")
    values = height * width * channels
    if values > limits.max_pixels:
        raise ImageRefused(
            f"{what} {height}x{width} pixels (height x width) x {channels} channel(s) = "
            f"{values:,} values, more than max_pixels={limits.max_pixels:,}; raise max_pixels "
            "to read it"
        )


def _row_blocks(arr: np.ndarray):
    row_values = max(1, int(np.prod(arr.shape[1:], dtype=np.int64)))
    step = max(1, _BLOCK_VALUES // row_values)
    for start in range(0, arr.shape[0], step):
        yield slice(start, start + step)


def scale_to_uint8(arr: np.ndarray, transform=None) -> np.ndarray:
    """Min-max scale an array to 0-255 (a constant image becomes all zeros), in row blocks.

    ``transform`` (an elementwise function, e.g. DICOM's modality and VOI LUTs) is applied
    block by block, twice: once to find the minimum and maximum, once to scale. The result is
    exactly ``rint((a - min) * 255 / (max - min))`` computed in float64, with at most
    :data:`_BLOCK_VALUES` float64 values alive at a time.
    """
    lo, hi = np.inf, -np.inf
    for rows in _row_blocks(arr):
        block = arr[rows] if transform is None else transform(arr[rows])
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            raise ImageRefused("the pixel data contains NaN or infinite values")
        if block.size:
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    out = np.zeros(arr.shape, dtype=np.uint8)
    if not hi > lo:
        return out
    factor = 255.0 / (hi - lo)
    for rows in _row_blocks(arr):
        block = arr[rows] if transform is None else transform(arr[rows])
        out[rows] = np.rint((np.asarray(block, dtype=np.float64) - lo) * factor)
    return out


def _is_gray_palette(img) -> bool:
    palette = img.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def _channels(img) -> int:
    """Values per pixel once decoded: a palette image becomes RGB(A)."""
    if img.mode == "P":
        return 3
    if img.mode == "PA":
        return 4
    return len(img.getbands())


def read_pil(handle, *, Image, ImageOps, limits: Limits, draft_side=None) -> Decoded:
    """Decode a PNG / JPEG / BMP / TIFF file after checking its declared size.

    ``Image.open`` reads only the header; the declared width, height and bands are checked
    against ``max_pixels`` before ``load()`` decodes anything. Pillow's own decompression-bomb
    warning is silenced because this check is stricter by default. ``draft_side`` (the side
    the image will be resized to) lets the JPEG decoder downscale by 2, 4 or 8 while decoding.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(handle)
    except Image.DecompressionBombError as exc:  # past Pillow's own, higher limit
        pillow_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageRefused(
            f"declares more pixels than Pillow's own limit of {pillow_limit:,} (2 x "
            "PIL.Image.MAX_IMAGE_PIXELS), which applies whatever max_pixels is: "
            + " ".join(str(exc).split())
        ) from None
    # Not "with img": closing an image destroys its pixels; the caller closes the file.
    width, height = img.size
    check_pixels(height, width, _channels(img), limits)
    frames = getattr(img, "n_frames", 1)
    if frames > 1 and img.format != "MPO":  # MPO: the first frame is the main JPEG
        raise ImageRefused(
            f"holds {frames} frames or pages; only single-image files are read "
            "(save the one you want as its own file)"
        )
    if draft_side is not None and img.format in ("JPEG", "MPO"):
        img.draft(None, (draft_side, draft_side))
    img.load()
    before = img.size
    ImageOps.exif_transpose(img, in_place=True)
    if img.size != before:  # turned by 90 degrees: so is the original size
        width, height = height, width
    if img.mode == "P":
        color = "gray" if _is_gray_palette(img) else "rgb"
    else:
        color = "gray" if img.mode in _GRAY_MODES or img.mode.startswith("I;16") else "rgb"
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        # 16-bit / 32-bit images (common for medical PNG/TIFF): Pillow's convert("L")
        # would clip at 255, so scale the full range instead, without full-size float copies.
        pixels = np.asarray(img)
        img.close()  # frees Pillow's copy of the pixels
        return Decoded(Image.fromarray(scale_to_uint8(pixels)), height, width, color, True)
    return Decoded(img, height, width, color, rescaled=False)


def finish(decoded: Decoded, *, size, color: str, Image) -> np.ndarray:
    """Convert to 8-bit gray or RGB and resize; ``(H, W)`` or ``(3, H, W)`` uint8."""
    img = decoded.image
    target = None if size is None else (size[1], size[0])

    def resize(image):
        if target is None or image.size == target:
            return image
        return image.resize(target, Image.Resampling.BILINEAR)

    if color == "gray":
        img = resize(img if img.mode == "L" else img.convert("L"))
    elif img.mode == "L":  # resize one channel, then repeat it: same result, a third the work
        img = resize(img).convert("RGB")
    else:
        img = resize(img if img.mode == "RGB" else img.convert("RGB"))
    arr = np.asarray(img, dtype=np.uint8)
    return arr if color == "gray" else arr.transpose(2, 0, 1)
