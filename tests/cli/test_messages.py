"""Every library message that can reach the command line names flags, never Python (#17).

Each test drives the real CLI (``main([...])`` on real files) into the message, then checks
that the flag it advises exists and works.
"""

from __future__ import annotations

import pytest

from skdcsae import DCSAETransformer
from skdcsae._cli import build_parser, main
from skdcsae._cli._messages import cli_message

from .conftest import TINY, save_npz, save_pngs


def run(args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_flag_not_python(err: str, flag: str, *python: str):
    assert flag in err, err
    for name in python:
        assert name not in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_mixed_folder_asks_for_labelled_or_unlabelled(digits01, kits, tmp_path, capsys):
    X, _ = digits01
    save_pngs(tmp_path / "mixed", X[100:102])
    save_pngs(tmp_path / "mixed" / "later", X[102:104])
    args = ["recipient", kits["int"], tmp_path / "mixed", "--out", tmp_path / "l.csv"]
    status, _, err = run(args, capsys)
    assert status == 2
    assert_flag_not_python(err, "Pass --labelled (one subfolder per class), --unlabelled",
                           "labelled=", "True", "False")  # fmt: skip
    status, out, _ = run([*args, "--unlabelled", "--device", "cpu"], capsys)
    assert status == 0 and "Labelled 4 images" in out


def test_unreadable_file_asks_for_skip_bad(digits01, kits, tmp_path, capsys):
    X, _ = digits01
    save_pngs(tmp_path / "imgs", X[100:103])
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    args = ["recipient", kits["int"], tmp_path / "imgs", "--out", tmp_path / "l.csv"]
    status, _, err = run(args, capsys)
    assert status == 2
    assert_flag_not_python(err, "or pass --skip-bad to skip them", "skip_bad")
    status, out, err = run([*args, "--skip-bad", "--device", "cpu"], capsys)
    assert status == 0 and "Labelled 3 images" in out
    # the skipped file is reported as one warning line, without Python's source line
    assert err.startswith("skdcsae: warning: Skipped 1 unreadable image file(s)")
    assert len(err.strip().splitlines()) == 1 and "broken.png" in err
    assert "warnings.warn" not in err and "return func" not in err and "UserWarning" not in err


def test_unsigned_kit_points_to_donor_key_file(digits01, kits, tmp_path, capsys):
    X, _ = digits01
    save_pngs(tmp_path / "imgs", X[100:102])
    key = tmp_path / "secret.key"
    assert main(["keygen", str(key), "-q"]) == 0
    args = ["recipient", kits["int"], tmp_path / "imgs", "--out", tmp_path / "l.csv"]
    status, _, err = run([*args, "--key-file", key], capsys)
    assert status == 2
    assert_flag_not_python(err, "skdcsae donor --key-file", "export_donor_kit", "key=")


@pytest.fixture
def unit_kit(digits01, tmp_path):
    """A kit whose donor images were floats in [0, 1], and a folder of 0-255 PNGs."""
    X, y = digits01
    X01 = X[:100] / 255.0
    est = DCSAETransformer(**TINY, random_state=0).fit(X01, y[:100])
    kit = tmp_path / "kit.joblib"
    est.export_donor_kit(kit, X01, y[:100])
    save_pngs(tmp_path / "pngs", X[100:140])
    return kit, tmp_path / "pngs"


def test_out_of_range_images_are_told_the_flag(unit_kit, tmp_path, capsys):
    kit, pngs = unit_kit
    args = ["recipient", kit, pngs, "--out", tmp_path / "l.csv", "--device", "cpu"]
    status, _, err = run(args, capsys)
    assert status == 2 and "the images have values in [0, 255]" in err
    assert_flag_not_python(err, "Set --no-range-check to skip this check", "range_tolerance",
                           "X / 255", "X has")  # fmt: skip
    status, out, _ = run([*args, "--no-range-check"], capsys)
    assert status == 0 and "Labelled 40 images" in out


def test_range_check_flag_is_dropped_where_the_command_has_none(unit_kit, capsys):
    kit, pngs = unit_kit
    status, _, err = run(["audit", kit, "--members", pngs, "--non-members", pngs], capsys)
    assert status == 2 and "values in [0, 255]" in err
    assert "--no-range-check" not in err and "range_tolerance" not in err


def test_feature_noise_without_clip_norm(digits01, tmp_path, capsys):
    X, y = digits01
    data = save_npz(tmp_path / "d.npz", X[:40], y[:40])
    status, _, err = run(["donor", data, "--out", tmp_path / "k.joblib", "--epochs", 1,
                          "--steps", 0, "--release", "per_image", "--feature-noise", 1,
                          "--device", "cpu", "-q"],
                         capsys)  # fmt: skip
    assert status == 2
    assert_flag_not_python(err, "--feature-noise needs --clip-norm", "clip_norm", "feature_noise")


def test_every_flag_the_rewriter_names_exists():
    """A rewritten message never advises a flag that no command has."""
    from skdcsae._cli._messages import _FLAGS, _PHRASES

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    options = {s for p in sub.choices.values() for a in p._actions for s in a.option_strings}
    named = set(_FLAGS.values())
    for _, replacement in _PHRASES:
        if isinstance(replacement, str):
            named.update(w for w in replacement.split() if w.startswith("--"))
    assert named <= options, named - options


def test_rejected_values_name_the_flag(digits01, kits, tmp_path, capsys):
    """scikit-learn's parameter validation speaks of 'batch_size' and 'lr'."""
    X, y = digits01
    save_pngs(tmp_path / "imgs", X[100:102])
    args = ["recipient", kits["int"], tmp_path / "imgs", "--out", tmp_path / "l.csv"]
    status, _, err = run([*args, "--batch-size", 0], capsys)
    assert status == 2
    assert_flag_not_python(err, "--batch-size must be an int in the range [1, inf)",
                           "batch_size", "'batch_size' parameter")  # fmt: skip
    data = save_npz(tmp_path / "d.npz", X[:40], y[:40])
    donor = ["donor", data, "--out", tmp_path / "k.joblib", "--device", "cpu", "-q"]
    status, _, err = run([*donor, "--lr", -1], capsys)
    assert status == 2
    assert_flag_not_python(err, "--lr must be a float", "'lr'")
    status, _, err = run([*donor, "--target-epsilon", 3], capsys)
    assert status == 2
    assert_flag_not_python(err, "--target-epsilon set but no --dp: training would not be "
                           "private. Set --dp, or leave out --target-epsilon.",
                           "target_epsilon", "dp=", "None")  # fmt: skip


def test_unavailable_device_names_the_flag(digits01, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = digits01
    data = save_npz(tmp_path / "d.npz", X[:40], y[:40])
    status, _, err = run(["donor", data, "--out", tmp_path / "k.joblib", "--device", "cuda"],
                         capsys)  # fmt: skip
    assert status == 2
    assert_flag_not_python(err, "Use --device cpu or --device auto", "device=")
    assert err.count("--device cuda was requested") == 1


@pytest.mark.parametrize(
    ("message", "options", "expected"),
    [
        ("pass overwrite=True to replace it.", {"--force"}, "pass --force to replace it."),
        ("batch_size=0 is too small.", {"--batch-size"}, "--batch-size 0 is too small."),
        ("A. Use --dp.", {"--force"}, "A."),  # a flag this command lacks
        ("A. Pass image_size=None.", set(), "A."),  # Python left over
        ("Only image_size=None here.", set(), "Only --image-size None here."),  # sole sentence
        ("name\x1b[2J.png is bad", None, "name\\x1b[2J.png is bad"),
        (
            "a.png: 9x9 pixels = 81 values, more than max_pixels=80; raise max_pixels to read it",
            set(),
            "a.png: 9x9 pixels = 81 values, more than the limit of 80",
        ),
        ("(pass color='rgb' to keep colour)", {"--color"}, "(pass --color rgb to keep colour)"),
    ],
)
def test_cli_message(message, options, expected):
    assert cli_message(message, options) == expected
