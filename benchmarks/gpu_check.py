"""CUDA end to end and speed: the package on a GPU, beside a plain PyTorch baseline.

Runs only where ``torch.cuda.is_available()``. Prints one JSON line per measurement and a
Markdown summary (also written to ``--out``):

1. fit seconds per epoch of ``DCSAETransformer(device="cuda")`` at n=180 per class (authors'
   and light net, batch 16 and 128) beside a hand-written PyTorch loop of the same network,
   data, loss, optimiser and batch size on the same GPU (ratio = skdcsae / plain);
2. labelling throughput of ``RecipientLabeler(device="cuda").predict`` on 20,000 images beside
   raw ``torch.no_grad()`` inference of the same encoder plus the same SVC;
3. real data end to end: fit on the GPU (50 PneumoniaMNIST images per class), export a kit,
   label recipient A with it on the GPU and on the CPU (same labels?), a DP-SGD fit and an
   audit on the GPU.

    python benchmarks/gpu_check.py --data path/to/pneumoniamnist_balanced.npz --out gpu.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import plain_epoch_seconds as plain_loop

ROWS: list[dict] = []
LIGHT = {"conv_channels": (32, 16), "dense_sizes": (256,)}
AUTHORS = {"conv_channels": (128, 64, 32, 16), "dense_sizes": (2048, 1000, 250)}


def emit(**row) -> None:
    ROWS.append(row)
    print(json.dumps(row), flush=True)


def _sync():
    import torch

    torch.cuda.synchronize()


def plain_epoch_seconds(est, X, y, epochs: int) -> float:
    """The benchmark's hand-written loop (``run.plain_epoch_seconds``) on the GPU: same module
    config, loss weights, margin, augmentation, schedule, Adam, lr and batch size as ``est``;
    the median epoch after the first."""
    times = plain_loop(est, X, y, epochs, device="cuda")
    return float(np.median(times[1:] if len(times) > 1 else times))


def bench_fit(X, y, epochs: int) -> None:
    from skdcsae import DCSAETransformer

    for arch_name, arch in (("authors", AUTHORS), ("light", LIGHT)):
        for batch in (16, 128):
            est = DCSAETransformer(
                **arch, batch_size=batch, max_epochs=epochs, device="cuda", random_state=0
            )
            est.fit(X, y)  # warm-up (cuDNN autotuning, allocator)
            _sync()
            est = DCSAETransformer(
                **arch, batch_size=batch, max_epochs=epochs, device="cuda", random_state=0
            )
            t0 = time.perf_counter()
            est.fit(X, y)
            _sync()
            ours = (time.perf_counter() - t0) / epochs
            plain = plain_epoch_seconds(est, X, y, epochs)
            emit(
                bench="fit_per_epoch",
                arch=arch_name,
                batch_size=batch,
                n=len(X),
                skdcsae_s=round(ours, 4),
                plain_s=round(plain, 4),
                ratio=round(ours / plain, 3),
            )


def bench_label(n: int, workdir: Path) -> None:
    import torch
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer, RecipientLabeler

    rng = np.random.default_rng(0)
    Xd = rng.integers(0, 256, (80, 28, 28), dtype=np.uint8)
    yd = np.arange(80) % 2
    est = DCSAETransformer(**LIGHT, max_epochs=1, device="cuda", random_state=0).fit(Xd, yd)
    path = workdir / "speed_kit.joblib"
    est.export_donor_kit(path, Xd, yd)
    X = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    for batch in (512, 4096):
        lab = RecipientLabeler(kit=path, device="cuda", batch_size=batch).fit()
        lab.predict(X[:2048])
        _sync()
        t0 = time.perf_counter()
        lab.predict(X)
        _sync()
        ours = n / (time.perf_counter() - t0)

        encoder = lab.encoder_
        svc = SVC().fit(lab.kit_.features, lab.kit_.labels)
        offset, scale = lab.kit_.input_offset, lab.kit_.input_scale

        def raw(X=X, batch=batch, encoder=encoder, svc=svc, offset=offset, scale=scale):
            outs = []
            with torch.no_grad():
                for i in range(0, len(X), batch):
                    xb = (X[i : i + batch].astype(np.float32) - offset) / scale
                    mu, _ = encoder(torch.from_numpy(xb).reshape(-1, 1, 28, 28).to("cuda"))
                    outs.append(mu.reshape(len(xb), -1).cpu().numpy())
            return svc.predict(np.concatenate(outs))

        raw(X[:2048])
        _sync()
        t0 = time.perf_counter()
        raw()
        _sync()
        baseline = n / (time.perf_counter() - t0)
        emit(
            bench="label_throughput",
            n=n,
            batch_size=batch,
            skdcsae_img_s=round(ours),
            raw_img_s=round(baseline),
            ratio=round(ours / baseline, 3),
        )


def end_to_end(data: Path, workdir: Path) -> None:
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer, RecipientLabeler, audit_donor_kit

    with np.load(data) as d:
        X, y = d["train_images"], d["train_labels"].ravel()
    rng = np.random.default_rng(0)
    donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 50, replace=False) for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), donor)
    t0 = time.perf_counter()
    est = DCSAETransformer(**LIGHT, device="cuda", random_state=0).fit(X[donor], y[donor])
    fit_s = time.perf_counter() - t0
    pipe_acc = SVC().fit(est.transform(X[donor]), y[donor]).score(est.transform(X[rest]), y[rest])
    path = workdir / "kit.joblib"
    kit = est.export_donor_kit(path, X[donor], y[donor], release="per_image")
    gpu = RecipientLabeler(kit=path, device="cuda").fit()
    cpu = RecipientLabeler(kit=path, device="cpu").fit()
    labels_gpu, labels_cpu = gpu.predict(X[rest]), cpu.predict(X[rest])
    feats_gap = float(np.abs(gpu.transform(X[rest]) - cpu.transform(X[rest])).max())
    emit(
        bench="end_to_end",
        trained_on=est.device_,
        kit_trained_on=kit.hyperparameters["trained_on"],
        fit_s=round(fit_s, 2),
        epochs=est.n_iter_,
        pipeline_accuracy=round(pipe_acc, 4),
        kit_accuracy_gpu=round(float(np.mean(labels_gpu == y[rest])), 4),
        kit_accuracy_cpu=round(float(np.mean(labels_cpu == y[rest])), 4),
        labels_equal_gpu_cpu=int(np.sum(labels_gpu != labels_cpu)) == 0,
        n_labels_differ=int(np.sum(labels_gpu != labels_cpu)),
        max_feature_gap_gpu_cpu=feats_gap,
    )
    t0 = time.perf_counter()
    dp = DCSAETransformer(
        **LIGHT, norm="group", dp=True, target_epsilon=3.0, max_epochs=10, lr=3e-3,
        device="cuda", random_state=0,
    ).fit(X[donor], y[donor])  # fmt: skip
    dp_s = time.perf_counter() - t0
    dp_acc = SVC().fit(dp.transform(X[donor]), y[donor]).score(dp.transform(X[rest]), y[rest])
    dpath = workdir / "dp_kit.joblib"
    dp.export_donor_kit(dpath, X[donor], y[donor], release="synthetic")
    non = np.random.default_rng([0, 1]).choice(rest, 500, replace=False)
    audit = audit_donor_kit(dpath, X[donor], X[non], X_eval=X[rest], y_eval=y[rest], device="cuda")
    emit(
        bench="dp_end_to_end",
        fit_s=round(dp_s, 2),
        epsilon=dp.privacy_["epsilon"],
        delta=dp.privacy_["delta"],
        pipeline_accuracy=round(dp_acc, 4),
        synthetic_kit_accuracy=round(audit.accuracy, 4),
        membership_auc=round(audit.membership_auc, 4),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="gpu.md")
    parser.add_argument("--fit-epochs", type=int, default=5)
    parser.add_argument("--label-n", type=int, default=20000)
    parser.add_argument(
        "--only", nargs="+", default=["end_to_end", "label", "fit"], help="sections to run"
    )
    args = parser.parse_args(argv)
    import sklearn
    import torch

    import skdcsae

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 1
    emit(
        bench="machine",
        gpu=torch.cuda.get_device_name(0),
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skdcsae=skdcsae.__version__,
        python=sys.version.split()[0],
    )
    rng = np.random.default_rng(0)
    with np.load(args.data) as d:
        Xall, yall = d["train_images"], d["train_labels"].ravel()
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(yall == c), 180, replace=False) for c in (0, 1)]
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (
            ("end_to_end", lambda: end_to_end(Path(args.data), Path(tmp))),
            ("label", lambda: bench_label(args.label_n, Path(tmp))),
            ("fit", lambda: bench_fit(Xall[idx], yall[idx], args.fit_epochs)),
        ):
            if name not in args.only:
                continue
            try:
                fn()
            except Exception:  # report and go on: one failure must not lose the rest
                emit(bench=name, error=traceback.format_exc(limit=5))
    Path(args.out).write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
