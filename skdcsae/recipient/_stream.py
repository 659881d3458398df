"""Label an archive of any size in bounded memory, resumably, in this process or on Dask."""

from __future__ import annotations

import os
import sys
import time
import warnings
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import clone

from .._sanitize import terminal_text
from ._adapt_stream import ADAPT_FILE, adapt_to_archive, pool_offsets, survey_piece
from ._labeler import RecipientLabeler
from ._labelling_report import LabellingReport, run_report
from ._parts import RunState
from ._piece import label_piece
from ._shapes import _shape_message
from ._sources import open_source

__all__ = ["DEFAULT_PARTITION_SIZE", "LabellingReport", "label_archive"]

#: Images per partition (one output part, one Dask task) unless told otherwise. Chosen from
#: the throughput-versus-partition-size measurement in benchmarks/results/scale.md.
DEFAULT_PARTITION_SIZE = 4096
_MAX_LISTED = 20
# Parameters that change the labels (self_training, max_iter and random_state through the adapted
# classifier and its calibration folds). Device and batch size change neither (CPU/GPU results
# agree to float32 rounding), and the range check only refuses images, so a run may resume
# on another device or with the check switched off.
_IDENTITY_PARAMS = ("classifier", "self_training", "max_iter", "random_state")


def _labeler(kit, batch_size, key, device) -> RecipientLabeler:
    labeler = clone(kit) if isinstance(kit, RecipientLabeler) else RecipientLabeler(kit)
    given = {"batch_size": batch_size, "key": key, "device": device}
    return labeler.set_params(**{k: v for k, v in given.items() if v is not None}).fit()


def _check_item_shape(labeler, item_shape) -> None:
    expected = labeler.image_shape_
    if len(item_shape) == 1 or expected is None:
        n = int(np.prod(item_shape))
        if n != labeler.n_features_in_:
            raise ValueError(
                f"the source has {n} values per image but the kit's encoder takes "
                f"{labeler.n_features_in_}."
            )
        return
    found = (1, *item_shape) if len(item_shape) == 2 else tuple(item_shape)
    if found != expected:
        raise ValueError(_shape_message(found, expected))


