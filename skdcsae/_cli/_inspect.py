"""``skdcsae inspect``: show what a donor kit holds, without loading it into a model."""

from __future__ import annotations

import argparse

from .._sanitize import terminal_text
from ..kit import load_donor_kit
from ._common import add_quiet_option, read_key

_EPILOG = """example:
  skdcsae inspect kit.joblib
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="show what a donor kit contains, without loading it into a model",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kit", help="donor kit file (.joblib)")
    p.add_argument("--key-file", default=None, help="also verify the kit's signature")
    add_quiet_option(p)  # the summary is the result: it prints all the same
    p.set_defaults(run=run)


def run(args) -> None:
    kit = load_donor_kit(args.kit, key=read_key(args.key_file))
    print("\n".join(terminal_text(line) for line in kit.summary().splitlines()))
