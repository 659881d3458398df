"""The ``skdcsae`` command line: ``donor``, ``recipient``, ``inspect``, ``audit`` and ``demo``.

Every command prints errors as one readable line and exits with status 2 for bad input (a
missing file, a wrong argument, a refused kit) and 0 on success.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["main"]

_ARCHS = {
    "light": ((32, 16), (256,)),
    "authors": ((128, 64, 32, 16), (2048, 1000, 250)),
}

_DONOR_EPILOG = """examples:
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50
  skdcsae donor xrays/ --out kit.joblib --image-size 64 --epochs 100 --key-file secret.key
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50 --release synthetic
  skdcsae donor pneumoniamnist.npz --out kit.joblib --n-per-class 50 --dp --target-epsilon 3
  (a folder holds one sub-folder of images per class: xrays/normal/*.png, xrays/pneumonia/*.dcm)
"""
_RECIPIENT_EPILOG = """examples:
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv
  skdcsae recipient kit.joblib pneumoniamnist.npz --split test --out labels.csv --force
"""
_INSPECT_EPILOG = """example:
  skdcsae inspect kit.joblib
"""
_AUDIT_EPILOG = """examples:
  skdcsae audit kit.joblib --members donor_images/ --non-members other_images/
  skdcsae audit kit.joblib --members pneumoniamnist.npz --n-per-class 50 --seed 0 \\
      --non-members pneumoniamnist.npz --eval pneumoniamnist.npz
  (--n-per-class/--seed pick the members exactly as `skdcsae donor` picked its images;
  .npz members are read from the train split, non-members and --eval from the test split)
"""
_DEMO_EPILOG = """examples:
  skdcsae demo
  skdcsae demo --data pneumoniamnist.npz --n-per-class 50
"""


class _CLIError(Exception):
    """An error to print as one line (exit status 2)."""


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _image_size(text: str) -> tuple[int, int]:
    values = _ints(text.replace("x", ","))
    if len(values) == 1:
        return (values[0], values[0])
    if len(values) == 2:
        return values
    raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--split",
        default="train",
        choices=["train", "val", "test", "all"],
        help="split to read from a MedMNIST-layout .npz (default: train)",
    )
    p.add_argument(
        "--image-size",
        type=_image_size,
        default=None,
        help="resize folder images to N or HxW pixels (default: 28 for the donor, "
        "the kit's size for the recipient)",
    )
    p.add_argument(
        "--color",
        choices=["gray", "rgb"],
        default=None,
        help="read folder images as gray or RGB (default: gray; the recipient follows the kit)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable image files (listed in a warning) instead of failing",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skdcsae",
        description="Label medical images together without sharing them (DC-SAE / CAMARADERIE). "
        "A donor trains on a few labelled images and exports a kit (encoder + latent features, "
        "never images); a recipient labels its own images with the kit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    raw = argparse.RawDescriptionHelpFormatter

    donor = sub.add_parser(
        "donor",
        help="train a DC-SAE on labelled images and export a kit",
        epilog=_DONOR_EPILOG,
        formatter_class=raw,
    )
    donor.add_argument(
        "data",
        help="labelled images: a MedMNIST-layout .npz or a folder with one sub-folder per class",
    )
    donor.add_argument("--out", required=True, help="where to write the donor kit (.joblib)")
    donor.add_argument(
        "--n-per-class",
        type=int,
        default=None,
        help="use only N images per class, drawn with --seed (default: all)",
    )
    _add_data_options(donor)
    donor.add_argument("--alpha", type=float, default=10.0, help="reconstruction weight (10)")
    donor.add_argument("--beta", type=float, default=10.0, help="repulsion weight (10)")
    donor.add_argument("--rho", type=float, default=5.0, help="repulsion margin (5)")
    donor.add_argument("--kl-weight", type=float, default=1.0, help="KL weight (1)")
    donor.add_argument("--latent-dim", type=int, default=2, help="latent dimensions per head (2)")
    donor.add_argument("--epochs", type=int, default=50, help="training epochs (50)")
    donor.add_argument("--batch-size", type=int, default=16, help="mini-batch size (16)")
    donor.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    donor.add_argument(
        "--arch",
        choices=sorted(_ARCHS),
        default="light",
        help="network size: 'light' (2 conv blocks, good for 28x28) or 'authors' "
        "(the paper's 4 conv blocks); --conv-channels/--dense-sizes override",
    )
    donor.add_argument("--conv-channels", type=_ints, default=None, help="e.g. 32,16")
    donor.add_argument("--dense-sizes", type=_ints, default=None, help="e.g. 256")
    donor.add_argument(
        "--norm",
        choices=["batch", "group", "instance", "none"],
        default=None,
        help="normalisation in the conv blocks: 'batch' (the paper, the default without --dp; "
        "stores data statistics in the encoder), 'group' (stores none; the default with --dp), "
        "'instance' (per-channel groups; stores none) or 'none'",
    )
    donor.add_argument(
        "--release",
        choices=["per_image", "prototypes", "synthetic"],
        default="per_image",
        help="what the kit's feature table holds: one row per image (the paper), per-class "
        "k-means prototypes of at least --min-count images each, or synthetic rows drawn from "
        "a per-class Gaussian mixture fitted to such groups",
    )
    donor.add_argument(
        "--n-prototypes",
        type=int,
        default=3,
        help="most prototypes / mixture components per class (3)",
    )
    donor.add_argument(
        "--min-count", type=int, default=10, help="fewest images behind a prototype (10)"
    )
    donor.add_argument(
        "--feature-noise",
        type=float,
        default=None,
        help="Gaussian noise multiplier for the released features (needs --clip-norm)",
    )
    donor.add_argument(
        "--clip-norm", type=float, default=None, help="clip feature vectors to this L2 norm"
    )
    donor.add_argument(
        "--dp",
        action="store_true",
        help="train with DP-SGD (needs opacus: pip install 'skdcsae[privacy]'; implies "
        "--norm group unless --norm is given); give --target-epsilon or --noise-multiplier",
    )
    donor.add_argument(
        "--target-epsilon", type=float, default=None, help="DP-SGD privacy budget epsilon"
    )
    donor.add_argument(
        "--noise-multiplier", type=float, default=None, help="DP-SGD noise (instead of epsilon)"
    )
    donor.add_argument(
        "--delta", type=float, default=None, help="DP delta (default min(1e-5, 1/(10 n)))"
    )
    donor.add_argument(
        "--max-grad-norm", type=float, default=1.0, help="DP-SGD per-image gradient clip (1)"
    )
    donor.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    donor.add_argument("--seed", type=int, default=None, help="random seed (0; none with --dp)")
    donor.add_argument(
        "--key-file", default=None, help="sign the kit with the key in this file (HMAC-SHA256)"
    )
    donor.add_argument("--force", action="store_true", help="overwrite an existing kit")
    donor.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="write latent-space and reconstruction plots (PNG) to DIR",
    )
    donor.add_argument("-q", "--quiet", action="store_true", help="no progress bar or loss table")

    rec = sub.add_parser(
        "recipient",
        help="label images with a donor kit; write a CSV",
        epilog=_RECIPIENT_EPILOG,
        formatter_class=raw,
    )
    rec.add_argument("kit", help="donor kit file (.joblib)")
    rec.add_argument(
        "data",
        help="images to label: a folder (flat or with sub-folders) or a MedMNIST-layout .npz",
    )
    rec.add_argument("--out", required=True, help="CSV to write: file name, label, score")
    _add_data_options(rec)
    rec.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    rec.add_argument("--batch-size", type=int, default=256, help="encoding batch size (256)")
    rec.add_argument(
        "--key-file", default=None, help="require a kit signed with the key in this file"
    )
    rec.add_argument("--force", action="store_true", help="overwrite an existing CSV")
    rec.add_argument(
        "--plots",
        default=None,
        metavar="DIR",
        help="write a latent-space plot of the recipient images (PNG) to DIR",
    )

    ins = sub.add_parser(
        "inspect",
        help="show what a donor kit contains, without loading it into a model",
        epilog=_INSPECT_EPILOG,
        formatter_class=raw,
    )
    ins.add_argument("kit", help="donor kit file (.joblib)")
    ins.add_argument("--key-file", default=None, help="also verify the kit's signature")

    aud = sub.add_parser(
        "audit",
        help="measure what a kit reveals: membership attack AUC and the kit's accuracy",
        description="Run a near-duplicate membership attack on a donor kit: encode each "
        "candidate image with the kit's encoder and measure the distance to the nearest released "
        "feature row. Reports the ROC AUC of members (images the donor trained on) against "
        "non-members (0.5 = chance), and the kit's accuracy on --eval images. A low AUC is "
        "evidence against this attack, not a proof of privacy.",
        epilog=_AUDIT_EPILOG,
        formatter_class=raw,
    )
    aud.add_argument("kit", help="donor kit file (.joblib)")
    aud.add_argument(
        "--members", required=True, help="images the donor trained on (folder or .npz)"
    )
    aud.add_argument(
        "--non-members", required=True, help="images of the same kind the donor did not use"
    )
    aud.add_argument("--eval", default=None, help="labelled images to measure accuracy on")
    aud.add_argument(
        "--n-per-class",
        type=int,
        default=None,
        help="the donor used N images per class of --members, drawn with --seed "
        "(as `skdcsae donor --n-per-class`)",
    )
    aud.add_argument("--seed", type=int, default=0, help="seed the donor drew images with (0)")
    aud.add_argument("--members-split", default="train", help="split of a .npz --members (train)")
    aud.add_argument(
        "--non-members-split", default="test", help="split of a .npz --non-members (test)"
    )
    aud.add_argument("--eval-split", default="test", help="split of a .npz --eval (test)")
    aud.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    aud.add_argument("--key-file", default=None, help="require a kit signed with this key")

    demo = sub.add_parser(
        "demo",
        help="donor -> kit -> recipient end to end on embedded data",
        description="Train a DC-SAE on a few labelled images (the donor), export a kit, and "
        "label the rest with it (the recipient). Uses scikit-learn's bundled digits ('3' vs "
        "'8'), or PneumoniaMNIST given with --data or found in the data home.",
        epilog=_DEMO_EPILOG,
        formatter_class=raw,
    )
    demo.add_argument(
        "--data",
        default=None,
        help="a MedMNIST-layout .npz (e.g. pneumoniamnist.npz) instead of the embedded digits",
    )
    demo.add_argument("--n-per-class", type=int, default=20, help="donor images per class (20)")
    demo.add_argument("--epochs", type=int, default=40, help="training epochs (40)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (0)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    demo.add_argument(
        "--out-dir",
        default=None,
        help="where to write the kit and labels (default: a new temporary folder)",
    )
    demo.add_argument("-v", "--verbose", action="store_true", help="show per-epoch losses")
    return parser


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _read_key(path: str | None) -> bytes | None:
    if path is None:
        env = os.environ.get("SKDCSAE_KIT_KEY")
        return env.encode() if env else None
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise _CLIError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if not key:
        raise _CLIError(f"key file {path} is empty")
    return key


def _load_data(path: str, *, split: str, image_size, color, skip_bad: bool):
    """Images, labels (or None) and a name per image, from a .npz or a folder."""
    from .datasets import load_image_folder, load_medmnist_npz

    p = Path(path)
    if not p.exists():
        raise _CLIError(f"{path} does not exist")
    if p.is_dir():
        bunch = load_image_folder(
            p, image_size=image_size or (28, 28), color=color or "gray", skip_bad=skip_bad
        )
        y = None
        if bunch.target is not None:
            y = np.asarray(bunch.target_names)[bunch.target]
        return bunch.data, y, list(bunch.filenames)
    if p.suffix.lower() != ".npz":
        raise _CLIError(f"{path} is neither a folder of images nor a .npz file")
    bunch = load_medmnist_npz(p, split=split)
    names = [f"{p.name}:{s}[{i}]" for s, i in _split_indices(bunch, split)]
    return bunch.data, np.asarray(bunch.target), names


def _split_indices(bunch, split):
    splits = getattr(bunch, "sample_split", None)
    if splits is None:
        return [(split, i) for i in range(len(bunch.target))]
    counters: dict = {}
    out = []
    for s in splits:
        counters[s] = counters.get(s, -1) + 1
        out.append((s, counters[s]))
    return out


def _check_writable(path: Path, force: bool, what: str) -> None:
    if path.exists() and not force:
        raise _CLIError(f"{path} already exists; pass --force to overwrite the {what}")
    if not path.parent.exists():
        raise _CLIError(f"folder {path.parent} does not exist")


def _pick_per_class(y, n_per_class, seed):
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < n_per_class:
            raise _CLIError(
                f"class {c!r} has only {len(idx)} images, fewer than --n-per-class {n_per_class}"
            )
        picked.append(rng.choice(idx, n_per_class, replace=False))
    return np.sort(np.concatenate(picked))


def _write_labels_csv(path: Path, names, labels, scores, force: bool) -> None:
    """Write atomically: a temporary file in the same folder, renamed into place."""
    _check_writable(path, force, "labels")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "label", "score"])
            for name, label, score in zip(names, labels, scores, strict=True):
                writer.writerow([name, label, f"{score:.6g}"])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _scores(labeler, X):
    """One score per image: the decision value (binary) or the winning class's value."""
    values = labeler.decision_function(X)
    values = np.asarray(values)
    return values if values.ndim == 1 else values.max(axis=1)


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


def _cmd_donor(args) -> None:
    from ._dcsae import DCSAETransformer

    out = Path(args.out)
    _check_writable(out, args.force, "kit")
    key = _read_key(args.key_file)
    X, y, _ = _load_data(
        args.data,
        split=args.split,
        image_size=args.image_size,
        color=args.color,
        skip_bad=args.skip_bad,
    )
    if y is None:
        raise _CLIError(
            f"{args.data} has no labels: a donor needs a folder with one sub-folder "
            "per class, or a labelled .npz"
        )
    if args.dp and args.target_epsilon is None and args.noise_multiplier is None:
        raise _CLIError("--dp needs --target-epsilon (the privacy budget) or --noise-multiplier")
    if not args.dp and (args.target_epsilon, args.noise_multiplier, args.delta) != (None,) * 3:
        raise _CLIError("--target-epsilon/--noise-multiplier/--delta need --dp")
    # A private fit gets no fixed default seed: whoever knows the seed can regenerate the noise.
    seed = args.seed if args.seed is not None or args.dp else 0
    pick_seed = 0 if args.seed is None else args.seed
    if args.n_per_class is not None:
        keep = _pick_per_class(y, args.n_per_class, pick_seed)
        X, y = X[keep], y[keep]
    conv, dense = _ARCHS[args.arch]
    norm = args.norm or ("group" if args.dp else "batch")
    dp_params = {}
    if args.dp:
        dp_params = {
            "dp": True,
            "target_epsilon": args.target_epsilon,
            "noise_multiplier": args.noise_multiplier,
            "target_delta": args.delta,
            "max_grad_norm": args.max_grad_norm,
        }
    classes, counts = np.unique(y, return_counts=True)
    print(
        f"Donor data: {len(y)} images of shape {X.shape[1:]}, classes "
        + ", ".join(f"{c} ({n})" for c, n in zip(classes, counts, strict=True))
    )
    est = DCSAETransformer(
        n_components=args.latent_dim,
        alpha=args.alpha,
        beta=args.beta,
        rho=args.rho,
        kl_weight=args.kl_weight,
        conv_channels=args.conv_channels or conv,
        dense_sizes=args.dense_sizes or dense,
        lr=args.lr,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        norm=norm,
        device=args.device,
        random_state=seed,
        **dp_params,
        verbose=0 if args.quiet else 1,
    )
    est.fit(X, y)
    kit = est.export_donor_kit(
        out,
        X,
        y,
        release=args.release,
        n_prototypes=args.n_prototypes,
        min_count=args.min_count,
        feature_noise=args.feature_noise,
        clip_norm=args.clip_norm,
        key=key,
        overwrite=args.force,
    )
    print(
        f"Trained {est.n_iter_} epochs on {est.device_}; final loss "
        f"{est.history_[-1, 'train_loss']:.4g}."
    )
    if est.privacy_ is not None:
        p = est.privacy_
        print(
            f"DP-SGD: the encoder is (epsilon={p['epsilon']:.3g}, delta={p['delta']:.3g})-"
            f"differentially private per donor image (noise multiplier "
            f"{p['noise_multiplier']:.3g}, gradients clipped to {p['max_grad_norm']:g})."
        )
    print(
        f"Donor kit written to {out} ({out.stat().st_size:,} bytes"
        f"{', signed' if key else ''}). It holds the encoder and {kit.n_donor} latent "
        + {
            "prototypes": f"prototypes (means of >= {args.min_count} images each)",
            "synthetic": "synthetic feature vectors (none belongs to a donor image)",
        }.get(args.release, "feature vectors (one per image)")
        + "; no images, no decoder."
    )
    if args.plots:
        from .plotting import plot_latent_space, plot_reconstructions

        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        plot_latent_space(est, X, y, path=folder / "donor_latent_space.png")
        plot_reconstructions(est, X, y, path=folder / "donor_reconstructions.png")
        print(f"Plots written to {folder}/")


def _cmd_recipient(args) -> None:
    from ._kit import load_donor_kit
    from ._recipient import RecipientLabeler

    out = Path(args.out)
    _check_writable(out, args.force, "labels")
    key = _read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    c, h, w = kit.image_shape
    X, y_true, names = _load_data(
        args.data,
        split=args.split,
        image_size=args.image_size or (h, w),
        color=args.color or ("rgb" if c == 3 else "gray"),
        skip_bad=args.skip_bad,
    )
    labeler = RecipientLabeler(kit=kit, device=args.device, batch_size=args.batch_size, key=key)
    labeler.fit()
    labels = labeler.predict(X)
    scores = _scores(labeler, X)
    _write_labels_csv(out, names, labels, scores, args.force)
    values, counts = np.unique(labels, return_counts=True)
    print(
        f"Labelled {len(labels)} images with the kit from {args.kit}: "
        + ", ".join(f"{v} {n}" for v, n in zip(values, counts, strict=True))
    )
    if y_true is not None:
        known = np.asarray(y_true).astype(str)
        accuracy = float(np.mean(known == np.asarray(labels).astype(str)))
        print(f"The data carries labels: accuracy against them {accuracy:.3f}")
    print(f"Labels written to {out}")
    if args.plots:
        from .plotting import plot_latent_space

        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        plot_latent_space(labeler, X, labels, path=folder / "recipient_latent_space.png")
        print(f"Plot written to {folder}/recipient_latent_space.png")


def _cmd_inspect(args) -> None:
    from ._kit import load_donor_kit

    kit = load_donor_kit(args.kit, key=_read_key(args.key_file))
    print(kit.summary())


def _cmd_audit(args) -> None:
    from ._audit import audit_donor_kit
    from ._kit import load_donor_kit

    key = _read_key(args.key_file)
    kit = load_donor_kit(args.kit, key=key)
    if kit.image_shape is None:
        raise _CLIError("the audit command reads images; this kit's encoder takes tabular data")
    c, h, w = kit.image_shape

    def load(path, split):
        return _load_data(
            path,
            split=split,
            image_size=(h, w),
            color="rgb" if c == 3 else "gray",
            skip_bad=False,
        )

    X_mem, y_mem, _ = load(args.members, args.members_split)
    if args.n_per_class is not None:
        if y_mem is None:
            raise _CLIError("--n-per-class needs labelled --members (sub-folders or a .npz)")
        keep = _pick_per_class(y_mem, args.n_per_class, args.seed)
        X_mem, y_mem = X_mem[keep], y_mem[keep]
    if y_mem is not None:
        y_mem = _match_label_type(y_mem, kit.classes)
    X_non, _, _ = load(args.non_members, args.non_members_split)
    X_eval = y_eval = None
    if args.eval is not None:
        X_eval, y_eval, _ = load(args.eval, args.eval_split)
        if y_eval is None:
            raise _CLIError(f"--eval {args.eval} has no labels")
        y_eval = _match_label_type(y_eval, kit.classes)
    audit = audit_donor_kit(
        kit,
        X_mem,
        X_non,
        X_eval=X_eval,
        y_eval=y_eval,
        y_members=y_mem,
        key=key,
        device=args.device,
    )
    print(f"Kit {args.kit}:")
    print(audit.summary())


def _match_label_type(y, classes):
    """Folder labels are strings; compare them with a kit's integer classes as integers."""
    y = np.asarray(y)
    if classes.dtype.kind in "iu" and y.dtype.kind in "US":
        try:
            return y.astype(classes.dtype)
        except ValueError:
            return y
    return y


def _cmd_demo(args) -> None:
    from ._demo import run_demo

    run_demo(
        data=args.data,
        n_per_class=args.n_per_class,
        max_epochs=args.epochs,
        random_state=args.seed,
        device=args.device,
        out_dir=args.out_dir,
        verbose=int(args.verbose),
    )


_COMMANDS = {
    "donor": _cmd_donor,
    "recipient": _cmd_recipient,
    "inspect": _cmd_inspect,
    "audit": _cmd_audit,
    "demo": _cmd_demo,
}


def main(argv=None) -> int:
    """Entry point of the ``skdcsae`` console script; returns the exit status."""
    args = _build_parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except (_CLIError, ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"skdcsae {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skdcsae: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
