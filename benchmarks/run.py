"""Reproduce the paper's Figure 3 on PneumoniaMNIST and measure speed (resumable).

Subcommands
-----------
accuracy
    Fit every method on ``n`` donor images per class for each donor size and seed, and score it
    on every recipient set. Each finished (dataset, method, n, seed, recipient) appends one JSON
    line to ``--results``; a rerun skips the rows already there. One fit serves all recipient
    sets, and one DC-SAE fit serves both feature modes (``feature_mode`` does not affect
    training, see :func:`dcsae_feature_sets`).
speed
    Fit speed against a plain PyTorch loop, labelling throughput against raw ``torch.no_grad()``
    inference, peak memory of labelling in subprocesses, and scaling with donor and recipient
    size. Rows go to ``--results`` (JSON lines), keyed by ``bench`` and its configuration.
report
    Markdown tables (mean +- SEM over seeds) and the Figure-3-style PNG from the results files.

Examples
--------
::

    OMP_NUM_THREADS=1 python benchmarks/run.py accuracy --workers 2
    OMP_NUM_THREADS=1 python benchmarks/run.py speed
    python benchmarks/run.py report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = Path(os.environ.get("SKDCSAE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))

SIZES = (10, 20, 40, 60, 80, 100, 120, 150, 180)
SEEDS = (0, 1, 2, 3)
# The light conv net (documented in DCSAETransformer) and the paper's loss hyperparameters.
LIGHT = {"conv_channels": (32, 16), "dense_sizes": (256,), "batch_size": 16}
PAPER = {"n_components": 2, "alpha": 10.0, "beta": 10.0, "rho": 5.0, "lr": 1e-3}
# ... trained as before the current defaults: --epochs epochs, constant lr, no augmentation
PREVIOUS = {**PAPER, "min_steps": 0, "lr_schedule": "constant", "augment": False}
AUTHORS = {"conv_channels": (128, 64, 32, 16), "dense_sizes": (2048, 1000, 250)}

# Fit groups: one fit per (group, dataset, n, seed); each yields rows for these methods.
GROUP_METHODS = {
    # DCSAETransformer() as shipped: + SVC in a Pipeline, and through a donor kit (default
    # release) and RecipientLabeler's default classifier, from the same fit; "adapted":
    # RecipientLabeler(kit).fit(X) with the recipient's own (unlabelled) images
    "defaults": ("DC-SAE (defaults)", "DC-SAE (defaults, kit)", "DC-SAE (defaults, kit, adapted)"),
    # the semi-supervised track (balanced file only): the donor also holds POOL unlabelled
    # train images; recipient "A_pool" = the train split minus donor and pool
    "pool": ("DC-SAE (defaults, + unlabelled pool)", "Pixels PCA on the pool + SVC"),
    # the previous defaults: light net, the paper's loss, 50 epochs (--epochs)
    "dcsae": ("DC-SAE (means)", "DC-SAE (paper Alg. 1)"),
    "pixels": ("Pixels PCA + SVC",),
    "vae": ("VAE + SVC",),
    "anomaly": ("Anomaly VAE",),
    "resnet": ("ResNet-18 (skyline)",),
}
DATASETS = {
    "balanced": "pneumoniamnist_balanced.npz",
    "official": "pneumoniamnist.npz",
}
KEY = ("dataset", "method", "n", "seed", "recipient")
POOL = 1000  # unlabelled donor images of the semi-supervised track


def pool_split(y_train, donor: np.ndarray, seed: int, size: int = POOL):
    """The pool (``size`` train images outside the donor's) and the rest of the train split."""
    rng = np.random.default_rng([seed, 1])
    rest = np.setdiff1d(np.arange(len(y_train)), donor)
    pool = np.sort(rng.choice(rest, min(size, len(rest) // 2), replace=False))
    return pool, np.setdiff1d(rest, pool)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def machine_info() -> dict:
    """CPU model, core count, torch/Python versions and the git commit, for every results file.

    Returns
    -------
    info : dict
        ``cpu``, ``cores``, ``torch``, ``python``, ``commit`` and ``threads``.
    """
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        library_commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "skdcsae"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = library_commit = "unknown"
    return {
        "library_commit": library_commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": commit,
        "threads": torch.get_num_threads(),
    }


def read_rows(path: Path) -> list[dict]:
    """All JSON rows of a results file (missing file: none; a torn last line is ignored).

    Parameters
    ----------
    path : Path
        JSON-lines file.

    Returns
    -------
    rows : list of dict
    """
    if not Path(path).is_file():
        return []
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_rows(path: Path, rows: list[dict]) -> None:
    """Append rows as JSON lines, flushed, so an interrupted run keeps what finished."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_dataset(name: str, data_dir: Path = DATA):
    """Train and test images and labels of a staged PneumoniaMNIST file (indexed by key)."""
    with np.load(Path(data_dir) / DATASETS[name]) as d:
        return (
            d["train_images"],
            d["train_labels"].ravel().astype(int),
            d["test_images"],
            d["test_labels"].ravel().astype(int),
        )


def donor_indices(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices per class, drawn without replacement with ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c in np.unique(y)])
    )


def recipient_sets(dataset: str, X_train, y_train, X_test, y_test, donor: np.ndarray) -> dict:
    """Recipient sets of a dataset: ``{name: (X, y)}``.

    Balanced file: ``A`` = the rest of the train split (the paper's setting), ``B`` = the test
    split. Official file: ``official_test`` = the official (imbalanced) test split.
    """
    if dataset == "official":
        return {"official_test": (X_test, y_test)}
    rest = np.setdiff1d(np.arange(len(y_train)), donor)
    return {"A": (X_train[rest], y_train[rest]), "B": (X_test, y_test)}


def scores(y_true, y_pred, y_score) -> dict:
    """Accuracy, balanced accuracy and ROC AUC (the score ranks class 1 = pneumonia)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(y_true, y_score)),
    }


def dcsae_feature_sets(est, X_donor, y_donor):
    """Donor features of both modes from one fitted ``DCSAETransformer``.

    ``feature_mode`` only changes what ``transform``/``fit_transform`` return, not training, so
    one fit serves both. "paper" donor features are exactly what
    ``DCSAETransformer(feature_mode="paper").fit_transform`` returns after the fit (samples of
    each image's true-label head, seeded with offset 0, as in ``_dcsae.py``); the recipient side
    is ``set_params(feature_mode="paper").transform``. ``tests/test_benchmarks.py`` checks the
    equality against a separate "paper" fit.

    Returns
    -------
    feats : dict
        ``{"means": F_means, "paper": F_paper}``.
    """
    means = est.set_params(feature_mode="means").transform(X_donor)
    Xv, dtype = est._validate_transform_input(X_donor)
    y_index = np.searchsorted(est.classes_, np.asarray(y_donor).ravel())
    if hasattr(est, "_true_head_samples"):  # main after the kit merge
        paper = est._true_head_samples(Xv, y_index).astype(dtype)
    else:
        mus, logvars = est._encode(Xv)
        rows = np.arange(len(y_index))
        paper = est._sample(mus[rows, y_index], logvars[rows, y_index], offset=0).astype(dtype)
    return {"means": means, "paper": paper}


# --------------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------------
def run_unit(unit: dict) -> list[dict]:
    """Fit one (group, dataset, n, seed) and score it on every recipient set.

    Parameters
    ----------
    unit : dict
        ``group``, ``dataset``, ``n``, ``seed``, ``epochs``, ``resnet_epochs``, ``data_dir``.

    Returns
    -------
    rows : list of dict
        One row per (method, recipient set).
    """
    import torch
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from skdcsae import (
        AnomalyVAEClassifier,
        AnomalyVAETransformer,
        DCSAETransformer,
        ResNet18Classifier,
        VAETransformer,
    )

    torch.set_num_threads(unit.get("threads", 1))
    group, dataset, n, seed = unit["group"], unit["dataset"], unit["n"], unit["seed"]
    X_train, y_train, X_test, y_test = load_dataset(dataset, unit["data_dir"])
    donor = donor_indices(y_train, n, seed)
    Xd, yd = X_train[donor], y_train[donor]
    recipients = recipient_sets(dataset, X_train, y_train, X_test, y_test, donor)
    deep = {**LIGHT, "max_epochs": unit["epochs"], "device": "cpu", "random_state": seed}
    start = time.perf_counter()
    epochs = unit["resnet_epochs"] if group == "resnet" else unit["epochs"]
    models = {}  # method -> (predict, score) callables on recipient images
    if group == "pool":
        pool, rest = pool_split(y_train, donor, seed)
        recipients = {"A_pool": (X_train[rest], y_train[rest]), "B": (X_test, y_test)}
        Xu = X_train[pool]
        y_all = np.concatenate([yd, np.full(len(pool), -1, dtype=np.asarray(yd).dtype)])
        steps = {} if unit.get("min_steps") is None else {"min_steps": unit["min_steps"]}
        est = DCSAETransformer(**steps, device="cpu", random_state=seed)
        est.fit(np.concatenate([Xd, Xu]), y_all)
        svc = SVC().fit(est.transform(Xd), yd)

        def predict(X, est=est, svc=svc):
            F = est.transform(X)
            return svc.predict(F), svc.decision_function(F)

        flat = np.concatenate([Xu, Xd]).reshape(len(Xu) + len(Xd), -1).astype(np.float64)
        pca = PCA(n_components=0.95, random_state=seed).fit(flat)
        pca_svc = SVC().fit(pca.transform(Xd.reshape(len(Xd), -1)), yd)

        def pixels(X, pca=pca, svc=pca_svc):
            F = pca.transform(X.reshape(len(X), -1))
            return svc.predict(F), svc.decision_function(F)

        models = dict(zip(GROUP_METHODS["pool"], (predict, pixels), strict=True))
        epochs = int(est.n_iter_)
    elif group == "defaults":
        import tempfile

        from skdcsae import RecipientLabeler

        steps = {} if unit.get("min_steps") is None else {"min_steps": unit["min_steps"]}
        est = DCSAETransformer(**steps, device="cpu", random_state=seed).fit(Xd, yd)
        svc = SVC().fit(est.transform(Xd), yd)

        def predict(X, est=est, svc=svc):
            F = est.transform(X)
            return svc.predict(F), svc.decision_function(F)

        with tempfile.TemporaryDirectory() as tmp:
            kit = Path(tmp) / "kit.joblib"
            est.export_donor_kit(kit, Xd, yd)
            labeler = RecipientLabeler(kit, device="cpu").fit()

        def label(X, labeler=labeler):
            result = labeler.label(X)
            return result.labels, result.proba[:, 1]

        def adapted(X, kit=labeler.kit_):  # semi-supervised on the recipient's own images
            result = RecipientLabeler(kit, device="cpu").fit(X).label(X)
            return result.labels, result.proba[:, 1]

        models = dict(zip(GROUP_METHODS["defaults"], (predict, label, adapted), strict=True))
        epochs = int(est.n_iter_)  # max(50, the epochs that make 1500 steps)
    elif group == "dcsae":
        est = DCSAETransformer(**PREVIOUS, **deep).fit(Xd, yd)
        feats = dcsae_feature_sets(est, Xd, yd)
        for mode, method in zip(("means", "paper"), GROUP_METHODS["dcsae"], strict=True):
            svc = SVC().fit(feats[mode], yd)

            def predict(X, svc=svc, mode=mode):
                F = est.set_params(feature_mode=mode).transform(X)
                return svc.predict(F), svc.decision_function(F)

            models[method] = predict
    else:
        if group == "pixels":
            model = Pipeline([("pca", PCA(n_components=0.95, random_state=seed)), ("svc", SVC())])
            model.fit(Xd.reshape(len(Xd), -1), yd)
        elif group == "vae":
            vae = VAETransformer(n_components=PAPER["n_components"], lr=PAPER["lr"], **deep)
            model = Pipeline([("vae", vae), ("svc", SVC())]).fit(Xd, yd)
        elif group == "anomaly":
            vae = AnomalyVAETransformer(n_components=PAPER["n_components"], lr=PAPER["lr"], **deep)
            model = AnomalyVAEClassifier(vae).fit(Xd, yd)
        elif group == "resnet":
            model = ResNet18Classifier(
                width=16,
                batch_size=LIGHT["batch_size"],
                max_epochs=unit["resnet_epochs"],
                device="cpu",
                random_state=seed,
            ).fit(Xd, yd)
        else:
            raise ValueError(f"unknown method group {group!r}")

        def predict(X, model=model):
            if group == "pixels":
                X = X.reshape(len(X), -1)
            if hasattr(model, "decision_function"):
                score = model.decision_function(X)
            else:
                score = model.predict_proba(X)[:, 1]
            return model.predict(X), score

        models[GROUP_METHODS[group][0]] = predict
    fit_s = time.perf_counter() - start
    rows = []
    for method, predict in models.items():
        for rname, (Xr, yr) in recipients.items():
            t0 = time.perf_counter()
            y_pred, y_score = predict(Xr)
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "n": n,
                    "seed": seed,
                    "recipient": rname,
                    "n_recipient": len(yr),
                    **scores(yr, y_pred, y_score),
                    "fit_s": round(fit_s, 2),
                    "label_s": round(time.perf_counter() - t0, 3),
                    "epochs": epochs,
                    "library": library_info(),
                }
            )
    return rows


def row_key(row: dict) -> tuple:
    """What identifies an accuracy row: its values of ``KEY``."""
    return tuple(row[k] for k in KEY)


def plan_units(args, done: set[tuple]) -> list[dict]:
    """The work in priority order (see ``--order``), without units whose rows all are in ``done``.

    Default order: every phase runs seed by seed over all sizes, so a cut-off run still has
    whole curves. Phases: DC-SAE and pixels on the balanced file, then the VAE and anomaly VAE
    baselines, then the ResNet skyline, then the official file in the same order.
    """
    units = []
    for dataset in args.datasets:
        for phase in args.order:
            groups = [g for g in phase.split("+") if g in args.groups]
            for seed in args.seeds:
                for n in args.sizes:
                    for group in groups:
                        if group == "pool" and dataset != "balanced":
                            continue
                        rnames = ("official_test",) if dataset == "official" else ("A", "B")
                        rnames = ("A_pool", "B") if group == "pool" else rnames
                        keys = [
                            (dataset, m, n, seed, r) for m in GROUP_METHODS[group] for r in rnames
                        ]
                        if all(k in done for k in keys):
                            continue
                        units.append(
                            {
                                "group": group,
                                "dataset": dataset,
                                "n": n,
                                "seed": seed,
                                "epochs": args.epochs,
                                "resnet_epochs": args.resnet_epochs,
                                "min_steps": args.min_steps,
                                "data_dir": str(args.data_dir),
                                "threads": args.threads,
                            }
                        )
    return units


def _unit_and_rows(unit: dict) -> tuple[dict, list[dict]]:
    return unit, run_unit(unit)


def cmd_accuracy(args) -> None:
    """Run the planned units (``--workers`` processes), appending rows as each finishes."""
    done = {row_key(r) for r in read_rows(args.results)}
    units = plan_units(args, done)
    print(f"{len(units)} fits to run -> {args.results}", flush=True)
    if not units:
        return
    start = time.perf_counter()
    if args.workers > 1:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.workers, maxtasksperchild=20)
        results = pool.imap_unordered(_unit_and_rows, units)  # write each as soon as it ends
    else:
        pool, results = None, map(_unit_and_rows, units)
    for i, (unit, rows) in enumerate(results, 1):
        # a unit re-fitted for a missing method also scores its other methods: keep those once
        append_rows(args.results, [r for r in rows if row_key(r) not in done])
        accs = ", ".join(f"{r['method']}/{r['recipient']} {r['accuracy']:.3f}" for r in rows)
        print(
            f"[{i}/{len(units)} {time.perf_counter() - start:7.0f}s] {unit['dataset']} "
            f"{unit['group']} n={unit['n']} seed={unit['seed']} fit {rows[0]['fit_s']:.1f}s: "
            f"{accs}",
            flush=True,
        )
    if pool is not None:
        pool.close()
        pool.join()


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------
def _synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n) % 2


