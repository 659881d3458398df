"""Hostile image files: refused by their headers, within bounded memory, never hanging."""

import os
import sys

import numpy as np
import pytest
from PIL import Image

from skdcsae.datasets import _decoders, load_image_folder

from .hostile import (
    deflate_bomb,
    deflated_dicom,
    dicom_dataset,
    jpeg_in_dicom,
    load_in_child,
    png_declaring,
    rle_dicom,
    save_dicom,
)

pytest.importorskip("pydicom")
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status"
)


def _error(folder, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        load_image_folder(folder, **kwargs)
    return str(info.value)


def _line(message: str, name: str) -> str:
    """The one line of an error that is about ``name``."""
    lines = [line for line in message.splitlines() if line.strip().startswith(name + ":")]
    assert len(lines) == 1, message
    return lines[0]


def _good(folder):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((28, 28), 9, np.uint8)).save(folder / "good.png")


# --- PNG ------------------------------------------------------------------------------------
def test_png_declaring_a_huge_size_is_refused_from_its_header(tmp_path):
    _good(tmp_path)
    png_declaring(tmp_path / "wide.png", 12_000, 10_000)  # 120 M: under Pillow's limit
    png_declaring(tmp_path / "bomb.png", 100_000, 100_000)  # 10 G: over Pillow's own limit
    message = _error(tmp_path)
    wide = _line(message, "wide.png")
    assert "10000x12000 pixels (height x width)" in wide and "max_pixels=100,000,000" in wide
    assert "Pillow's own limit" in _line(message, "bomb.png")
    assert "good.png" not in message
    small = _line(_error(tmp_path, max_pixels=28 * 28 - 1), "good.png")
    assert "(height x width) x 1 channel(s) = 784 values, more than max_pixels=783" in small


def test_rgb_channels_count_toward_max_pixels(tmp_path):
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "rgb.png")
    assert load_image_folder(tmp_path, max_pixels=300, color="rgb").data.shape == (1, 3, 28, 28)
    assert "300 values" in _error(tmp_path, max_pixels=299)


