"""The demo behind ``skdcsae demo``: donor -> features -> recipient on embedded data."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["load_demo_digits", "run_demo"]


def load_demo_digits(classes=(3, 8)):
    """Two digit classes of scikit-learn's bundled digits, as 8x8 uint8-range images.

    Parameters
    ----------
    classes : tuple of two int, default=(3, 8)
        The two digits that form the binary task (3 vs 8 is one of the harder pairs).

    Returns
    -------
    X : ndarray of shape (n, 8, 8), float64 in [0, 16]
    y : ndarray of shape (n,), int (0 for ``classes[0]``, 1 for ``classes[1]``)
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    return X[keep].reshape(-1, 8, 8), (y[keep] == classes[1]).astype(int)


def run_demo(
    *, n_per_class=20, max_epochs=40, random_state=0, device="auto", verbose=0, print_fn=print
):
    """Train a DC-SAE on a few labelled donor digits and label the rest as a recipient.

    Returns
    -------
    result : dict
        ``accuracy``, ``n_donor``, ``n_recipient``, ``fit_seconds``.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from ._dcsae import DCSAETransformer

    X, y = load_demo_digits()
    rng = np.random.default_rng(random_state)
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in (0, 1)]
    )
    recipient = np.setdiff1d(np.arange(len(y)), donor)
    print_fn(
        f"Demo task: scikit-learn digits '3' vs '8' (8x8 images). Donor: {len(donor)} labelled "
        f"images; recipient: {len(recipient)} unlabelled images."
    )
    model = Pipeline(
        [
            (
                "dcsae",
                DCSAETransformer(
                    conv_channels=(32, 16),
                    dense_sizes=(128,),
                    max_epochs=max_epochs,
                    batch_size=8,
                    device=device,
                    random_state=random_state,
                    verbose=verbose,
                ),
            ),
            ("svc", SVC()),
        ]
    )
    start = time.perf_counter()
    model.fit(X[donor], y[donor])
    fit_seconds = time.perf_counter() - start
    accuracy = float(model.score(X[recipient], y[recipient]))
    print_fn(f"Donor DC-SAE trained in {fit_seconds:.1f} s on {model[0].device_}.")
    print_fn(f"Recipient labelled {len(recipient)} images: accuracy {accuracy:.3f}.")
    return {
        "accuracy": accuracy,
        "n_donor": len(donor),
        "n_recipient": len(recipient),
        "fit_seconds": fit_seconds,
    }
