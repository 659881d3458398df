"""The ``skdcsae`` command line: donor, recipient, inspect, audit, demo and keygen.

One module per command, each with ``add_parser(subparsers)`` and ``run(args)``; shared options
and helpers are in ``_common``, the wording of library messages for the command line in
``_messages``. Bad input (a missing file, a wrong argument, a refused kit, a parameter the
estimator rejects) prints one line naming the command-line flag and exits with status 2; a
genuine bug still shows its traceback. Warnings print as one ``skdcsae: warning:`` line.
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings

from .._version import __version__
from ..kit import DonorKitError
from . import _audit, _demo, _donor, _inspect, _keygen, _recipient
from ._common import CLIError
from ._messages import cli_message, show_warning

__all__ = ["build_parser", "main"]

_COMMANDS = (_donor, _recipient, _inspect, _audit, _demo, _keygen)


def build_parser() -> argparse.ArgumentParser:
    """The ``skdcsae`` argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="skdcsae",
        description="Label medical images together without sharing them (DC-SAE / CAMARADERIE). "
        "A donor trains on a few labelled images and exports a kit (encoder + latent features, "
        "never images); a recipient labels its own images with the kit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skdcsae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def _options(parser: argparse.ArgumentParser, command: str) -> frozenset:
    """Every option string of ``command`` (``--force``, ``-q``...)."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return frozenset(s for a in subparsers.choices[command]._actions for s in a.option_strings)


def main(argv=None) -> int:
    """Entry point of the ``skdcsae`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options = _options(parser, args.command)
    with warnings.catch_warnings():  # restores showwarning for an in-process caller
        warnings.showwarning = functools.partial(show_warning, options=options)
        try:
            args.run(args)
        except (CLIError, DonorKitError, ValueError, OSError) as exc:
            message = cli_message(str(exc) or type(exc).__name__, options)
            print(f"skdcsae {args.command}: error: {message}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("skdcsae: interrupted", file=sys.stderr)
            return 130
    return 0
