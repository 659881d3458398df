"""``skdcsae recipient --review-fraction/--min-confidence/--review-out/--report`` on real files."""

import csv
import math

import numpy as np
import pytest
from PIL import Image

from skdcsae._cli import main

from ..cli.test_cli import run_cli
from ..conftest import shared_data_file

FORMULA_NAME = '=HYPERLINK("evil.example")'


@pytest.fixture(scope="module")
def folder(digits_kit, tmp_path_factory):
    """The recipient's images as PNG files, one named like a spreadsheet formula."""
    _, X, _, _, rest = digits_kit
    root = tmp_path_factory.mktemp("images")
    names = [f"img{i:03d}.png" for i in rest[:40]]
    names[3] = f"{FORMULA_NAME}.png"
    for name, i in zip(names, rest[:40], strict=True):
        Image.fromarray(X[i]).save(root / name)
    return root


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_review_queue_and_report_end_to_end(digits_kit, folder, tmp_path):
    kit = digits_kit[0]
    out = tmp_path / "labels.csv"
    proc = run_cli(
        "recipient", kit, folder, "--out", out, "--device", "cpu",
        "--review-fraction", "0.25", "--report", tmp_path / "report.html",
    )  # fmt: skip
    rows = _rows(out)
    assert list(rows[0]) == ["file", "label", "probability", "needs_review"]
    assert len(rows) == 40
    flagged = [r for r in rows if r["needs_review"] == "true"]
    assert len(flagged) == math.ceil(0.25 * 40) == 10
    assert {r["needs_review"] for r in rows} == {"true", "false"}
    probability = np.array([float(r["probability"]) for r in rows])
    assert probability.min() >= 0.5 and probability.max() <= 1.0
    kept = [float(r["probability"]) for r in rows if r["needs_review"] == "false"]
    assert max(float(r["probability"]) for r in flagged) <= min(kept)
    # the review list: default name beside --out, least confident first
    review = _rows(tmp_path / "labels_review.csv")
    assert list(review[0]) == ["rank", "file", "label", "probability"]
    assert [r["rank"] for r in review] == [str(k) for k in range(1, 11)]
    assert {r["file"] for r in review} == {r["file"] for r in flagged}
    values = [float(r["probability"]) for r in review]
    assert values == sorted(values)
    # a file name that a spreadsheet would run as a formula is written as text
    cells = [r["file"] for r in rows]
    assert f"'{FORMULA_NAME}.png" in cells and f"{FORMULA_NAME}.png" not in cells
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for section in ("summary", "confidence", "review", "latent", "kit"):
        assert f'<section id="{section}">' in html
    assert '<section id="truth">' not in html  # a flat folder carries no labels
    assert "10 of 40 images flagged for review" in proc.stdout
    assert "Report written to" in proc.stdout


def _main(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_without_a_review_rule_the_csv_has_no_review_column(digits_kit, folder, tmp_path, capsys):
    out = tmp_path / "labels.csv"
    status, _, err = _main(capsys, "recipient", digits_kit[0], folder, "--out", out, "--device",
                           "cpu")  # fmt: skip
    assert status == 0, err
    assert list(_rows(out)[0]) == ["file", "label", "probability"]
    assert not (tmp_path / "labels_review.csv").exists()
    # --min-confidence alone, and a chosen --review-out
    status, _, err = _main(
        capsys, "recipient", digits_kit[0], folder, "--out", out, "--force", "--device", "cpu",
        "--min-confidence", "0.99", "--review-out", tmp_path / "check.csv",
    )  # fmt: skip
    assert status == 0, err
    rows = _rows(out)
    flagged = {r["file"] for r in rows if r["needs_review"] == "true"}
    assert flagged == {r["file"] for r in rows if float(r["probability"]) < 0.99}
    assert {r["file"] for r in _rows(tmp_path / "check.csv")} == flagged


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--review-fraction", "1.5"], "--review-fraction must be between 0 and 1; got 1.5"),
        (["--review-fraction", "-0.1"], "--review-fraction must be between 0 and 1"),
        (["--review-fraction", "nan"], "--review-fraction must be between 0 and 1"),
        (["--min-confidence", "2"], "--min-confidence must be between 0 and 1"),
        (["--review-out", "{tmp}/r.csv"], "--review-out needs --review-fraction"),
        (["--review-fraction", "0.1", "--review-out", "{tmp}/labels.csv"], "name the same file"),
        (["--review-fraction", "0.1", "--review-out", "{existing}"], "already exists"),
        (["--report", "{existing}"], "already exists; pass --force"),
        (["--report", "{tmp}/missing/report.html"], "does not exist"),
    ],
)
def test_bad_review_input_is_one_line_and_writes_nothing(
    digits_kit, folder, tmp_path, capsys, extra, message
):
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    extra = [e.format(tmp=tmp_path, existing=existing) for e in extra]
    out = tmp_path / "labels.csv"
    status, stdout, err = _main(
        capsys, "recipient", digits_kit[0], folder, "--out", out, "--device", "cpu", *extra
    )
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.txt"]
    assert existing.read_text() == "keep me" and stdout == ""


