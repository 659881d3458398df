"""``skdcsae recipient`` without ``--plots``: through :func:`skdcsae.recipient.label_archive`.

Bounded memory, one encoding per image per pass (two passes when the classifier is first
adapted to the images, the default), resumable, and on a Dask cluster with ``--scheduler``.
Kept here so that the command-line module only adds its flags and one call.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .._sanitize import terminal_text
from ..datasets._labels_csv import LABELS_FILENAME
from ..datasets._medmnist import MEDMNIST_INFO, _known_name
from ..kit import load_donor_kit
from ..recipient import RecipientLabeler, label_archive
from ..recipient._malloc import tune_malloc
from ._common import CLIError, from_args, info, listing, read_key

__all__ = ["add_scale_arguments", "run_streaming"]


def _positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_scale_arguments(p) -> None:
    """``--partition-size``, ``--restart``, ``--scheduler`` and ``--workers``."""
    p.add_argument(
        "--partition-size",
        type=_positive_int,
        default=None,
        help="images per partition: per output part, per Dask task, and the unit of resuming "
        "(default: 4096, or the interrupted run's)",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard the parts of an interrupted run (OUT.parts/) instead of resuming it",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="label on a Dask cluster: a scheduler address (tcp://host:8786), or 'local' for "
        "worker processes on this machine (needs skdcsae[distributed])",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="worker processes of --scheduler local (default: one per CPU core)",
    )


def run_streaming(args, accuracy_report, adapted_message) -> None:
    """Label ``args.data`` into ``args.out`` and print what was done.

    ``accuracy_report(data, labels, classes)`` words the accuracy, and
    ``adapted_message(args, n)`` the adaptation, as the in-memory path does.
    """
    if args.plots or args.report or args.review_fraction is not None or args.min_confidence:
        raise CLIError("--plots, --report and review rules label in memory: leave out --scheduler")
    if args.workers is not None and args.scheduler != "local":
        raise CLIError("--workers needs --scheduler local")
    out = Path(args.out)
    key = read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    if not Path(args.data).exists():
        raise CLIError(f"{args.data} does not exist")
    params = {"range_tolerance": None} if args.no_range_check else {}
    labeler = RecipientLabeler(
        kit,
        device=args.device,
        batch_size=args.batch_size,
        key=key,
        self_training=args.self_training,
    )
    if args.scheduler is None:
        tune_malloc()  # this process is ours: keep torch's buffers (see recipient._malloc)
    try:
        report = _label(labeler.set_params(**params), args, out)
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    if report.partitions_resumed:
        info(
            args,
            f"Resumed an interrupted run: {report.partitions_resumed} of "
            f"{report.n_partitions} partitions were already labelled.",
        )
    adapted_message(args, report.n_pseudo_labelled)
    counts = (f"{v} {n}" for v, n in report.counts.items())
    info(
        args,
        f"Labelled {report.n_labelled} images with the kit from {terminal_text(args.kit)}: "
        f"{listing(counts, limit=20)} ({report.images_per_second:.0f} images/s)",
    )
    if report.confusion is not None and report.n_labelled:
        info(args, accuracy_report(_truth(report, args), _given(report, kit), kit.classes))
    info(args, f"Labels written to {terminal_text(out)}")


def _truth(report, args) -> SimpleNamespace:
    """The true labels in the shape ``accuracy_report`` reads (``y``, names, folder or not)."""
    pairs = list(report.confusion.items())
    y = np.repeat(np.array([true for (true, _), _ in pairs]), [n for _, n in pairs])
    path = Path(args.data)
    from_folder = path.is_dir() and not (path / LABELS_FILENAME).exists()
    names = None
    if path.suffix.lower() == ".npz":  # as load_medmnist_npz names the classes
        known = MEDMNIST_INFO.get(_known_name(path, None))
        top = int(max(y)) + 1 if len(y) else 0
        names = np.asarray(known["labels"] if known else [str(v) for v in range(top)])
    return SimpleNamespace(y=y, label_names=names, from_folder=from_folder)


def _given(report, kit) -> np.ndarray:
    """The labels given, as the kit's class values, in the order of :func:`_truth`."""
    by_text = {str(c): c for c in kit.classes}
    pairs = list(report.confusion.items())
    return np.repeat(np.array([by_text[g] for (_, g), _ in pairs]), [n for _, n in pairs])


#: Options passed to label_archive unchanged, under their own names.
_LABEL_ARCHIVE_OPTIONS = (
    "partition_size",
    "skip_bad",
    "split",
    "image_size",
    "color",
    "labelled",
    "scheduler",
)


def _label(labeler, args, out):
    return label_archive(
        labeler,
        args.data,
        out,
        **from_args(args, *_LABEL_ARCHIVE_OPTIONS),
        resume=not args.restart,
        n_workers=args.workers,
        overwrite=args.force,
        progress=False if args.quiet else None,
    )
