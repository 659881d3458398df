"""What a long run shows: one progress bar for the whole run, plain text when piped.

Training shows a single bar over the epochs (:class:`EpochProgressBar`, with the latest loss
and an ETA) instead of skorch's bar per epoch, and the per-epoch loss table goes through
:func:`log_line`, which keeps skorch's colours on a terminal and strips them when the output
is piped to a file or another program. Bars are drawn only on a terminal.
"""

from __future__ import annotations

import re
import sys

from skorch.callbacks import Callback
from tqdm import tqdm

__all__ = ["EpochProgressBar", "is_terminal", "log_line", "progress_bar", "strip_ansi"]

# CSI sequences (colours, cursor moves) as skorch's loss table and terminals use them
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")

# Seconds a bar waits before it appears, so that short runs show none.
BAR_DELAY = 1.0


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed streams)."""
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def strip_ansi(text: str) -> str:
    r"""``text`` without ANSI escape sequences (colours, cursor moves).

    Examples
    --------
    >>> from skdcsae._progress import strip_ansi
    >>> strip_ansi("\x1b[36m0.5321\x1b[0m")
    '0.5321'
    """
    return _ANSI.sub("", text)


def log_line(text: str) -> None:
    """Print one line of the per-epoch loss table (skorch's ``PrintLog`` sink).

    Colours are kept only when standard output is a terminal; the line is written above an
    open progress bar instead of through it.
    """
    out = sys.stdout
    if not is_terminal(out):
        text = strip_ansi(text)
    tqdm.write(text, file=out)
    out.flush()


def progress_bar(total: int, *, desc: str, unit: str, quiet: bool = False, file=None) -> tqdm:
    """A tqdm bar over ``total`` items, drawn on a terminal only and after ``BAR_DELAY`` s.

    Parameters
    ----------
    total : int
        Number of items the run goes through.
    desc : str
        What the bar counts, shown before it.
    unit : str
        Name of one item.
    quiet : bool, default=False
        Draw nothing.
    file : file-like, default=None
        Where to draw; standard error by default.

    Returns
    -------
    bar : tqdm.tqdm
        The bar (disabled when ``quiet`` or ``file`` is not a terminal); close it when done.
    """
    file = sys.stderr if file is None else file
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=file,
        disable=quiet or not is_terminal(file),
        delay=BAR_DELAY,
        dynamic_ncols=True,
        leave=False,
    )


class EpochProgressBar(Callback):
    """One progress bar over all training epochs, with the latest losses and an ETA.

    skorch's own ``ProgressBar`` draws a new bar for every epoch (over its batches); this one
    counts epochs, so the estimated time left is that of the whole fit. Nothing is drawn
    unless the output is a terminal.

    Parameters
    ----------
    postfix_keys : sequence of str, default=("train_loss", "valid_loss")
        History keys of the last epoch shown beside the bar, when present.
    file : file-like, default=None
        Where to draw; standard error at the start of training by default.

    Examples
    --------
    >>> from skdcsae._progress import EpochProgressBar
    >>> EpochProgressBar().postfix_keys
    ('train_loss', 'valid_loss')
    """

    def __init__(self, postfix_keys=("train_loss", "valid_loss"), file=None):
        self.postfix_keys = postfix_keys
        self.file = file

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        file = sys.stderr if self.file is None else self.file
        self.pbar_ = tqdm(
            total=net.max_epochs,
            desc="training",
            unit="epoch",
            file=file,
            disable=not is_terminal(file),
            dynamic_ncols=True,
        )

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        postfix = {key: f"{row[key]:.4g}" for key in self.postfix_keys if key in row}
        self.pbar_.set_postfix(postfix, refresh=False)
        self.pbar_.update()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.pbar_.close()

    def __getstate__(self):
        # the bar holds a stream; a fitted estimator must stay picklable
        state = self.__dict__.copy()
        state.pop("pbar_", None)
        return state
