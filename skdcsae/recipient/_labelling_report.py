"""What :func:`~skdcsae.recipient.label_archive` reports: counts, accuracy, timings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LabellingReport", "run_report"]


@dataclass
class LabellingReport:
    """What :func:`label_archive` did.

    Attributes
    ----------
    out : pathlib.Path
        The CSV written: ``file,label,probability`` (``score`` for a classifier without
        probabilities), one row per labelled image, in source order.
    n_images : int
        Images in the source (readable or not).
    n_labelled : int
        Rows written.
    counts : dict of str to int
        Images per predicted label.
    skipped : list of (str, str)
        Files skipped as unreadable, with the reason (``skip_bad=True`` only).
    skipped_file : pathlib.Path or None
        ``<out stem>.skipped.csv`` listing them, when there are any.
    n_partitions : int
        Partitions of the source.
    partitions_resumed : int
        Partitions found finished by an earlier, interrupted run and not labelled again.
    seconds : float
        Wall time of this call.
    images_per_second : float
        Images labelled by this call per second of it.
    accuracy : float or None
        Agreement with the source's own labels (a MedMNIST ``.npz``, a folder with one
        sub-folder per class or a ``labels.csv``), when it has them; ``1``, ``"1"`` and
        ``1.0`` count as the same label.
    confusion : dict or None
        ``{(true label, label given): images}`` when the source has labels.
    n_pseudo_labelled : int
        Images of the archive that joined the classifier (``self_training``; summed over an
        ensemble's members); 0 when it labels from the kit alone.

    Examples
    --------
    >>> from skdcsae.recipient import LabellingReport
    >>> report = LabellingReport(out="labels.csv", n_images=3, n_labelled=3)
    >>> report.n_labelled
    3
    """

    out: Path
    n_images: int
    n_labelled: int
    counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    skipped_file: Path | None = None
    n_partitions: int = 0
    partitions_resumed: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    accuracy: float | None = None
    confusion: dict | None = None
    n_pseudo_labelled: int = 0


def _same_label(true, given: str) -> bool:
    """``1``, ``"1"`` and ``1.0`` name the same class; other labels compare as text."""
    if str(true) == given:
        return True
    try:
        return float(true) == float(given)
    except (TypeError, ValueError):
        return False


def run_report(state, n_parts, n_images, resumed, skipped_path) -> LabellingReport:
    records = [state.done[k] for k in range(n_parts)]
    counts: Counter = Counter()
    confusion: Counter = Counter()
    for record in records:
        counts.update(record["counts"])
        for true, given, n in record.get("confusion") or ():
            confusion[true, given] += n
    n_labelled = sum(r["rows"] for r in records)
    skipped = [tuple(row) for r in records for row in r["skipped"]]
    known = all(r.get("confusion") is not None for r in records)
    accuracy = None
    if n_labelled and known:
        correct = sum(n for (true, given), n in confusion.items() if _same_label(true, given))
        accuracy = correct / n_labelled
    return LabellingReport(
        out=state.out,
        n_images=n_images,
        n_labelled=n_labelled,
        counts=dict(sorted(counts.items())),
        skipped=skipped,
        skipped_file=skipped_path if skipped else None,
        n_partitions=n_parts,
        partitions_resumed=resumed,
        accuracy=accuracy,
        confusion=dict(confusion) if known else None,
    )
