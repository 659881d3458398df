"""Dask support: lazy ``predict``/``decision_function`` on Dask arrays, and the kit on workers.

How the kit reaches a worker: the graph carries one :class:`KitHandle` (the kit file's exact
bytes, or the in-memory :class:`~skdcsae.DonorKit`, its SHA-256 and the labeler's settings)
under a single key. Every task that labels a block or a partition depends on that key, so a
worker fetches it once, whatever number of blocks it runs, and a worker that dies and is
replaced fetches it again (the key is a literal of the graph, so Dask can always recompute
it). The task then asks :func:`cached_labeler`, a per-process cache keyed by the kit's
SHA-256 and a hash of the settings (the key included): the first task in a process writes
the bytes to a temporary file, loads them with :func:`skdcsae.load_donor_kit` -- which checks
the digest and, with a key, the HMAC signature -- rebuilds the encoder and fits the
classifier on the kit's features; every later task in that process reuses the result. A
labeler adapted to recipient images at ``fit`` (``self_training``) puts its classifiers in the
handle too, since the workers never see those images, and they replace the kit-only ones.

This works with every Dask scheduler (threads, processes, ``distributed``) and needs no
setup on the cluster; a worker plugin would need a ``distributed.Client`` and would load the
kit on every worker, used or not.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._files import open_regular_file
from ..kit import DonorKit, load_donor_kit

__all__ = ["KitHandle", "cached_labeler", "is_dask_array", "map_method"]

_MAX_KIT_BYTES = 1 << 31
_CACHE_SIZE = 4
_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()
#: Kits loaded and checked by this process (a diagnostic: once per process and kit).
KIT_LOADS = {"count": 0}


def is_dask_array(X) -> bool:
    """Whether ``X`` is a ``dask.array.Array``, without importing Dask."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


@dataclass(frozen=True)
class KitHandle:
    """What a worker needs to rebuild a fitted labeler: the kit and the labeler's settings."""

    cls: type  # the labeler's class (RecipientLabeler), rebuilt with ``params``
    kit: bytes | DonorKit  # the kit file's bytes, or the in-memory kit
    sha256: str  # the kit's digest, as the labeler that made this handle loaded it
    params: dict  # RecipientLabeler parameters other than ``kit``
    token: str  # cache key: the digest and a hash of the parameters (and classifiers)
    #: the labeler's classifiers when ``fit`` adapted them to recipient images, which the
    #: workers do not have; None when they are trained on the kit alone
    classifiers: tuple | None = None

    @classmethod
    def from_labeler(cls, labeler) -> KitHandle:
        check_is_fitted(labeler, "kit_")
        params = labeler.get_params(deep=False)
        source = params.pop("kit")
        if isinstance(source, DonorKit):
            kit = source
        else:
            # read() to the end, not read_regular_file: that asks Python for a buffer of
            # max_bytes up front, a 2 GiB allocation for a kit of a few hundred kilobytes
            with open_regular_file(source, max_bytes=_MAX_KIT_BYTES) as handle:
                kit = handle.read()
        sha256 = labeler.kit_.sha256
        adapted = np.any(getattr(labeler, "n_pseudo_labelled_", 0))
        classifiers = tuple(labeler.classifiers_) if adapted else None
        token = f"{sha256}-{joblib.hash((type(labeler), params, classifiers))}"
        return cls(type(labeler), kit, sha256, params, token, classifiers)


def _load(handle: KitHandle):
    kit = handle.kit
    if isinstance(kit, bytes):
        fd, path = tempfile.mkstemp(suffix=".kit")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(kit)
            kit = load_donor_kit(path, key=handle.params.get("key"))
        finally:
            os.unlink(path)
    labeler = handle.cls(kit, **handle.params).fit()  # checks an in-memory kit too
    if labeler.kit_.sha256 != handle.sha256:
        raise ValueError(
            "the kit received by this worker is not the one the labeler was fitted with "
            "(the kit file changed since); fit the labeler again."
        )
    if handle.classifiers is not None:  # adapted to recipient images at the driver
        labeler.classifiers_ = list(handle.classifiers)
        labeler.classifier_ = labeler.classifiers_[0]
    KIT_LOADS["count"] += 1
    return labeler


def cached_labeler(handle: KitHandle):
    """The fitted labeler for ``handle``: loaded and checked once per process, then reused."""
    with _LOCK:
        labeler = _CACHE.get(handle.token)
        if labeler is None:
            labeler = _CACHE[handle.token] = _load(handle)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(handle.token)
    return labeler


def _apply(block, handle, method, empty):
    if len(block) == 0:
        return np.empty((0, *empty.shape[1:]), dtype=empty.dtype)
    return getattr(cached_labeler(handle), method)(block)


def map_method(labeler, X, method: str):
    """``labeler.<method>`` over a Dask array, lazily and block by block (rows only).

    The chunks of ``X`` along its image axes are merged, so that each block holds whole
    images; the result has ``X``'s row chunks.
    """
    import dask

    check_is_fitted(labeler, "encoder_")
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"a Dask array of images must have 2, 3 or 4 dimensions, got shape {X.shape}."
        )
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    # the labeler's own checks (image shape, numeric dtype) on one image of the donor's lowest
    # value, so that a wrong shape fails here rather than when the graph is computed
    kit = labeler.kit_
    low = kit.input_range[0] if kit.scaling == "minmax" else 0
    labeler._check_X(np.full((1, *X.shape[1:]), low, dtype=X.dtype))
    # the output's shape and type: the (first member's) classifier on one of the kit's rows
    first = labeler.kit_.members[0].features[:1]
    probe = np.asarray(getattr(labeler.classifiers_[0], method)(first))
    empty = np.empty((0, *probe.shape[1:]), dtype=probe.dtype)
    handle = dask.delayed(KitHandle.from_labeler(labeler), pure=True, traverse=False)
    kwargs = {"dtype": probe.dtype, "meta": empty, "method": method, "empty": empty}
    if probe.ndim == 1:
        return X.map_blocks(_apply, handle, drop_axis=tuple(range(1, X.ndim)), **kwargs)
    chunks = (X.chunks[0], (probe.shape[1],))
    drop = tuple(range(2, X.ndim))
    return X.map_blocks(_apply, handle, chunks=chunks, drop_axis=drop, **kwargs)
