"""Library messages worded for the command line: flags instead of Python names, one line.

Errors and warnings raised by the estimators, the loaders and the kit speak Python
(``skip_bad=True``, ``export_donor_kit(..., key=...)``). :func:`cli_message` rewrites them with
the flags of the command that ran, drops a sentence whose advice that command cannot follow,
and escapes control characters; :func:`show_warning` prints a warning that way.
"""

from __future__ import annotations

import contextlib
import re
import sys

from .._sanitize import terminal_text

__all__ = ["cli_message", "show_warning"]

# Python parameter names that reach messages from the estimators, as the flag that sets them.
_FLAGS = {
    "target_epsilon": "--target-epsilon",
    "noise_multiplier": "--noise-multiplier",
    "target_delta": "--delta",
    "delta": "--delta",
    "device": "--device",
    "max_grad_norm": "--max-grad-norm",
    "n_components": "--latent-dim",
    "max_epochs": "--epochs",
    "batch_size": "--batch-size",
    "kl_weight": "--kl-weight",
    "conv_channels": "--conv-channels",
    "dense_sizes": "--dense-sizes",
    "n_prototypes": "--n-prototypes",
    "min_count": "--min-count",
    "feature_noise": "--feature-noise",
    "clip_norm": "--clip-norm",
    "skip_bad": "--skip-bad",
    "image_size": "--image-size",
    "color": "--color",
    "release": "--release",
    "norm": "--norm",
    "alpha": "--alpha",
    "beta": "--beta",
    "rho": "--rho",
    "lr": "--lr",
}

# Whole phrases a flag says differently: switches (store_true flags) and calls.
_PHRASES = (
    (r"export_donor_kit\([^)]*\bkey=[^)]*\)", "skdcsae donor --key-file"),
    (r"\bkey=(?:\.\.\.|'[^']*'|\"[^\"]*\")", "--key-file"),
    (r"\bdp=True\b", "--dp"),
    (r"\bdp=False\b", "no --dp"),
    (r"\bskip_bad=True\b", "--skip-bad"),
    (r"\boverwrite=True\b", "--force"),
    (r"\blabelled=True\b", "--labelled"),
    (r"\blabelled=False\b", "--unlabelled"),
    (r"\brange_tolerance=None\b", "--no-range-check"),
    # the image loader's size limits have no flag: say the limit, drop the advice to raise it
    (r" \(a decompression bomb, or raise max_file_bytes to read it\)", " (a decompression bomb?)"),
    (r"; raise (?:max_pixels|max_file_bytes) to read it", ""),
    (r"\b(?:max_pixels|max_file_bytes)=([\d,]+)", r"the limit of \1"),
    # scikit-learn's parameter validation: "The 'lr' parameter of DCSAETransformer must be"
    (
        rf"The '({'|'.join(_FLAGS)})' parameter of \w+ must be",
        lambda m: f"{_FLAGS[m.group(1)]} must be",
    ),
    (r"\bleave ((?:[a-z_]+, )*[a-z_]+) at None\b", r"leave out \1"),
    # the recipient's images are files here, not an array X
    (r"\bX has\b", "the images have"),
    (r"\bX looks\b", "the images look"),
    (r"\bmultiply X\b", "multiply the images"),
    (r"\s*\(X / 255\.0\)", ""),
)

_ASSIGNMENT = re.compile(
    rf"\b({'|'.join(sorted(_FLAGS, key=len, reverse=True))})=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)"
)
# bare names are rewritten only when unambiguous (they contain an underscore)
_BARE_NAME = re.compile(rf"\b({'|'.join(n for n in _FLAGS if '_' in n)})\b")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# a Python keyword argument left over, e.g. ``image_size=None``
_PYTHON_ASSIGNMENT = re.compile(r"\b[a-z]+_[a-z0-9_]*=")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def _rewrite(text: str) -> str:
    for pattern, replacement in _PHRASES:
        text = re.sub(pattern, replacement, text)

    def assignment(match: re.Match) -> str:
        return f"{_FLAGS[match.group(1)]} {match.group(2).strip(chr(39) + chr(34))}"

    text = _ASSIGNMENT.sub(assignment, text)
    return _BARE_NAME.sub(lambda m: _FLAGS[m.group(1)], text)


def cli_message(message: str, options=None) -> str:
    """``message`` on one line, with the command's flags for the Python names in it.

    Parameters
    ----------
    message : str
        An exception's or a warning's text.
    options : collection of str, default=None
        The option strings of the command that ran. A sentence that names a flag this
        command does not have, or a Python keyword argument left unrewritten, is dropped
        (unless it is the only one). None keeps every sentence.

    Returns
    -------
    text : str
        One line, control characters escaped.

    Examples
    --------
    >>> from skdcsae._cli._messages import cli_message
    >>> cli_message("Fix them, or pass skip_bad=True to skip them.", {"--skip-bad"})
    'Fix them, or pass --skip-bad to skip them.'
    >>> cli_message("X is bad. Set range_tolerance=None to skip this check.", {"--force"})
    'X is bad.'
    """
    text = _rewrite(" ".join(str(message).split()))
    if options is not None:
        sentences = _SENTENCE_END.split(text)
        kept = [
            s
            for s in sentences
            if not _PYTHON_ASSIGNMENT.search(s)
            and all(flag in options for flag in _FLAG.findall(s))
        ]
        if kept:
            text = " ".join(kept)
    return terminal_text(text)


def show_warning(message, category, filename, lineno, file=None, line=None, *, options=None):
    """A :func:`warnings.showwarning` for the CLI: ``skdcsae: warning: <message>``, one line.

    No source line and no file name: the user ran a command, not a script.
    """
    stream = sys.stderr if file is None else file
    with contextlib.suppress(OSError):  # stderr closed: a warning is not worth a crash
        stream.write(f"skdcsae: warning: {cli_message(str(message), options)}\n")