def test_an_empty_recipient_set_is_one_line_and_writes_nothing(digits_kit, tmp_path, capsys):
    empty = tmp_path / "empty.npz"
    images = {s: np.zeros((n, 8, 8), np.uint8) for s, n in (("train", 4), ("val", 0), ("test", 0))}
    np.savez(
        empty,
        **{f"{s}_images": a for s, a in images.items()},
        **{f"{s}_labels": np.zeros((len(a), 1), int) for s, a in images.items()},
    )
    out = tmp_path / "labels.csv"
    status, _, err = _main(
        capsys, "recipient", digits_kit[0], empty, "--split", "test", "--out", out,
        "--device", "cpu", "--review-fraction", "0.1", "--report", tmp_path / "r.html",
    )  # fmt: skip
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "no images to label" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.npz"]
    (tmp_path / "folder").mkdir()
    status, _, err = _main(capsys, "recipient", digits_kit[0], tmp_path / "folder", "--out", out)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "No image files" in err
    assert not out.exists()


def test_force_overwrites_every_output(digits_kit, folder, tmp_path, capsys):
    paths = [tmp_path / n for n in ("labels.csv", "labels_review.csv", "report.html")]
    for p in paths:
        p.write_text("old")
    args = ["recipient", digits_kit[0], folder, "--out", paths[0], "--device", "cpu"]
    args += ["--review-fraction", "0.1", "--report", paths[2], "--force"]
    status, _, err = _main(capsys, *args)
    assert status == 0, err
    assert all(p.read_text(encoding="utf-8") != "old" for p in paths)


@pytest.mark.realdata
def test_pneumonia_npz_report_compares_with_the_true_labels(tmp_path, capsys):
    """Real data: a kit from 30 PneumoniaMNIST images per class, labelling 300 test images."""
    from skdcsae import DCSAETransformer

    with np.load(shared_data_file("pneumoniamnist_balanced.npz")) as d:
        Xd, yd = d["train_images"], d["train_labels"].ravel()
        arrays = {k: d[k][:300] for k in ("test_images", "test_labels")}
    donor = np.concatenate([np.flatnonzero(yd == c)[:30] for c in (0, 1)])
    est = DCSAETransformer(
        conv_channels=(16, 8), dense_sizes=(64,), max_epochs=8, min_steps=0, batch_size=16,
        device="cpu",
        random_state=0,
    ).fit(Xd[donor], yd[donor])  # fmt: skip
    est.export_donor_kit(tmp_path / "kit.joblib", Xd[donor], yd[donor])
    npz = tmp_path / "recipient.npz"
    np.savez(npz, train_images=Xd[:2], train_labels=yd[:2, None], val_images=Xd[:2],
             val_labels=yd[:2, None], **arrays)  # fmt: skip
    status, out, err = _main(
        capsys, "recipient", tmp_path / "kit.joblib", npz, "--split", "test",
        "--out", tmp_path / "labels.csv", "--device", "cpu", "--review-fraction", "0.2",
        "--report", tmp_path / "report.html",
    )  # fmt: skip
    assert status == 0, err
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<section id="truth">' in html and "accuracy, kept labels" in html
    accuracy = float(out.split("accuracy against them")[1].split()[0])
    assert accuracy > 0.6
    review = _rows(tmp_path / "labels_review.csv")
    assert len(review) == 60 and review[0]["file"].startswith("recipient.npz:test[")
