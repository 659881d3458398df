"""Fit speed of DCSAETransformer against a plain PyTorch loop of the same network.

Both train the same ``MultiHeadVAE`` with the same DC-SAE loss, data, batch size, optimiser and
epochs, in the same process, so the ratio is what the sklearn/skorch wrapper costs.

    python benchmarks/bench_fit_speed.py --n-per-class 180 --epochs 3 --arch authors
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from skdcsae import DCSAETransformer
from skdcsae._loss import dcsae_loss_terms
from skdcsae._network import MultiHeadVAE

ARCHS = {
    "authors": {"conv_channels": (128, 64, 32, 16), "dense_sizes": (2048, 1000, 250)},
    "light": {"conv_channels": (32, 16), "dense_sizes": (256,)},
}


def _data(n_per_class: int, path: str | None, seed: int = 0):
    if path:
        with np.load(path) as d:
            X, y = d["train_images"], d["train_labels"].ravel()
        rng = np.random.default_rng(seed)
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in (0, 1)]
        )
        return X[idx], y[idx]
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (2 * n_per_class, 28, 28), dtype=np.uint8), np.repeat(
        [0, 1], n_per_class
    )


def plain_loop(est: DCSAETransformer, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """Train a fresh copy of ``est``'s network with a hand-written loop; seconds per epoch."""
    torch.manual_seed(0)
    module = MultiHeadVAE(est.net_.module_.config)
    opt = torch.optim.Adam(module.parameters(), lr=est.lr)
    Xt = est._to_tensor(X.reshape(len(X), -1))
    yt = torch.as_tensor(np.searchsorted(est.classes_, y), dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    module.train()
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), est.batch_size):
            idx = perm[i : i + est.batch_size]
            xb, yb = Xt[idx], yt[idx]
            mus, logvars = module(xb)
            rows = torch.arange(len(yb))
            z = mus[rows, yb] + torch.randn_like(mus[rows, yb]) * torch.exp(0.5 * logvars[rows, yb])
            terms = dcsae_loss_terms(xb, module.decode(z), mus, logvars, yb, rho=est.rho)
            loss = (
                est.kl_weight * terms["kl"] + est.alpha * terms["mse"] + est.beta * terms["rep"]
            ).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-class", type=int, default=180)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="authors")
    parser.add_argument("--data", default=None, help="PneumoniaMNIST .npz (default: synthetic)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    X, y = _data(args.n_per_class, args.data)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}; {len(X)} images, batch {args.batch_size}, "
        f"arch {args.arch}, {args.epochs} epochs"
    )
    # Warm-up (first-call allocations, thread pools) so that neither side pays for it.
    warm = DCSAETransformer(
        **ARCHS[args.arch], max_epochs=1, batch_size=args.batch_size, device="cpu", random_state=0
    ).fit(X, y)
    plain_loop(warm, X, y, 1)
    rows = []
    for r in range(args.repeats):
        est = DCSAETransformer(
            **ARCHS[args.arch],
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            device="cpu",
            random_state=0,
        )
        start = time.perf_counter()
        est.fit(X, y)
        ours = (time.perf_counter() - start) / args.epochs
        plain = plain_loop(est, X, y, args.epochs)
        rows.append((ours, plain))
        print(
            f"repeat {r}: DCSAETransformer {ours:.2f} s/epoch, plain PyTorch {plain:.2f} "
            f"s/epoch, ratio {ours / plain:.2f}"
        )
    ratios = [ours / plain for ours, plain in rows]
    print(f"median ratio over {len(rows)} repeats: {np.median(ratios):.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
