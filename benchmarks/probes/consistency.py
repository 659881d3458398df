"""Probe for issue #12: a consistency term between two augmented views of each image.

The DC-SAE's augmentation jitters each training image once per step, and only the
reconstruction and the heads' losses see it: nothing asks the encoder to give an image and its
jittered copy the same features, which is what the SVC relies on. Here every training step
draws two views of each image (the library's random affine and gamma, independently), trains
the usual DC-SAE loss on both, and adds ``w`` times the squared distance between the two
views' means, summed over all heads and dimensions and averaged over the images (the
Π-model's consistency, Laine and Aila, ICLR 2017)::

    OMP_NUM_THREADS=1 python benchmarks/probes/consistency.py 10 0,1,2,3 cons0,cons1,cons10

``cons0`` is the two-view step with no consistency term, the control for the doubled batch;
``defaults`` is the unchanged estimator.
``DCSAETransformer(random_state=seed)`` + ``SVC()`` on balanced PneumoniaMNIST with the
benchmark's donor draw (A: the rest of the train split; B: the test split); the probe
subclasses the private skorch net through the ``_training_net_class`` hook, and nothing in the
library changes. ``python benchmarks/probes/consistency.py auc N SEEDS`` refits the
defaults, ``cons1`` and ``cons10`` and also prints each recipient's ROC AUC of the SVC's
decision and the share of images it labels positive (``<recipient>_auc``,
``<recipient>_pos``). Results: ``benchmarks/results/probes/consistency.md`` (``paired.py``
prints the table against the benchmark's ``DC-SAE (defaults)`` rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import balanced_draws, score_from_argv, trained_by

from skdcsae import DCSAETransformer
from skdcsae._nn._augment import augment_images
from skdcsae._nn._nets import _DCSAENet


def _consistency_net(weight: float) -> type:
    class _ConsistencyNet(_DCSAENet):
        def train_step_single(self, batch, **fit_params):
            Xi, yi = unpack_data(batch)
            Xi = to_tensor(Xi, device=self.device)
            yi = to_tensor(yi, device=self.device)
            if not (self.augment and Xi.ndim == 4 and len(Xi)):
                return super().train_step_single(batch, **fit_params)
            n = len(Xi)
            views = [augment_images(Xi, self.augment_generator_, self.augment) for _ in "ab"]
            X, y = torch.cat(views), torch.cat([yi, yi])
            self._set_training(True)
            y_pred = self.infer(X, **fit_params)
            loss = self.get_loss(y_pred, y, X=X, training=True)
            mus = y_pred[0]
            loss = loss + weight * (mus[:n] - mus[n:]).pow(2).sum(dim=(1, 2)).mean()
            loss.backward()
            return {"loss": loss, "y_pred": y_pred}

    return _ConsistencyNet


def make_estimator(name: str, seed: int):
    if name == "defaults":
        return DCSAETransformer(random_state=seed, device="cpu")
    if not name.startswith("cons"):
        raise SystemExit(f"unknown config {name!r}; use cons<w>")
    return trained_by(_consistency_net(float(name[4:])), name, seed)


def side_check(n: int, seeds: list[int]) -> None:
    """Accuracy, ROC AUC and the share labelled positive, for the defaults and two weights."""
    import json

    from sklearn.metrics import roc_auc_score
    from sklearn.svm import SVC

    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        for name in ("defaults", "cons1", "cons10"):
            est = make_estimator(name, seed)
            svc = SVC().fit(est.fit_transform(X_donor, y_donor), y_donor)
            row = {"config": name, "n": n, "seed": seed}
            for recipient, (X, y) in sets.items():
                decision = svc.decision_function(est.transform(X))
                labels = (decision > 0).astype(int)
                row[recipient] = round(float((labels == y).mean()), 4)
                row[f"{recipient}_auc"] = round(float(roc_auc_score(y, decision)), 4)
                row[f"{recipient}_pos"] = round(float(labels.mean()), 3)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "auc":
        side_check(int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")])
    else:
        score_from_argv(make_estimator)
