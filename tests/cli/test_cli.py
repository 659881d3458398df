"""The skdcsae command line, end to end in subprocesses."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from skdcsae._cli import main

from ..conftest import REPO_ROOT, shared_data_file


def run_cli(*args, cwd=None, check=True):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "skdcsae", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """A small MedMNIST-layout file cut from the real balanced PneumoniaMNIST."""
    src = shared_data_file("pneumoniamnist_balanced.npz")
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("data") / "pneumonia_small.npz"
    with np.load(src) as d:
        arrays = {}
        for split, n in (("train", 200), ("val", 20), ("test", 200)):
            idx = rng.choice(len(d[f"{split}_labels"]), n, replace=False)
            arrays[f"{split}_images"] = d[f"{split}_images"][idx]
            arrays[f"{split}_labels"] = d[f"{split}_labels"][idx]
    np.savez(out, **arrays)
    return out


@pytest.mark.realdata
def test_donor_inspect_recipient_round_trip(small_npz, tmp_path):
    kit = tmp_path / "kit.joblib"
    key = tmp_path / "secret.key"
    key.write_text("a shared secret\n")
    donor = run_cli(
        "donor",
        small_npz,
        "--out",
        kit,
        "--n-per-class",
        40,
        "--epochs",
        15,
        "--device",
        "cpu",
        "--key-file",
        key,
        "--plots",
        tmp_path / "plots",
    )
    assert kit.is_file()
    assert "train_loss" in donor.stdout  # the per-epoch loss table
    assert "Donor kit written" in donor.stdout
    assert (tmp_path / "plots" / "donor_latent_space.png").stat().st_size > 1000

    shown = run_cli("inspect", kit, "--key-file", key)
    assert "encoder" in shown.stdout.lower()

    labels = tmp_path / "labels.csv"
    rec = run_cli(
        "recipient",
        kit,
        small_npz,
        "--split",
        "test",
        "--out",
        labels,
        "--key-file",
        key,
        "--device",
        "cpu",
    )
    rows = list(csv.DictReader(labels.open()))
    assert len(rows) == 200
    assert {r["label"] for r in rows} <= {"0", "1"}
    assert all(0.5 <= float(r["probability"]) <= 1.0 for r in rows)  # of the assigned label
    accuracy = float(rec.stdout.split("accuracy against them")[1].split()[0])
    assert accuracy > 0.7, rec.stdout

    # never overwrite without --force
    again = run_cli(
        "recipient",
        kit,
        small_npz,
        "--split",
        "test",
        "--out",
        labels,
        "--key-file",
        key,
        check=False,
    )
    assert again.returncode == 2 and "--force" in again.stderr
    again = run_cli("donor", small_npz, "--out", kit, "--epochs", 1, "--steps", 0, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    # a wrong key is refused, in one line
    bad = tmp_path / "bad.key"
    bad.write_text("not the secret")
    refused = run_cli(
        "recipient", kit, small_npz, "--out", tmp_path / "x.csv", "--key-file", bad, check=False
    )
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


def _auc(stdout: str) -> float:
    return float(stdout.split("membership ROC AUC")[1].split()[0])


@pytest.mark.realdata
def test_donor_release_and_audit(small_npz, tmp_path):
    common = ["--n-per-class", 30, "--epochs", 8, "--steps", 0, "--device", "cpu", "--quiet"]
    audit_args = ["--members", small_npz, "--n-per-class", 30, "--seed", 0]
    audit_args += ["--non-members", small_npz, "--eval", small_npz, "--device", "cpu"]
    per_image = tmp_path / "per_image.joblib"
    quiet = run_cli("donor", small_npz, "--out", per_image, "--release", "per_image",
                    "--alpha", 2.5, *common)  # fmt: skip
    assert quiet.stdout == "" and quiet.stderr == ""
    assert "alpha=2.5" in run_cli("inspect", per_image).stdout
    found = run_cli("audit", per_image, *audit_args)
    assert _auc(found.stdout) == 1.0, found.stdout  # every member's row is in the kit
    assert "kit accuracy" in found.stdout and "not a proof" in found.stdout
    assert "vs per-image kit" in found.stdout  # the members' labels come from the .npz

    synthetic = tmp_path / "synthetic.joblib"
    donor = run_cli(
        "donor", small_npz, "--out", synthetic, "--norm", "group",
        *common[:-1],  # the default release; not --quiet: its information lines are checked
    )  # fmt: skip
    assert "no row belongs to a donor image" in donor.stdout
    hidden = run_cli("audit", synthetic, *audit_args)
    assert _auc(hidden.stdout) < 0.8, hidden.stdout
    shown = run_cli("inspect", synthetic).stdout
    assert shown.splitlines()[1].split()[:3] == ["reveals", "synthetic", "rows"]
    assert "norm group" in shown

    noisy = run_cli(
        "donor", small_npz, "--out", tmp_path / "n.joblib", "--release", "per_image",
        "--feature-noise", "1", *common,
        check=False,
    )  # fmt: skip
    assert noisy.returncode == 2 and "--feature-noise needs --clip-norm" in noisy.stderr
    few = run_cli("donor", small_npz, "--out", tmp_path / "f.joblib", "--n-per-class", 5,
                  "--epochs", 1, "--steps", 0, "--device", "cpu", check=False)  # fmt: skip
    assert few.returncode == 2 and len(few.stderr.strip().splitlines()) == 1, few.stderr
    assert "--release per_image" in few.stderr and "smaller --min-count" in few.stderr
    assert "Trained" not in few.stdout  # refused before training


def test_recipient_labels_an_image_folder(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    from skdcsae import DCSAETransformer

    X, y = load_digits(n_class=2, return_X_y=True)
    X = (X.reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    est = DCSAETransformer(
        conv_channels=(8,),
        dense_sizes=(16,),
        max_epochs=5,
        min_steps=0,
        device="cpu",
        random_state=0,
    ).fit(X[:100], y[:100])
    kit = tmp_path / "kit.joblib"
    est.export_donor_kit(kit, X[:100], y[:100])
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for i in range(100, 110):
        Image.fromarray(X[i]).save(folder / f"img{i:03d}.png")
    labels = tmp_path / "labels.csv"
    run_cli("recipient", kit, folder, "--out", labels, "--device", "cpu")
    rows = list(csv.DictReader(labels.open()))
    assert [r["file"] for r in rows] == [f"img{i:03d}.png" for i in range(100, 110)]
    predicted = np.array([int(r["label"]) for r in rows])
    assert np.mean(predicted == y[100:110]) >= 0.8


def test_demo_runs(tmp_path):
    proc = run_cli("demo", "--epochs", 10, "--out-dir", tmp_path, "--device", "cpu")
    assert "accuracy" in proc.stdout
    assert "of them, as many per class, joined its classifier" in proc.stdout
    accuracy = float(proc.stdout.split("true labels: ")[1].split()[0])
    assert accuracy > 0.8
    assert (tmp_path / "donor_kit.joblib").is_file()
    assert (tmp_path / "recipient_labels.csv").is_file()
    again = run_cli("demo", "--epochs", 1, "--out-dir", tmp_path, check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["donor", "missing.npz", "--out", "kit.joblib"], "does not exist"),
        (["recipient", "missing.joblib", "x", "--out", "l.csv"], "missing.joblib"),
        (["inspect", "missing.joblib"], "missing.joblib"),
        (["donor", "x", "--out", "k", "--conv-channels", "a,b"], "comma-separated integers"),
        (["donor", "x", "--out", "k", "--latent-dim", "wide"], "'auto' or a positive integer"),
        (["donor", "x", "--out", "k", "--latent-dim", "0"], "'auto' or a positive integer"),
        (["donor", "x", "--out", "k", "--alpha", "-1"], "'auto' or a number >= 0"),
        (["donor", "x", "--out", "k", "--alpha", "inf"], "'auto' or a number >= 0"),
        (["donor", "x", "--out", "k", "--alpha", "nan"], "'auto' or a number >= 0"),
        (["demo", "--device", "gpu"], "Unknown device"),
        (["audit", "missing.joblib", "--members", "a", "--non-members", "b"], "missing.joblib"),
    ],
)
def test_bad_arguments_give_one_line_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(args)
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["donor", "recipient", "inspect", "audit", "demo", "keygen"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out
