"""Smoke tests of ``benchmarks/run.py`` on tiny synthetic configurations, so it cannot rot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

RUN_PY = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("skdcsae_bench_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data_dir(tmp_path):
    """Both staged file names, filled with small random images of two classes."""
    rng = np.random.default_rng(0)
    for name in ("pneumoniamnist.npz", "pneumoniamnist_balanced.npz"):
        arrays = {}
        for split, n in (("train", 24), ("val", 4), ("test", 12)):
            arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            arrays[f"{split}_labels"] = (np.arange(n) % 2).astype(np.uint8).reshape(-1, 1)
        np.savez(tmp_path / name, **arrays)
    return tmp_path


def test_accuracy_is_resumable_and_report_writes(bench, data_dir, tmp_path, capsys):
    results = tmp_path / "acc.jsonl"
    argv = [
        "accuracy", "--results", str(results), "--data-dir", str(data_dir),
        "--sizes", "10", "--seeds", "0", "--epochs", "1", "--resnet-epochs", "1",
        "--min-steps", "0", "--workers", "1",
    ]  # fmt: skip
    bench.main(argv)
    rows = bench.read_rows(results)
    methods = {m for g, ms in bench.GROUP_METHODS.items() if g != "pool" for m in ms}
    # balanced: every method on recipients A and B; official: every method on its test split.
    assert len(rows) == len(methods) * 3
    assert {r["method"] for r in rows} == methods
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["roc_auc"] <= 1
    a_rows = [r for r in rows if r["recipient"] == "A"]
    assert all(r["n_recipient"] == 24 - 2 * 10 for r in a_rows)
    capsys.readouterr()
    bench.main(argv)  # second run: everything is there, nothing is refitted
    assert "0 fits to run" in capsys.readouterr().out
    assert len(bench.read_rows(results)) == len(rows)
    # a torn last line (interrupted write) is ignored, and its unit is redone
    with open(results, "a") as f:
        f.write('{"dataset": "bal')
    bench.main(["report", "--results", str(results), "--speed-results",
                str(tmp_path / "none.jsonl"), "--out-dir", str(tmp_path)])  # fmt: skip
    text = (tmp_path / "accuracy.md").read_text()
    assert "DC-SAE (means)" in text and "DC-SAE (defaults, kit)" in text
    assert "Commit" in text and "torch" in text
    assert (tmp_path / "figure3.png").stat().st_size > 0


def test_the_semi_supervised_track_keeps_its_recipient_apart(bench, data_dir, tmp_path):
    results = tmp_path / "pool.jsonl"
    bench.main(["accuracy", "--results", str(results), "--data-dir", str(data_dir),
                "--order", "pool", "--sizes", "3", "--seeds", "0", "--min-steps", "0",
                "--epochs", "1", "--workers", "1"])  # fmt: skip
    rows = bench.read_rows(results)
    assert {(r["method"], r["recipient"]) for r in rows} == {
        (m, rec) for m in bench.GROUP_METHODS["pool"] for rec in ("A_pool", "B")
    }
    pool, rest = bench.pool_split(np.arange(24) % 2, np.arange(6), seed=0)
    assert len(pool) == 9 and not set(pool) & set(rest) and not set(pool) & set(range(6))
    assert all(r["n_recipient"] == len(rest) for r in rows if r["recipient"] == "A_pool")


def test_paper_features_from_one_fit_match_a_paper_fit(bench):
    from skdcsae import DCSAETransformer

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    y = np.arange(16) % 2
    cfg = {"conv_channels": (4,), "dense_sizes": (8,), "max_epochs": 1, "min_steps": 0,
           "device": "cpu",
           "random_state": 3}  # fmt: skip
    est = DCSAETransformer(**cfg).fit(X, y)
    feats = bench.dcsae_feature_sets(est, X, y)
    paper = DCSAETransformer(feature_mode="paper", **cfg)
    np.testing.assert_array_equal(feats["paper"], paper.fit_transform(X, y))
    np.testing.assert_array_equal(
        est.set_params(feature_mode="paper").transform(X), paper.transform(X)
    )
    np.testing.assert_array_equal(feats["means"], DCSAETransformer(**cfg).fit(X, y).transform(X))


def test_speed_is_resumable(bench, tmp_path, capsys):
    results = tmp_path / "speed.jsonl"
    argv = [
        "speed", "--results", str(results), "--archs", "light", "defaults", "--fit-n", "8",
        "--fit-epochs", "1", "--repeats", "1", "--label-n", "256",
        "--rss-n", "300", "--modes", "transform", "--scale-fit-n", "4",
        "--scale-label-n", "64",
    ]  # fmt: skip
    bench.main(argv)
    rows = {r["bench"]: r for r in bench.read_rows(results)}
    assert {r["mode"] for r in bench.read_rows(results) if "mode" in r} == {"transform"}
    assert set(rows) == {"fit_per_epoch", "label_throughput", "label_rss", "scale_fit",
                         "scale_label"}  # fmt: skip
    fits = {r["arch"]: r for r in bench.read_rows(results) if r["bench"] == "fit_per_epoch"}
    assert set(fits) == {"light", "defaults"}  # the defaults: alpha="auto", augmentation, cosine
    assert all(r["ratio_median"] > 0 for r in fits.values())
    assert rows["label_rss"]["labelled"] == 300
    n_rows = len(bench.read_rows(results))
    bench.main(argv)
    assert len(bench.read_rows(results)) == n_rows
    out = capsys.readouterr().out
    assert "skip fit|light" in out
    json.loads(results.read_text().splitlines()[0])
