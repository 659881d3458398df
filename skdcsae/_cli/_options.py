"""The command line's options, written once: each command's parser, and the options that
several commands share (with the argparse types they parse with)."""

from __future__ import annotations

import argparse

__all__ = [
    "add_command",
    "add_data_options",
    "add_device_option",
    "add_force_option",
    "add_key_option",
    "add_kit_file_options",
    "add_quiet_option",
    "auto_or_nonnegative_float",
    "auto_or_positive_int",
    "image_size",
    "positive_ints",
]


def positive_ints(text: str) -> tuple[int, ...]:
    """``"32,16"`` -> ``(32, 16)``; an argparse type."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def auto_or_positive_int(text: str) -> int | str:
    """``"auto"`` or a positive integer; an argparse type."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {text!r}")
    return value


def auto_or_nonnegative_float(text: str) -> float | str:
    """``"auto"`` or a finite number at least 0; an argparse type."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 0, got {text!r}")
    return value


def image_size(text: str) -> tuple[int, int]:
    """``"64"`` or ``"64x48"`` -> ``(H, W)``; an argparse type."""
    values = positive_ints(text.replace("x", ","))
    if len(values) == 1:
        return (values[0], values[0])
    if len(values) == 2:
        return values
    raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")


def add_command(
    sub, name: str, run, *, help: str, epilog: str, doc: str
) -> argparse.ArgumentParser:
    """The parser of sub-command ``name``, calling ``run`` with the parsed arguments.

    ``doc`` is the command module's docstring: the paragraphs after its first line are the
    ``--help`` description, printed as written, like the example ``epilog``.
    """
    description = doc.partition("\n\n")[2].strip() or None
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=run)
    return p


def add_key_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--key-file``: the signing key, read with :func:`read_key`."""
    p.add_argument("--key-file", default=None, help=help)


def add_force_option(p: argparse.ArgumentParser, help: str) -> None:
    """``--force``: overwrite what the command writes (refused without it)."""
    p.add_argument("--force", action="store_true", help=help)


def add_kit_file_options(
    p: argparse.ArgumentParser, *, key_help: str, force_help: str, plots_help: str
) -> None:
    """``--key-file``, ``--force`` and ``--plots``: the options of a command that reads or
    writes a kit and writes files beside it (``donor``, ``recipient``)."""
    add_key_option(p, key_help)
    add_force_option(p, force_help)
    p.add_argument("--plots", default=None, metavar="DIR", help=plots_help)


def add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (auto)")


def add_quiet_option(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bars, no information lines; errors and warnings remain."""
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print no progress and no information lines (errors and warnings still show)",
    )


def add_data_options(p: argparse.ArgumentParser) -> None:
    """``--split``, ``--image-size``, ``--color`` and ``--skip-bad``."""
    p.add_argument(
        "--split",
        default="train",
        choices=["train", "val", "test", "all"],
        help="split to read from a MedMNIST-layout .npz (default: train)",
    )
    p.add_argument(
        "--image-size",
        type=image_size,
        default=None,
        help="resize folder images to N or HxW pixels (default: 28 for the donor, "
        "the kit's size for the recipient)",
    )
    p.add_argument(
        "--color",
        choices=["gray", "rgb"],
        default=None,
        help="read folder images as gray or RGB (default: gray; the recipient follows the kit)",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable image files (listed in a warning) instead of failing",
    )
    labels = p.add_mutually_exclusive_group()
    labels.add_argument(
        "--labelled",
        dest="labelled",
        action="store_const",
        const=True,
        default=None,
        help="a folder holds one sub-folder of images per class (default: decided by the "
        "layout; a mixture of images and sub-folders asks for this flag or --unlabelled)",
    )
    labels.add_argument(
        "--unlabelled",
        dest="labelled",
        action="store_const",
        const=False,
        help="read every image under a folder, sub-folders included, without labels",
    )
