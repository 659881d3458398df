"""Labels from a file,label CSV: header detection, confinement to the folder, every problem."""

import os

import numpy as np
import pytest
from PIL import Image

from skdcsae.datasets import _labels_csv, load_image_folder


def _png(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((28, 28), value, np.uint8)).save(path)


def _flat(tmp_path, names=("a.png", "b.png", "c.png")):
    for i, name in enumerate(names):
        _png(tmp_path / name, 40 * i)
    return tmp_path


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _error(folder, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        load_image_folder(folder, **kwargs)
    return str(info.value)


def test_labels_csv_in_a_flat_folder(tmp_path):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "file,label\nb.png,pneumonia\na.png,normal\nc.png,01\n")
    bunch = load_image_folder(tmp_path)
    assert bunch.filenames.tolist() == ["b.png", "a.png", "c.png"]  # the file's order
    assert bunch.target.tolist() == ["pneumonia", "normal", "01"]  # strings, "01" kept
    assert bunch.target_names.tolist() == ["01", "normal", "pneumonia"]
    assert bunch.labels_file == str(tmp_path / "labels.csv")
    assert bunch.data[1].max() == 0 and bunch.data[0].min() == 40  # a.png / b.png
    assert "Labelled by" in bunch.DESCR and "labels.csv" in bunch.DESCR
    _, y = load_image_folder(tmp_path, return_X_y=True)
    assert y.tolist() == ["pneumonia", "normal", "01"]


@pytest.mark.parametrize(
    "text",
    [
        "a.png,x\nb.png,y\nc.png,x\n",  # no header
        "\ufeffFile,Label\r\na.png,x\r\nb.png,y\r\nc.png,x\r\n",  # BOM, CRLF, capitals
        "file;label\na.png;x\nb.png;y\nc.png;x\n",  # Excel in a decimal-comma locale
        "file\tlabel\na.png\tx\nb.png\ty\nc.png\tx\n",
        "label,score,file\nx,1.5,a.png\ny,-2,b.png\n\nx,0, c.png \n",  # other columns, spaces
        "file,label,score\na.png,x,0.9\nb.png,y,-1.2\nc.png,x,3\n",  # a recipient's output
    ],
)
def test_header_and_dialects(tmp_path, text):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", text)
    bunch = load_image_folder(tmp_path)
    assert bunch.filenames.tolist() == ["a.png", "b.png", "c.png"]
    assert bunch.target.tolist() == ["x", "y", "x"]


def test_paths_in_subfolders_and_normalised(tmp_path):
    _png(tmp_path / "scans" / "2024" / "a.png")
    _png(tmp_path / "b.png")
    _write(tmp_path / "labels.csv", "./scans//2024/a.png,x\nb.png,y\n")
    assert load_image_folder(tmp_path).filenames.tolist() == ["scans/2024/a.png", "b.png"]


def test_every_problem_is_reported_with_its_line(tmp_path):
    _flat(tmp_path, ["a.png", "b.png", "c.png", "d.png"])
    (tmp_path / "notes.txt").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.png"
    _png(outside)
    (tmp_path / "escape.png").symlink_to(outside)
    _write(
        tmp_path / "labels.csv",
        "file,label\n"
        "a.png,x\n"
        "missing.png,x\n"  # 3
        "../secret.png,x\n"  # 4
        "/etc/passwd,x\n"  # 5
        "C:\\scans\\a.png,x\n"  # 6
        "escape.png,x\n"  # 7
        "notes.txt,x\n"  # 8
        "b.png,\n"  # 9
        "a.png,y\n"  # 10
        "c.png\n"  # 11
        "d.png,bad\x1b[2Jlabel\n"  # 12
        "sub\\c.png,x\n",  # 13
    )
    message = _error(tmp_path)
    assert "has 11 problem(s) in 12 row(s); nothing was read" in message
    expected = {
        3: "missing.png does not exist in the folder",
        4: "../secret.png leaves the folder ('..' is not allowed)",
        5: "/etc/passwd is an absolute path",
        6: "C:\\scans\\a.png is an absolute path",
        7: "escape.png is a symbolic link (or inside one) that leads outside the folder",
        8: "notes.txt is not an image of a supported type",
        9: "b.png has no label",
        10: "a.png is listed again (first on line 2)",
        11: "has 1 columns, fewer than the header",
        12: "the label of d.png contains control characters",
        13: "sub\\c.png does not exist in the folder (separate folders with /, not \\)",
    }
    lines = message.splitlines()
    for number, text in expected.items():
        assert any(line.startswith(f"  line {number}: {text}") for line in lines), message
    assert "\x1b" not in message


