"""What ``skdcsae recipient`` writes: the labels CSV, the review list and the HTML report.

Two steps, so that bad input fails before any work and nothing is half-written:
:func:`check_outputs` validates the review options and every output path (one-line errors);
:func:`label_and_write` labels the images in one encoding pass, builds every file in memory and
only then writes them, each atomically (a failure part-way removes the files this run created).
Every cell that comes from outside (file names, labels) goes through :func:`csv_cell`.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .._files import atomic_write_bytes
from .._progress import progress_bar
from .._sanitize import csv_cell, terminal_text

__all__ = ["Outputs", "add_review_options", "check_outputs", "label_and_write"]


@dataclass(frozen=True)
class Outputs:
    """The checked output paths and review rule of one ``skdcsae recipient`` run."""

    out: Path
    review_out: Path | None
    report: Path | None
    review_fraction: float | None
    min_confidence: float | None
    force: bool

    @property
    def review(self) -> bool:
        """Whether a review rule was given."""
        return self.review_fraction is not None or self.min_confidence is not None


def add_review_options(p: argparse.ArgumentParser) -> None:
    """``--review-fraction``, ``--min-confidence``, ``--review-out`` and ``--report``."""
    p.add_argument(
        "--review-fraction",
        type=float,
        default=None,
        metavar="F",
        help="flag the fraction F (0-1) of least confident labels for review: adds a "
        "needs_review column and writes them, least confident first, to --review-out",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        metavar="P",
        help="flag every label whose probability is below P (0-1); with --review-fraction, "
        "an image is flagged when either flags it",
    )
    p.add_argument(
        "--review-out",
        default=None,
        metavar="CSV",
        help="the flagged images, least confident first (default: <--out stem>_review.csv)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="HTML",
        help="write a self-contained HTML report (counts, confidence, flagged thumbnails, "
        "latent space, the kit's provenance; accuracy when the data carry labels)",
    )


def _fraction(value, flag: str) -> float | None:
    if value is None:
        return None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise ValueError(f"{flag} must be between 0 and 1; got {value:g}")
    return float(value)


def check_outputs(args) -> Outputs:
    """Validate the review options and every output path before anything is computed.

    Parameters
    ----------
    args : argparse.Namespace
        With ``out``, ``force``, ``review_fraction``, ``min_confidence``, ``review_out`` and
        ``report``.

    Returns
    -------
    outputs : Outputs

    Raises
    ------
    ValueError
        A review setting outside [0, 1], ``--review-out`` without a review rule, two outputs
        naming the same file, or a missing parent folder.
    FileExistsError
        An output exists and ``--force`` was not given.
    """
    review_fraction = _fraction(args.review_fraction, "--review-fraction")
    min_confidence = _fraction(args.min_confidence, "--min-confidence")
    review = review_fraction is not None or min_confidence is not None
    out = Path(args.out)
    if args.review_out is not None and not review:
        raise ValueError("--review-out needs --review-fraction or --min-confidence")
    review_out = None
    if review:
        review_out = Path(args.review_out or out.with_name(f"{out.stem}_review.csv"))
    report = Path(args.report) if args.report is not None else None
    named = {"--out": out, "--review-out": review_out, "--report": report}
    seen: dict = {}
    for flag, path in named.items():
        if path is None:
            continue
        where = os.path.abspath(path)
        if where in seen:
            raise ValueError(f"{seen[where]} and {flag} name the same file {terminal_text(path)}")
        seen[where] = flag
        if path.exists() and not args.force:
            raise FileExistsError(
                f"{terminal_text(path)} already exists; pass --force to overwrite it ({flag})"
            )
        if not path.parent.is_dir():
            raise ValueError(f"folder {terminal_text(path.parent)} of {flag} does not exist")
    return Outputs(out, review_out, report, review_fraction, min_confidence, bool(args.force))


def _csv(rows) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def labels_csv(names, result, review: bool) -> bytes:
    """``file,label,probability[,needs_review]``: one row per image, in input order."""
    header = ["file", "label", "probability"] + (["needs_review"] if review else [])
    rows = [header]
    for i, name in enumerate(names):
        row = [csv_cell(name), csv_cell(result.labels[i]), f"{result.confidence[i]:.6g}"]
        if review:
            row.append("true" if result.needs_review[i] else "false")
        rows.append(row)
    return _csv(rows)


def review_csv(names, result) -> bytes:
    """``rank,file,label,probability``: the flagged images, least confident first."""
    rows = [["rank", "file", "label", "probability"]]
    for rank, i in enumerate(result.review_order, 1):
        rows.append(
            [rank, csv_cell(names[i]), csv_cell(result.labels[i]), f"{result.confidence[i]:.6g}"]
        )
    return _csv(rows)


def _write_all(files: list[tuple[Path, bytes]], force: bool) -> None:
    """Write every file atomically; if one fails, remove the ones this call created."""
    created = []
    try:
        for path, data in files:
            existed = path.exists()
            atomic_write_bytes(path, data, overwrite=force, overwrite_hint="pass --force")
            if not existed:
                created.append(path)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise


def label_and_write(labeler, X, names, y_true, outputs: Outputs, *, source=None, quiet=False):
    """Label ``X`` (one encoding pass) and write the CSV, review list and report.

    Parameters
    ----------
    labeler : RecipientLabeler
        Fitted.
    X : array-like
        The images.
    names : sequence of str
        A name per image.
    y_true : array-like or None
        Labels the data carried (for the report), or None.
    outputs : Outputs
        From :func:`check_outputs`.
    source : str, default=None
        Where the images came from (for the report's header).
    quiet : bool, default=False
        Print nothing but what went wrong.

    Returns
    -------
    result : LabellingResult

    Raises
    ------
    ValueError
        If there is no image to label.
    """
    if len(X) == 0:
        raise ValueError(f"there are no images to label in {terminal_text(source or 'the data')}")
    with progress_bar(len(X), desc="labelling", unit="image", quiet=quiet) as bar:
        result = labeler.label(
            X,
            review_fraction=outputs.review_fraction,
            min_confidence=outputs.min_confidence,
            progress=bar.update,
        )
    names = [str(n) for n in names]
    files = [(outputs.out, labels_csv(names, result, outputs.review))]
    if outputs.review_out is not None:
        files.append((outputs.review_out, review_csv(names, result)))
    if outputs.report is not None:
        from ._report import _align, render_report

        if y_true is not None:
            try:
                y_true = _align(y_true, result.classes)
            except ValueError as exc:
                if not quiet:
                    print(f"The report leaves out the comparison with the data's labels: {exc}")
                y_true = None
        html = render_report(labeler, X, result, y_true=y_true, names=names, source=source)
        files.append((outputs.report, html.encode("utf-8")))
    _write_all(files, outputs.force)
    if outputs.review and not quiet:
        print(
            f"{result.n_flagged} of {len(names)} images flagged for review "
            f"(least confident first in {terminal_text(outputs.review_out)})"
        )
    if outputs.report is not None and not quiet:
        print(f"Report written to {terminal_text(outputs.report)}")
    return result
