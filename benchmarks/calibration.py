"""Calibrated probabilities and selective labelling on PneumoniaMNIST (issue #16; resumable).

For each donor size ``n`` and seed, one DC-SAE is trained on ``n`` donor images per class as
shipped (``DCSAETransformer()``, the ``defaults`` rows of ``run.py``'s accuracy benchmark), and
a donor kit is exported at the default release. The recipient side then runs from the kit, as a
hospital would:

fit
    Train and export the kit, encode recipient sets A (rest of the train split) and B (test
    split) once with :class:`skdcsae.RecipientLabeler`, and cache kit + features under
    ``--cache`` (not committed). Skips cached units.
evaluate
    For every calibration method (classifiers trained on the kit's features, with its sample
    weights), score the probabilities on A and B: ECE (15 equal-width bins on the top-class
    probability), Brier score, log loss, accuracy, accuracy of the 80%/90% most confident, and
    the accuracy-coverage curve on a grid. The row ``default: RecipientLabeler.label`` runs the
    library's default end to end (kit file -> ``label(X)``). One JSON line per (n, seed,
    recipient, method); rows already in ``--results`` are skipped.
report
    ``calibration.md`` (mean +- SEM over seeds) and ``risk_coverage.png``.

Seeds 0-3 are the evaluation seeds (the same donors as ``run.py``); seeds 100-103 are selection
seeds, on which the default method was chosen before the evaluation seeds were scored.

Examples
--------
::

    OMP_NUM_THREADS=1 python benchmarks/calibration.py fit
    OMP_NUM_THREADS=1 python benchmarks/calibration.py evaluate
    python benchmarks/calibration.py report
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (benchmarks/run.py: the accuracy benchmark's settings and data splits)

RESULTS = run.RESULTS
CACHE = HERE / ".cache" / "calibration"
SIZES = (10, 50, 180)
EVAL_SEEDS = run.SEEDS
SELECTION_SEEDS = (100, 101, 102, 103)
COVERAGES = tuple(round(0.05 * k, 2) for k in range(1, 21))
KEY = ("dataset", "n", "seed", "recipient", "method")
DEFAULT_METHOD = "default: RecipientLabeler.label"


def dcsae_settings() -> dict:
    """The DC-SAE parameters: the library's defaults, on the CPU."""
    return {"device": "cpu"}


def unit_dir(cache: Path, dataset: str, n: int, seed: int) -> Path:
    return Path(cache) / f"{dataset}_n{n}_s{seed}"


# --------------------------------------------------------------------------------------------
# fit: train, export, encode once
# --------------------------------------------------------------------------------------------
def fit_unit(dataset: str, n: int, seed: int, cache: Path, data_dir: Path) -> dict:
    """Train the DC-SAE, export its kit and cache the recipients' features; return timings."""
    import torch

    from skdcsae import DCSAETransformer, RecipientLabeler

    torch.set_num_threads(1)
    folder = unit_dir(cache, dataset, n, seed)
    if (folder / "features.npz").is_file():
        return {"cached": True}
    X_train, y_train, X_test, y_test = run.load_dataset(dataset, data_dir)
    donor = run.donor_indices(y_train, n, seed)
    recipients = run.recipient_sets(dataset, X_train, y_train, X_test, y_test, donor)
    start = time.perf_counter()
    est = DCSAETransformer(**dcsae_settings(), random_state=seed).fit(
        X_train[donor], y_train[donor]
    )
    fit_s = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    est.export_donor_kit(folder / "kit.joblib", X_train[donor], y_train[donor], overwrite=True)
    labeler = RecipientLabeler(folder / "kit.joblib", device="cpu").fit()
    arrays = {"donor": donor, "fit_s": fit_s}
    for name, (Xr, yr) in recipients.items():
        arrays[f"F_{name}"] = labeler.transform(Xr)
        arrays[f"y_{name}"] = yr
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **arrays)
    Path(tmp.name).replace(folder / "features.npz")
    return {"cached": False, "fit_s": fit_s}


