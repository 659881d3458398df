"""The benchmark's donor draws on balanced PneumoniaMNIST, for the probe scripts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, recipient_sets


def balanced_draws(
    n: int, seeds: list[int], dataset: str = "balanced"
) -> Iterator[tuple[int, np.ndarray, np.ndarray, dict]]:
    """``(seed, X_donor, y_donor, sets)`` per seed: ``n`` donor images per class drawn as
    ``benchmarks/run.py`` draws them, and ``sets = {"A": (X, y), "B": (X, y)}`` (the rest of
    the train split, and the test split). With ``dataset="official"`` the draw comes from the
    official train split and ``sets = {"official_test": (X, y)}``."""
    X_train, y_train, X_test, y_test = load_dataset(dataset)
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets(dataset, X_train, y_train, X_test, y_test, donor)
        yield seed, X_train[donor], y_train[donor], sets


def score_configs(n: int, seeds: list[int], names: list[str], make: Callable) -> None:
    """For each draw and config: ``make(name, seed)`` (an unfitted transformer) + ``SVC()``
    fitted on the donor's images, scored on A and B; one JSON row per (config, n, seed)."""
    from sklearn.metrics import accuracy_score
    from sklearn.svm import SVC

    for seed, X_donor, y_donor, sets in balanced_draws(n, seeds):
        for name in names:
            t0 = time.perf_counter()
            est = make(name, seed)
            svc = SVC().fit(est.fit_transform(X_donor, y_donor), y_donor)
            row = {"config": name, "n": n, "seed": seed, "fit_s": time.perf_counter() - t0}
            for recipient, (X, y) in sets.items():
                row[recipient] = accuracy_score(y, svc.predict(est.transform(X)))
            print(json.dumps(row), flush=True)


def trained_by(net: type, name: str, seed: int):
    """``DCSAETransformer(random_state=seed)`` on the CPU whose training uses the skorch net
    class ``net`` (a subclass of the library's), through the documented
    ``_training_net_class`` hook; ``name`` names the generated class."""
    from skdcsae import DCSAETransformer

    hook = {"_training_net_class": lambda self: net}
    return type(f"_Probe_{name}", (DCSAETransformer,), hook)(random_state=seed, device="cpu")


def score_from_argv(make: Callable) -> None:
    """:func:`score_configs` for a probe's command line ``N SEEDS CONFIGS``, for example
    ``180 0,1,2,3 mixup,wd0.1``."""
    n, seeds, names = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3].split(",")
    score_configs(n, [int(s) for s in seeds], names, make)
