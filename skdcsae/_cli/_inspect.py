"""``skdcsae inspect``: show what a donor kit holds, without loading it into a model."""

from __future__ import annotations

from .._sanitize import terminal_text
from ..kit import load_donor_kit
from ._common import read_key
from ._options import add_command, add_key_option, add_quiet_option

_EPILOG = """example:
  skdcsae inspect kit.joblib
"""

_HELP = "show what a donor kit contains, without loading it into a model"


def add_parser(sub) -> None:
    p = add_command(sub, "inspect", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument("kit", help="donor kit file (.joblib)")
    add_key_option(p, "also verify the kit's signature")
    add_quiet_option(p)  # the summary is the result: it prints all the same


def run(args) -> None:
    kit = load_donor_kit(args.kit, key=read_key(args.key_file))
    print("\n".join(terminal_text(line) for line in kit.summary().splitlines()))
