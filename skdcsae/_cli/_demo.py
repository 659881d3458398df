"""``skdcsae demo``: donor -> kit -> recipient end to end on embedded or local data.

Train a DC-SAE on a few labelled images (the donor), export a kit, and label
the rest with it (the recipient). Uses scikit-learn's bundled digits ('3' vs
'8'), or PneumoniaMNIST given with --data or found in the data home.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from .._dcsae import DCSAETransformer
from ..datasets import fetch_medmnist, load_demo_digits, load_medmnist_npz
from ..recipient import RecipientLabeler
from ._common import from_args
from ._options import add_command, add_device_option, add_quiet_option

_EPILOG = """examples:
  skdcsae demo
  skdcsae demo --data pneumoniamnist.npz --n-per-class 50
"""

_HELP = "donor -> kit -> recipient end to end on embedded data"


def add_parser(sub) -> None:
    p = add_command(sub, "demo", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument(
        "--data",
        default=None,
        help="a MedMNIST-layout .npz (e.g. pneumoniamnist.npz) instead of the embedded digits",
    )
    p.add_argument("--n-per-class", type=int, default=20, help="donor images per class (20)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="fewest training epochs (default: the estimator's, with its step budget)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    add_device_option(p)
    p.add_argument(
        "--out-dir",
        default=None,
        help="where to write the kit and labels (default: a new temporary folder)",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show a progress bar and per-epoch losses"
    )
    add_quiet_option(p)


def run(args) -> None:
    result = run_demo(
        **from_args(args, "data", "n_per_class", "device", "out_dir"),
        max_epochs=args.epochs,
        random_state=args.seed,
        verbose=int(args.verbose and not args.quiet),
        print_fn=(lambda *a, **k: None) if args.quiet else print,
    )
    if args.quiet:  # the result, and nothing else
        print(
            f"accuracy {result['accuracy']:.3f} (balanced {result['balanced_accuracy']:.3f}) "
            f"on {result['n_recipient']} recipient images"
        )


__all__ = ["add_parser", "run", "run_demo"]


def _demo_data(data, n_per_class, random_state, print_fn):
    """(X_donor, y_donor, X_recipient, y_recipient, description)."""
    rng = np.random.default_rng(random_state)
    if data is None:
        try:  # PneumoniaMNIST when the user already has it in the data home
            train = fetch_medmnist("pneumoniamnist", split="train", download_if_missing=False)
            test = fetch_medmnist("pneumoniamnist", split="test", download_if_missing=False)
        except OSError:
            train = test = None
        if train is None:
            X, y = load_demo_digits()
            donor = np.concatenate(
                [
                    rng.choice(np.flatnonzero(y == c), n_per_class, replace=False)
                    for c in np.unique(y)
                ]
            )
            rest = np.setdiff1d(np.arange(len(y)), donor)
            return X[donor], y[donor], X[rest], y[rest], "scikit-learn digits '3' vs '8' (8x8)"
        source = f"PneumoniaMNIST from the data home ({train.filename})"
    else:
        train = load_medmnist_npz(data, split="train")
        test = load_medmnist_npz(data, split="test")
        source = f"{Path(data).name} (train split -> donor, test split -> recipient)"
    Xtr, ytr = train.data, train.target
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(ytr == c), n_per_class, replace=False) for c in np.unique(ytr)]
    )
    return Xtr[donor], ytr[donor], test.data, test.target, source


def run_demo(
    *,
    data=None,
    n_per_class=20,
    max_epochs=None,
    random_state=0,
    device="auto",
    out_dir=None,
    verbose=0,
    self_training=0.5,
    print_fn=print,
):
    """Donor trains and exports a kit; recipient loads it and labels its images.

    Parameters
    ----------
    data : str or path, default=None
        A MedMNIST-layout ``.npz``. By default PneumoniaMNIST from the data home if present,
        else scikit-learn's bundled digits ('3' vs '8').
    n_per_class : int, default=20
        Donor images per class.
    max_epochs : int, default=None
        Fewest training epochs; None keeps the estimator's default.
    random_state : int, default=0
        Seed for the donor sample and the training.
    device : str, default="auto"
        Torch device.
    out_dir : str or path, default=None
        Folder for the kit and the labels; a new temporary folder by default.
    verbose : int, default=0
        Show the per-epoch loss table.
    self_training : float or None, default=0.5
        The recipient adapts the kit's classifier to its images first
        (:class:`~skdcsae.RecipientLabeler`'s ``self_training``); None labels from the kit alone.
    print_fn : callable, default=print
        Where the report goes.

    Returns
    -------
    result : dict
        ``accuracy``, ``balanced_accuracy``, ``n_donor``, ``n_recipient``, ``fit_seconds``,
        ``kit_path``, ``labels_path``.
    """
    Xd, yd, Xr, yr, source = _demo_data(data, n_per_class, random_state, print_fn)
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="skdcsae-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    kit_path, labels_path = out / "donor_kit.joblib", out / "recipient_labels.csv"
    for path in (kit_path, labels_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; choose another --out-dir")
    print_fn(
        f"Demo data: {source}. Donor: {len(yd)} labelled images; recipient: {len(yr)} "
        "unlabelled images."
    )

    # the defaults, as a new user gets them (the network suits the image size)
    params = {} if max_epochs is None else {"max_epochs": max_epochs}
    donor = DCSAETransformer(device=device, random_state=random_state, verbose=verbose, **params)
    start = time.perf_counter()
    donor.fit(Xd, yd)
    fit_seconds = time.perf_counter() - start
    kit = donor.export_donor_kit(kit_path, Xd, yd)
    print_fn(
        f"[donor] DC-SAE trained in {fit_seconds:.1f} s on {donor.device_}; kit written to "
        f"{kit_path} ({kit_path.stat().st_size:,} bytes: encoder + {kit.n_rows} "
        f"{kit.release.mode} feature rows, no images)."
    )

    labeler = RecipientLabeler(kit=kit_path, device=device, self_training=self_training)
    labeler.fit(Xr)  # adapts the kit's classifier to the recipient's images (self_training)
    labels = labeler.predict(Xr)
    scores = np.asarray(labeler.decision_function(Xr))
    with open(labels_path, "w") as fh:
        fh.write("index,label,score\n")
        for i, (label, score) in enumerate(zip(labels, scores, strict=True)):
            fh.write(f"{i},{label},{score:.6g}\n")
    accuracy = float(np.mean(labels == yr))
    balanced = float(balanced_accuracy_score(yr, labels))
    adapted = int(labeler.n_pseudo_labelled_.sum())
    how = (
        f" ({adapted} of them, as many per class, joined its classifier)"
        if self_training is not None
        else ""
    )
    print_fn(
        f"[recipient] labelled {len(labels)} images with the kit{how}; labels written to "
        f"{labels_path}."
    )
    print_fn(
        f"[recipient] accuracy against the held-back true labels: {accuracy:.3f} "
        f"(balanced accuracy {balanced:.3f})."
    )
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "n_donor": len(yd),
        "n_recipient": len(yr),
        "fit_seconds": fit_seconds,
        "kit_path": str(kit_path),
        "labels_path": str(labels_path),
    }
