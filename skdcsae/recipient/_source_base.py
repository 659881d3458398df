"""What every source shares: the rows of a piece (:class:`Batch`) and reading by range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch"]


@dataclass
class Batch:
    """The rows of one piece: readable images, their names, unreadable files, true labels."""

    images: np.ndarray  # (n_ok, ...) as stored (uint8 for images)
    names: list  # one str per row of ``images``
    bad: list  # (name, reason) for each file that could not be read
    targets: np.ndarray | None = None  # true labels of the rows of ``images``, if known


def _image_rows(block: np.ndarray, channels_last: bool) -> np.ndarray:
    """A MedMNIST block ``(n, H, W, C)`` as ``(n, H, W)`` or ``(n, C, H, W)``; others unchanged."""
    if channels_last and block.ndim == 4:
        block = block[..., 0] if block.shape[-1] == 1 else block.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(block)


def _item_shape(shape, channels_last: bool) -> tuple:
    shape = tuple(int(s) for s in shape[1:])
    if channels_last and len(shape) == 3:
        return shape[:2] if shape[2] == 1 else (shape[2], *shape[:2])
    return shape


class _Source:
    """Common part: ``n``, ``item_shape``, names, targets and pieces."""

    distributable = True  # whether pieces may run in other processes
    chunk_rows = None  # rows per storage chunk, when the storage has chunks

    def __init__(self, n, item_shape, label, targets=None, channels_last=False):
        self.n = int(n)
        self.item_shape = tuple(item_shape)
        self.label = label
        self.targets = targets
        self.channels_last = channels_last

    def names(self, start, stop) -> list:
        return [f"{self.label}[{i}]" for i in range(start, stop)]

    def piece(self, start: int, stop: int):
        """A picklable reader of rows ``start:stop`` (this source itself for array sources)."""
        return _RangePiece(self, start, stop)

    def read(self, start: int, stop: int) -> Batch:
        images = _image_rows(self._rows(start, stop), self.channels_last)
        targets = None
        if self.targets is not None:
            targets = np.asarray(self.targets[start:stop]).reshape(stop - start, -1)[:, 0]
        return Batch(images, self.names(start, stop), [], targets)

    def close(self) -> None:
        """Release open files (sources that keep none do nothing)."""


@dataclass
class _RangePiece:
    source: _Source
    start: int
    stop: int

    def read(self) -> Batch:
        return self.source.read(self.start, self.stop)
