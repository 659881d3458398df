"""What the commands print: no colour codes when piped, one bar per run, -q, --version (#17)."""

from __future__ import annotations

import io
import re
import sys

import pytest

import skdcsae
from skdcsae import _progress
from skdcsae._cli import build_parser, main

from .conftest import save_npz, save_pngs

COMMANDS = {
    "donor": ["data.npz", "--out", "kit.joblib"],
    "recipient": ["kit.joblib", "data", "--out", "labels.csv"],
    "inspect": ["kit.joblib"],
    "audit": ["kit.joblib", "--members", "a", "--non-members", "b"],
    "demo": [],
    "keygen": ["secret.key"],
}


class Terminal(io.StringIO):
    """A captured stream that says it is a terminal."""

    def isatty(self):
        return True


def as_terminal(monkeypatch):
    """Make standard output and error terminals (call it in the test: pytest's capture
    puts its own streams back between a fixture's setup and the test)."""
    out, err = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def bar_totals(text: str) -> list[str]:
    """The ``n/total`` counters of every tqdm bar drawn in ``text``."""
    return re.findall(r"\d+/(\d+) \[", text)


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"skdcsae {skdcsae.__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_quiet(command):
    for flag in ("-q", "--quiet"):
        assert build_parser().parse_args([command, *COMMANDS[command], flag]).quiet


@pytest.fixture
def donor_npz(digits01, tmp_path):
    X, y = digits01
    return save_npz(tmp_path / "donor.npz", X[:60], y[:60])


def donor_args(npz, tmp_path, *extra):
    return ["donor", str(npz), "--out", str(tmp_path / "kit.joblib"), "--epochs", "3",
            "--steps", "0", "--arch", "light", "--dense-sizes", "16", "--device", "cpu",
            *extra]  # fmt: skip


def test_piped_output_has_no_colour_codes_and_no_bars(donor_npz, tmp_path, capsys):
    assert main(donor_args(donor_npz, tmp_path)) == 0
    captured = capsys.readouterr()
    assert "train_loss" in captured.out  # the loss table is there, in plain text
    assert "\x1b" not in captured.out + captured.err
    assert "\r" not in captured.err and not bar_totals(captured.err)


def test_training_on_a_terminal_draws_one_bar_over_the_epochs(donor_npz, tmp_path, monkeypatch):
    out, err = as_terminal(monkeypatch)
    assert main(donor_args(donor_npz, tmp_path)) == 0
    totals = bar_totals(err.getvalue())
    assert totals and set(totals) == {"3"}, err.getvalue()  # epochs, not batches per epoch
    assert "training" in err.getvalue() and "3/3" in err.getvalue()
    assert err.getvalue().count("0/3 [") == 1  # one bar, started once
    assert "\x1b[" in out.getvalue()  # the loss table keeps its colours on a terminal


def test_quiet_donor_prints_nothing(donor_npz, tmp_path, monkeypatch):
    out, err = as_terminal(monkeypatch)
    assert main(donor_args(donor_npz, tmp_path, "-q")) == 0
    assert out.getvalue() == "" and err.getvalue() == ""
    assert (tmp_path / "kit.joblib").is_file()


@pytest.mark.parametrize("quiet", [False, True])
def test_labelling_on_a_terminal_draws_one_bar(digits01, kits, tmp_path, monkeypatch, quiet):
    out, err = as_terminal(monkeypatch)
    monkeypatch.setattr(_progress, "BAR_DELAY", 0.0)  # a long run, as far as the bar knows
    X, _ = digits01
    save_pngs(tmp_path / "imgs", X[100:140])
    args = ["recipient", str(kits["int"]), str(tmp_path / "imgs"), "--out",
            str(tmp_path / "l.csv"), "--batch-size", "8", "--device", "cpu"]  # fmt: skip
    assert main(args + ["-q"] * quiet) == 0
    if quiet:
        assert out.getvalue() == "" and err.getvalue() == ""
    else:
        assert set(bar_totals(err.getvalue())) == {"40"} and "labelling" in err.getvalue()
        assert "Labelled 40 images" in out.getvalue()
    assert (tmp_path / "l.csv").is_file()


def test_quiet_inspect_and_audit_still_print_their_result(kits, digits01, tmp_path, capsys):
    assert main(["inspect", str(kits["int"]), "-q"]) == 0
    assert "encoder" in capsys.readouterr().out.lower()
    X, y = digits01
    npz = save_npz(tmp_path / "m.npz", X[:100], y[:100])
    assert main(["audit", str(kits["int"]), "--members", str(npz), "--non-members", str(npz),
                 "-q"]) == 0  # fmt: skip
    assert "membership ROC AUC" in capsys.readouterr().out


def test_quiet_demo_prints_only_its_result(tmp_path, capsys):
    args = ["demo", "--epochs", "2", "--n-per-class", "10", "--out-dir", str(tmp_path)]
    assert main([*args, "--device", "cpu", "-q"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r"accuracy \d\.\d{3} \(balanced \d\.\d{3}\) on \d+ recipient images\n",
                        captured.out), captured.out  # fmt: skip
    assert captured.err == ""