def test_symlink_inside_the_folder_is_fine(tmp_path):
    _png(tmp_path / "store" / "real.png")
    (tmp_path / "alias.png").symlink_to(tmp_path / "store" / "real.png")
    _write(tmp_path / "labels.csv", "alias.png,x\nstore/real.png,y\n")
    assert load_image_folder(tmp_path).target.tolist() == ["x", "y"]


def test_header_hint_and_column_counts(tmp_path):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "filename,diagnosis\na.png,x\n")
    message = _error(tmp_path)
    assert "line 1: filename does not exist" in message
    assert "If line 1 is a header, name its columns file and label." in message
    _write(tmp_path / "labels.csv", "a.png,x,extra\n")
    assert "without a header each row must be file,label" in _error(tmp_path)
    _write(tmp_path / "labels.csv", "file,label,File\na.png,x,y\n")
    assert "names the file or label column twice" in _error(tmp_path)
    _write(tmp_path / "labels.csv", "file,label\n\n")
    assert "lists no images" in _error(tmp_path)


def test_unlisted_images_are_named_in_a_warning(tmp_path):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "a.png,x\nb.png,y\n")
    with pytest.warns(UserWarning, match=r"1 image file\(s\) .* not listed .*\n  c\.png"):
        bunch = load_image_folder(tmp_path)
    assert bunch.filenames.tolist() == ["a.png", "b.png"]


def test_labels_parameter(tmp_path, monkeypatch):
    _png(tmp_path / "cls1" / "a.png")
    _png(tmp_path / "cls2" / "b.png")
    _write(tmp_path / "labels.csv", "cls1/a.png,x\ncls2/b.png,x\n")
    assert load_image_folder(tmp_path).target.tolist() == ["x", "x"]  # the file wins
    assert load_image_folder(tmp_path, labels=False).target.tolist() == ["cls1", "cls2"]
    with pytest.warns(UserWarning, match="labels.csv"):  # not an image: listed as ignored
        unlabelled = load_image_folder(tmp_path, labelled=False)
    assert unlabelled.target is None
    other = tmp_path.parent / f"{tmp_path.name}_other.csv"
    _write(other, "cls2/b.png,y\n")
    monkeypatch.chdir(tmp_path.parent)
    bunch = load_image_folder(tmp_path, labels=other.name)  # relative to the working folder
    assert bunch.target.tolist() == ["y"]
    with pytest.raises(ValueError, match="contradicts"):
        load_image_folder(tmp_path, labels=other, labelled=False)
    (tmp_path / "labels.csv").unlink()
    with pytest.raises(ValueError, match=r"labels\.csv does not exist"):
        load_image_folder(tmp_path, labels=True)


def test_bounded_reads(tmp_path, monkeypatch):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "a.png,x\nb.png,y\nc.png,x\n")
    monkeypatch.setattr(_labels_csv, "MAX_CSV_ROWS", 2)
    assert "more than 2 rows" in _error(tmp_path)
    monkeypatch.setattr(_labels_csv, "MAX_CSV_BYTES", 10)
    assert "more than the limit of 10 bytes" in _error(tmp_path)


def test_not_utf8_and_not_a_regular_file(tmp_path):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "a.png,r\xe9sum\xe9\n", encoding="latin-1")
    assert "is not UTF-8 text (invalid byte at offset 7)" in _error(tmp_path)
    (tmp_path / "labels.csv").unlink()
    if os.name == "posix":
        os.mkfifo(tmp_path / "labels.csv")
        assert "FIFO" in _error(tmp_path)  # refused at once, never waited on


def test_nul_in_csv_is_one_line_error(tmp_path):
    _flat(tmp_path)
    _write(tmp_path / "labels.csv", "a.png,x\nb.png\0,y\n")
    message = _error(tmp_path)
    assert "line 2" in message and "\x00" not in message
