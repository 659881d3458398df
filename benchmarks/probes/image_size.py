"""Probe for issue #12: do the defaults hold up on larger images, with no sizing by the user?

Issue #12 asks that the default net suit the image size, so that 28x28 and 224x224 images both
work well. The only real data here is 28x28, so this probe enlarges it: every image, the donor's
and the recipient's, is resized to ``side x side`` (bilinear, then rounded back to 8-bit grey
levels, as an image file would hold it). Enlarging adds no information, so a net that suits the
size should score about what it scores at 28x28 on the same draw; a drop is what the larger net
costs. ``DCSAETransformer(random_state=seed)`` + ``SVC()`` at its defaults, and pixels
PCA(0.95) + SVC, on balanced PneumoniaMNIST with the benchmark's donor draw; A is the rest of the
train split, B the test split. One JSON row per (side, n, seed, method)::

    OMP_NUM_THREADS=1 python benchmarks/probes/image_size.py 64 10 0,1,2,3 [alpha10|per_pixel]

The loss sums the reconstruction error over the pixels, so at ``side x side`` it weighs
``(side / 28) ** 2`` times what it weighs at 28x28 against the latent terms. A fourth
argument fits only the DC-SAE, with a fixed ``alpha``: ``alpha10`` is 10, the default until
``alpha="auto"`` (method ``dcsae_alpha10``), and ``per_pixel`` is ``10 * 784 / values``, the
reconstruction's weight per image of a 28x28 grey image (method ``dcsae_alpha784``), which
``"auto"`` gives for any input larger than that. ``per_pixel_light`` is ``per_pixel`` with the
28x28 net's two conv stages, ``conv_channels=(32, 16)``, at any size (method
``dcsae_alpha784_light``).

A side written ``28rgb`` keeps the size and repeats the grey channel three times, as a colour
file of a grey image holds it: ``(n, 3, 28, 28)``, again no new information.

The 28x28 baseline is the benchmark's own rows (``DC-SAE (defaults)`` and ``Pixels PCA + SVC``
in ``benchmarks/results/accuracy.jsonl``). Results: ``benchmarks/results/probes/image_size.md``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws

from skdcsae import DCSAETransformer
from skdcsae._nn import auto_alpha


def enlarge(X: np.ndarray, side: int, batch: int = 256) -> np.ndarray:
    """``(n, 28, 28)`` uint8 -> ``(n, side, side)`` uint8, bilinear, in batches."""
    out = np.empty((len(X), side, side), dtype=np.uint8)
    for start in range(0, len(X), batch):
        x = torch.as_tensor(X[start : start + batch], dtype=torch.float32).unsqueeze(1)
        y = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        out[start : start + batch] = y.squeeze(1).round().clamp(0, 255).to(torch.uint8).numpy()
    return out


#: fourth argument -> (method name, estimator parameters for inputs of ``values`` values);
#: every probed input has more than 784 values, where ``auto_alpha`` is ``10 * 784 / values``
SETTINGS = {
    "": ("dcsae", lambda values: {}),
    "alpha10": ("dcsae_alpha10", lambda values: {"alpha": 10.0}),
    "per_pixel": ("dcsae_alpha784", lambda values: {"alpha": auto_alpha(values)}),
    "per_pixel_light": (
        "dcsae_alpha784_light",
        lambda values: {"alpha": auto_alpha(values), "conv_channels": (32, 16)},
    ),
}


def resize(X: np.ndarray, side: str) -> np.ndarray:
    """``enlarge`` to ``int(side)``, or three equal channels for ``"<side>rgb"``."""
    if side.endswith("rgb"):
        return np.repeat(enlarge(X, int(side[:-3]))[:, None], 3, axis=1)
    return enlarge(X, int(side))


def main(side: str, n: int, seeds: list[int], alpha: str = "") -> None:
    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        X_donor = resize(X_donor, side)
        sets = {name: (resize(X, side), y) for name, (X, y) in sets.items()}
        t0 = time.perf_counter()
        method, params = SETTINGS[alpha]
        est = DCSAETransformer(random_state=seed, device="cpu", **params(X_donor[0].size))
        svc = SVC().fit(est.fit_transform(X_donor, y_donor), y_donor)
        row = {"side": side, "n": n, "seed": seed, "method": method}
        row["fit_s"] = round(time.perf_counter() - t0, 1)
        row["conv_channels"] = list(est.net_.module_.config["conv_channels"])
        for name, (X, y) in sets.items():
            row[name] = round(accuracy_score(y, svc.predict(est.transform(X))), 4)
        print(json.dumps(row), flush=True)
        if alpha:
            continue
        flat = X_donor.reshape(len(X_donor), -1).astype(np.float64)
        pixels = make_pipeline(PCA(0.95, random_state=seed), SVC()).fit(flat, y_donor)
        row = {"side": side, "n": n, "seed": seed, "method": "pixels"}
        for name, (X, y) in sets.items():
            row[name] = round(accuracy_score(y, pixels.predict(X.reshape(len(X), -1))), 4)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    alpha = sys.argv[4] if len(sys.argv) > 4 else ""
    if alpha not in SETTINGS:
        raise SystemExit(f"unknown setting {alpha!r}: one of {sorted(SETTINGS)[1:]}")
    main(sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], alpha)