def cmd_fit(args) -> None:
    for seeds in (args.selection_seeds, args.seeds):
        for n in args.sizes:
            for seed in seeds:
                t0 = time.perf_counter()
                info = fit_unit(args.dataset, n, seed, args.cache, args.data_dir)
                state = "cached" if info["cached"] else f"fit {info['fit_s']:.0f} s"
                print(f"n={n} seed={seed}: {state}, {time.perf_counter() - t0:.0f} s", flush=True)


def cached_units(dataset: str = "balanced", cache: Path = CACHE):
    """``(n, seed, features, folder)`` of every fitted unit, selection seeds first: the
    cached kits and recipient features that probes reuse without training again."""
    for seeds in (SELECTION_SEEDS, EVAL_SEEDS):
        for n in SIZES:
            for seed in seeds:
                folder = unit_dir(cache, dataset, n, seed)
                with np.load(folder / "features.npz") as f:
                    yield n, seed, {k: f[k] for k in f.files}, folder


# --------------------------------------------------------------------------------------------
# evaluate: calibration methods on the cached features
# --------------------------------------------------------------------------------------------
def candidate_methods(labels) -> dict:
    """Ways to get probabilities from the kit's features, each an unfitted classifier.

    ``k = min(5, rows of the smallest class)`` folds, unshuffled (as the library's default).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    smallest = int(np.unique(labels, return_counts=True)[1].min())

    def calibrated(method, folds=5, ensemble=False):
        cv = StratifiedKFold(min(folds, smallest))
        return CalibratedClassifierCV(SVC(), method=method, cv=cv, ensemble=ensemble)

    return {
        "SVC, uncalibrated (ranked by abs. decision value)": SVC(),
        "sigmoid, 5-fold, one SVC": calibrated("sigmoid"),
        "sigmoid, 5-fold, ensemble": calibrated("sigmoid", ensemble=True),
        "sigmoid, 10-fold, one SVC": calibrated("sigmoid", folds=10),
        "temperature, 5-fold, one SVC": calibrated("temperature"),
        "isotonic, 5-fold, one SVC": calibrated("isotonic"),
        "SVC(probability=True)": SVC(probability=True, random_state=0),
        "LogisticRegression": LogisticRegression(),
    }


def prediction_scores(y_true, y_pred, proba, classes, confidence=None) -> dict:
    """ECE, Brier, log loss, accuracy, accuracy at coverages and the coverage grid."""
    from sklearn.metrics import brier_score_loss, log_loss

    from skdcsae.recipient import accuracy_at_coverage, expected_calibration_error

    row = {"accuracy": float(np.mean(y_true == y_pred))}
    if proba is not None:
        row["ece"] = expected_calibration_error(y_true, proba, labels=classes)
        row["brier"] = float(brier_score_loss(y_true, proba, labels=classes))
        row["log_loss"] = float(log_loss(y_true, np.clip(proba, 1e-15, 1), labels=classes))
        if confidence is None:
            confidence = proba[np.arange(len(y_pred)), np.searchsorted(classes, y_pred)]
        row["mean_confidence"] = float(np.mean(confidence))
    curve = [accuracy_at_coverage(y_true, y_pred, confidence, c) for c in COVERAGES]
    row["acc_at_80"] = accuracy_at_coverage(y_true, y_pred, confidence, 0.8)
    row["acc_at_90"] = accuracy_at_coverage(y_true, y_pred, confidence, 0.9)
    row["coverage_grid"] = list(COVERAGES)
    row["accuracy_grid"] = [round(a, 6) for a in curve]
    return row


def evaluate_unit(dataset: str, n: int, seed: int, cache: Path, data_dir: Path, done) -> list:
    """Rows for every method not yet in ``done`` on one cached (n, seed)."""
    from sklearn.base import clone

    from skdcsae import RecipientLabeler
    from skdcsae.recipient._members import fit_member_classifier

    folder = unit_dir(cache, dataset, n, seed)
    with np.load(folder / "features.npz") as f:
        data = {k: f[k] for k in f.files}
    names = [k[2:] for k in data if k.startswith("F_")]
    base = RecipientLabeler(folder / "kit.joblib", device="cpu").fit()
    kit = base.kit_
    rows = []
    common = {"dataset": dataset, "n": n, "seed": seed, "n_kit_rows": kit.n_rows}
    for method, classifier in candidate_methods(kit.labels).items():
        if all((dataset, n, seed, r, method) in done for r in names):
            continue
        clf = clone(classifier)
        fit_member_classifier(clf, kit.members[0], kit.classes)
        for r in names:
            F, y = data[f"F_{r}"], data[f"y_{r}"]
            y_pred = clf.predict(F)
            if hasattr(clf, "predict_proba"):
                proba, confidence = clf.predict_proba(F), None
            else:
                proba, confidence = None, np.abs(clf.decision_function(F))
            scores = prediction_scores(y, y_pred, proba, kit.classes, confidence)
            rows.append({**common, "recipient": r, "method": method, **scores})
    if not all((dataset, n, seed, r, DEFAULT_METHOD) in done for r in names):
        X_train, y_train, X_test, y_test = run.load_dataset(dataset, data_dir)
        sets = run.recipient_sets(dataset, X_train, y_train, X_test, y_test, data["donor"])
        for r in names:
            Xr, yr = sets[r]
            assert np.array_equal(yr, data[f"y_{r}"]), "recipient set changed since the fit"
            labeler = RecipientLabeler(folder / "kit.joblib", device="cpu").fit()
            t0 = time.perf_counter()
            result = labeler.label(Xr, review_fraction=0.2)
            label_s = time.perf_counter() - t0
            scores = prediction_scores(
                yr, result.labels, result.proba, labeler.classes_, result.confidence
            )
            flagged = result.needs_review
            rows.append(
                {
                    **common,
                    "recipient": r,
                    "method": DEFAULT_METHOD,
                    "classifier": repr(labeler.classifier_),
                    **scores,
                    "review_fraction": 0.2,
                    "n_flagged": int(flagged.sum()),
                    "acc_kept": float(np.mean(result.labels[~flagged] == yr[~flagged])),
                    "label_s": round(label_s, 3),
                }
            )
    for row in rows:
        row["fit_s"] = round(float(data["fit_s"]), 2)
        row["library"] = run.library_info()
    return rows


def cmd_evaluate(args) -> None:
    done = {tuple(r[k] for k in KEY) for r in run.read_rows(args.results)}
    for seeds in (args.selection_seeds, args.seeds):
        for n in args.sizes:
            for seed in seeds:
                if not (unit_dir(args.cache, args.dataset, n, seed) / "features.npz").is_file():
                    print(f"n={n} seed={seed}: not fitted yet (run 'fit')", flush=True)
                    continue
                rows = evaluate_unit(args.dataset, n, seed, args.cache, args.data_dir, done)
                run.append_rows(args.results, rows)
                done.update(tuple(r[k] for k in KEY) for r in rows)
                print(f"n={n} seed={seed}: {len(rows)} rows", flush=True)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
TARGETS = {50: ("acc_at_80", 0.97), 180: ("acc_at_90", 0.97)}
RECIPIENTS = {"A": "recipient A = rest of the train split", "B": "recipient B = test split"}
COLUMNS = (
    ("ece", "ECE"),
    ("brier", "Brier"),
    ("log_loss", "log loss"),
    ("acc_at_80", "acc. of 80% most confident"),
    ("acc_at_90", "acc. of 90% most confident"),
    ("accuracy", "accuracy (all)"),
    ("mean_confidence", "mean confidence"),
)


def _select(rows, **match) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def _cell(rows, field) -> str:
    values = [r[field] for r in rows if r.get(field) is not None]
    if not values:
        return "—"
    cell = run._mean_sem(values)
    return cell if len(values) == len(rows) else f"{cell} [{len(values)}]"


def headline_table(rows, recipient, seeds) -> list[str]:
    """The default (``RecipientLabeler.label``): one line per donor size."""
    lines = [
        "| n per class | " + " | ".join(name for _, name in COLUMNS) + " | seeds | target |",
        "| --- " * (len(COLUMNS) + 3) + "|",
    ]
    for n in sorted({r["n"] for r in rows}):
        sel = [
            r
            for r in _select(rows, n=n, recipient=recipient, method=DEFAULT_METHOD)
            if r["seed"] in seeds
        ]
        if not sel:
            continue
        targets = []
        if recipient == "A" and n in TARGETS:
            field, goal = TARGETS[n]
            mean = float(np.mean([r[field] for r in sel]))
            name = dict(COLUMNS)[field].replace("acc. of ", "")
            targets.append(f"{name} >= {goal}: {'met' if mean >= goal else 'NOT met'}")
        if recipient == "A" and n >= 50:
            ece = float(np.mean([r["ece"] for r in sel]))
            targets.append(f"ECE <= 0.05: {'met' if ece <= 0.05 else 'NOT met'}")
        target = "; ".join(targets) or "—"
        cells = [_cell(sel, f) for f, _ in COLUMNS]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {len(sel)} | {target} |")
    return lines


def method_table(rows, recipient, seeds) -> list[str]:
    """Every calibration method: ECE / Brier / acc@80 per donor size."""
    sizes = sorted({r["n"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows if r["method"] != DEFAULT_METHOD))
    lines = [
        "| method | "
        + " | ".join(f"n={n}: ECE / Brier / log loss / acc@80%" for n in sizes)
        + " |",
        "| --- " * (len(sizes) + 1) + "|",
    ]
    for method in methods:
        cells = []
        for n in sizes:
            sel = [
                r
                for r in _select(rows, n=n, recipient=recipient, method=method)
                if r["seed"] in seeds
            ]
            mean = {
                f: (np.mean([r[f] for r in sel]) if sel and sel[0].get(f) is not None else None)
                for f in ("ece", "brier", "log_loss", "acc_at_80")
            }
            cells.append(" / ".join("—" if v is None else f"{v:.3f}" for v in mean.values()))
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def coverage_table(rows, recipient, seeds) -> list[str]:
    """Accuracy of the kept labels on a coverage grid (the default), mean over seeds."""
    grid = [c for c in COVERAGES if c >= 0.5]
    lines = [
        "| n per class | " + " | ".join(f"{c:.0%}" for c in grid) + " |",
        "| --- " * (len(grid) + 1) + "|",
    ]
    for n in sorted({r["n"] for r in rows}):
        sel = [
            r
            for r in _select(rows, n=n, recipient=recipient, method=DEFAULT_METHOD)
            if r["seed"] in seeds
        ]
        if not sel:
            continue
        curves = np.array([r["accuracy_grid"] for r in sel])
        index = [COVERAGES.index(c) for c in grid]
        lines.append(f"| {n} | " + " | ".join(f"{curves[:, i].mean():.3f}" for i in index) + " |")
    return lines


def coverage_figure(args, path: Path) -> bool:
    """``plot_risk_coverage`` per donor size from the cached features (False if uncached)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdcsae import RecipientLabeler

    try:
        from skdcsae.plotting import plot_risk_coverage
    except ImportError:  # before skdcsae.plotting re-exports it
        from skdcsae._plot_coverage import plot_risk_coverage

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained", sharey=True)
    for ax, recipient in zip(axes, ("A", "B"), strict=True):
        for i, n in enumerate(args.sizes):
            runs = ([], [], [])
            for seed in args.seeds:
                folder = unit_dir(args.cache, args.dataset, n, seed)
                if not (folder / "features.npz").is_file():
                    return False
                labeler = RecipientLabeler(folder / "kit.joblib", device="cpu").fit()
                with np.load(folder / "features.npz") as f:
                    F, y = f[f"F_{recipient}"], f[f"y_{recipient}"]
                proba = labeler.classifier_.predict_proba(F)
                runs[0].append(y)
                runs[1].append(labeler.classes_[proba.argmax(axis=1)])
                runs[2].append(proba.max(axis=1))
            marks = (0.8, 0.9) if recipient == "A" else ()  # B: curves too close to label
            plot_risk_coverage(*runs, label=f"n={n}", ax=ax, color=f"C{i}", mark=marks)
        ax.set_title(RECIPIENTS[recipient])
        ax.set_ylim(0.75, 1.005)
    fig.savefig(path, dpi=120)
    return True