def plain_epoch_seconds(est, X, y, epochs: int, device: str = "cpu") -> list[float]:
    """Train a fresh copy of ``est``'s network with a hand-written PyTorch loop on ``device``;
    the seconds of each epoch.

    Same module class and config, DC-SAE loss with the fitted weights (``alpha_``, the margin
    ``est`` used), Adam and lr, batch size, shuffling per epoch and pre-scaled float32 tensors
    as ``DCSAETransformer.fit``, and the same work per batch where ``est`` asks for it: the
    random affine and gamma augmentation of every training batch and the per-batch cosine
    learning-rate decay. No skorch, no history, no callbacks. On CUDA each epoch's clock
    starts and stops after a synchronize.
    """
    import math

    import torch

    from skdcsae._nn._augment import augment_images, check_augmentation
    from skdcsae._nn._loss import dcsae_loss_terms
    from skdcsae._nn._modules import MultiHeadVAE

    def sync():
        if str(device).startswith("cuda"):
            torch.cuda.synchronize()

    torch.manual_seed(0)
    module = MultiHeadVAE(est.net_.module_.config).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=est.lr)
    Xt = est._to_tensor(X.reshape(len(X), -1)).to(device)
    yt = torch.as_tensor(np.searchsorted(est.classes_, y), dtype=torch.long, device=device)
    g = torch.Generator().manual_seed(0)
    augment = check_augmentation(getattr(est, "augment", False)) if Xt.ndim == 4 else None
    rho = est._rho() if hasattr(est, "_rho") else est.rho
    alpha = getattr(est, "alpha_", est.alpha)  # the resolved weight when alpha="auto"
    cosine = getattr(est, "lr_schedule", "constant") == "cosine"
    total_steps = epochs * math.ceil(len(Xt) / est.batch_size)
    step = 0
    module.train()
    times = []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        perm = torch.randperm(len(Xt), generator=g).to(device)
        for i in range(0, len(Xt), est.batch_size):
            idx = perm[i : i + est.batch_size]
            xb, yb = Xt[idx], yt[idx]
            if augment:
                xb = augment_images(xb, g, augment)
            if cosine:
                for group in opt.param_groups:
                    group["lr"] = 0.5 * est.lr * (1 + math.cos(math.pi * step / total_steps))
            step += 1
            mus, logvars = module(xb)
            rows = torch.arange(len(yb), device=device)
            mu, lv = mus[rows, yb], logvars[rows, yb]
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
            terms = dcsae_loss_terms(xb, module.decode(z), mus, logvars, yb, rho=rho)
            loss = (
                est.kl_weight * terms["kl"] + alpha * terms["mse"] + est.beta * terms["rep"]
            ).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - start)
    return times


