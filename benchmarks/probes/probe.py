"""Accuracy probes for issue #12 (resumable; one JSON line per finished (config, dataset, n, seed)).

Each job trains ``K`` encoders (members) of a named configuration on ``n`` donor images per
class (``run.donor_indices``), and scores on every recipient set of ``run.recipient_sets``:
member 0 alone (``single``), the K members' SVC decisions averaged (``ens``), and one SVC on the
concatenated features of the K members (``cat``); each with SVC() on raw features (``svc``) and
after StandardScaler (``std_svc``), and with test-time augmentation (``*_tta``) for configs with
``tta``. Pixels PCA + SVC on the same split is scored in the same job.

Semi-supervised track (``--pool 1000``): the donor also holds ``pool`` unlabelled train images
(drawn with ``default_rng([seed, 1])``, disjoint from its labelled ones); recipient A excludes
them. Extra baselines in the same job: PCA(0.95) fitted on pool + labelled, SVC on the labelled.

Examples
--------
::

    OMP_NUM_THREADS=1 PYTHONPATH=/work/wt-acc /work/main/.venv/bin/python \
        benchmarks/probes/probe.py --configs base aug --sizes 10 --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _common import (
    BASE,
    RESULTS,
    append_rows,
    donor_indices,
    evaluate,
    load_dataset,
    pixels_pca,
    read_rows,
    recipient_sets,
    scores,
    stamp,
    train_members,
)

AUG = {"rot": 10.0, "shift": 0.07, "scale": 0.05}
CONFIGS = {
    # old default, reimplemented as a plain loop (K=5 so single and ensemble come from one job)
    "base": {"K": 5},
    "aug": {"K": 5, "aug": AUG, "tta": 4},
    "aug_d8": {"K": 5, "aug": AUG, "tta": 4, "n_components": 8, "rho_per_dim": 2.5},
    "d8": {"K": 5, "n_components": 8, "rho_per_dim": 2.5},
    "aug_cos_s1500": {"K": 5, "aug": AUG, "tta": 4, "cosine": True, "min_steps": 1500},
    "aug_cos_s1500_d8": {
        "K": 5,
        "aug": AUG,
        "tta": 4,
        "cosine": True,
        "min_steps": 1500,
        "n_components": 8,
        "rho_per_dim": 2.5,
    },
    "aug_cos_s1500_wd": {
        "K": 5,
        "aug": AUG,
        "tta": 4,
        "cosine": True,
        "min_steps": 1500,
        "weight_decay": 1e-4,
    },
    "smoke": {"K": 2, "epochs": 2, "aug": AUG, "tta": 1},
    "smoke_semi": {"K": 1, "epochs": 2, "semi": "lse"},
    # semi-supervised (use with --pool)
    # ablation of the candidate: the same steps/schedule/latent without augmentation (K=3)
    "cos_s1500_d8": {
        "K": 3,
        "cosine": True,
        "min_steps": 1500,
        "n_components": 8,
        "rho_per_dim": 2.5,
    },
    # K=1 to save time (machine shared, load 5-8 on 2 cores); the supervised control uses the
    # same split, steps, schedule and latent as the candidate aug_cos_s1500_d8
    "semi_sup_d8": {
        "K": 1,
        "aug": AUG,
        "cosine": True,
        "min_steps": 1500,
        "n_components": 8,
        "rho_per_dim": 2.5,
    },
    "semi_lse_d8": {
        "K": 1,
        "aug": AUG,
        "cosine": True,
        "min_steps": 1500,
        "n_components": 8,
        "rho_per_dim": 2.5,
        "semi": "lse",
    },
    "semi_recon_d8": {
        "K": 1,
        "aug": AUG,
        "cosine": True,
        "min_steps": 1500,
        "n_components": 8,
        "rho_per_dim": 2.5,
        "semi": "recon",
    },
}


def full_config(name: str) -> dict:
    """``name`` or ``name@K<k>``: the same configuration with k members. Member m of seed s is
    trained with torch seed ``1000 * s + m`` whatever K, so ``base@K3``'s members are exactly
    the first three of ``base``'s."""
    base, _, k = name.partition("@K")
    cfg = {**BASE, "tta": 0, **CONFIGS[base]}
    if k:
        cfg["K"] = int(k)
    return cfg


