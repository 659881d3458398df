"""_sanitize: terminal escaping and CSV formula neutralising, with hypothesis properties."""

import csv
import io
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdcsae._sanitize import _BIDI_CONTROLS, csv_cell, terminal_text


def _is_control(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("line\nfake: ok", "line\\x0afake: ok"),
        ("cr\rover", "cr\\x0dover"),
        ("bell\x07", "bell\\x07"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b31m", "csi\\x9b31m"),  # C1 control sequence introducer
        ("x\u202egnp.exe", "x\\u202egnp.exe"),  # right-to-left override
        ("\u2066iso\u2069", "\\u2066iso\\u2069"),  # isolates
        ("\u200fmark", "\\u200fmark"),
        ("para\u2029graph", "para\\u2029graph"),
        ("bad\udcffbyte", "bad\\udcffbyte"),  # undecodable byte under surrogateescape
    ],
)
def test_terminal_text_escapes(raw, shown):
    assert terminal_text(raw) == shown


def test_terminal_text_keeps_printable_text_and_converts_objects():
    for text in ("Röntgen 1.png", "胸部X線.dcm", "C:\\scans\\a.png", "emoji 🩻", ""):
        assert terminal_text(text) == text
    assert terminal_text(3.5) == "3.5"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_terminal_text_output_has_no_control_character(text):
    out = terminal_text(text)
    assert not any(_is_control(c) for c in out)
    out.encode("utf-8")  # printable: no lone surrogate left
    assert terminal_text(out) == out  # escaping twice changes nothing


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_terminal_text_printable_text_unchanged(text):
    if text.isprintable():
        assert terminal_text(text) == text
    kept = "".join(c for c in text if not _is_control(c))
    assert terminal_text(kept) == kept


@pytest.mark.parametrize(
    "cell",
    [
        "=1+1",
        '=HYPERLINK("http://x","y")',
        "+1+1",
        "-1+1",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "  =cmd|'/c calc'!A1",
        "\uff1d1+1",
        "-",
        "+",
        "-nan",
        "-1.5e",
    ],
)
def test_csv_cell_neutralises_formulas(cell):
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["-1.5", "+2", "-3e-05", "-.5", "0.25", "normal/001.png", "a=b", "", "'quoted"]
)
def test_csv_cell_keeps_numbers_and_plain_text(cell):
    assert csv_cell(cell) == cell


def test_csv_cell_converts_objects():
    assert csv_cell(-1.5) == "-1.5"
    assert csv_cell(None) == "None"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_csv_cell_never_starts_a_formula(text):
    out = csv_cell(text)
    assert out in (text, "'" + text)
    first = out.lstrip(" ")[:1]
    if first in set("=+-@\t\r\n\0"):
        float(out)  # only a plain number may start with a sign
    # Round trip through the csv module keeps the cell as written.
    buffer = io.StringIO()
    csv.writer(buffer).writerow([out, "x"])
    assert next(csv.reader(io.StringIO(buffer.getvalue(), newline=""))) == [out, "x"]


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_csv_cell_keeps_formatted_floats(value):
    assert csv_cell(f"{value:.6g}") == f"{value:.6g}"
