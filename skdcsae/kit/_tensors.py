"""The tensor section of a kit: safetensors bytes, pre-checked before safetensors reads them.

Writing canonicalises every array (C-contiguous, little-endian, booleans as 0/1 bytes) and
hands it to :func:`safetensors.numpy.save` with no ``__metadata__``. Reading parses the
8-byte header length and the header JSON itself, within :class:`~skdcsae.kit.KitLimits`,
and only then calls :func:`safetensors.numpy.load`:

* the header length is capped and must fit the section;
* the header is hardened JSON (depth 3, no duplicate names, bounded integers);
* ``__metadata__`` is refused: the writer never emits it, and the kit's metadata lives in its
  own digest-covered JSON section;
* names are short strings of ``[A-Za-z0-9_.:/-]``; every entry has exactly ``dtype``,
  ``shape`` and ``data_offsets``; the dtype is on the allow-list of plain numeric types;
* each shape's element count (capped per tensor, dimension by dimension) times the item size
  equals its ``data_offsets`` span; the spans, sorted, start at 0, follow each other with no gap
  or overlap (so no block of bytes backs two tensors) and end exactly at the section's end;
* the count of tensors and their total bytes respect the limits;
* after loading, names, dtypes and shapes are compared with the header again, and boolean
  tensors must hold only 0 and 1 bytes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np
import safetensors.numpy

from ._errors import DonorKitError
from ._json import parse_json
from ._limits import KitLimits

__all__ = ["DTYPES", "dump_tensors", "load_tensors"]

DTYPES: dict[str, np.dtype] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}
_BY_DTYPE = {dtype: name for name, dtype in DTYPES.items()}
_NAME = re.compile(r"[A-Za-z0-9_.:/-]+")
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}


def _check_name(name: object, limits: KitLimits) -> str:
    if type(name) is not str or not _NAME.fullmatch(name) or name == "__metadata__":
        raise DonorKitError(
            f"tensor name {str(name)[:40]!r} is not a string of letters, digits and '_.:/-'"
        )
    if len(name) > limits.max_tensor_name:
        raise DonorKitError(
            f"tensor name {name[:40]!r}... is longer than {limits.max_tensor_name} characters"
        )
    return name


def _check_shape(name: str, shape: object, limits: KitLimits) -> int:
    """The element count of ``shape``, refused as soon as a partial product breaks a limit."""
    if type(shape) is not list or len(shape) > limits.max_tensor_ndim:
        raise DonorKitError(
            f"tensor {name!r} shape must be a list of at most {limits.max_tensor_ndim} ints"
        )
    count = 1
    for dim in shape:
        if type(dim) is not int or not 0 <= dim <= limits.max_tensor_elements:
            raise DonorKitError(f"tensor {name!r} has an invalid dimension {str(dim)[:40]}")
        count *= dim
        if count > limits.max_tensor_elements:
            raise DonorKitError(
                f"tensor {name!r} has more than {limits.max_tensor_elements} elements"
            )
    return count


def _canonical(name: str, value: object) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"tensor {name!r} must be a numpy array, not {type(value).__name__}.")
    dtype = value.dtype
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        raise DonorKitError(
            f"tensor {name!r} has dtype {dtype}; a kit holds only bool, int, uint and float "
            "arrays (no object, string, structured, complex or datetime arrays)"
        )
    little = dtype.newbyteorder("<")
    if little not in _BY_DTYPE:
        raise DonorKitError(f"tensor {name!r} has dtype {dtype}, which a kit cannot hold")
    if dtype.kind == "b":  # any nonzero byte is True: store exactly 0 or 1
        return np.asarray(value.view(np.uint8) != 0, order="C")
    return np.asarray(value, dtype=little, order="C")  # keeps 0-d arrays 0-d


def dump_tensors(tensors: Mapping[str, np.ndarray], limits: KitLimits) -> bytes:
    """Serialise ``tensors`` as canonical safetensors bytes within ``limits``.

    Raises
    ------
    TypeError
        If ``tensors`` is not a mapping of numpy arrays.
    DonorKitError
        If a name, dtype or size cannot be read back under ``limits``.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dict of numpy arrays, not {type(tensors).__name__}.")
    if len(tensors) > limits.max_tensors:
        raise DonorKitError(f"{len(tensors)} tensors (limit {limits.max_tensors})")
    arrays, total = {}, 0
    for name, value in tensors.items():
        array = _canonical(_check_name(name, limits), value)
        _check_shape(name, [int(d) for d in array.shape], limits)
        total += array.nbytes
        if total > limits.max_tensor_bytes:
            raise DonorKitError(f"the tensors exceed {limits.max_tensor_bytes} bytes")
        arrays[name] = array
    data = safetensors.numpy.save(arrays)
    if int.from_bytes(data[:8], "little") > limits.max_header_bytes:
        raise DonorKitError(f"the safetensors header exceeds {limits.max_header_bytes} bytes")
    return data


