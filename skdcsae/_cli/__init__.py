"""The ``skdcsae`` command line: ``donor``, ``recipient``, ``inspect``, ``audit`` and ``demo``.

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``; shared options
and helpers are in ``_common``. Bad input (a missing file, a wrong argument, a refused kit, a
parameter the estimator rejects) prints one line naming the command-line flag and exits with
status 2; a genuine bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import re
import sys

from ..kit import DonorKitError
from . import _audit, _demo, _donor, _inspect, _recipient
from ._common import CLIError

__all__ = ["main"]

_COMMANDS = (_donor, _recipient, _inspect, _audit, _demo)

# Python parameter names that reach messages from the estimators, as the flag that sets them.
_FLAGS = {
    "target_epsilon": "--target-epsilon",
    "noise_multiplier": "--noise-multiplier",
    "target_delta": "--delta",
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
    "release": "--release",
    "norm": "--norm",
    "alpha": "--alpha",
    "beta": "--beta",
    "rho": "--rho",
    "lr": "--lr",
}


def _flag_words(message: str) -> str:
    """Rewrite ``dp=True``, ``norm='batch'`` and ``target_epsilon`` as the CLI's flags."""
    message = re.sub(r"\bdp=True\b", "--dp", message)
    message = re.sub(r"\bdp=False\b", "no --dp", message)

    def assignment(match: re.Match) -> str:
        return f"{_FLAGS[match.group(1)]} {match.group(2).strip(chr(39) + chr(34))}"

    names = "|".join(sorted(_FLAGS, key=len, reverse=True))
    message = re.sub(rf"\b({names})=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)", assignment, message)
    # bare names are rewritten only when unambiguous (they contain an underscore)
    return re.sub(
        rf"\b({'|'.join(n for n in _FLAGS if '_' in n)})\b", lambda m: _FLAGS[m.group(1)], message
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``skdcsae`` argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="skdcsae",
        description="Label medical images together without sharing them (DC-SAE / CAMARADERIE). "
        "A donor trains on a few labelled images and exports a kit (encoder + latent features, "
        "never images); a recipient labels its own images with the kit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``skdcsae`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CLIError, DonorKitError, ValueError, OSError) as exc:
        message = _flag_words(" ".join(str(exc).split()) or type(exc).__name__)
        print(f"skdcsae {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skdcsae: interrupted", file=sys.stderr)
        return 130
    return 0
