"""What a hostile kit can put on a screen or into a spreadsheet: nothing that acts.

Kit strings (class names, the model name, versions, the creation time, hyperparameters) reach
``summary()``, ``repr()`` and ``skdcsae inspect`` with their control characters escaped, and
the labels CSV of ``skdcsae recipient`` neutralises cells that a spreadsheet would run as a
formula -- whether they come from the kit's class names or from the recipient's file names.
"""

import csv
import dataclasses

import numpy as np
import pytest

from skdcsae._cli import main
from skdcsae.kit import load_donor_kit, write_donor_kit
from skdcsae.kit._examples import example_kit

from ..kit_helpers import digits_images, train_donor

HOSTILE_TEXT = ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "\u202egpj.exe", "\r\x1b[K", "\x00"]


def _raw_controls(text: str) -> list[str]:
    return [c for c in ("\x1b", "\x9b", "\u202e", "\r", "\x07", "\x00") if c in text]


@pytest.fixture
def hostile_kit_path(tmp_path):
    kit = example_kit(classes=("\x1b[2Jnormal", "b\u202epneumonia"))
    member = dataclasses.replace(
        kit.members[0], hyperparameters={"note": "\x9b31m red", "list": ["\x1b[5m", 1]}
    )
    kit = dataclasses.replace(
        kit,
        members=(member,),
        model="\x1b]0;pwned\x07DCSAETransformer",
        versions={"torch": "\x1b[31mred", "numpy\x1b[K": "2"},
        created="\r\x1b[K2026",
    )
    path = tmp_path / "hostile.joblib"
    write_donor_kit(kit, path)
    return path


def test_summary_and_repr_escape_control_characters(hostile_kit_path):
    kit = load_donor_kit(hostile_kit_path)
    assert kit.classes[0] == "\x1b[2Jnormal"  # the data are kept as they are ...
    for text in (kit.summary(), repr(kit), kit.reveals):
        assert _raw_controls(text) == [], text  # ... but never printed raw
    summary = kit.summary()
    assert "\\x1b[2Jnormal" in summary and "\\u202epneumonia" in summary
    assert "\\x1b]0;pwned\\x07DCSAETransformer" in summary and "\\x9b31m red" in summary
    assert len(summary.splitlines()) == len(kit.summary().split("\n"))  # no hidden line breaks


def test_inspect_prints_no_raw_escape(hostile_kit_path, capsys):
    assert main(["inspect", str(hostile_kit_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b[2Jnormal" in out and "present, not verified" not in out


def test_a_refused_file_name_is_escaped_too(tmp_path, capsys):
    path = tmp_path / "evil\x1b[2J.joblib"
    path.write_bytes(b"not a kit")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "evil\\x1b[2J.joblib" in err


def test_recipient_csv_neutralises_formulas(tmp_path):
    """A kit class named like a formula, and image files named like formulas."""
    from PIL import Image

    X, y = digits_images()
    X8 = (X * 15).astype(np.uint8)  # 0..240, stored as PNG without loss
    formula = '=HYPERLINK("http://x","y")'
    names = np.where(y == 0, formula, "normal")
    est = train_donor(X8[:120], names[:120], max_epochs=10)
    kit = tmp_path / "kit.joblib"
    est.export_donor_kit(kit, X8[:120], names[:120])
    folder = tmp_path / "incoming"
    folder.mkdir()
    zeros, ones = np.flatnonzero(y[120:] == 0) + 120, np.flatnonzero(y[120:] == 1) + 120
    files = {"=cmd.png": zeros[0], "+a.png": zeros[1], "-b.png": ones[0], "@c.png": ones[1]}
    for name, index in files.items():
        Image.fromarray(X8[index], mode="L").save(folder / name)
    out = tmp_path / "labels.csv"
    assert main(["recipient", str(kit), str(folder), "--out", str(out), "--device", "cpu"]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "label", "probability"] and len(rows) == 5
    cells = {row[0]: row[1] for row in rows[1:]}
    assert set(cells) == {"'" + name for name in files}  # every file cell neutralised
    labels = set(cells.values())
    assert labels <= {"'" + formula, "normal"} and "'" + formula in labels
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row[:2])


def test_cli_donor_records_how_folder_images_were_prepared(tmp_path, capsys):
    from PIL import Image

    X, y = digits_images()
    X8 = (X * 15).astype(np.uint8)
    for i in range(60):
        folder = tmp_path / "donor" / ("zero" if y[i] == 0 else "one")
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(X8[i], mode="L")
        if i % 3 == 0:  # a third of the files are 16 x 12 (height x width) RGB
            image = image.resize((12, 16)).convert("RGB")
        image.save(folder / f"{i:02d}.png")
    kit = tmp_path / "kit.joblib"
    args = ["donor", str(tmp_path / "donor"), "--out", str(kit), "--image-size", "8",
            "--n-per-class", "20", "--epochs", "1", "--steps", "0", "--device", "cpu",
            "-q"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err  # the CLI prints warnings as one line each
    assert err.startswith("skdcsae: warning: ") and "resized 20 of 60 image(s)" in err
    prep = load_donor_kit(kit).image_preparation
    assert prep["resized_from"][0][:2] == [16, 12] and prep["n_resized_unlisted"] == 0
    assert prep["n_resized"] == prep["n_color_converted"] == prep["resized_from"][0][2]
    assert 0 < prep["n_resized"] < 40  # only the 40 images kept (--n-per-class 20)
    capsys.readouterr()
    assert main(["inspect", str(kit)]) == 0
    assert f"{prep['n_resized']} of 40 images resized from 16x12 to 8x8" in capsys.readouterr().out
