"""``skdcsae recipient`` without ``--plots``: through :func:`skdcsae.recipient.label_archive`.

Bounded memory, one encoding per image, resumable, and on a Dask cluster with
``--scheduler``. Kept here so that the command-line module only adds its flags and one call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._sanitize import terminal_text
from ..kit import load_donor_kit
from ..recipient import RecipientLabeler, label_archive
from ..recipient._malloc import tune_malloc
from ._common import CLIError, check_writable, read_key

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


def run_streaming(args) -> None:
    """Label ``args.data`` into ``args.out`` and print what was done."""
    if args.plots:
        raise CLIError("--plots encodes every image in memory: leave out --scheduler")
    if args.workers is not None and args.scheduler != "local":
        raise CLIError("--workers needs --scheduler local")
    out = Path(args.out)
    check_writable(out, args.force, "labels")
    quiet = getattr(args, "quiet", False)
    key = read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    if not Path(args.data).exists():
        raise CLIError(f"{args.data} does not exist")
    params = {"range_tolerance": None} if getattr(args, "no_range_check", False) else {}
    labeler = RecipientLabeler(kit, device=args.device, batch_size=args.batch_size, key=key)
    if args.scheduler is None:
        tune_malloc()  # this process is ours: keep torch's buffers (see recipient._malloc)
    try:
        report = _label(labeler.set_params(**params), args, out, quiet)
    except ImportError as exc:
        raise CLIError(str(exc)) from exc
    lines = []
    if report.partitions_resumed:
        lines.append(
            f"Resumed an interrupted run: {report.partitions_resumed} of "
            f"{report.n_partitions} partitions were already labelled."
        )
    counts = ", ".join(f"{terminal_text(v)} {n}" for v, n in report.counts.items())
    lines.append(
        f"Labelled {report.n_labelled} images with the kit from {terminal_text(args.kit)}: "
        f"{counts} ({report.images_per_second:.0f} images/s)"
    )
    if report.skipped:
        lines.append(
            f"Skipped {len(report.skipped)} unreadable file(s), listed in "
            f"{terminal_text(report.skipped_file)}"
        )
    if report.accuracy is not None:
        lines.append(f"The data carries labels: accuracy against them {report.accuracy:.3f}")
    lines.append(f"Labels written to {terminal_text(out)}")
    if not quiet:
        print("\n".join(lines))


def _label(labeler, args, out, quiet):
    return label_archive(
        labeler,
        args.data,
        out,
        partition_size=args.partition_size,
        resume=not args.restart,
        skip_bad=args.skip_bad,
        split=args.split,
        image_size=args.image_size,
        color=args.color,
        labelled=getattr(args, "labelled", None),
        scheduler=args.scheduler,
        n_workers=args.workers,
        overwrite=args.force,
        progress=False if quiet else None,
    )
