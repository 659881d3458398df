"""Recipient accuracy of DC-SAE + SVC by normalisation and with differentially private training.

Balanced PneumoniaMNIST (``pneumoniamnist_balanced.npz`` in ``../shared/data`` or
``$SKDCSAE_SHARED_DATA``): the donor is ``--per-class`` training images per class drawn with
``np.random.default_rng(seed)`` (as ``donor_split`` in ``tests/conftest.py``), the recipient is
the rest of the training split. Each configuration trains a ``DCSAETransformer`` on the donor
images, fits ``SVC()`` on the donor features and scores it on the recipient's features.

The default configurations: ``norm`` in batch / group / none without DP, and ``norm="group"``
with ``dp=True`` at ``target_epsilon`` 1, 3 and 8 (default delta). ``--config`` replaces them
with your own (repeatable), as comma-separated ``key=value`` overrides of the base settings
(light conv net ``conv_channels=(32, 16), dense_sizes=(256,)``, ``batch_size=16``,
``max_epochs=50``, CPU, ``random_state=seed``)::

    OMP_NUM_THREADS=1 python benchmarks/privacy_norm_dp.py
    OMP_NUM_THREADS=1 python benchmarks/privacy_norm_dp.py --workers 2 \\
        --config norm=group,dp=True,target_epsilon=3,batch_size=32,max_epochs=20,lr=0.003

Prints one table row per configuration (Markdown).
"""

from __future__ import annotations

import argparse
import ast
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("SKDCSAE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
BASE = {
    "conv_channels": (32, 16),
    "dense_sizes": (256,),
    "batch_size": 16,
    "max_epochs": 50,
    "device": "cpu",
}
DEFAULT_CONFIGS = [
    {"norm": "batch"},
    {"norm": "group"},
    {"norm": "none"},
    {"norm": "group", "dp": True, "target_epsilon": 1.0},
    {"norm": "group", "dp": True, "target_epsilon": 3.0},
    {"norm": "group", "dp": True, "target_epsilon": 8.0},
]


def parse_config(text: str) -> dict:
    """``"norm=group,dp=True,conv_channels=(16,8)"`` -> ``{"norm": "group", "dp": True,
    "conv_channels": (16, 8)}``."""
    config = {}
    # split on the commas outside brackets, so that "conv_channels=(16,8)" stays whole
    items, depth, current = [], 0, ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    for item in filter(None, items):
        key, _, value = item.partition("=")
        try:
            config[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            config[key.strip()] = value.strip()
    return config


def donor_split(y: np.ndarray, n_per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in np.unique(y)]
    )
    return donor, np.setdiff1d(np.arange(len(y)), donor)


def run_one(config: dict, per_class: int, seed: int, data_dir: str) -> dict:
    import torch
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer

    torch.set_num_threads(1)
    with np.load(Path(data_dir) / "pneumoniamnist_balanced.npz") as data:
        X, y = data["train_images"], data["train_labels"].ravel()
    donor, recipient = donor_split(y, per_class, seed)
    params = {**BASE, "random_state": seed, **config}
    est = DCSAETransformer(**params)
    start = time.perf_counter()
    est.fit(X[donor], y[donor])
    fit_s = time.perf_counter() - start
    svc = SVC().fit(est.transform(X[donor]), y[donor])
    accuracy = float(svc.score(est.transform(X[recipient]), y[recipient]))
    privacy = est.privacy_ or {}
    return {
        "config": config,
        "accuracy": accuracy,
        "fit_s": fit_s,
        "epsilon": privacy.get("epsilon"),
        "delta": privacy.get("delta"),
        "sigma": privacy.get("noise_multiplier"),
        "steps": privacy.get("steps"),
        "n_recipient": len(recipient),
    }


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", type=parse_config, default=None)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", default=str(DATA))
    args = parser.parse_args(argv)
    configs = args.config or DEFAULT_CONFIGS
    jobs = [(c, args.per_class, args.seed, args.data_dir) for c in configs]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            rows = list(pool.map(run_one, *zip(*jobs, strict=True)))
    else:
        rows = [run_one(*job) for job in jobs]
    print(
        f"donor {args.per_class} per class (seed {args.seed}), "
        f"recipient {rows[0]['n_recipient']} images; base {BASE}\n"
    )
    print("| config | recipient accuracy | epsilon | delta | sigma | steps | fit (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        config = ", ".join(f"{k}={v}" for k, v in row["config"].items())
        print(
            f"| {config} | {row['accuracy']:.3f} | {_fmt(row['epsilon'], '.2f')} "
            f"| {_fmt(row['delta'], '.0e')} | {_fmt(row['sigma'], '.3f')} "
            f"| {_fmt(row['steps'], 'd')} | {row['fit_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
