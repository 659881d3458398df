"""Training progress: one bar over the epochs, no colour codes when piped (#17)."""

from __future__ import annotations

import io
import pickle
import sys

import numpy as np
import pytest
from skorch.callbacks import ProgressBar

from skdcsae import DCSAETransformer
from skdcsae._progress import EpochProgressBar, log_line, progress_bar, strip_ansi

from .conftest import FAST_CONV


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _fit(X, y, **params):
    return DCSAETransformer(**{**FAST_CONV, "random_state": 0, **params}).fit(X, y)


def test_verbose_fit_uses_one_epoch_bar(digits_binary, monkeypatch, capsys):
    X, y = digits_binary
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    est = _fit(X[:64], y[:64], verbose=1, max_epochs=3)
    callbacks = [cb for _, cb in est.net_.callbacks_]
    assert any(isinstance(cb, EpochProgressBar) for cb in callbacks)
    assert not any(isinstance(cb, ProgressBar) for cb in callbacks)
    drawn = err.getvalue()
    assert drawn.count("0/3 [") == 1 and "3/3 [" in drawn and "epoch" in drawn
    assert "train_loss" in capsys.readouterr().out  # the loss table, on standard output
    pickle.loads(pickle.dumps(est))  # the bar's stream is not pickled


def test_silent_fit_prints_nothing(digits_binary, capsys):
    X, y = digits_binary
    _fit(X[:64], y[:64], verbose=0, max_epochs=2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_no_bar_off_a_terminal(digits_binary, capsys):
    X, y = digits_binary
    _fit(X[:64], y[:64], verbose=1, max_epochs=2)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out and "\x1b" not in captured.out
    assert captured.err == ""


def test_log_line_keeps_colours_only_on_a_terminal(monkeypatch):
    coloured = "  1  \x1b[36m0.5321\x1b[0m"
    for stream, expected in ((io.StringIO(), "  1  0.5321\n"), (Terminal(), coloured + "\n")):
        monkeypatch.setattr(sys, "stdout", stream)
        log_line(coloured)
        assert stream.getvalue() == expected


@pytest.mark.parametrize(
    ("text", "plain"),
    [("\x1b[32m1.5\x1b[0m", "1.5"), ("\x1b[1;31mred\x1b[m", "red"), ("no codes", "no codes")],
)
def test_strip_ansi(text, plain):
    assert strip_ansi(text) == plain


@pytest.mark.parametrize(("stream", "quiet", "disabled"),
                         [(Terminal(), False, False), (Terminal(), True, True),
                          (io.StringIO(), False, True)])  # fmt: skip
def test_progress_bar_only_on_a_terminal(stream, quiet, disabled):
    with progress_bar(10, desc="labelling", unit="image", quiet=quiet, file=stream) as bar:
        assert bar.disable is disabled  # (closing disables any bar)
        bar.update(np.int64(10))
