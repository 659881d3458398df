"""Size limits of the donor-kit reader, checked before anything of that size is allocated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "KitLimits"]

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class KitLimits:
    """Upper bounds on every size a donor kit declares, checked before allocating.

    Every field is a positive ``int``. Override only the ones you need, e.g.
    ``dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=4 * 2**30)``; the defaults read every
    kit skdcsae writes for the networks and data sizes it is meant for.

    Parameters
    ----------
    max_file_bytes : int, default=1 GiB
        Largest kit file. The caller checks the file's size against it *before* reading the
        file, and :func:`load_container` checks the length of the bytes it is given. A kit holds
        the encoder weights (a few MB for the conv and MLP encoders of this package, about
        45 MB for a ResNet-18-sized float32 network) and the donor's latent features
        (``n x n_features`` float32: 100,000 images x 10 heads x 64 dimensions is 256 MB), so
        1 GiB leaves ample room. Loading needs about three times the file size at its peak (the
        file, the tensor section handed to safetensors, the arrays it returns), so this bound
        also bounds the reader's memory at about 3 GiB.
    max_meta_bytes : int, default=1 MiB
        Largest JSON metadata document (the architecture, classes, settings and versions of a
        kit take a few KB).
    max_json_depth : int, default=32
        Deepest nesting of JSON arrays and objects, checked by a linear scan *before*
        :func:`json.loads` runs, so the parser's recursion stays shallow.
    max_json_string : int, default=65536
        Longest JSON string (object keys included), in characters.
    max_json_items : int, default=100000
        Most elements of one JSON array, or members of one JSON object.
    max_json_int_digits : int, default=20
        Most digits of one JSON integer literal (20 digits hold every 64-bit integer), refused
        before Python converts it.
    max_tensors : int, default=4096
        Most tensors in the safetensors section.
    max_tensor_bytes : int, default=1 GiB
        Most bytes of tensor data in total.
    max_tensor_elements : int, default=2**28
        Most elements of one tensor.
    max_tensor_ndim : int, default=8
        Most dimensions of one tensor.
    max_tensor_name : int, default=256
        Longest tensor name, in characters.
    max_header_bytes : int, default=1 MiB
        Largest safetensors header (its JSON index of names, dtypes, shapes and offsets: about
        80 bytes per tensor).
    max_image_side : int, default=4096
        Largest height or width of the images a kit's encoder takes. Medical images are
        resized before training (MedMNIST: 28 to 224 pixels; a chest X-ray or mammogram is at
        most about 4,000 pixels a side before resizing), and the recipient converts a batch
        of such images to float32 at once (256 images of 4 x 4096 x 4096 are 64 GiB), so a
        larger side would only serve to exhaust the recipient's memory.
    max_image_channels : int, default=4
        Most channels per image: grayscale (1), RGB (3) or RGBA / four-channel microscopy (4);
        the image loaders produce 1 or 3.
    max_members : int, default=64
        Most encoders in one kit (an ensemble of seeds: each member's encoder runs on every
        recipient image, so the recipient's time grows with their number).

    Examples
    --------
    >>> import dataclasses
    >>> from skdcsae.kit import DEFAULT_LIMITS
    >>> larger = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=4 * 2**30)
    >>> larger.max_file_bytes, larger.max_image_side
    (4294967296, 4096)
    """

    max_file_bytes: int = _GIB
    max_meta_bytes: int = _MIB
    max_json_depth: int = 32
    max_json_string: int = 64 * _KIB
    max_json_items: int = 100_000
    max_json_int_digits: int = 20
    max_tensors: int = 4096
    max_tensor_bytes: int = _GIB
    max_tensor_elements: int = 2**28
    max_tensor_ndim: int = 8
    max_tensor_name: int = 256
    max_header_bytes: int = _MIB
    max_image_side: int = 4096
    max_image_channels: int = 4
    max_members: int = 64

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"KitLimits.{item.name} must be a positive int, got {value!r}.")


DEFAULT_LIMITS = KitLimits()
