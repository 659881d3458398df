"""``skdcsae recipient``: label images with a donor kit and write a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._sanitize import terminal_text
from ..kit import load_donor_kit
from ..recipient import RecipientLabeler
from ..recipient._outputs import add_review_options, check_outputs, label_and_write
from ._common import estimator_default, info, listing, load_data, match_labels, read_key
from ._options import (
    add_command,
    add_data_options,
    add_device_option,
    add_kit_file_options,
    add_quiet_option,
)
from ._scale import add_scale_arguments, run_streaming

_EPILOG = """examples:
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv
  skdcsae recipient kit.joblib pneumoniamnist.npz --split test --out labels.csv --force
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv --review-fraction 0.1 \\
      --report report.html      # + labels_review.csv, least confident first
  skdcsae recipient kit.joblib archive.zarr --out labels.csv --scheduler local --workers 4
  (images in sub-folders named after the kit's classes, or a labelled .npz, also get the
  kit's accuracy against those labels)
the kit's classifier is first adapted to the images (self-training: its confident labels,
as many per class, join its training; one more pass over the images), as
RecipientLabeler(kit).fit(images) does in Python; --no-self-training labels from the kit alone
"""

_HELP = "label images with a donor kit; write a CSV"


def add_parser(sub) -> None:
    p = add_command(sub, "recipient", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument("kit", help="donor kit file (.joblib)")
    p.add_argument(
        "data",
        help="images to label: a folder (flat or with sub-folders) or a MedMNIST-layout .npz",
    )
    p.add_argument(
        "--out",
        required=True,
        help="CSV to write: file, label, probability (calibrated, of that label)",
    )
    add_data_options(p)
    add_device_option(p)
    p.add_argument(
        "--batch-size",
        type=int,
        default=estimator_default(RecipientLabeler, "batch_size"),
        help="images encoded at a time (default: %(default)s)",
    )
    p.add_argument(
        "--no-range-check",
        action="store_true",
        help="label images whose pixel values leave the donor's range (refused by default)",
    )
    p.add_argument(
        "--self-training",
        type=float,
        default=estimator_default(RecipientLabeler, "self_training"),
        metavar="P",
        help="adapt the kit's classifier to these images first: of those it labels with "
        "probability >= P, the same number per class join its training (default: %(default)s)",
    )
    p.add_argument(
        "--no-self-training",
        dest="self_training",
        action="store_const",
        const=None,
        help="label from the kit alone, in one pass over the images",
    )
    add_kit_file_options(
        p,
        key_help="require a kit signed with the key in this file",
        force_help="overwrite existing output files",
        plots_help="write a latent-space plot of the recipient images (PNG) to DIR",
    )
    add_review_options(p)
    add_scale_arguments(p)
    add_quiet_option(p)


def adapted_message(args, n_pseudo_labelled: int) -> None:
    """Say how many of the images joined the classifier (nothing without self-training)."""
    if args.self_training is not None:
        info(
            args,
            f"Adapted the kit's classifier to these images: {n_pseudo_labelled} of them, as "
            f"many per class, joined its training (--self-training {args.self_training:g}).",
        )


def accuracy_report(data, labels, classes) -> str:
    """The accuracy against the data's own labels, or why there is none.

    Labels are compared as the kit's classes (numbers and numeric strings alike, see
    ``match_labels``), and only those that name one of the kit's classes count.
    """
    y_true = data.y
    y_kit, known = match_labels(y_true, classes, data.label_names)
    what = "sub-folder names" if data.from_folder else "labels"
    if not known.any():
        return (
            f"No accuracy: the data's {what} ({listing(np.unique(y_true))}) are not the kit's "
            f"classes ({listing(classes)})."
        )
    accuracy = float(np.mean(y_kit[known] == labels[known]))
    text = f"The data carries labels: accuracy against them {accuracy:.3f}"
    if known.all():
        return text
    others = np.unique(np.asarray(y_true).ravel()[~known])
    return (
        f"{text} on the {int(known.sum())} images whose {what} are kit classes; "
        f"{int((~known).sum())} others ({listing(others)}) are left out."
    )


def run(args) -> None:
    threshold = args.self_training
    if threshold is not None and not 0.0 < threshold < 1.0:  # NaN fails too
        raise ValueError(f"--self-training must be between 0 and 1, exclusive; got {threshold:g}")
    outputs = check_outputs(args)  # review options and every output path, before any work
    if args.scheduler is not None or not (outputs.review or outputs.report or args.plots):
        # bounded memory, resumable, Dask
        return run_streaming(args, accuracy_report, adapted_message)
    key = read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    c, h, w = kit.image_shape
    data = load_data(
        args.data,
        split=args.split,
        image_size=args.image_size or (h, w),
        color=args.color or ("rgb" if c == 3 else "gray"),
        skip_bad=args.skip_bad,
        labelled=args.labelled,
    )
    X = data.X
    if len(X) == 0:
        raise ValueError(f"there are no images to label in {terminal_text(args.data)}")
    params = {"range_tolerance": None} if args.no_range_check else {}
    labeler = RecipientLabeler(
        kit=kit,
        device=args.device,
        batch_size=args.batch_size,
        key=key,
        self_training=args.self_training,
        **params,
    )
    labeler.fit(X)  # checks every image against the kit's input shape and range; adapts
    adapted_message(args, int(labeler.n_pseudo_labelled_.sum()))
    labeler.set_params(range_tolerance=None)  # ... not again when labelling
    y_kit = None
    if data.y is not None:
        y_kit, known = match_labels(data.y, labeler.classes_, data.label_names)
        y_kit = y_kit if known.all() else None
    result = label_and_write(
        labeler, X, data.names, y_kit, outputs, source=args.data, quiet=args.quiet
    )
    labels = result.labels
    values, counts = np.unique(labels, return_counts=True)
    info(
        args,
        f"Labelled {len(labels)} images with the kit from {terminal_text(args.kit)}: "
        + listing((f"{v} {n}" for v, n in zip(values, counts, strict=True)), limit=20),
    )
    if data.y is not None:
        info(args, accuracy_report(data, labels, labeler.classes_))
    info(args, f"Labels written to {terminal_text(outputs.out)}")
    if args.plots:
        from ..plotting import plot_latent_space

        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        plot_latent_space(labeler, X, labels, path=folder / "recipient_latent_space.png")
        info(args, f"Plot written to {folder}/recipient_latent_space.png")