def cmd_report(args) -> None:
    info = run.machine_info()
    rows = run.read_rows(args.results)
    settings = dcsae_settings()
    out = Path(args.out_dir)
    figure = coverage_figure(args, out / "risk_coverage.png")
    md = [
        "# Calibrated probabilities and selective labelling (issue #16)",
        "",
        f"- Commit of the benchmark code: `{info['commit']}`; skdcsae last changed in "
        f"`{info['library_commit']}` (rows record the skdcsae they ran: `library`)",
        f"- Machine: {info['cpu']}, {info['cores']} cores (shared with other jobs), torch "
        f"{info['torch']}, Python {info['python']}",
        "- Commands: `OMP_NUM_THREADS=1 python benchmarks/calibration.py fit`, then `evaluate`, "
        "then `report` (rows in `calibration.jsonl`, one per n/seed/recipient/method)",
        "- Data: balanced PneumoniaMNIST; donor n images per class from the train split "
        "(`run.donor_indices`), recipient A = the rest of the train split, B = the test split",
        "- DC-SAE: `DCSAETransformer(random_state=seed)` with the library's defaults"
        + "".join(f", {k}={v}" for k, v in settings.items() if k != "device")
        + "; kit exported with the defaults (synthetic release)",
        f"- Seeds: evaluation {', '.join(map(str, args.seeds))} (the donors of `run.py`); "
        f"selection {', '.join(map(str, args.selection_seeds))} (the default calibration was "
        "chosen on these before the evaluation seeds were scored)",
        "- ECE: 15 equal-width bins of [0, 1] on the top-class probability, "
        "sum over bins of (bin share) x (absolute gap between accuracy and mean confidence). "
        "Brier: "
        "`sklearn.metrics.brier_score_loss` (binary: mean of (p(class 1) - y)^2). Accuracy of "
        "the c most confident: `ceil((1 - c) n)` least confident set aside, exactly as "
        "`label(review_fraction=1 - c)` does. Cells: mean ± SEM over seeds",
        f"- Default: `{DEFAULT_METHOD}` = `CalibratedClassifierCV(SVC(), method='sigmoid', "
        "cv=StratifiedKFold(5), ensemble=False)` fitted on the kit's features, run end to end "
        "from the kit file",
        "",
    ]
    for recipient, name in RECIPIENTS.items():
        md += [f"## The default, {name} (evaluation seeds)", ""]
        md += [*headline_table(rows, recipient, set(args.seeds)), ""]
    md += ["## Accuracy of the kept labels against coverage (the default, evaluation seeds)", ""]
    for recipient, name in RECIPIENTS.items():
        md += [f"{name}:", "", *coverage_table(rows, recipient, set(args.seeds)), ""]
    if figure:
        md += ["![accuracy against coverage](risk_coverage.png)", ""]
    for label, seeds in (("selection", args.selection_seeds), ("evaluation", args.seeds)):
        for recipient, name in RECIPIENTS.items():
            md += [f"## Calibration methods, {name} ({label} seeds, means)", ""]
            md += [*method_table(rows, recipient, set(seeds)), ""]
    (out / "calibration.md").write_text("\n".join(md))
    print(f"wrote {out / 'calibration.md'}" + (" and risk_coverage.png" if figure else ""))


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("fit", "evaluate", "report"):
        p = sub.add_parser(name)
        p.add_argument("--results", type=Path, default=RESULTS / "calibration.jsonl")
        p.add_argument("--cache", type=Path, default=CACHE)
        p.add_argument("--data-dir", type=Path, default=run.DATA)
        p.add_argument("--dataset", default="balanced", choices=["balanced"])
        p.add_argument("--sizes", type=_ints, default=SIZES)
        p.add_argument("--seeds", type=_ints, default=EVAL_SEEDS)
        p.add_argument("--selection-seeds", type=_ints, default=SELECTION_SEEDS)
        p.add_argument("--out-dir", type=Path, default=RESULTS)
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    {"fit": cmd_fit, "evaluate": cmd_evaluate, "report": cmd_report}[args.command](args)


if __name__ == "__main__":
    main()
