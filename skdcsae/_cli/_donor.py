"""``skdcsae donor``: train a DC-SAE on labelled images and export a donor kit."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._dcsae import DCSAETransformer
from ..kit import RELEASE_MODES, ReleaseSettings
from ._common import (
    CLIError,
    check_writable,
    estimator_default,
    from_args,
    info,
    listing,
    load_data,
    pick_per_class,
    read_key,
)
from ._options import (
    add_command,
    add_data_options,
    add_device_option,
    add_kit_file_options,
    add_quiet_option,
    auto_or_nonnegative_float,
    auto_or_positive_int,
    positive_ints,
)

_ARCHS = {
    "auto": ("auto", "auto"),
    "light": ((32, 16), (256,)),
    "authors": ((128, 64, 32, 16), (2048, 1000, 250)),
}

_EPILOG = """examples:
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50
  skdcsae donor xrays/ --out kit.joblib --image-size 64 --epochs 100 --key-file secret.key
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50 --release per_image
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50 --dp --target-epsilon 3
  (a folder holds one sub-folder of images per class: xrays/normal/*.png, xrays/pneumonia/*.dcm)

signing: make a key once with `skdcsae keygen secret.key` (64 hex digits, readable by you
  only), give the recipient a copy by another channel than the kit, and pass --key-file
  secret.key to both commands; a recipient with the key refuses kits not signed with it.
"""

# estimator parameter -> (flag, help); each default is read from DCSAETransformer itself
_TRAINING_OPTIONS = {
    "alpha": (
        "--alpha",
        auto_or_nonnegative_float,
        "reconstruction weight ('auto': 10, less for inputs larger than a 28x28 grey image)",
    ),
    "beta": ("--beta", float, "repulsion weight"),
    "rho": ("--rho", float, "repulsion margin (default: 2.5 x --latent-dim)"),
    "kl_weight": ("--kl-weight", float, "KL weight"),
    "n_components": (
        "--latent-dim",
        auto_or_positive_int,
        "latent dimensions per head ('auto': 8 to 16, one per 5 images of the smallest class)",
    ),
    "max_epochs": ("--epochs", int, "fewest training epochs"),
    "min_steps": ("--steps", int, "fewest optimiser steps (0: exactly --epochs epochs)"),
    "batch_size": ("--batch-size", int, "mini-batch size"),
    "lr": ("--lr", float, "Adam learning rate"),
}


def add_release_options(p: argparse.ArgumentParser) -> None:
    """``--release``, ``--n-prototypes``, ... : one option per ReleaseSettings field."""
    for item in dataclasses.fields(ReleaseSettings):
        flag = item.metadata.get("flag", "--" + item.name.replace("_", "-"))
        kind = str if item.name == "mode" else int if "int" in str(item.type) else float
        text = item.metadata["help"]
        if item.name == "delta":
            text += "; with --dp also the DP-SGD delta"
        p.add_argument(
            flag,
            type=kind,
            default=item.default,
            dest=_release_dest(item.name),
            choices=list(RELEASE_MODES) if item.name == "mode" else None,
            help=text if item.default is None else f"{text} (default: {item.default})",
        )


def _release_dest(name: str) -> str:
    return "release" if name == "mode" else name


def release_settings(args) -> ReleaseSettings:
    """The ReleaseSettings the release options stand for."""
    return ReleaseSettings(
        **{
            f.name: getattr(args, _release_dest(f.name))
            for f in dataclasses.fields(ReleaseSettings)
        }
    )


_HELP = "train a DC-SAE on labelled images and export a kit"


def add_parser(sub) -> None:
    p = add_command(sub, "donor", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument(
        "data",
        help="labelled images: a MedMNIST-layout .npz or a folder with one sub-folder per class",
    )
    p.add_argument("--out", required=True, help="where to write the donor kit (.joblib)")
    p.add_argument(
        "--n-per-class",
        type=int,
        default=None,
        help="use only N images per class, drawn with --seed (default: all)",
    )
    add_data_options(p)
    for param, (flag, kind, text) in _TRAINING_OPTIONS.items():
        default = estimator_default(DCSAETransformer, param)
        if default is not None:
            shown = default if isinstance(default, str) else f"{default:g}"
            text = f"{text} (default: {shown})"
        p.add_argument(flag, type=kind, default=None, dest=param, help=text)
    p.add_argument(
        "--arch",
        choices=sorted(_ARCHS),
        default="auto",
        help="network size: 'auto' (suits the image size; the light net at 28x28), 'light' "
        "(2 conv blocks) or 'authors' (the paper's 4 conv blocks); --conv-channels/"
        "--dense-sizes override",
    )
    p.add_argument("--conv-channels", type=positive_ints, default=None, help="e.g. 32,16")
    p.add_argument("--dense-sizes", type=positive_ints, default=None, help="e.g. 256")
    p.add_argument(
        "--norm",
        choices=["batch", "group", "instance", "none"],
        default=None,
        help="normalisation in the conv blocks: 'batch' (the paper, the default without --dp; "
        "stores data statistics in the encoder), 'group' (stores none; the default with --dp), "
        "'instance' (per-channel groups; stores none) or 'none'",
    )
    add_release_options(p)
    p.add_argument(
        "--dp",
        action="store_true",
        help="train with DP-SGD (needs opacus: pip install 'skdcsae[privacy]'; implies "
        "--norm group unless --norm is given); give --target-epsilon or --noise-multiplier",
    )
    p.add_argument(
        "--target-epsilon", type=float, default=None, help="DP-SGD privacy budget epsilon"
    )
    p.add_argument(
        "--noise-multiplier", type=float, default=None, help="DP-SGD noise (instead of epsilon)"
    )
    p.add_argument(
        "--max-grad-norm",
        type=float,
        default=estimator_default(DCSAETransformer, "max_grad_norm"),
        help="DP-SGD per-image gradient clip (default: %(default)g)",
    )
    add_device_option(p)
    p.add_argument("--seed", type=int, default=None, help="random seed (0; none with --dp)")
    add_kit_file_options(
        p,
        key_help="sign the kit with the key in this file (HMAC-SHA256)",
        force_help="overwrite an existing kit",
        plots_help="write latent-space and reconstruction plots (PNG) to DIR",
    )
    add_quiet_option(p)


def _selected(bunch, keep):
    """The image-preparation fields of the images kept."""
    return Bunch(
        original_shapes=bunch.original_shapes[keep],
        resized=bunch.resized[keep],
        color_converted=bunch.color_converted[keep],
    )


def run(args) -> None:
    out = Path(args.out)
    check_writable(out, args.force, "kit")
    key = read_key(args.key_file)
    release = release_settings(args)
    data = load_data(
        args.data,
        split=args.split,
        image_size=args.image_size,
        color=args.color,
        skip_bad=args.skip_bad,
        labelled=args.labelled,
    )
    X, y, bunch = data.X, data.y, data.preparation
    if y is None:
        raise CLIError(
            f"{args.data} has no labels: a donor needs a folder with one sub-folder "
            "per class, or a labelled .npz"
        )
    # A private fit gets no fixed default seed: whoever knows the seed can regenerate the noise.
    seed = args.seed if args.seed is not None or args.dp else 0
    pick_seed = 0 if args.seed is None else args.seed
    if args.n_per_class is not None:
        keep = pick_per_class(y, args.n_per_class, pick_seed)
        X, y = X[keep], y[keep]
        bunch = None if bunch is None else _selected(bunch, keep)
    conv, dense = _ARCHS[args.arch]
    training = {p: getattr(args, p) for p in _TRAINING_OPTIONS if getattr(args, p) is not None}
    classes, counts = np.unique(y, return_counts=True)
    release.check_class_sizes(counts, classes.tolist())  # before training
    info(
        args,
        f"Donor data: {len(y)} images of shape {X.shape[1:]}, classes "
        + listing((f"{c} ({n})" for c, n in zip(classes, counts, strict=True)), limit=20),
    )
    est = DCSAETransformer(
        conv_channels=args.conv_channels or conv,
        dense_sizes=args.dense_sizes or dense,
        norm=args.norm or ("group" if args.dp else "batch"),
        **from_args(args, "dp", "target_epsilon", "noise_multiplier", "max_grad_norm", "device"),
        target_delta=args.delta,
        random_state=seed,
        verbose=0 if args.quiet else 1,
        **training,
    )
    est.fit(X, y)
    kit = est.export_donor_kit(
        out, X, y, release=release, key=key, overwrite=args.force, image_preparation=bunch
    )
    info(
        args,
        f"Trained {est.n_iter_} epochs on {est.device_}; final loss "
        f"{est.history_[-1, 'train_loss']:.4g}.",
    )
    if est.privacy_ is not None:
        p = est.privacy_
        info(
            args,
            f"DP-SGD: the encoder is (epsilon={p['epsilon']:.3g}, delta={p['delta']:.3g})-"
            f"differentially private per donor image (noise multiplier "
            f"{p['noise_multiplier']:.3g}, gradients clipped to {p['max_grad_norm']:g}).",
        )
    info(
        args,
        f"Donor kit written to {out} ({out.stat().st_size:,} bytes"
        f"{', signed' if key else ''}). It holds the encoder and {kit.n_rows} feature rows: "
        f"{kit.reveals}; no images, no decoder.",
    )
    if args.plots:
        from ..plotting import plot_latent_space, plot_reconstructions

        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        plot_latent_space(est, X, y, path=folder / "donor_latent_space.png")
        plot_reconstructions(est, X, y, path=folder / "donor_reconstructions.png")
        info(args, f"Plots written to {folder}/")
