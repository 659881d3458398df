"""Where a large labelling run reads its images: arrays, ``.npy``/``.npz`` files, Zarr, folders.

A *source* knows how many images it holds and cuts itself into *pieces* (a range of rows); a
piece is small enough to pickle into a Dask task and reads its own rows when run, on whatever
machine runs it. Nothing here holds more than one piece's images in memory.

- :class:`ArraySource`: any array-like that slices (NumPy, ``np.memmap``, ``zarr.Array``).
- :class:`NpyFileSource`: a ``.npy`` file or an *uncompressed* member of a ``.npz`` archive,
  memory-mapped at its byte offset (NumPy's ``np.load(mmap_mode=...)`` ignores ``.npz``).
- :class:`ZipStreamSource`: a *compressed* ``.npz`` member, decompressed sequentially in
  bounded memory (one machine only: it cannot be split between workers).
- :class:`ZarrSource`: a Zarr array on disk, opened by each piece.
- ``FolderSource`` (in ``_folder_source``): PNG/JPEG/BMP/TIFF/DICOM files, decoded one by one
  with the bounded decoders of :mod:`skdcsae.datasets`; a file that cannot be read is reported
  with its reason instead of failing the piece.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from .._sanitize import terminal_text
from ._source_base import Batch, _item_shape, _Source

__all__ = ["open_source"]

_SPLITS = ("train", "val", "test")
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")  # a ZIP local file header, 30 bytes
_LOCAL_SIGNATURE = 0x04034B50
_SKIP_BYTES = 16 << 20  # bytes decompressed and dropped at a time when a stream skips ahead


class ArraySource(_Source):
    """Rows of any array-like with ``shape`` and slicing (NumPy, memmap, Zarr, h5py...)."""

    def __init__(self, array, label="array", targets=None):
        if not hasattr(array, "shape") or len(array.shape) not in (2, 3, 4):
            raise ValueError(
                "an array source must have shape (n, features), (n, H, W) or (n, C, H, W)."
            )
        super().__init__(array.shape[0], _item_shape(array.shape, False), label, targets)
        self.array = array
        # an in-memory array would be pickled into every task: label it in this process
        self.distributable = not isinstance(array, np.ndarray)
        chunks = getattr(array, "chunks", None)
        if isinstance(chunks, tuple) and chunks and isinstance(chunks[0], int):
            self.chunk_rows = int(chunks[0])

    def _rows(self, start, stop):
        return np.asarray(self.array[start:stop])

    def fingerprint(self) -> dict:
        import joblib

        content = joblib.hash(self.array) if isinstance(self.array, np.ndarray) else None
        return {
            "kind": "array",
            "shape": list(self.array.shape),
            "dtype": str(self.array.dtype),
            "content": content,
        }


class NpyFileSource(_Source):
    """A ``.npy`` array, or an uncompressed ``.npz`` member, memory-mapped at ``offset``."""

    def __init__(
        self, path, offset, dtype, shape, fortran, label, targets=None, channels_last=False
    ):
        super().__init__(shape[0], _item_shape(shape, channels_last), label, targets, channels_last)
        self.path, self.offset, self.dtype = str(path), int(offset), np.dtype(dtype)
        self.shape, self.fortran = tuple(int(s) for s in shape), bool(fortran)
        self._map = None

    def __getstate__(self):
        return {**self.__dict__, "_map": None}  # each process maps the file itself

    def _rows(self, start, stop):
        if self._map is None:
            self._map = np.memmap(
                self.path,
                dtype=self.dtype,
                mode="r",
                offset=self.offset,
                shape=self.shape,
                order="F" if self.fortran else "C",
            )
        return np.array(self._map[start:stop])

    def close(self) -> None:
        self._map = None

    def fingerprint(self) -> dict:
        return {
            "kind": "npy",
            **_file_identity(self.path),
            "offset": self.offset,
            "shape": list(self.shape),
            "dtype": self.dtype.str,
        }


def _file_identity(path) -> dict:
    info = os.stat(path)
    return {"path": os.path.abspath(path), "bytes": info.st_size, "mtime_ns": info.st_mtime_ns}


def _npy_header(handle, what):
    """``(shape, fortran_order, dtype)`` of the ``.npy`` header at the handle's position."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise ValueError(f"{what} is not a readable .npy array ({exc}).") from None
    if dtype.hasobject or dtype.kind not in "uif" or len(shape) < 1:
        raise ValueError(f"{what} holds {dtype} values of shape {shape}, not numeric rows.")
    return tuple(shape), fortran, dtype


