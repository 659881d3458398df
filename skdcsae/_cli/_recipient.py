"""``skdcsae recipient``: label images with a donor kit and write a CSV."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..kit import load_donor_kit
from ..recipient import RecipientLabeler
from ..recipient._outputs import add_review_options, check_outputs, label_and_write
from ._common import add_data_options, add_device_option, load_data, read_key

_EPILOG = """examples:
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv
  skdcsae recipient kit.joblib pneumoniamnist.npz --split test --out labels.csv --force
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv --review-fraction 0.1 \\
      --report report.html      # + labels_review.csv, least confident first
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recipient",
        help="label images with a donor kit; write a CSV",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    p.add_argument("--batch-size", type=int, default=256, help="encoding batch size (256)")
    p.add_argument(
        "--key-file", default=None, help="require a kit signed with the key in this file"
    )
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="write a latent-space plot of the recipient images (PNG) to DIR",
    )
    add_review_options(p)
    p.set_defaults(run=run)


def run(args) -> None:
    outputs = check_outputs(args)  # review options and every output path, before any work
    key = read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    c, h, w = kit.image_shape
    X, y_true, names = load_data(
        args.data,
        split=args.split,
        image_size=args.image_size or (h, w),
        color=args.color or ("rgb" if c == 3 else "gray"),
        skip_bad=args.skip_bad,
    )
    labeler = RecipientLabeler(kit=kit, device=args.device, batch_size=args.batch_size, key=key)
    labeler.fit()
    labels = label_and_write(labeler, X, names, y_true, outputs, source=args.data).labels
    values, counts = np.unique(labels, return_counts=True)
    print(
        f"Labelled {len(labels)} images with the kit from {args.kit}: "
        + ", ".join(f"{v} {n}" for v, n in zip(values, counts, strict=True))
    )
    if y_true is not None:
        known = np.asarray(y_true).astype(str)
        accuracy = float(np.mean(known == np.asarray(labels).astype(str)))
        print(f"The data carries labels: accuracy against them {accuracy:.3f}")
    print(f"Labels written to {outputs.out}")
    if args.plots:
        from ..plotting import plot_latent_space

        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        plot_latent_space(labeler, X, labels, path=folder / "recipient_latent_space.png")
        print(f"Plot written to {folder}/recipient_latent_space.png")
