"""The ``skdcsae`` command line."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skdcsae",
        description="Privacy-preserving collaborative labelling of medical images (DC-SAE).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser(
        "demo",
        help="run donor -> recipient end to end on embedded data",
        description="Train a DC-SAE on a few labelled digits (the donor) and label the rest "
        "(the recipient), printing the accuracy.",
        epilog="example: skdcsae demo --epochs 20 --seed 1",
    )
    demo.add_argument("--n-per-class", type=int, default=20, help="donor images per class")
    demo.add_argument("--epochs", type=int, default=40, help="training epochs")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    demo.add_argument("-v", "--verbose", action="store_true", help="show per-epoch losses")
    return parser


def main(argv=None) -> int:
    """Entry point of the ``skdcsae`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from ._demo import run_demo

            run_demo(
                n_per_class=args.n_per_class,
                max_epochs=args.epochs,
                random_state=args.seed,
                device=args.device,
                verbose=int(args.verbose),
            )
    except (ValueError, TypeError, OSError) as exc:
        print(f"skdcsae: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