class ZipStreamSource(_Source):
    """A compressed ``.npz`` member read front to back, a bounded block at a time."""

    distributable = False

    def __init__(self, path, member, label, targets=None, channels_last=False):
        self.path, self.member = str(path), member
        self._zip = self._stream = None
        self._open()
        shape, _, dtype = self._header
        super().__init__(shape[0], _item_shape(shape, channels_last), label, targets, channels_last)
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def _open(self):
        self.close()
        self._zip = zipfile.ZipFile(self.path)
        self._stream = self._zip.open(self.member)
        self._header = _npy_header(self._stream, f"{self.path}:{self.member}")
        if self._header[1]:
            raise ValueError(
                f"{self.path}:{self.member} is stored in Fortran order; save it in C order."
            )
        self._position = 0

    def _rows(self, start, stop):
        if start < self._position:
            self._open()  # only a resumed or repeated run reads backwards
        skip = (start - self._position) * self.row_bytes
        while skip > 0:  # decompress and drop, in bounded blocks
            dropped = len(self._stream.read(min(skip, _SKIP_BYTES)))
            if not dropped:
                break
            skip -= dropped
        shape, _, dtype = self._header
        data = self._stream.read((stop - start) * self.row_bytes)
        if len(data) != (stop - start) * self.row_bytes:
            raise ValueError(f"{self.path}:{self.member} is truncated.")
        self._position = stop
        return np.frombuffer(data, dtype=dtype).reshape(stop - start, *shape[1:])

    def close(self) -> None:
        for handle in (self._stream, self._zip):
            if handle is not None:
                handle.close()
        self._zip = self._stream = None

    def fingerprint(self) -> dict:
        return {"kind": "npz-stream", **_file_identity(self.path), "member": self.member}


def _npz_member(
    path: Path, zf: zipfile.ZipFile, key: str, label, targets=None, channels_last=False
):
    """A source for ``key`` in an open ``.npz``: memory-mapped when stored, else streamed."""
    info = zf.getinfo(f"{key}.npy")
    what = f"{path}:{key}"
    if info.flag_bits & 0x1:
        raise ValueError(f"{what} is encrypted.")
    if info.compress_type != zipfile.ZIP_STORED:
        return ZipStreamSource(path, info.filename, label, targets, channels_last)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        if fields[0] != _LOCAL_SIGNATURE:
            raise ValueError(f"{what} has a damaged ZIP header.")
        start = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
        handle.seek(start)
        shape, fortran, dtype = _npy_header(handle, what)
        offset = handle.tell()
    expected = offset - start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.file_size != expected:
        raise ValueError(f"{what} declares {shape} {dtype} but holds {info.file_size} bytes.")
    return NpyFileSource(path, offset, dtype, shape, fortran, label, targets, channels_last)


class ConcatSource(_Source):
    """Several sources one after the other (the splits of a ``.npz`` with ``split="all"``)."""

    def __init__(self, parts):
        shapes = {p.item_shape for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"the splits have different image shapes {sorted(shapes)}.")
        super().__init__(sum(p.n for p in parts), parts[0].item_shape, parts[0].label)
        self.parts = parts
        self.bounds = np.cumsum([0] + [p.n for p in parts])
        self.distributable = all(p.distributable for p in parts)

    def read(self, start, stop) -> Batch:
        batches = []
        for part, lo, hi in zip(self.parts, self.bounds[:-1], self.bounds[1:], strict=True):
            if start < hi and stop > lo:
                batches.append(part.read(max(start, lo) - lo, min(stop, hi) - lo))
        targets = [b.targets for b in batches]
        return Batch(
            np.concatenate([b.images for b in batches]),
            [name for b in batches for name in b.names],
            [],
            None if any(t is None for t in targets) else np.concatenate(targets),
        )

    def close(self) -> None:
        for part in self.parts:
            part.close()

    def fingerprint(self) -> dict:
        return {"kind": "concat", "parts": [p.fingerprint() for p in self.parts]}


