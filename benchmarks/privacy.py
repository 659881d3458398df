"""Privacy benchmark: what each kit setting reveals (membership attack) and what it costs.

For each donor seed, trains DC-SAEs on 50 images per class of the balanced PneumoniaMNIST
(normalisation batch / group / none, and DP-SGD when available), exports a kit per release
setting, and audits it with :func:`skdcsae.audit_donor_kit`:

- members: the 100 donor images; non-members: 500 other images of the train split (seeded);
- accuracy: the kit's labels for the rest of the train split (recipient A, 2,328 images).

Resumable: one JSON line per (seed, training, release) in ``results/privacy.jsonl``; a rerun
skips rows already there. ``report`` writes ``results/privacy.md``.

``defaults`` measures the candidates for the default release (issue #13): per donor size n in
{10, 50, 180} images per class and seed, one DC-SAE (batch norm, the light net) is trained;
its per-image donor features are released by every candidate (``prototypes`` and
``synthetic`` at several ``n_prototypes`` x ``min_count``, and ``per_image`` as the reference)
through the kit's own :func:`skdcsae.kit._release.release_features`; an SVC trained on the
released rows (prototype sizes as sample weights, as :class:`skdcsae.RecipientLabeler` does)
labels recipient A, and the near-duplicate attack of :func:`skdcsae.audit_donor_kit` is run
on the same features. One JSON line per (n, seed, release) in
``results/privacy_defaults.jsonl``; ``defaults-report`` writes ``privacy_defaults.md``.

    OMP_NUM_THREADS=1 python benchmarks/privacy.py run [--seeds 0,1,2,3] [--trainings ...]
    python benchmarks/privacy.py report
    OMP_NUM_THREADS=1 python benchmarks/privacy.py defaults [--sizes 10,50,180] [--seeds 0,1,2,3]
    python benchmarks/privacy.py defaults-report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = Path(os.environ.get("SKDCSAE_SHARED_DATA", HERE.parent.parent / "shared" / "data"))

N_PER_CLASS = 50
N_NON_MEMBERS = 500
NET = {"conv_channels": (32, 16), "dense_sizes": (256,), "batch_size": 16, "max_epochs": 50}
# clip_norm for the feature noise: DC-SAE features are 2 heads x 2 means; the repulsion margin
# rho=5 puts an image's own-head mean about sqrt(5) = 2.2 from the others, and the wrong heads
# sit near the origin, so norms of a few units are expected. 6 was set from that and from the
# norms in one exploratory run (seed 0: 95th percentile 5.3, max 6.0); it is not tuned.
CLIP = 6.0

_DP_SCHEDULE = {"max_epochs": 10, "lr": 3e-3}
TRAININGS = {
    "batch": {"norm": "batch"},
    "group": {"norm": "group"},
    "instance": {"norm": "instance"},
    "none": {"norm": "none"},
    # DP-SGD: 10 epochs at lr 3e-3 scored best of the settings tried in
    # benchmarks/privacy_norm_dp.py (50 epochs at lr 1e-3: 0.73-0.75 on seed 0)
    "group+dp8": {"norm": "group", "dp": True, "target_epsilon": 8.0, **_DP_SCHEDULE},
    "group+dp3": {"norm": "group", "dp": True, "target_epsilon": 3.0, **_DP_SCHEDULE},
    "group+dp1": {"norm": "group", "dp": True, "target_epsilon": 1.0, **_DP_SCHEDULE},
}
RELEASES = {
    "per_image": {"mode": "per_image"},
    "prototypes": {"mode": "prototypes", "n_prototypes": 3, "min_count": 10},
    "synthetic": {"mode": "synthetic", "n_prototypes": 3, "min_count": 10},
    "per_image+noise0.5": {"mode": "per_image", "feature_noise": 0.5, "clip_norm": CLIP},
    "prototypes+noise1": {
        "mode": "prototypes",
        "n_prototypes": 3,
        "min_count": 10,
        "feature_noise": 1.0,
        "clip_norm": CLIP,
    },
}

# Candidates for the default release (``defaults``): mode, n_prototypes, min_count.
DEFAULT_SIZES = (10, 50, 180)
CANDIDATES = {
    "per_image": {"mode": "per_image"},
    **{
        f"{mode} {k}x{m}": {"mode": mode, "n_prototypes": k, "min_count": m}
        for mode in ("prototypes", "synthetic")
        for k, m in ((3, 10), (10, 10), (5, 5))
    },
}


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _done(path: Path) -> set:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            keys.add((r["seed"], r["training"], r["release"]))
    return keys


def _load():
    with np.load(DATA / "pneumoniamnist_balanced.npz") as d:
        return d["train_images"], d["train_labels"].ravel()


def _split(y, seed):
    rng = np.random.default_rng(seed)
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), N_PER_CLASS, replace=False) for c in np.unique(y)]
    )
    rest = np.setdiff1d(np.arange(len(y)), donor)
    non = np.random.default_rng([seed, 1]).choice(rest, N_NON_MEMBERS, replace=False)
    return donor, rest, non


def cmd_run(args) -> None:
    import torch

    from skdcsae import DCSAETransformer, ReleaseSettings, audit_donor_kit

    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = _done(results)
    X, y = _load()
    has_dp = "dp" in DCSAETransformer().get_params()
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        donor, rest, non = _split(y, seed)
        for training in args.trainings:
            params = TRAININGS[training]
            todo = [r for r in args.releases if (seed, training, r) not in done]
            if not todo:
                continue
            if params.get("dp") and not has_dp:
                print(f"skip {training}: this skdcsae has no DP-SGD", flush=True)
                continue
            t0 = time.perf_counter()
            est = DCSAETransformer(**{**NET, **params}, device="cpu", random_state=seed)
            est.fit(X[donor], y[donor])
            fit_s = time.perf_counter() - t0
            privacy = getattr(est, "privacy_", None)
            with tempfile.TemporaryDirectory() as tmp:
                for release in todo:
                    path = os.path.join(tmp, f"{release}.joblib")
                    settings = ReleaseSettings(**RELEASES[release])
                    kit = est.export_donor_kit(path, X[donor], y[donor], release=settings)
                    audit = audit_donor_kit(path, X[donor], X[non], X_eval=X[rest], y_eval=y[rest])
                    row = {
                        "seed": seed,
                        "training": training,
                        "release": release,
                        "membership_auc": audit.membership_auc,
                        "advantage": audit.advantage,
                        "tpr_at_1pct_fpr": audit.tpr_at_low_fpr,
                        "accuracy": audit.accuracy,
                        "balanced_accuracy": audit.balanced_accuracy,
                        "n_rows": kit.n_donor,
                        "feature_epsilon": kit.release.epsilon,
                        "feature_delta": kit.release.delta,
                        "dp_epsilon": None if privacy is None else privacy["epsilon"],
                        "dp_delta": None if privacy is None else privacy["delta"],
                        "fit_s": round(fit_s, 2),
                        "commit": _commit(),
                        "torch": torch.__version__,
                    }
                    with results.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        f"seed {seed} {training:<10} {release:<19} AUC {audit.membership_auc:.3f} "
                        f"acc {audit.accuracy:.3f} (fit {fit_s:.0f} s)",
                        flush=True,
                    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cell(values, fmt="{:.3f}") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    mean = float(np.mean(values))
    if len(values) == 1:
        return fmt.format(mean) + " [1]"
    sem = float(np.std(values, ddof=1) / np.sqrt(len(values)))
    return f"{fmt.format(mean)} ± {fmt.replace('+', '').format(sem)}"


def cmd_report(args) -> None:
    import torch

    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line]
    base = {
        r["seed"]: r["accuracy"]
        for r in rows
        if r["training"] == "batch" and r["release"] == "per_image"
    }
    seeds = sorted({r["seed"] for r in rows})
    by_commit = {}
    for r in rows:
        by_commit[r["commit"]] = by_commit.get(r["commit"], 0) + 1
    commits = [f"{c} ({n} rows)" for c, n in by_commit.items()]
    lines = [
        "# Privacy: what a donor kit reveals, and what hiding it costs",
        "",
        f"- Command: `OMP_NUM_THREADS=1 python benchmarks/privacy.py run` then `report` "
        f"(rows in `privacy.jsonl`); commits {', '.join(commits)}",
        f"- Machine: {_cpu()}, {os.cpu_count()} cores (shared), torch {torch.__version__}, "
        f"Python {platform.python_version()}",
        f"- Data: balanced PneumoniaMNIST train split; donor {N_PER_CLASS} images per class "
        f"(seeds {', '.join(map(str, seeds))}); members = the {2 * N_PER_CLASS} donor images, "
        f"non-members = {N_NON_MEMBERS} other train images; accuracy on the rest of the train "
        "split (recipient A, 2,328 images).",
        "- Net: conv (32, 16), dense (256,), batch 16, 50 epochs at lr 1e-3, alpha=beta=10, "
        "rho=5, latent 2; SVC on the kit's rows. DP-SGD (`group+dpE`: target epsilon E): "
        "Opacus, RDP accountant, delta 1e-5, max_grad_norm 1, Poisson sampling, 10 epochs at "
        "lr 3e-3.",
        "- Attack: distance from a candidate's features to the nearest released row; "
        "membership ROC AUC 0.5 = chance. Values below 0.5 mean members sit *farther* from the "
        "released rows than non-members (also a signal, of the opposite sign).",
        f"- Feature noise: vectors clipped to L2 norm {CLIP:g}; epsilon per image at "
        "delta = min(1e-5, 1/(10 n)), given the encoder (and the grouping, for prototypes).",
        "- Cells: mean ± SEM over seeds; Δ acc = accuracy minus that of the default (batch norm, "
        "per-image release) of the same seed, in points. `fit s`: wall time of one fit on a "
        "shared machine; rows ran under different loads, so compare it within a row group "
        "only.",
        "",
        "| training | release | membership AUC | advantage | TPR @ 1% FPR | accuracy | Δ acc "
        "(points) | rows | ε features | ε DP-SGD | fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for training in TRAININGS:
        for release in RELEASES:
            sel = [r for r in rows if r["training"] == training and r["release"] == release]
            if not sel:
                continue
            delta = [100 * (r["accuracy"] - base[r["seed"]]) for r in sel if r["seed"] in base]
            lines.append(
                f"| {training} | {release} | {_cell([r['membership_auc'] for r in sel])} | "
                f"{_cell([r['advantage'] for r in sel])} | "
                f"{_cell([r['tpr_at_1pct_fpr'] for r in sel])} | "
                f"{_cell([r['accuracy'] for r in sel])} | {_cell(delta, '{:+.1f}')} | "
                f"{int(np.mean([r['n_rows'] for r in sel]))} | "
                f"{_cell([r['feature_epsilon'] for r in sel], '{:.2f}')} | "
                f"{_cell([r['dp_epsilon'] for r in sel], '{:.2f}')} | "
                f"{np.mean([r['fit_s'] for r in sel]):.0f} |"
            )
    out = Path(args.results).with_suffix(".md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _defaults_split(y, n, seed):
    rng = np.random.default_rng(seed)
    donor = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), n, replace=False) for c in np.unique(y)]
    )
    rest = np.setdiff1d(np.arange(len(y)), donor)
    non = np.random.default_rng([seed, 1]).choice(rest, N_NON_MEMBERS, replace=False)
    return donor, rest, non


def _nearest(candidates: np.ndarray, rows: np.ndarray) -> np.ndarray:
    d2 = (candidates**2).sum(1)[:, None] - 2.0 * candidates @ rows.T + (rows**2).sum(1)[None]
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def cmd_defaults(args) -> None:
    """Train once per (n, seed); release its donor features by every candidate; score each."""
    import torch
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
    from sklearn.svm import SVC

    from skdcsae import DCSAETransformer, ReleaseSettings
    from skdcsae.kit._release import release_features

    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if results.exists():
        for line in results.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["n_per_class"], r["seed"], r["release"]))
    X, y = _load()
    for n in [int(v) for v in args.sizes.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            todo = [c for c in CANDIDATES if (n, seed, c) not in done]
            if not todo:
                continue
            donor, rest, non = _defaults_split(y, n, seed)
            t0 = time.perf_counter()
            est = DCSAETransformer(**NET, norm="batch", device="cpu", random_state=seed)
            est.fit(X[donor], y[donor])
            fit_s = time.perf_counter() - t0
            f_donor = est.transform(X[donor]).astype(np.float64)
            f_rest = est.transform(X[rest]).astype(np.float64)
            f_non = est.transform(X[non]).astype(np.float64)
            y_index = np.searchsorted(est.classes_, y[donor])
            for name in todo:
                settings = ReleaseSettings(**CANDIDATES[name])
                out = release_features(f_donor, y_index, 2, settings, random_state=seed)
                weights = None if np.all(out.weights == 1) else out.weights
                svc = SVC().fit(out.features, est.classes_[out.label_index], sample_weight=weights)
                predicted = svc.predict(f_rest)
                rows = out.features.astype(np.float64)
                score = -np.r_[_nearest(f_donor, rows), _nearest(f_non, rows)]
                truth = np.r_[np.ones(len(f_donor)), np.zeros(len(f_non))]
                row = {
                    "n_per_class": n,
                    "seed": seed,
                    "release": name,
                    **CANDIDATES[name],
                    "accuracy": float(accuracy_score(y[rest], predicted)),
                    "balanced_accuracy": float(balanced_accuracy_score(y[rest], predicted)),
                    "membership_auc": float(roc_auc_score(truth, score)),
                    "n_rows": len(rows),
                    "n_recipient": len(rest),
                    "fit_s": round(fit_s, 2),
                    "commit": _commit(),
                    "torch": torch.__version__,
                }
                with results.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(
                    f"n {n:>3} seed {seed} {name:<18} acc {row['accuracy']:.3f} "
                    f"AUC {row['membership_auc']:.3f} rows {len(rows)} (fit {fit_s:.0f} s)",
                    flush=True,
                )


def cmd_defaults_report(args) -> None:
    import torch

    path = Path(args.results)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    sizes = sorted({r["n_per_class"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    base = {
        (r["n_per_class"], r["seed"]): r["accuracy"] for r in rows if r["release"] == "per_image"
    }
    commits = sorted({r["commit"] for r in rows})
    lines = [
        "# Default release: accuracy and membership signal of the candidates",
        "",
        f"- Command: `OMP_NUM_THREADS=1 python benchmarks/privacy.py defaults` then "
        f"`defaults-report` (rows in `{path.name}`); commits {', '.join(commits)}",
        f"- Machine: {_cpu()}, {os.cpu_count()} cores (shared), torch {torch.__version__}, "
        f"Python {platform.python_version()}",
        f"- Data: balanced PneumoniaMNIST train split; donor n images per class (seeds "
        f"{', '.join(map(str, seeds))}); accuracy on the rest of the train split (recipient A); "
        f"membership: the 2n donor images against {N_NON_MEMBERS} other train images.",
        "- Net: conv (32, 16), dense (256,), batch norm, batch 16, 50 epochs at lr 1e-3, "
        "alpha=beta=10, rho=5, latent 2. One fit per (n, seed); every candidate releases the "
        "same per-image features (`release_features`, seeded by the seed); an SVC (default "
        "parameters, prototype sizes as sample weights) labels recipient A.",
        "- `mode KxM`: at most K groups per class, each of at least M images. Cells: mean ± SEM "
        "over seeds; Δ = accuracy minus per_image's of the same (n, seed), in points.",
        "",
    ]
    header = "| release | " + " | ".join(f"n={n}: accuracy | Δ | AUC | rows" for n in sizes) + " |"
    lines += [header, "| --- |" + " --- | --- | --- | --- |" * len(sizes)]
    for name in CANDIDATES:
        cells = []
        for n in sizes:
            sel = [r for r in rows if r["release"] == name and r["n_per_class"] == n]
            if not sel:
                cells.append("— | — | — | —")
                continue
            delta = [100 * (r["accuracy"] - base[(n, r["seed"])]) for r in sel]
            cells.append(
                f"{_cell([r['accuracy'] for r in sel])} | {_cell(delta, '{:+.1f}')} | "
                f"{_cell([r['membership_auc'] for r in sel])} | "
                f"{int(np.mean([r['n_rows'] for r in sel]))}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    fits = {n: np.mean([r["fit_s"] for r in rows if r["n_per_class"] == n]) for n in sizes}
    lines += [
        "",
        "Fit seconds per DC-SAE (shared machine): "
        + ", ".join(f"n={n}: {s:.0f}" for n, s in fits.items()),
    ]
    out = path.with_suffix(".md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train, export, audit (resumable)")
    run.add_argument("--results", default=str(RESULTS / "privacy.jsonl"))
    run.add_argument("--seeds", default="0,1,2,3")
    run.add_argument("--trainings", nargs="+", default=list(TRAININGS), choices=list(TRAININGS))
    run.add_argument("--releases", nargs="+", default=list(RELEASES), choices=list(RELEASES))
    rep = sub.add_parser("report", help="write results/privacy.md from the rows")
    rep.add_argument("--results", default=str(RESULTS / "privacy.jsonl"))
    dflt = sub.add_parser("defaults", help="measure the default-release candidates")
    dflt.add_argument("--results", default=str(RESULTS / "privacy_defaults.jsonl"))
    dflt.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    dflt.add_argument("--seeds", default="0,1,2,3")
    drep = sub.add_parser("defaults-report", help="write results/privacy_defaults.md")
    drep.add_argument("--results", default=str(RESULTS / "privacy_defaults.jsonl"))
    args = parser.parse_args(argv)
    commands = {
        "run": cmd_run,
        "report": cmd_report,
        "defaults": cmd_defaults,
        "defaults-report": cmd_defaults_report,
    }
    commands[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