def _check_header(data: memoryview, limits: KitLimits) -> dict[str, tuple[str, list[int]]]:
    """Validate the header against the section; return ``{name: (dtype, shape)}``."""
    if len(data) < 8:
        raise DonorKitError("the tensor section is shorter than its 8-byte header length")
    size = int.from_bytes(data[:8], "little")
    if size > limits.max_header_bytes:
        raise DonorKitError(
            f"the safetensors header declares {size} bytes (limit {limits.max_header_bytes})"
        )
    if size > len(data) - 8:
        raise DonorKitError(
            f"the safetensors header declares {size} bytes; only {len(data) - 8} follow"
        )
    header_limits = dataclasses.replace(
        limits,
        max_json_depth=3,
        max_json_items=limits.max_tensors,
        max_json_string=max(limits.max_tensor_name, 16),
    )
    raw = bytes(data[8 : 8 + size])
    if not raw.startswith(b"{"):
        raise DonorKitError("the safetensors header is not a JSON object")
    header = parse_json(
        raw, "the safetensors header", header_limits, max_bytes=size, canonical=False
    )
    if "__metadata__" in header:
        raise DonorKitError("the safetensors header has __metadata__, which format 3 never writes")
    entries, spans, total = {}, [], 0
    for name, entry in header.items():
        _check_name(name, limits)
        if type(entry) is not dict or set(entry) != _ENTRY_KEYS:
            raise DonorKitError(f"tensor {name!r} entry must have exactly {sorted(_ENTRY_KEYS)}")
        dtype = entry["dtype"]
        if dtype not in DTYPES:
            raise DonorKitError(f"tensor {name!r} has dtype {str(dtype)[:16]!r}, not allowed")
        nbytes = _check_shape(name, entry["shape"], limits) * DTYPES[dtype].itemsize
        offsets = entry["data_offsets"]
        if (
            type(offsets) is not list
            or len(offsets) != 2
            or any(type(o) is not int for o in offsets)
            or offsets[1] - offsets[0] != nbytes
        ):
            raise DonorKitError(f"tensor {name!r} data_offsets do not span its {nbytes} bytes")
        total += nbytes
        if total > limits.max_tensor_bytes:
            raise DonorKitError(f"the tensors exceed {limits.max_tensor_bytes} bytes")
        entries[name] = (dtype, entry["shape"])
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise DonorKitError(
                f"tensor {name!r} starts at byte {begin}, not {end}: the data blocks overlap, "
                "leave a gap or are out of range"
            )
        end = stop
    if end != len(data) - 8 - size:
        raise DonorKitError(
            f"the tensor data is {len(data) - 8 - size} bytes; the header accounts for {end}"
        )
    return entries


def load_tensors(data: memoryview, limits: KitLimits) -> dict[str, np.ndarray]:
    """Check a safetensors section (see the module docstring), then load it.

    Parameters
    ----------
    data : memoryview
        The section's bytes.
    limits : KitLimits
        The limits to check before loading.

    Returns
    -------
    tensors : dict of str to numpy.ndarray
        Fresh, writable arrays, in name order.

    Raises
    ------
    DonorKitError
        If any check fails, or safetensors refuses the bytes.
    """
    entries = _check_header(data, limits)
    try:
        loaded = safetensors.numpy.load(bytes(data))
    except Exception as exc:  # after the checks above this is a safetensors-specific refusal
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DonorKitError(f"safetensors refused the tensor section ({reason})") from None
    if set(loaded) != set(entries):
        raise DonorKitError("safetensors read other tensors than the header lists")
    tensors = {}
    for name in sorted(entries):
        dtype, shape = entries[name]
        array = loaded[name]
        if array.dtype != DTYPES[dtype] or list(array.shape) != shape:
            raise DonorKitError(f"safetensors read tensor {name!r} with another dtype or shape")
        if dtype == "BOOL" and array.size and array.view(np.uint8).max() > 1:
            raise DonorKitError(f"boolean tensor {name!r} holds bytes other than 0 and 1")
        tensors[name] = array
    return tensors