def _open_npz(path: Path, split: str) -> _Source:
    splits = _SPLITS if split == "all" else (split,)
    parts = []
    with zipfile.ZipFile(path) as zf:
        keys = {name[:-4] for name in zf.namelist() if name.endswith(".npy")}
        for s in splits:
            if f"{s}_images" not in keys:
                raise ValueError(
                    f"{terminal_text(path)} has no {s}_images array (MedMNIST layout; found "
                    f"{sorted(keys)})."
                )
            labels = None
            if f"{s}_labels" in keys:
                labels = _npz_member(path, zf, f"{s}_labels", f"{path.name}:{s}")
            images = _npz_member(path, zf, f"{s}_images", f"{path.name}:{s}", channels_last=True)
            if labels is not None and labels.n != images.n:
                raise ValueError(f"{path}: {s}_images and {s}_labels have different lengths.")
            images.targets = None if labels is None else _LabelColumn(labels)
            parts.append(images)
    return parts[0] if len(parts) == 1 else ConcatSource(parts)


class _LabelColumn:
    """Slicing adaptor: the first column of a labels source, as a 1-d array."""

    def __init__(self, source):
        self.source = source

    def __getitem__(self, rows: slice):
        return self.source._rows(rows.start, rows.stop).reshape(rows.stop - rows.start, -1)[:, 0]


class ZarrSource(_Source):
    """A Zarr array on disk; each process (and each piece) opens it read-only by path."""

    def __init__(self, path):
        array = _open_zarr(path)
        super().__init__(array.shape[0], _item_shape(array.shape, False), Path(path).name)
        self.path, self.chunk_rows = str(path), int(array.chunks[0])
        self.dtype, self.shape = str(array.dtype), list(array.shape)
        self._array = None

    def __getstate__(self):
        return {**self.__dict__, "_array": None}

    def _rows(self, start, stop):
        if self._array is None:
            self._array = _open_zarr(self.path)
        return np.asarray(self._array[start:stop])

    def fingerprint(self) -> dict:
        return {
            "kind": "zarr",
            "path": os.path.abspath(self.path),
            "shape": self.shape,
            "dtype": self.dtype,
            "chunk_rows": self.chunk_rows,
        }


def _open_zarr(path):
    try:
        import zarr
    except ImportError as exc:
        raise ImportError(
            "reading a Zarr array needs zarr: pip install skdcsae[distributed]"
        ) from exc
    array = zarr.open_array(str(path), mode="r")
    if array.ndim not in (2, 3, 4):
        raise ValueError(f"{path} holds an array of shape {array.shape}, not images or rows.")
    return array


# --- choosing a source -------------------------------------------------------------------------
def open_source(source, *, split="train", image_size=None, color="gray", labelled=None):
    """The source for a path (folder, ``.npy``, ``.npz``, Zarr folder) or an array-like.

    ``split`` picks the ``.npz`` split(s); ``image_size``, ``color`` and ``labelled`` apply to
    folders (see :func:`skdcsae.recipient.label_archive`). The result has ``n``,
    ``item_shape``, ``distributable``, ``fingerprint()`` and ``piece(start, stop)``.
    """
    if not isinstance(source, (str, os.PathLike)):
        return ArraySource(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{terminal_text(path)} does not exist.")
    if path.is_dir() and not _is_zarr(path):
        if image_size is None:
            raise ValueError("this kit's encoder is for tabular data, not for image files.")
        from ._folder_source import FolderSource

        return FolderSource(path, image_size=image_size, color=color, labelled=labelled)
    if path.is_dir():
        return ZarrSource(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _open_npz(path, split)
    if suffix == ".npy":
        with open(path, "rb") as handle:
            shape, fortran, dtype = _npy_header(handle, str(path))
            offset = handle.tell()
        return NpyFileSource(path, offset, dtype, shape, fortran, path.name)
    raise ValueError(
        f"{terminal_text(path)} is not a folder of images, a .npy, a .npz or a Zarr array."
    )


def _is_zarr(path: Path) -> bool:
    """A folder holding Zarr array metadata (format 2 or 3)."""
    return any((path / name).is_file() for name in (".zarray", "zarr.json"))