def _partition_size(partition_size, source) -> int:
    if partition_size is None:
        size = DEFAULT_PARTITION_SIZE
        chunk = source.chunk_rows
        return -(-size // chunk) * chunk if chunk else size  # whole storage chunks
    if not isinstance(partition_size, Integral) or partition_size < 1:
        raise ValueError(f"partition_size must be a positive int, got {partition_size!r}.")
    return int(partition_size)


def _listing(items) -> str:
    lines = [f"  {terminal_text(n)}: {terminal_text(r)}" for n, r in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        lines.append(f"  ... and {len(items) - _MAX_LISTED} more")
    return "\n".join(lines)


def _failure_message(failures, parts_dir) -> str:
    bad = [(name, reason) for record in failures for name, reason in record["failed"]]
    kept = (
        f"Every other partition is labelled and kept in {terminal_text(parts_dir)}: fix or "
        "remove the files and run again to label only these partitions"
        if parts_dir is not None
        else "Fix or remove them"
    )
    return (
        f"Could not read {len(bad)} image file(s) in {len(failures)} partition(s):\n"
        f"{_listing(bad)}\n{kept}, or pass skip_bad=True to skip them."
    )


def _progress_bar(progress, total, initial, desc="labelling"):
    from tqdm.auto import tqdm

    disable = (not sys.stderr.isatty()) if progress is None else not progress
    return tqdm(total=total, initial=initial, unit="img", desc=desc, disable=disable)


def _cluster_module():
    try:
        from . import _cluster
    except ImportError as exc:
        raise ImportError(
            "labelling on a Dask cluster needs dask and distributed: pip install "
            "skdcsae[distributed]"
        ) from exc
    return _cluster


def _surveyor(labeler, scheduler, n_workers, progress, total):
    """How :func:`adapt_to_archive` runs its pass: here (with a progress bar), or on the
    cluster."""

    def survey(pieces, keep):
        if scheduler is not None:
            _cluster_module().survey_on_cluster(labeler, pieces, total, scheduler, n_workers, keep)
            return
        bar = _progress_bar(progress, total, 0, desc="adapting")
        try:
            for start, stop, piece in pieces:
                keep(survey_piece(labeler, piece, start, pool_offsets(total, start, stop)))
                bar.update(stop - start)
        finally:
            bar.close()

    return survey


def label_archive(
    kit,
    source,
    out,
    *,
    batch_size=None,
    partition_size=None,
    resume=True,
    skip_bad=False,
    key=None,
    device=None,
    split="train",
    image_size=None,
    color=None,
    labelled=None,
    scheduler=None,
    n_workers=None,
    overwrite=False,
    keep_parts=False,
    progress=None,
    on_partition=None,
) -> LabellingReport:
    """Label every image of a folder, ``.npz``, ``.npy`` or Zarr archive into one CSV.

    The source is cut into partitions of ``partition_size`` images. Each partition is read,
    encoded (in batches of ``batch_size``), classified, and its rows written to its own
    part file, atomically; the parts are joined into ``out`` at the end. Each row is
    ``file,label,probability``: the (calibrated) probability of the label, or a ``score``
    column of decision values for a classifier without probabilities.
    Memory holds one partition at a time, whatever the size of the archive. An interrupted
    run (an exception, Ctrl-C, a killed process or machine) is resumed by calling again with
    the same arguments: finished partitions are not labelled again, and ``out`` is either
    absent or complete, never torn. With ``scheduler`` the partitions are labelled by the
    workers of a Dask cluster instead; the labels are those of a run in this process.

    With the labeler's ``self_training`` (0.5 unless a labeler given as ``kit`` says
    otherwise), the classifier is first adapted to the archive, as
    :meth:`RecipientLabeler.fit(X) <skdcsae.RecipientLabeler.fit>` adapts it: one extra pass
    encodes every image, keeps the most confident per class in bounded memory, and the same
    images join the classifier, so the labels are those of ``RecipientLabeler(kit).fit(X)
    .predict(X)``. The rows chosen are kept with the parts, so a resumed run skips the pass.
    ``RecipientLabeler(kit, self_training=None)`` as ``kit`` labels from the kit alone, in one
    pass.

    Parameters
    ----------
    kit : str, path-like, DonorKit or RecipientLabeler
        The donor kit, or a labeler whose settings (classifier, ``self_training``, range
        check, key, ...) to use.
    source : str, path-like or array-like
        A folder of PNG/JPEG/BMP/TIFF/DICOM images (sub-folders included), a MedMNIST-layout
        ``.npz`` (an uncompressed member is memory-mapped; a compressed one is decompressed
        front to back, on one machine only), a ``.npy`` file, a Zarr array folder, or an
        array of shape ``(n, H, W)``, ``(n, C, H, W)`` or ``(n, n_features)``.
    out : str or path-like
        The CSV to write. Parts live in ``<out>.parts/`` until the run is complete.
    batch_size : int, default=None
        Images encoded at a time (None: the labeler's, 256).
    partition_size : int, default=None
        Images per partition: per part file, per Dask task, and the unit of resuming. None
        takes the earlier run's when resuming, else 4096 rounded up to whole Zarr chunks.
    resume : bool, default=True
        Continue an unfinished run of the same kit, labeler settings (classifier,
        ``self_training``, ``random_state``), source and partition size found in
        ``<out>.parts/``; False discards it and starts again.
    skip_bad : bool, default=False
        Skip files that cannot be read and list them in ``<out stem>.skipped.csv``. When
        False, the partitions holding such files are left unlabelled, every other partition is
        labelled and kept, and a ``ValueError`` lists the files; run again with
        ``skip_bad=True`` (or after fixing them) to label only those partitions.
    key : str or bytes, default=None
        The kit's signing key, checked wherever the kit is loaded (here and on each worker).
    device : str, default=None
        Where the encoder runs (None: the labeler's, ``"auto"``).
    split : {"train", "val", "test", "all"}, default="train"
        The split of a ``.npz`` source.
    image_size : (int, int), default=None
        Size folder images are resized to (None: the kit's).
    color : {"gray", "rgb"}, default=None
        Channels of folder images (None: the kit's).
    labelled : bool, default=None
        Whether a folder's sub-folder names are true labels, for ``accuracy`` (None: when
        every image is in a sub-folder).
    scheduler : None, "local", str or distributed.Client, default=None
        None labels in this process. ``"local"`` starts a ``distributed.LocalCluster`` of
        ``n_workers`` single-threaded worker processes for this call; an address
        (``"tcp://host:8786"``) or a ``Client`` uses that cluster, whose workers must be able
        to read ``source`` and write beside ``out`` at the same paths. With ``"local"`` or
        an address, :class:`TorchThreads` is registered on the workers; register it on a
        ``Client`` of your own.
    n_workers : int, default=None
        Workers of the ``"local"`` cluster (None: one per CPU core).
    overwrite : bool, default=False
        Replace an existing ``out``.
    keep_parts : bool, default=False
        Keep ``<out>.parts/`` after writing ``out``.
    progress : bool or None, default=None
        Show a progress bar (images/s, ETA) on stderr; None shows one on a terminal only.
    on_partition : callable, default=None
        Called with each finished partition's record (a dict) after it is saved; an exception
        it raises stops the run, which can then be resumed.

    Returns
    -------
    report : LabellingReport
        Counts, skipped files, throughput and (when the source has labels) accuracy.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ValueError
        If the images do not fit the kit, an unfinished run in ``<out>.parts/`` differs from
        this one, or files cannot be read and ``skip_bad`` is False.
    DonorKitError
        If the kit is not a valid donor kit or fails its signature check.

    See Also
    --------
    RecipientLabeler.predict : labels an in-memory or Dask array.

    Examples
    --------
    A small kit of random numbers stands in for a donor's:

    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae.kit._examples import example_kit
    >>> from skdcsae.recipient import label_archive
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> folder = tempfile.mkdtemp()
    >>> kit = example_kit()
    >>> report = label_archive(kit, X[100:], os.path.join(folder, "labels.csv"),
    ...                        partition_size=100, device="cpu")
    >>> report.n_labelled, report.n_partitions
    (260, 3)
    >>> with open(report.out) as f:
    ...     print(f.readline().strip())
    file,label,probability
    """
    t0 = time.perf_counter()
    out = Path(os.fspath(out)).absolute()
    skipped_path = out.with_name(out.stem + ".skipped.csv")
    for path in (out, skipped_path):
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{terminal_text(path)} already exists; pass overwrite=True (--force) to "
                "replace it."
            )
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {terminal_text(out.parent)} does not exist.")
    if n_workers is not None and scheduler != "local":
        raise ValueError('n_workers applies to scheduler="local" only.')
    if n_workers is not None and (not isinstance(n_workers, Integral) or n_workers < 1):
        raise ValueError(f"n_workers must be a positive int, got {n_workers!r}.")
    labeler = _labeler(kit, batch_size, key, device)
    shape = labeler.image_shape_
    if image_size is None and shape is not None:
        image_size = shape[1:]
    if color is None:
        color = "rgb" if shape is not None and shape[0] == 3 else "gray"
    src = open_source(source, split=split, image_size=image_size, color=color, labelled=labelled)
    owned = []  # a local cluster started here for both passes, closed at the end
    try:
        _check_item_shape(labeler, src.item_shape)
        if scheduler is not None and not src.distributable:
            raise ValueError(
                "this source cannot be split between Dask workers (an in-memory array, or a "
                "compressed .npz member): label it without a scheduler, or save it as Zarr, "
                ".npy or an uncompressed .npz (np.savez) first."
            )
        params = labeler.get_params(deep=False)
        manifest = {
            "kit_sha256": labeler.kit_.sha256,
            "labeler": joblib.hash({name: params[name] for name in _IDENTITY_PARAMS}),
            "source": src.fingerprint(),
            "n_images": src.n,
        }
        previous = RunState.previous_manifest(out) if resume else None
        if partition_size is None and previous is not None:
            partition_size = previous.get("partition_size")
        size = _partition_size(partition_size, src)
        state = RunState(out, {**manifest, "partition_size": size}, resume=resume)
        n_parts = -(-src.n // size)
        resumed = len(state.done)

        def bounds(k):
            return k * size, min(src.n, (k + 1) * size)

        todo = [k for k in range(n_parts) if k not in state.done]
        added = 0
        kept = (state.dir / ADAPT_FILE).is_file()  # chosen by the run being resumed
        if labeler.self_training is not None and (todo or kept):
            if scheduler == "local" and todo:  # one cluster (and kit load) for both passes
                cluster, client = _cluster_module().local_cluster(n_workers)
                owned += [client, cluster]
                scheduler, n_workers = client, None
            pieces = [(*bounds(k), src.piece(*bounds(k))) for k in range(n_parts)]
            survey = _surveyor(labeler, scheduler, n_workers, progress, src.n)
            try:
                added = int(adapt_to_archive(labeler, pieces, src.n, state.dir, survey).sum())
            except BaseException:
                if not state.done:  # nothing labelled: leave nothing behind
                    state.remove()
                raise
        bar = _progress_bar(
            progress, src.n, sum(r["stop"] - r["start"] for r in state.done.values())
        )
        try:
            failures, labelled_now = _label_partitions(
                labeler,
                src,
                state,
                todo,
                bounds,
                skip_bad,
                scheduler,
                n_workers,
                bar,
                on_partition,
            )
        except BaseException:
            if not state.done:  # nothing labelled: leave nothing behind
                state.remove()
            raise
        finally:
            bar.close()
    finally:
        src.close()
        for resource in owned:
            resource.close()
    if failures:
        message = _failure_message(failures, state.dir if state.done else None)
        if not state.done:
            state.remove()
        raise ValueError(message)
    state.merge(n_parts, overwrite=overwrite, skipped_path=skipped_path)
    report = run_report(state, n_parts, src.n, resumed, skipped_path)
    report.n_pseudo_labelled = added
    report.seconds = time.perf_counter() - t0
    report.images_per_second = labelled_now / max(report.seconds, 1e-9)
    if not keep_parts:
        state.remove()
    if report.skipped:
        warnings.warn(
            f"Skipped {len(report.skipped)} unreadable image file(s) under "
            f"{terminal_text(src.label)}:\n{_listing(report.skipped)}\n(listed in "
            f"{terminal_text(skipped_path)})",
            UserWarning,
            stacklevel=2,
        )
    return report


def _label_partitions(
    labeler, src, state, todo, bounds, skip_bad, scheduler, n_workers, bar, on_partition
):
    """Label the partitions ``todo``, here or on Dask; (failed records, images labelled)."""
    failures, labelled_now = [], 0

    def finished(record):
        nonlocal labelled_now
        if "failed" in record:
            failures.append(record)
            return
        state.record(record)
        labelled_now += record["stop"] - record["start"]
        bar.update(record["stop"] - record["start"])
        if on_partition is not None:
            on_partition(record)

    if scheduler is None:
        for k in todo:
            start, stop = bounds(k)
            finished(
                label_piece(labeler, src.piece(start, stop), k, start, stop, state.dir, skip_bad)
            )
        return failures, labelled_now
    pieces = [(k, *bounds(k), src.piece(*bounds(k))) for k in todo]
    _cluster_module().label_on_cluster(
        labeler, pieces, state.dir, skip_bad, scheduler, n_workers, finished
    )
    return failures, labelled_now