def semi_split(y_train, donor, pool_size, seed):
    rng = np.random.default_rng([seed, 1])
    rest = np.setdiff1d(np.arange(len(y_train)), donor)
    pool = np.sort(rng.choice(rest, pool_size, replace=False))
    return pool, np.setdiff1d(rest, pool)


def run_job(name, dataset, n, seed, pool_size):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    cfg = full_config(name)
    X_train, y_train, X_test, y_test = load_dataset(dataset)
    donor = donor_indices(y_train, n, seed)
    Xd, yd = X_train[donor], y_train[donor]
    recipients = recipient_sets(dataset, X_train, y_train, X_test, y_test, donor)
    X_unl = None
    extra = {}
    if pool_size:
        pool, rest_a = semi_split(y_train, donor, pool_size, seed)
        X_unl = X_train[pool]
        recipients["A"] = (X_train[rest_a], y_train[rest_a])
        pca = PCA(n_components=0.95, random_state=seed).fit(
            np.concatenate([X_unl, Xd]).reshape(-1, Xd[0].size).astype(np.float64)
        )
        model = Pipeline([("pca", pca), ("svc", SVC())])
        model.steps[1][1].fit(pca.transform(Xd.reshape(len(Xd), -1)), yd)
        extra["pool_pca"] = {
            r: scores(
                yr,
                model.predict(Xr.reshape(len(Xr), -1)),
                model.decision_function(Xr.reshape(len(Xr), -1)),
            )
            for r, (Xr, yr) in recipients.items()
        }
    classes, y_index = np.unique(yd, return_inverse=True)
    t0 = time.perf_counter()
    members, secs = train_members(Xd, y_index, len(classes), cfg, seed, X_unl)
    ev = evaluate(
        members,
        Xd,
        y_index,
        {r: (Xr, np.searchsorted(classes, yr)) for r, (Xr, yr) in recipients.items()},
        tta_aug=cfg["aug"],
        tta_views=cfg["tta"],
        seed=seed,
    )
    row = {
        "config": name,
        "dataset": dataset,
        "n": n,
        "seed": seed,
        "pool": pool_size,
        "cfg": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        "fit_s_member": [round(s, 2) for s in secs],
        "job_s": round(time.perf_counter() - t0, 1),
        "eval": {f"{v}|{r}": res for (v, r), res in ev.items()},
        "pixels_pca": pixels_pca(Xd, yd, recipients, seed),
        **extra,
        **stamp(),
    }
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--sizes", nargs="+", type=int, default=[10])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    p.add_argument("--datasets", nargs="+", default=["balanced"])
    p.add_argument("--pool", type=int, default=0)
    p.add_argument("--results", default=str(RESULTS / "probes.jsonl"))
    a = p.parse_args()
    done = {
        (r["config"], r["dataset"], r["n"], r["seed"], r.get("pool", 0))
        for r in read_rows(a.results)
    }
    for dataset in a.datasets:
        for seed in a.seeds:
            for n in a.sizes:
                for name in a.configs:
                    key = (name, dataset, n, seed, a.pool)
                    if key in done:
                        continue
                    row = run_job(name, dataset, n, seed, a.pool)
                    append_rows(a.results, [row])
                    accs = {k: round(v["single"]["accuracy"], 3) for k, v in row["eval"].items()}
                    ens = {
                        k: round(v["ens"]["accuracy"], 3)
                        for k, v in row["eval"].items()
                        if "ens" in v
                    }
                    print(
                        json.dumps(
                            {
                                "key": key,
                                "fit_s": row["fit_s_member"],
                                "single": accs,
                                "ens": ens,
                                "pca": {
                                    r: round(v["accuracy"], 3) for r, v in row["pixels_pca"].items()
                                },
                            }
                        ),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
