"""Labelling partitions on a ``distributed`` cluster, and torch's threads on its workers.

Dask does the scheduling: each partition is one task (read, encode, classify, write its part
atomically), all of them depending on the one key that holds the kit (see
:mod:`skdcsae.recipient._dask`). When a worker dies, the scheduler runs its unfinished tasks
again elsewhere; a task that had already written its part writes the same bytes again, and
the driving process records each partition once, when its result arrives.
"""

from __future__ import annotations

import contextlib
import os
import uuid

from distributed import Client, LocalCluster, WorkerPlugin, as_completed

from ._adapt_stream import pool_offsets, survey_piece
from ._dask import KitHandle, cached_labeler
from ._malloc import tune_malloc
from ._piece import label_piece

__all__ = ["TorchThreads", "label_on_cluster", "local_cluster", "survey_on_cluster"]


class TorchThreads(WorkerPlugin):
    """Worker plugin: a fixed number of torch threads per task, and malloc set for torch.

    A Dask worker runs ``nthreads`` tasks at once, and torch gives every thread that calls it
    a pool of ``torch.get_num_threads()`` threads; a worker therefore runs ``nthreads *
    threads_per_task`` compute threads, which should not exceed the cores it is meant to
    use. With the usual layout (one worker thread per core) that means one torch thread per
    task, the default. A worker started by a nanny already has ``OMP_NUM_THREADS=1`` in its
    environment (Dask's ``distributed.nanny.pre-spawn-environ``); this plugin makes the
    choice explicit, holds on workers started without a nanny, and lets a worker with
    fewer task threads than cores give each task more (``threads_per_task = cores //
    nthreads``). Use it for labelling and for ``GridSearchCV`` on the ``"dask"`` joblib
    backend alike.

    The same nanny also sets ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc unmap and
    fault in the encoder's activation buffers at every batch: encoding measured 2 times
    slower than in a plain process. With ``tune_malloc=True`` the plugin sets glibc's mmap
    and trim thresholds to 32 MiB and 128 MiB instead (``mallopt``; Linux only), which also
    beats glibc's defaults (see ``docs/scale.rst``).

    Parameters
    ----------
    threads_per_task : int, default=1
        ``torch.set_num_threads`` on every worker (torch's inter-op pool is set to 1).
    tune_malloc : bool, default=True
        Set glibc's malloc thresholds for torch's large, short-lived buffers.

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> from skdcsae.recipient import TorchThreads
    >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
    ...                   dashboard_address=None) as cluster, Client(cluster) as client:
    ...     _ = client.register_plugin(TorchThreads(1))
    ...     print(list(client.run(lambda: __import__("torch").get_num_threads()).values()))
    [1]
    """

    name = "skdcsae-torch-threads"

    def __init__(self, threads_per_task: int = 1, tune_malloc: bool = True):
        if int(threads_per_task) < 1:
            raise ValueError(f"threads_per_task must be >= 1, got {threads_per_task!r}.")
        self.threads_per_task = int(threads_per_task)
        self.tune_malloc = bool(tune_malloc)

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.threads_per_task)
        # torch allows this only before its first parallel work
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        if self.tune_malloc:
            tune_malloc()


def _label_task(handle, piece, partition, start, stop, parts_dir, skip_bad) -> dict:
    labeler = cached_labeler(handle)
    return label_piece(labeler, piece, partition, start, stop, parts_dir, skip_bad)


def _survey_task(handle, piece, start, offsets) -> tuple:
    return survey_piece(cached_labeler(handle), piece, start, offsets)


def local_cluster(n_workers):
    """A ``LocalCluster`` of single-threaded worker processes set up by :class:`TorchThreads`,
    and its client."""
    cluster = LocalCluster(
        n_workers=n_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    client = Client(cluster)
    client.register_plugin(TorchThreads(1))
    return cluster, client


def _connect(scheduler, n_workers):
    """The client to use, and what to close afterwards."""
    if isinstance(scheduler, Client):
        return scheduler, ()
    if scheduler == "local":
        cluster, client = local_cluster(n_workers)
        return client, (client, cluster)
    client = Client(scheduler)
    client.register_plugin(TorchThreads(1))  # labelling workers: see TorchThreads
    return client, (client,)


def _run(labeler, scheduler, n_workers, make_tasks, finished) -> None:
    """Compute the tasks ``make_tasks(handle, run id)`` builds on the cluster; call
    ``finished`` with each result as it arrives. Interrupting the loop cancels what is left."""
    import dask

    client, owned = _connect(scheduler, n_workers)
    try:
        handle = dask.delayed(KitHandle.from_labeler(labeler), pure=True, traverse=False)
        futures = client.compute(make_tasks(handle, uuid.uuid4().hex[:8]))
        try:
            for future in as_completed(futures):
                result = future.result()
                future.release()  # a result in hand needs no recomputing if its worker dies
                finished(result)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        for resource in owned:
            resource.close()


def label_on_cluster(labeler, pieces, parts_dir, skip_bad, scheduler, n_workers, finished):
    """Submit one task per ``(partition, start, stop, piece)``; call ``finished`` with each
    record as it arrives. Interrupting the loop cancels what is left."""
    import dask

    def tasks(handle, run):
        task = dask.delayed(_label_task, pure=True)
        return [
            task(
                handle,
                piece,
                k,
                start,
                stop,
                str(parts_dir),
                skip_bad,
                dask_key_name=f"skdcsae-partition-{run}-{k}",
            )
            for k, start, stop, piece in pieces
        ]

    _run(labeler, scheduler, n_workers, tasks, finished)


def survey_on_cluster(labeler, pieces, n_images, scheduler, n_workers, keep):
    """One :func:`~._adapt_stream.survey_piece` task per ``(start, stop, piece)``; call
    ``keep`` with each partition's pool features as they arrive."""
    import dask

    def tasks(handle, run):
        task = dask.delayed(_survey_task, pure=True)
        return [
            task(
                handle,
                piece,
                start,
                pool_offsets(n_images, start, stop),
                dask_key_name=f"skdcsae-survey-{run}-{k}",
            )
            for k, (start, stop, piece) in enumerate(pieces)
        ]

    _run(labeler, scheduler, n_workers, tasks, keep)