def plain_fit_seconds(est, X, y, epochs: int) -> float:
    """Seconds per epoch of :func:`plain_epoch_seconds` on the CPU, over all ``epochs``."""
    return sum(plain_epoch_seconds(est, X, y, epochs)) / epochs


def raw_encode_throughput(est, X: np.ndarray, batch_size: int, svc=None) -> float:
    """Images/s of raw ``torch.no_grad()`` inference of ``est``'s encoder (same scaling).

    With ``svc``, the features (all heads' means) are also classified, as a labeller does.
    """
    import torch

    module = est.net_.module_
    module.eval()
    offset, scale = est.input_offset_, est.input_scale_
    start = time.perf_counter()
    outs = []
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            xb = (X[i : i + batch_size].astype(np.float32) - offset) / scale
            mu, _ = module(torch.from_numpy(xb).reshape(-1, 1, 28, 28))
            outs.append(mu.reshape(len(xb), -1).numpy())
    feats = np.concatenate(outs)
    if svc is not None:
        svc.predict(feats)
    return len(X) / (time.perf_counter() - start)


def labeller(mode: str, workdir: Path, config: str = "previous"):
    """A fitted labelling path on a 1-epoch DC-SAE (speed does not depend on weights).

    Parameters
    ----------
    mode : {"transform", "recipient"}
        ``transform``: ``DCSAETransformer.transform`` + ``SVC``. ``recipient``:
        ``RecipientLabeler`` on a donor kit exported by the same transformer.
    workdir : Path
        Where the kit file is written.
    config : {"previous", "defaults"}, default="previous"
        The light net of the previous defaults (2-d latent), or ``DCSAETransformer()``'s
        defaults (the "auto" net, 8-d latent).

    Returns
    -------
    features, predict : callable
        Images -> latent features, images -> labels.
    est : DCSAETransformer
        The fitted transformer (its module is the raw baseline's encoder).
    svc : SVC
        The classifier the path uses.
    batch_size : int
        Encoding batch size of the path (the raw baseline uses the same).
    """
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer

    Xd, yd = _synthetic(80)
    params = {**PREVIOUS, **LIGHT} if config == "previous" else {"min_steps": 0}
    est = DCSAETransformer(**params, max_epochs=1, device="cpu", random_state=0)
    feats = est.fit_transform(Xd, yd)
    if mode == "transform":
        try:
            from skdcsae._inference import INFERENCE_BATCH as batch
        except ImportError:  # skdcsae before the 0.4 layout
            from skdcsae._base import _INFERENCE_BATCH as batch

        svc = SVC().fit(feats, yd)
        return (est.transform, lambda X: svc.predict(est.transform(X)), est, svc, batch)
    from skdcsae import RecipientLabeler

    path = Path(workdir) / "donor_kit.joblib"
    est.export_donor_kit(path, Xd, yd, release="per_image", overwrite=True)  # as "transform"
    lab = RecipientLabeler(kit=path, device="cpu").fit()
    return lab.transform, lab.predict, est, lab.classifier_, lab.batch_size


