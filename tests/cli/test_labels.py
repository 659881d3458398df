"""The recipient's and the audit's accuracy: labels compared as the kit's classes (issue #17)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from skdcsae._cli import main
from skdcsae._cli._common import match_labels

from .conftest import save_npz, save_pngs


def _accuracy(out: str) -> float:
    return float(out.split("accuracy against them")[1].split()[0])


@pytest.mark.parametrize(
    ("y", "classes", "expected"),
    [
        (np.array([0, 1, 1]), np.array(["0", "1"]), ["0", "1", "1"]),  # npz ints, kit strings
        (np.array(["1", "0"]), np.array([0, 1]), [1, 0]),  # folder names, kit ints
        (np.array([0.0, 1.0]), np.array([0, 1]), [0, 1]),
        (np.array([b"1"]), np.array([0, 1]), [1]),
    ],
)
def test_match_labels_compares_numbers_and_numeric_strings(y, classes, expected):
    y_kit, known = match_labels(y, classes)
    assert known.all()
    assert y_kit.tolist() == expected and y_kit.dtype == classes.dtype


def test_match_labels_marks_what_is_not_a_class():
    y_kit, known = match_labels(np.array(["2024-01-02", "1", "x"], dtype=object), [0, 1])
    assert known.tolist() == [False, True, False] and y_kit[1] == 1
    # a .npz's integer labels are also compared by the file's class names
    y_kit, known = match_labels(np.array([1, 0]), np.array(["normal", "pneumonia"]),
                                np.array(["normal", "pneumonia"]))  # fmt: skip
    assert known.all() and y_kit.tolist() == ["pneumonia", "normal"]


def test_date_subfolders_give_no_accuracy(digits01, kits, tmp_path, capsys):
    X, _ = digits01
    save_pngs(tmp_path / "scans" / "2024-03-01", X[100:105])
    save_pngs(tmp_path / "scans" / "2024-03-02", X[105:110])
    status = main(["recipient", str(kits["int"]), str(tmp_path / "scans"),
                   "--out", str(tmp_path / "labels.csv"), "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert "accuracy against them" not in out and "0.000" not in out
    assert "sub-folder names (2024-03-01, 2024-03-02) are not the kit's classes (0, 1)" in out
    assert len(list(csv.DictReader((tmp_path / "labels.csv").open()))) == 10


@pytest.mark.parametrize(("kit", "data"), [("names", "npz"), ("str", "npz"), ("int", "folder")])
def test_accuracy_across_label_kinds(digits01, kits, tmp_path, capsys, kit, data):
    """A .npz's integers against a kit of class names (compared by the file's class names,
    here PneumoniaMNIST's), or of numeric strings; folder names against integer classes."""
    X, y = digits01
    if data == "npz":
        source = save_npz(tmp_path / "pneumoniamnist_mine.npz", X[100:160], y[100:160])
    else:
        source = tmp_path / "recipient"
        for label in (0, 1):
            keep = np.flatnonzero(y[100:160] == label) + 100
            save_pngs(source / str(label), X[keep])
    status = main(["recipient", str(kits[kit]), str(source), "--out",
                   str(tmp_path / "labels.csv"), "--device", "cpu", "--split", "test"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert _accuracy(out) > 0.9, out


def test_partly_matching_labels_are_scored_on_the_matching_images(digits01, kits, tmp_path,
                                                                  capsys):  # fmt: skip
    X, y = digits01
    for label in (0, 1):
        save_pngs(tmp_path / "data" / str(label), X[100:160][y[100:160] == label])
    save_pngs(tmp_path / "data" / "unsure", X[160:163])
    main(["recipient", str(kits["int"]), str(tmp_path / "data"), "--out",
          str(tmp_path / "l.csv"), "--device", "cpu"])  # fmt: skip
    out = capsys.readouterr().out
    assert _accuracy(out) > 0.9
    assert "on the 60 images whose sub-folder names are kit classes; 3 others (unsure)" in out


def test_audit_eval_npz_against_a_kit_of_string_classes(digits01, kits, tmp_path, capsys):
    X, y = digits01
    members = save_npz(tmp_path / "members.npz", X[:100], y[:100])
    others = save_npz(tmp_path / "others.npz", X[100:], y[100:])
    status = main(["audit", str(kits["str"]), "--members", str(members), "--non-members",
                   str(others), "--eval", str(others)])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    accuracy = float(captured.out.split("kit accuracy")[1].split()[0])
    assert accuracy > 0.9
    assert "Mix of label input types" not in captured.err
    assert "per-image kit" in captured.out  # the members' labels matched too


def test_audit_eval_with_no_kit_class_is_one_line(digits01, kits, tmp_path, capsys):
    X, _ = digits01
    save_pngs(tmp_path / "ev" / "cats", X[100:103])
    save_pngs(tmp_path / "ev" / "dogs", X[103:106])
    members = save_npz(tmp_path / "m.npz", X[:100], np.zeros(100, dtype=int))
    status = main(["audit", str(kits["int"]), "--members", str(members), "--non-members",
                   str(tmp_path / "ev"), "--eval", str(tmp_path / "ev")])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "the labels of --eval (cats, dogs) are not the kit's classes (0, 1)" in err