def test_sixteen_bit_png_is_scaled_in_blocks_exactly(tmp_path, monkeypatch):
    raw = np.random.default_rng(0).integers(100, 60_000, (37, 23)).astype(np.uint16)
    Image.fromarray(raw).save(tmp_path / "deep.png")
    monkeypatch.setattr(_decoders, "_BLOCK_VALUES", 50)  # many blocks of two rows
    bunch = load_image_folder(tmp_path, image_size=None)
    lo, hi = float(raw.min()), float(raw.max())
    expected = np.rint((raw.astype(np.float64) - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    np.testing.assert_array_equal(bunch.data[0], expected)
    assert bunch.rescaled.tolist() == [True] and bunch.original_color.tolist() == ["gray"]


def test_multi_page_tiff_is_refused(tmp_path):
    pages = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 100)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    assert "2 frames or pages" in _line(_error(tmp_path), "stack.tif")


def test_file_over_max_file_bytes_is_refused_before_reading(tmp_path):
    _good(tmp_path)
    size = (tmp_path / "good.png").stat().st_size
    line = _line(_error(tmp_path, max_file_bytes=size - 1), "good.png")
    assert f"limit of {size - 1:,} bytes; raise max_file_bytes" in line


@linux_only
def test_sixteen_bit_png_costs_no_float64_copy(tmp_path):
    side = 4000  # 16 M pixels: 32 MB as uint16, 128 MB per float64 copy
    ramp = np.linspace(0, 65535, side * side, dtype=np.float64).astype(np.uint16)
    Image.fromarray(ramp.reshape(side, side)).save(tmp_path / "xray.png", compress_level=1)
    del ramp
    out = load_in_child(tmp_path, budget_mb=200, image_size=[28, 28])
    assert out.startswith("loaded ['xray.png']"), out  # float64 copies: MemoryError


# --- DICOM ----------------------------------------------------------------------------------
def test_dicom_header_over_max_pixels_is_refused_before_decoding(tmp_path):
    rle_dicom(tmp_path / "huge.dcm", 30_000, 30_000, b"\x81\x00" * 8)
    line = _line(_error(tmp_path), "huge.dcm")
    assert "its header declares 30000x30000 pixels (height x width)" in line
    assert "900,000,000 values, more than max_pixels=100,000,000" in line


def test_rle_segment_bomb_is_refused(tmp_path):
    rle_dicom(tmp_path / "bomb.dcm", 1000, 1000, b"\x81\x00" * 500_000)  # decodes to 64 MB
    assert "decompression bomb" in _line(_error(tmp_path), "bomb.dcm")


def test_genuine_rle_dicom_still_reads(tmp_path):
    from pydicom.uid import RLELossless

    raw = np.arange(64, dtype=np.uint8).reshape(8, 8)
    ds = dicom_dataset(8, 8, RLELossless)
    ds.compress(RLELossless, raw, encoding_plugin="pydicom")
    ds.save_as(tmp_path / "rle.dcm", enforce_file_format=True)
    data = load_image_folder(tmp_path, image_size=None).data[0]
    np.testing.assert_array_equal(data, np.rint(raw / 63 * 255).astype(np.uint8))


def test_embedded_jpeg_of_another_size_is_refused(tmp_path):
    jpeg_in_dicom(tmp_path / "liar.dcm", 8, 8, jpeg_side=2000)
    line = _line(_error(tmp_path), "liar.dcm")
    assert "2000x2000 pixels (height x width) but the DICOM header says 8x8" in line
    jpeg_in_dicom(tmp_path / "liar.dcm", 16, 16, jpeg_side=16)  # honest: reads
    assert load_image_folder(tmp_path, image_size=None).data.shape == (1, 16, 16)


def test_deflated_dicom_reads_and_a_deflate_bomb_is_refused(tmp_path):
    raw = np.arange(64, dtype=np.uint8).reshape(8, 8)
    deflated_dicom(tmp_path / "ok" / "small.dcm", raw)
    data = load_image_folder(tmp_path / "ok", image_size=None).data[0]
    np.testing.assert_array_equal(data, np.rint(raw / 63 * 255).astype(np.uint8))
    deflate_bomb(tmp_path / "bad" / "bomb.dcm", 64 << 20)
    assert (tmp_path / "bad" / "bomb.dcm").stat().st_size < 200_000
    line = _line(_error(tmp_path / "bad", max_file_bytes=16 << 20), "bomb.dcm")
    assert "inflates to more than max_file_bytes=16,777,216 bytes" in line


def test_multi_frame_and_unsupported_dicom_are_refused(tmp_path):
    from pydicom.uid import ExplicitVRLittleEndian

    ds = dicom_dataset(4, 4, ExplicitVRLittleEndian, frames=3)
    save_dicom(ds, tmp_path / "cine.dcm", bytes(48), encapsulated=False)
    ds = dicom_dataset(4, 4, ExplicitVRLittleEndian, samples=4)
    save_dicom(ds, tmp_path / "cmyk.dcm", bytes(64), encapsulated=False)
    message = _error(tmp_path)
    assert "multi-frame DICOM (3 frames) is not supported" in _line(message, "cine.dcm")
    assert "SamplesPerPixel 4 is not supported" in _line(message, "cmyk.dcm")


@linux_only
def test_hostile_dicom_files_in_bounded_memory(tmp_path):
    """Each of these allocates hundreds of megabytes (or more) without the checks."""
    _good(tmp_path)
    rle_dicom(tmp_path / "huge.dcm", 30_000, 30_000, b"\x81\x00" * 8)
    rle_dicom(tmp_path / "rlebomb.dcm", 4000, 4000, b"\x81\x00" * 8_000_000)
    deflate_bomb(tmp_path / "deflatebomb.dcm", 256 << 20)
    png_declaring(tmp_path / "wide.png", 12_000, 10_000)
    out = load_in_child(tmp_path, budget_mb=150, max_file_bytes=64 << 20)
    assert out.startswith("ValueError: Could not read 4 of 5"), out
    assert "MemoryError" not in out, out  # what the unchecked decoders run into
    for name, refusal in (
        ("huge.dcm", "more than max_pixels=100,000,000"),
        ("rlebomb.dcm", "an RLE segment decodes to more than the 16,000,000 bytes"),
        ("deflatebomb.dcm", "inflates to more than max_file_bytes=67,108,864 bytes"),
        ("wide.png", "more than max_pixels=100,000,000"),
    ):
        assert refusal in _line(out, name)


# --- special files ----------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix" or not os.path.exists("/dev/zero"), reason="POSIX")
def test_fifo_and_dev_zero_named_dcm_never_hang(tmp_path):
    _good(tmp_path)
    os.mkfifo(tmp_path / "pipe.dcm")
    (tmp_path / "zero.dcm").symlink_to("/dev/zero")
    (tmp_path / "folder.png").mkdir()  # a folder named like an image: not a file, not listed
    out = load_in_child(tmp_path, budget_mb=100, timeout=60)
    assert out.startswith("ValueError: Could not read 2 of 3"), out
    assert "pipe.dcm is a FIFO (named pipe); only regular files are read." in out
    assert "zero.dcm is a character device (like /dev/zero)" in out
    with pytest.warns(UserWarning, match="Skipped 2 unreadable"):
        bunch = load_image_folder(tmp_path, skip_bad=True)
    assert bunch.filenames.tolist() == ["good.png"]


def test_names_with_control_characters_are_escaped_in_errors(tmp_path):
    (tmp_path / "evil\x1b[2J\u202e.png").write_bytes(b"not an image")
    _good(tmp_path)
    message = _error(tmp_path)
    assert "\x1b" not in message and "\u202e" not in message
    assert "evil\\x1b[2J\\u202e.png:" in message