def label_modes() -> list[str]:
    """``transform`` always; ``recipient`` when this skdcsae has ``RecipientLabeler``."""
    import skdcsae

    return ["transform"] + (["recipient"] if hasattr(skdcsae, "RecipientLabeler") else [])


def library_info() -> str:
    """Path and git commit of the imported ``skdcsae`` (it may differ from the benchmark's)."""
    import skdcsae

    root = Path(skdcsae.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return f"{root}@{commit}"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def rss_child(n: int, mode: str) -> dict:
    """In a fresh process: label ``n`` synthetic uint8 images in one call; peak RSS in MiB.

    The ``n`` images are allocated first (``n * 784`` bytes, unavoidable input); the figure that
    must stay flat in ``n`` is ``overhead_mib`` = peak RSS during labelling - RSS with the
    input in memory.
    """
    import resource
    import tempfile

    import torch

    torch.set_num_threads(1)

    def status(field: str) -> float | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def reset_peak() -> bool:
        # Linux: writing 5 to clear_refs resets VmHWM to the current RSS, so the peak below is
        # that of labelling alone, not the high-water mark of the setup (fitting the encoder).
        try:
            Path("/proc/self/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def maxrss() -> float:
        hwm = status("VmHWM")
        return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with tempfile.TemporaryDirectory() as tmp:
        _, predict, _, _, batch = labeller(mode, Path(tmp))
        predict(_synthetic(256, seed=5)[0])  # warm-up
        X = np.random.default_rng(1).integers(0, 256, (n, 28, 28), dtype=np.uint8)
        peak_reset = reset_peak()
        before = status("VmRSS") if peak_reset else maxrss()
        t0 = time.perf_counter()
        labels = predict(X)
        elapsed = time.perf_counter() - t0
        peak = maxrss()
    return {
        "mode": mode,
        "N": n,
        "labelled": len(labels),
        "batch_size": batch,
        "input_mib": round(X.nbytes / 2**20, 1),
        "rss_with_input_mib": round(before, 1),
        "peak_rss_mib": round(peak, 1),
        "overhead_mib": round(peak - before, 1),
        "peak_reset": peak_reset,
        "seconds": round(elapsed, 2),
    }


def cmd_speed(args) -> None:
    """Run the speed benchmarks; rows already in ``--results`` (same bench + config) are kept."""
    import torch

    from skdcsae import DCSAETransformer

    torch.set_num_threads(args.threads)
    done = {r["key"] for r in read_rows(args.results)}
    info = machine_info()

    def emit(key, row):
        row = {"key": key, **row, "threads": args.threads, "commit": info["commit"]}
        append_rows(args.results, [row])
        done.add(key)
        print(json.dumps(row), flush=True)

    # (1) fit seconds per epoch: DCSAETransformer vs a plain PyTorch loop, same everything.
    for arch in args.archs:
        key = f"fit|{arch}|n={args.fit_n}|bs={args.batch_size}|ep={args.fit_epochs}"
        if key in done:
            print("skip", key)
            continue
        X, y = _synthetic(2 * args.fit_n)
        if arch == "defaults":  # DCSAETransformer() as shipped; epochs set by --fit-epochs
            cfg = {"device": "cpu", "min_steps": 0}
        else:
            cfg = {**PREVIOUS, **(AUTHORS if arch == "authors" else LIGHT), "device": "cpu"}
        cfg["batch_size"] = args.batch_size
        warm = DCSAETransformer(**cfg, max_epochs=1, random_state=0).fit(X[:64], y[:64])
        plain_fit_seconds(warm, X[:64], y[:64], 1)
        ours, plain = [], []
        for r in range(args.repeats):
            est = DCSAETransformer(**cfg, max_epochs=args.fit_epochs, random_state=r)
            t0 = time.perf_counter()
            est.fit(X, y)
            ours.append((time.perf_counter() - t0) / args.fit_epochs)
            plain.append(plain_fit_seconds(est, X, y, args.fit_epochs))
        ratios = [a / b for a, b in zip(ours, plain, strict=True)]
        emit(
            key,
            {
                "bench": "fit_per_epoch",
                "arch": arch,
                "n_per_class": args.fit_n,
                "batch_size": args.batch_size,
                "epochs": args.fit_epochs,
                "dcsae_s_per_epoch": [round(v, 3) for v in ours],
                "plain_s_per_epoch": [round(v, 3) for v in plain],
                "ratio_median": round(float(np.median(ratios)), 3),
                "ratios": [round(v, 3) for v in ratios],
            },
        )

    # (2) labelling throughput vs raw no_grad inference of the same encoder, same batch size.
    # The two are timed alternately, repeat by repeat, and the ratio is the median of the
    # per-repeat ratios: on a shared machine the load drifts over minutes, and timing all of one
    # side before the other measured that drift (a spurious 0.47 in a first version).
    import tempfile

    tmp = tempfile.TemporaryDirectory()
    modes = args.modes or label_modes()
    Xr, _ = _synthetic(args.label_n, seed=2)
    for mode, config in [(m, c) for c in args.label_configs for m in modes]:
        _, predict, est, _, batch = labeller(mode, Path(tmp.name), config)
        key = f"label|{mode}|N={args.label_n}|bs={batch}|interleaved|r={args.repeats}"
        key += "|defaults" if config == "defaults" else ""
        if key in done:
            print("skip", key)
            continue
        predict(Xr[:1024])  # warm-up
        raw_encode_throughput(est, Xr[:1024], batch)
        ours, raw = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            predict(Xr)
            ours.append(len(Xr) / (time.perf_counter() - t0))
            raw.append(raw_encode_throughput(est, Xr, batch))
        ratios = [a / b for a, b in zip(ours, raw, strict=True)]
        emit(
            key,
            {
                "bench": "label_throughput",
                "mode": mode,
                "config": config,
                "library": library_info(),
                "N": args.label_n,
                "batch_size": batch,
                "predict_img_per_s": [round(v, 1) for v in ours],
                "raw_encoder_img_per_s": [round(v, 1) for v in raw],
                "ratios": [round(v, 3) for v in ratios],
                "ratio_median": round(float(np.median(ratios)), 3),
            },
        )

    # (3) peak RSS of labelling N images in one call, each N in a fresh subprocess.
    for mode in modes:
        for n in args.rss_n:
            key = f"rss|{mode}|N={n}|vmhwm|{info['commit']}"  # re-measured per commit
            if key in done:
                print("skip", key)
                continue
            code = (
                "import json; from run import rss_child; "
                f"print(json.dumps(rss_child({n}, {mode!r})))"
            )
            # cwd=HERE: "-c" puts the cwd first on sys.path, so a checkout's own skdcsae must not
            # shadow the one PYTHONPATH selects.
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, check=True
            ).stdout
            emit(
                key,
                {
                    "bench": "label_rss",
                    **json.loads(out.splitlines()[-1]),
                    "library": library_info(),
                },
            )

    # (4) scaling: fit seconds vs donor size (light net), labelling seconds vs recipient size.
    for n in args.scale_fit_n:
        key = f"scale_fit|light|n={n}|ep={args.fit_epochs}"
        if key in done:
            continue
        X, y = _synthetic(2 * n)
        e = DCSAETransformer(
            **PREVIOUS, **LIGHT, max_epochs=args.fit_epochs, device="cpu", random_state=0
        )
        t = _median_time(lambda e=e, X=X, y=y: e.fit(X, y), 1)
        emit(
            key,
            {
                "bench": "scale_fit",
                "n_per_class": n,
                "epochs": args.fit_epochs,
                "fit_s": round(t, 3),
                "s_per_epoch": round(t / args.fit_epochs, 3),
            },
        )
    mode = modes[-1]  # RecipientLabeler when the library has it
    _, predict, _, _, _ = labeller(mode, Path(tmp.name))
    for n in args.scale_label_n:
        key = f"scale_label|{mode}|N={n}"
        if key in done:
            continue
        X, _ = _synthetic(n, seed=3)
        t = _median_time(lambda X=X: predict(X), args.repeats)
        emit(
            key,
            {
                "bench": "scale_label",
                "mode": mode,
                "N": n,
                "label_s": round(t, 3),
                "img_per_s": round(n / t, 1),
            },
        )
    tmp.cleanup()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
METHOD_ORDER = [m for ms in GROUP_METHODS.values() for m in ms]


def _mean_sem(values) -> str:
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return f"{v[0]:.3f} (1 seed)"
    return f"{v.mean():.3f} ± {v.std(ddof=1) / np.sqrt(len(v)):.3f}"


def accuracy_tables(rows: list[dict], metric: str = "accuracy") -> dict:
    """``{(dataset, recipient): markdown}``: mean +- SEM over seeds, methods x donor sizes."""
    tables = {}
    for dataset, recipient in sorted({(r["dataset"], r["recipient"]) for r in rows}):
        sel = [r for r in rows if r["dataset"] == dataset and r["recipient"] == recipient]
        sizes = sorted({r["n"] for r in sel})
        methods = [m for m in METHOD_ORDER if any(r["method"] == m for r in sel)]
        lines = [
            "| method | " + " | ".join(f"n={n}" for n in sizes) + " |",
            "| --- | " + " | ".join("---" for _ in sizes) + " |",
        ]
        for m in methods:
            cells = []
            for n in sizes:
                vals = [r[metric] for r in sel if r["method"] == m and r["n"] == n]
                cells.append(
                    _mean_sem(vals) + ("" if len(vals) in (0, 4) else f" [{len(vals)}]")
                    if vals
                    else "—"
                )
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        tables[(dataset, recipient)] = "\n".join(lines)
    return tables


def cmd_report(args) -> None:
    """Write ``accuracy.md``, ``speed.md`` and ``figure3.png`` next to the results files."""
    from skdcsae.plotting import plot_accuracy_curves

    info = machine_info()
    out = Path(args.out_dir)
    rows = read_rows(args.results)
    header = [
        f"- Commit of the benchmark code: `{info['commit']}` (report written by "
        f"`python benchmarks/run.py report`)",
        f"- skdcsae at report time: last changed in commit `{info['library_commit']}`. Rows "
        "record the skdcsae they ran (`library`: path@commit); accuracy rows written before "
        "that field existed ran at the commits listed in `benchmarks/README.md`",
        f"- Machine: {info['cpu']}, {info['cores']} cores (shared with other jobs), torch "
        f"{info['torch']}, Python {info['python']}",
    ]

    def epochs(select) -> str:
        return "/".join(str(e) for e in sorted({r["epochs"] for r in rows if select(r["method"])}))

    if rows:
        recipient_names = {
            ("balanced", "A"): "balanced file, recipient A = rest of the train split",
            ("balanced", "B"): "balanced file, recipient B = test split",
            ("balanced", "A_pool"): "semi-supervised track: the donor also holds 1,000 "
            "unlabelled train images (marked -1 in fit); recipient A_pool = the train split "
            "minus donor and pool",
            ("official", "official_test"): "official (imbalanced) test split, donor from the "
            "official train split",
        }
        md = [
            "# Accuracy: PneumoniaMNIST, donor size sweep (the paper's Figure 3)",
            "",
            *header,
            "- Command: `OMP_NUM_THREADS=1 python benchmarks/run.py accuracy --workers 2` "
            "(rows in `accuracy.jsonl`, one per dataset/method/n/seed/recipient), run as the "
            "sequence of `--datasets/--order/--sizes` invocations listed in "
            "`benchmarks/README.md` so that the most important results landed first",
            "- DC-SAE (defaults): `DCSAETransformer(random_state=seed)` with nothing else set "
            "(latent 'auto': 8 per head up to 44 images per class, then one per 5 images "
            "up to 16, rho 2.5 per dimension, alpha 'auto' (10 at 28x28 grey; the rows before "
            "it existed ran alpha=10), the 'auto' net (32, 16)/(256,) at 28x28, "
            "batch 16, at least 1,500 steps with cosine decay and on-the-fly augmentation: "
            f"epochs {epochs(lambda m: 'defaults' in m)}) + `SVC()`; DC-SAE (defaults, kit): "
            "the same fit exported as a donor kit at the default release (synthetic rows), "
            "labelled by `RecipientLabeler(kit)` with its default calibrated SVC; DC-SAE "
            "(defaults, kit, adapted): the same kit, `RecipientLabeler(kit).fit(X)` on the "
            "recipient's own unlabelled images (self-training at its default, 0.5), then "
            "labelling them.",
            "- Every other row (including DC-SAE (means), the previous defaults): "
            f"deep nets conv_channels={LIGHT['conv_channels']}, "
            f"dense_sizes={LIGHT['dense_sizes']}, batch_size={LIGHT['batch_size']}, "
            f"latent n_components={PAPER['n_components']}, lr={PAPER['lr']}, "
            f"epochs {epochs(lambda m: 'ResNet' not in m and 'defaults' not in m)}, constant "
            "lr, no augmentation; "
            f"DC-SAE alpha={PAPER['alpha']}, beta={PAPER['beta']}, rho={PAPER['rho']}; VAE and "
            "anomaly VAE: same net, their defaults (alpha=1, kl_weight=1); anomaly VAE threshold "
            "'balanced_accuracy' on the donor images; ResNet-18 width=16, batch 16, epochs "
            f"{epochs(lambda m: 'ResNet' in m)}; "
            "pixels: PCA(0.95) + SVC. SVC defaults (RBF, C=1) everywhere. Donor: n per class "
            "drawn with numpy default_rng(seed), seeds 0-3.",
            "- Cells: mean ± SEM over seeds; `[k]` = only k of 4 seeds finished; — = not run.",
            "",
        ]
        for metric in ("accuracy", "balanced_accuracy", "roc_auc"):
            for (dataset, recipient), table in accuracy_tables(rows, metric).items():
                if metric != "accuracy" and dataset != "official":
                    continue
                md += [f"## {metric}: {recipient_names.get((dataset, recipient))}", "", table, ""]
        (out / "accuracy.md").write_text("\n".join(md))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = [
            k for k in recipient_names if any((r["dataset"], r["recipient"]) == k for r in rows)
        ]
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
        for ax, (dataset, recipient) in zip(axes[0], panels, strict=True):
            res = {}
            for m in METHOD_ORDER:
                for r in rows:
                    if (r["dataset"], r["recipient"], r["method"]) == (dataset, recipient, m):
                        res.setdefault(m, {}).setdefault(r["n"], []).append(r["accuracy"])
            plot_accuracy_curves(
                res,
                ax=ax,
                title=recipient_names[(dataset, recipient)],
                chance=0.5 if dataset == "balanced" else None,
            )
        fig.tight_layout()
        fig.savefig(out / "figure3.png", dpi=80)
        print("wrote", out / "accuracy.md", out / "figure3.png")
    speed = read_rows(args.speed_results)
    if speed:
        md = [
            "# Speed",
            "",
            *header,
            "- Command: `OMP_NUM_THREADS=1 python benchmarks/run.py speed` "
            "(rows in `speed.jsonl`); ratios compare two runs in the same process",
            "- `commit` in a row: HEAD of the benchmark checkout when the row was written (the "
            "skdcsae it imported, unless `library` names another checkout: path@commit). Timings "
            "are on a shared, busy machine: read the ratios, not the absolute seconds.",
            "",
        ]
        for bench in ("fit_per_epoch", "label_throughput", "label_rss", "scale_fit", "scale_label"):
            sel = [r for r in speed if r["bench"] == bench]
            if not sel:
                continue
            cols = []  # union of the rows' fields, in first-seen order
            for r in sel:
                cols += [k for k in r if k not in ("key", "bench") and k not in cols]
            md += [
                f"## {bench}",
                "",
                "| " + " | ".join(cols) + " |",
                "| " + " | ".join("---" for _ in cols) + " |",
            ]
            md += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in sel]
            md.append("")
        (out / "speed.md").write_text("\n".join(md))
        print("wrote", out / "speed.md")


