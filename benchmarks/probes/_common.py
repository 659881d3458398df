"""Shared machinery of the accuracy probes (issue #12). Experiments only: the package is untouched.

The DC-SAE is trained here with a plain PyTorch loop over the package's own module
(``skdcsae._network.MultiHeadVAE``) and loss (``skdcsae._loss.dcsae_loss_terms``), so that new
training ideas (on-the-fly augmentation, cosine LR, weight decay, unlabelled rows, ensembles)
can be prototyped without editing the estimator. ``cfg["impl"] == "pkg"`` trains through
``DCSAETransformer`` itself instead, as a check that the loop reproduces the package.

Data, donor sampling and recipient sets are imported from ``benchmarks/run.py``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from run import (  # noqa: E402
    scores,
)
from skdcsae._loss import dcsae_loss_terms, kl_to_standard_normal, reconstruction_error  # noqa: E402
from skdcsae._network import MultiHeadVAE, make_config  # noqa: E402

RESULTS = HERE.parent / "results" / "probes"
torch.set_num_threads(1)

# The old default of the benchmark (light net, paper loss, lr 1e-3, 50 epochs, d=2).
BASE = {
    "impl": "loop",
    "conv_channels": (32, 16),
    "dense_sizes": (256,),
    "batch_size": 16,
    "n_components": 2,
    "alpha": 10.0,
    "beta": 10.0,
    "rho": 5.0,
    "rho_per_dim": None,  # if set: rho = rho_per_dim * n_components
    "lr": 1e-3,
    "weight_decay": 0.0,
    "cosine": False,
    "epochs": 50,
    "min_steps": 0,  # at least this many optimiser steps (small donors get more epochs)
    "aug": None,  # None or {"rot": deg, "shift": fraction of the side, "scale": frac}
    "K": 1,  # encoders trained per (n, seed): members of an ensemble
    "semi": None,  # objective of the -1 rows: None, "lse", "recon"
    "semi_weight": 1.0,
}


def seed_all(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# augmentation: small random affine, on the fly, per image
# ---------------------------------------------------------------------------------------------
def random_affine(x: torch.Tensor, aug: dict, gen: torch.Generator) -> torch.Tensor:
    """Rotate by U(-rot, rot) degrees, scale by U(1-scale, 1+scale), shift by U(-shift, shift)
    times the image side (a fraction, so the same setting suits 28x28 and 224x224), per image,
    with border padding (bilinear). ``x``: (n, C, H, W)."""
    n, _, h, w = x.shape
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    ang = u[:, 0] * math.radians(aug.get("rot", 0.0))
    s = 1.0 + u[:, 1] * aug.get("scale", 0.0)
    tx = u[:, 2] * aug.get("shift", 0.0) * 2.0  # normalised coords span 2 over the side
    ty = u[:, 3] * aug.get("shift", 0.0) * 2.0
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(
        x.dtype
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
class Member:
    """One trained encoder with its input scaling."""

    def __init__(self, module, offset, scale, shape):
        self.module, self.offset, self.scale, self.shape = module, offset, scale, shape

    def tensor(self, X) -> torch.Tensor:
        Xs = (np.asarray(X, dtype=np.float32).reshape(len(X), -1) - self.offset) / self.scale
        return torch.from_numpy(np.ascontiguousarray(Xs)).reshape(-1, *self.shape)

    @torch.no_grad()
    def features(self, X, aug=None, n_views=0, seed=0, batch=512) -> np.ndarray:
        """All heads' means, concatenated. With ``n_views`` > 0: mean over the identity view and
        ``n_views`` augmented views (test-time augmentation, seeded)."""
        self.module.eval()
        gen = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, len(X), batch):
            xb = self.tensor(X[i : i + batch])
            mu, _ = self.module(xb)
            acc = mu.reshape(len(xb), -1)
            if n_views:
                for _ in range(n_views):
                    mu_v, _ = self.module(random_affine(xb, aug, gen))
                    acc = acc + mu_v.reshape(len(xb), -1)
                acc = acc / (n_views + 1)
            out.append(acc.numpy())
        return np.concatenate(out).astype(np.float64)


def _rho(cfg) -> float:
    if cfg.get("rho_per_dim"):
        return float(cfg["rho_per_dim"]) * cfg["n_components"]
    return float(cfg["rho"])


def train_member(X, y_index, n_classes, cfg, seed, X_unl=None) -> tuple[Member, float]:
    """Train one DC-SAE encoder with a plain loop. ``X``: (n, H, W) uint8; ``y_index`` in
    [0, K); ``X_unl``: optional unlabelled images (the -1 rows). Returns (member, seconds)."""
    t0 = time.perf_counter()
    if cfg["impl"] == "pkg":
        from skdcsae import DCSAETransformer

        est = DCSAETransformer(
            n_components=cfg["n_components"],
            alpha=cfg["alpha"],
            beta=cfg["beta"],
            rho=_rho(cfg),
            lr=cfg["lr"],
            conv_channels=cfg["conv_channels"],
            dense_sizes=cfg["dense_sizes"],
            batch_size=cfg["batch_size"],
            max_epochs=cfg["epochs"],
            device="cpu",
            random_state=seed,
        ).fit(X, y_index)
        m = Member(est.net_.module_, est.input_offset_, est.input_scale_, est.image_shape_)
        return m, time.perf_counter() - t0
    gen = seed_all(seed)
    X_all = X if X_unl is None else np.concatenate([X, X_unl])
    offset, scale = np.float32(X_all.min()), np.float32(X_all.max() - X_all.min())
    shape = (1, *X.shape[1:])
    config = make_config(
        input_shape=shape,
        conv_channels=cfg["conv_channels"],
        dense_sizes=cfg["dense_sizes"],
        latent_dim=cfg["n_components"],
        n_heads=n_classes,
        norm="batch",
    )
    module = MultiHeadVAE(config)
    member = Member(module, offset, scale, shape)
    Xt = member.tensor(X)
    yt = torch.as_tensor(y_index, dtype=torch.long)
    Ut = member.tensor(X_unl) if X_unl is not None else None
    opt = torch.optim.Adam(module.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    bs = cfg["batch_size"]
    n = len(Xt)
    steps_per_epoch = math.ceil(n / bs)
    epochs = max(cfg["epochs"], math.ceil(cfg["min_steps"] / steps_per_epoch))
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total) if cfg["cosine"] else None
    rho, aug = _rho(cfg), cfg["aug"]
    w = {"kl": 1.0, "mse": cfg["alpha"], "rep": cfg["beta"]}
    ubs = bs  # unlabelled rows per step, drawn at random from the pool
    module.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            xb, yb = Xt[idx], yt[idx]
            if aug:
                xb = random_affine(xb, aug, gen)
            if Ut is not None and cfg["semi"]:
                ub = Ut[torch.randint(len(Ut), (ubs,), generator=gen)]
                if aug:
                    ub = random_affine(ub, aug, gen)
                xcat = torch.cat([xb, ub])
                mus_all, lv_all = module(xcat)
                mus, logvars = mus_all[: len(xb)], lv_all[: len(xb)]
            else:
                mus, logvars = module(xb)
            rows = torch.arange(len(yb))
            mu, lv = mus[rows, yb], logvars[rows, yb]
            z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * lv)
            terms = dcsae_loss_terms(xb, module.decode(z), mus, logvars, yb, rho=rho)
            loss = sum(w[k] * terms[k] for k in w).mean()
            if Ut is not None and cfg["semi"]:
                loss = loss + cfg["semi_weight"] * unlabelled_loss(
                    module, ub, mus_all[len(xb) :], lv_all[len(xb) :], cfg, rho, w, gen
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    module.eval()
    return member, time.perf_counter() - t0


def unlabelled_loss(module, x, mus, logvars, cfg, rho, w, gen) -> torch.Tensor:
    """Loss of unlabelled rows.

    ``lse``: the label is a latent variable; the per-label DC-SAE loss L_l(x) (the negative
    bound with label l) is marginalised with a uniform prior: -log mean_l exp(-L_l(x)), i.e. a
    soft minimum over hypotheses, whose gradient weights each hypothesis by its posterior
    softmax(-L_l). ``recon``: reconstruction through every head (weighted by the posterior
    from the reconstruction error alone) and no KL/repulsion (label-free representation only).
    """
    n, k, _ = mus.shape
    per_label = []
    for lab in range(k):
        yl = torch.full((n,), lab, dtype=torch.long)
        mu, lv = mus[:, lab], logvars[:, lab]
        z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * lv)
        x_hat = module.decode(z).view_as(x)
        if cfg["semi"] == "lse":
            t = dcsae_loss_terms(x, x_hat, mus, logvars, yl, rho=rho)
            per_label.append(sum(w[kk] * t[kk] for kk in w))
        else:
            per_label.append(
                w["mse"] * reconstruction_error(x, x_hat) + kl_to_standard_normal(mu, lv)
            )
    L = torch.stack(per_label, 1)  # (n, K)
    return (-torch.logsumexp(-L, dim=1) + math.log(k)).mean()


def train_members(X, y_index, n_classes, cfg, seed, X_unl=None):
    members, secs = [], []
    for m in range(cfg["K"]):
        member, s = train_member(X, y_index, n_classes, cfg, seed * 1000 + m, X_unl)
        members.append(member)
        secs.append(s)
    return members, secs


# ---------------------------------------------------------------------------------------------
# recipient side: classifiers on member features
# ---------------------------------------------------------------------------------------------
def svc_variants():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return {
        "svc": lambda: SVC(),
        "std_svc": lambda: make_pipeline(StandardScaler(), SVC()),
    }


def evaluate(members, Xd, yd, recipients, *, tta_aug=None, tta_views=0, seed=0) -> dict:
    """Scores of single member 0 and of the K-member ensemble, per classifier variant and
    recipient. Returns ``{(variant, recipient): {"single": scores, "ens": scores,
    "cat": scores}}`` plus TTA variants when asked."""
    out = {}
    views = [(0, "")] + ([(tta_views, "_tta")] if tta_views else [])
    for nv, suffix in views:
        Fd = [m.features(Xd) for m in members]  # donor features: no TTA (kit is fixed)
        Fr = {
            r: [m.features(Xr, tta_aug, nv, seed + 7) for m in members]
            for r, (Xr, _) in recipients.items()
        }
        for vname, make in svc_variants().items():
            clfs = [make().fit(F, yd) for F in Fd]
            cat = make().fit(np.concatenate(Fd, 1), yd)
            for r, (_, yr) in recipients.items():
                dec = np.stack([c.decision_function(F) for c, F in zip(clfs, Fr[r])])
                res = {"single": scores(yr, (dec[0] > 0).astype(int), dec[0])}
                if len(members) > 1:
                    # expected single-encoder score: every member's own score, averaged
                    each = [scores(yr, (dk > 0).astype(int), dk) for dk in dec]
                    res["member_mean"] = {k: float(np.mean([e[k] for e in each])) for k in each[0]}
                    d = dec.mean(0)
                    res["ens"] = scores(yr, (d > 0).astype(int), d)
                    Fc = np.concatenate(Fr[r], 1)
                    dc = cat.decision_function(Fc)
                    res["cat"] = scores(yr, (dc > 0).astype(int), dc)
                out[(vname + suffix, r)] = res
    return out


def pixels_pca(Xd, yd, recipients, seed) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    model = Pipeline([("pca", PCA(n_components=0.95, random_state=seed)), ("svc", SVC())])
    model.fit(Xd.reshape(len(Xd), -1), yd)
    res = {}
    for r, (Xr, yr) in recipients.items():
        Xf = Xr.reshape(len(Xr), -1)
        res[r] = scores(yr, model.predict(Xf), model.decision_function(Xf))
    return res


def stamp() -> dict:
    return {"host_load": round(os.getloadavg()[0], 2), "time": time.strftime("%H:%M:%S")}