# --------------------------------------------------------------------------------------------
def _ints(s: str) -> tuple[int, ...]:
    return tuple(int(v) for v in s.split(","))


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (subcommands ``accuracy``, ``speed``, ``report``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    acc = sub.add_parser("accuracy", help="donor-size sweep (Figure 3)")
    acc.add_argument("--results", type=Path, default=RESULTS / "accuracy.jsonl")
    acc.add_argument("--data-dir", type=Path, default=DATA)
    acc.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    acc.add_argument(
        "--groups", nargs="+", default=list(GROUP_METHODS), choices=list(GROUP_METHODS)
    )
    acc.add_argument(
        "--order",
        nargs="+",
        default=["defaults", "dcsae+pixels", "vae+anomaly", "resnet"],
        help="phases, run in this order per dataset (groups joined by +); the "
        "semi-supervised track runs with --order pool",
    )
    acc.add_argument("--sizes", type=_ints, default=SIZES)
    acc.add_argument("--seeds", type=_ints, default=SEEDS)
    acc.add_argument("--epochs", type=int, default=50)
    acc.add_argument("--resnet-epochs", type=int, default=30)
    acc.add_argument(
        "--min-steps",
        type=int,
        default=None,
        help="min_steps of the 'defaults' group (default: DCSAETransformer's own)",
    )
    acc.add_argument("--workers", type=int, default=2)
    acc.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    spd = sub.add_parser("speed", help="fit/label speed, memory, scaling")
    spd.add_argument("--results", type=Path, default=RESULTS / "speed.jsonl")
    spd.add_argument("--archs", nargs="+", default=["defaults", "authors", "light"])
    spd.add_argument("--fit-n", type=int, default=180)
    spd.add_argument("--fit-epochs", type=int, default=2)
    spd.add_argument("--batch-size", type=int, default=16)
    spd.add_argument("--repeats", type=int, default=3)
    spd.add_argument("--label-n", type=int, default=20000)
    spd.add_argument("--rss-n", type=_ints, default=(25000, 50000, 100000, 200000))
    spd.add_argument(
        "--modes",
        nargs="+",
        choices=["transform", "recipient"],
        default=None,
        help="labelling paths to measure (default: all the library has)",
    )
    spd.add_argument(
        "--label-configs",
        nargs="+",
        choices=["defaults", "previous"],
        default=["defaults", "previous"],
        help="DC-SAE settings of the labelling paths (the net and latent size)",
    )
    spd.add_argument("--scale-fit-n", type=_ints, default=(20, 60, 180))
    spd.add_argument("--scale-label-n", type=_ints, default=(1000, 5000, 20000))
    spd.add_argument("--threads", type=int, default=1)
    rep = sub.add_parser("report", help="Markdown tables and the Figure-3 PNG")
    rep.add_argument("--results", type=Path, default=RESULTS / "accuracy.jsonl")
    rep.add_argument("--speed-results", type=Path, default=RESULTS / "speed.jsonl")
    rep.add_argument("--out-dir", type=Path, default=RESULTS)
    return parser


def main(argv=None) -> None:
    """Entry point: parse ``argv`` and run the subcommand."""
    args = build_parser().parse_args(argv)
    {"accuracy": cmd_accuracy, "speed": cmd_speed, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
