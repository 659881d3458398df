"""load_image_folder: PNG / JPEG / DICOM, labelled and flat folders, resizing, bad files."""

import sys

import numpy as np
import pytest
from PIL import Image

from skdcsae.datasets import load_image_folder

pydicom = pytest.importorskip("pydicom")


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _ramp(h=8, w=8, dtype=np.uint8, top=255):
    return np.linspace(0, top, h * w).reshape(h, w).astype(dtype)


def _dicom(path, raw, *, photometric="MONOCHROME2", slope=None, intercept=None, window=None):
    """A minimal single-frame DICOM file with patient data in the header."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-0042"
    ds.Modality = "CT"
    ds.set_pixel_data(raw, photometric_interpretation=photometric, bits_stored=12)
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.RescaleType = "HU"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# --- labelled PNG folders -------------------------------------------------------------------
def test_labelled_gray_png_exact_pixels(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for label in ("pneumonia", "normal"):
        for i in range(3):
            arrays[f"{label}/img{i}.png"] = rng.integers(0, 256, (12, 10), dtype=np.uint8)
            _png(tmp_path / label / f"img{i}.png", arrays[f"{label}/img{i}.png"])
    bunch = load_image_folder(tmp_path, image_size=None)
    assert bunch.data.shape == (6, 12, 10) and bunch.data.dtype == np.uint8
    assert bunch.target_names.tolist() == ["normal", "pneumonia"]
    assert bunch.target.tolist() == ["normal"] * 3 + ["pneumonia"] * 3  # the folder names
    assert bunch.filenames.tolist() == sorted(arrays)
    for name, image in zip(bunch.filenames, bunch.data, strict=True):
        np.testing.assert_array_equal(image, arrays[name])
    X, y = load_image_folder(tmp_path, image_size=None, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_rgb_png_channels_first_and_gray_conversion(tmp_path):
    red = np.zeros((6, 6, 3), np.uint8)
    red[..., 0] = 255
    mixed = np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    _png(tmp_path / "a" / "red.png", red)
    _png(tmp_path / "b" / "mixed.png", mixed)
    rgb = load_image_folder(tmp_path, image_size=None, color="rgb")
    assert rgb.data.shape == (2, 3, 6, 6)
    np.testing.assert_array_equal(rgb.data[0], red.transpose(2, 0, 1))
    np.testing.assert_array_equal(rgb.data[1], mixed.transpose(2, 0, 1))
    gray = load_image_folder(tmp_path, image_size=None, color="gray")
    assert gray.data.shape == (2, 6, 6)
    assert np.all(gray.data[0] == 76)  # ITU-R 601-2 luma of pure red: 255 * 0.299
    # A grayscale image read as RGB repeats the gray value in each channel.
    _png(tmp_path / "c" / "gray.png", _ramp(6, 6))
    rgb = load_image_folder(tmp_path, image_size=None, color="rgb")
    assert all(np.array_equal(rgb.data[2][c], _ramp(6, 6)) for c in range(3))


def test_jpeg_uppercase_extension(tmp_path):
    image = np.full((32, 32), 100, np.uint8)
    image[:, 16:] = 200
    tmp_path.joinpath("x").mkdir()
    Image.fromarray(image).save(tmp_path / "x" / "scan.JPG", format="JPEG", quality=95)
    Image.fromarray(image).save(tmp_path / "x" / "scan2.jpeg", format="JPEG", quality=95)
    bunch = load_image_folder(tmp_path, image_size=None)
    assert bunch.filenames.tolist() == ["x/scan.JPG", "x/scan2.jpeg"]
    assert np.abs(bunch.data.astype(int) - image).mean() < 3  # lossy, but close


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    raw = _ramp(8, 8, np.uint16, top=4000)
    _png(tmp_path / "deep.png", raw)
    data = load_image_folder(tmp_path, image_size=None).data[0]
    expected = np.rint(raw / 4000 * 255).astype(np.uint8)
    np.testing.assert_array_equal(data, expected)
    assert data.min() == 0 and data.max() == 255


# --- resizing -----------------------------------------------------------------------------------
def test_resize_to_height_width(tmp_path):
    image = np.zeros((40, 60), np.uint8)
    image[:, 30:] = 255  # right half bright
    _png(tmp_path / "k" / "wide.png", image)
    _png(tmp_path / "k" / "flat.png", np.full((50, 20), 77, np.uint8))
    bunch = load_image_folder(tmp_path, image_size=(20, 10))
    assert bunch.data.shape == (2, 20, 10)
    assert np.all(bunch.data[0] == 77)  # flat.png sorts first; a constant stays constant
    wide = bunch.data[1]
    assert wide[:, :4].max() < 10 and wide[:, 6:].min() > 245  # orientation kept
    assert load_image_folder(tmp_path, image_size=28).data.shape == (2, 28, 28)
    assert load_image_folder(tmp_path).data.shape == (2, 28, 28)  # the default


def test_different_sizes_need_image_size(tmp_path):
    _png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    _png(tmp_path / "b.png", np.zeros((9, 8), np.uint8))
    with pytest.raises(ValueError, match=r"same size.*8x8 \(e.g. a.png\).*9x8 \(e.g. b.png\)"):
        load_image_folder(tmp_path, image_size=None)


@pytest.mark.parametrize("bad", [0, (28,), (28, 0), (28.0, 28), "28"])
def test_bad_image_size(tmp_path, bad):
    _png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(tmp_path, image_size=bad)


# --- DICOM --------------------------------------------------------------------------------------
def test_dicom_rescale_window_and_monochrome1(tmp_path):
    raw = np.linspace(0, 1000, 64).reshape(8, 8).astype(np.uint16)
    slope, intercept, (center, width) = 2.0, -1000.0, (0.0, 400.0)
    _dicom(
        tmp_path / "ct.dcm",
        raw,
        photometric="MONOCHROME1",
        slope=slope,
        intercept=intercept,
        window=(center, width),
    )
    bunch = load_image_folder(tmp_path, image_size=None)
    assert bunch.target is None and bunch.filenames.tolist() == ["ct.dcm"]
    # Independent computation: HU, then the DICOM linear window, then MONOCHROME1 inversion.
    hu = raw * slope + intercept
    level = np.clip((hu - (center - 0.5)) / (width - 1) + 0.5, 0, 1)
    expected = 255 - np.rint(level * 255)
    assert np.abs(bunch.data[0].astype(int) - expected).max() <= 1
    # Without the rescale the window would clip almost everything: make sure it mattered.
    assert 0 < (bunch.data[0] == 255).mean() < 0.6
    assert "Doe" not in repr(bunch) and "PID-0042" not in repr(bunch)


def test_dicom_monochrome1_is_the_inverse_of_monochrome2(tmp_path):
    raw = _ramp(8, 8, np.uint16, top=3000)
    _dicom(tmp_path / "m1.dcm", raw, photometric="MONOCHROME1")
    _dicom(tmp_path / "m2.dcm", raw, photometric="MONOCHROME2")
    m1, m2 = load_image_folder(tmp_path, image_size=None).data
    np.testing.assert_array_equal(m2, np.rint(raw / 3000 * 255).astype(np.uint8))
    np.testing.assert_array_equal(m1, 255 - m2)


def test_dicom_mixed_with_png_and_resized(tmp_path):
    _dicom(tmp_path / "pneumonia" / "a.dcm", _ramp(16, 16, np.uint16, top=4095))
    _png(tmp_path / "normal" / "b.png", _ramp(16, 16))
    bunch = load_image_folder(tmp_path, image_size=(8, 8), color="rgb")
    assert bunch.data.shape == (2, 3, 8, 8)
    assert bunch.target.tolist() == ["normal", "pneumonia"]
    assert "DICOM" in bunch.DESCR


# --- unreadable files ---------------------------------------------------------------------------
def test_unreadable_files_are_named(tmp_path):
    _png(tmp_path / "a" / "good.png", _ramp())
    (tmp_path / "a" / "broken.png").write_bytes(b"this is not a png")
    good = (tmp_path / "a" / "good.png").read_bytes()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "b" / "empty.dcm").write_bytes(b"")
    _png(tmp_path / "b" / "fine.png", _ramp())
    with pytest.raises(ValueError, match="Could not read 3 of 5") as info:
        load_image_folder(tmp_path)
    message = str(info.value)
    for name in ("a/broken.png", "b/truncated.png", "b/empty.dcm"):
        assert name in message
    assert "good.png" not in message and "skip_bad=True" in message

    with pytest.warns(UserWarning, match="Skipped 3 unreadable") as record:
        bunch = load_image_folder(tmp_path, skip_bad=True)
    assert "a/broken.png" in str(record[0].message)
    assert bunch.filenames.tolist() == ["a/good.png", "b/fine.png"]
    assert bunch.target.tolist() == ["a", "b"]


def test_all_files_bad_with_skip(tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="None of the 1"):
        load_image_folder(tmp_path, skip_bad=True)


# --- layouts ------------------------------------------------------------------------------------
def test_flat_unlabelled_folder(tmp_path):
    for name in ("c.png", "a.png", "b.png"):
        _png(tmp_path / name, _ramp())
    (tmp_path / ".hidden.png").write_bytes(b"ignored silently")
    bunch = load_image_folder(tmp_path)
    assert bunch.target is None and bunch.target_names is None
    assert bunch.filenames.tolist() == ["a.png", "b.png", "c.png"]
    assert "Unlabelled" in bunch.DESCR
    X, y = load_image_folder(tmp_path, return_X_y=True)
    assert X.shape == (3, 28, 28) and y is None


def test_layout_detection_and_overrides(tmp_path):
    _png(tmp_path / "top.png", _ramp())
    _png(tmp_path / "cls" / "deep" / "inner.png", _ramp())
    with pytest.raises(ValueError, match="both directly inside it"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match=r"top\.png"):
        load_image_folder(tmp_path, labelled=True)
    flat = load_image_folder(tmp_path, labelled=False)  # recursive
    assert flat.filenames.tolist() == ["cls/deep/inner.png", "top.png"]
    (tmp_path / "top.png").unlink()
    labelled = load_image_folder(tmp_path)
    assert labelled.target_names.tolist() == ["cls"]
    assert labelled.filenames.tolist() == ["cls/deep/inner.png"]


def test_other_files_and_empty_class_folders_warn(tmp_path):
    _png(tmp_path / "a" / "x.png", _ramp())
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".git").mkdir()
    with pytest.warns(UserWarning) as record:
        bunch = load_image_folder(tmp_path)
    messages = " ".join(str(r.message) for r in record)
    assert "a/notes.txt" in messages and "empty" in messages and ".git" not in messages
    assert bunch.target_names.tolist() == ["a"]


def test_no_images_and_not_a_folder(tmp_path):
    with pytest.raises(ValueError, match="No image files"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="color"):
        load_image_folder(tmp_path, color="grey")


# --- optional dependencies ----------------------------------------------------------------------
def test_missing_pillow_message(tmp_path, monkeypatch):
    _png(tmp_path / "a.png", _ramp())
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"needs Pillow.*pip install pillow"):
        load_image_folder(tmp_path)


def test_missing_pydicom_message(tmp_path, monkeypatch):
    _dicom(tmp_path / "a.dcm", _ramp(8, 8, np.uint16))
    monkeypatch.setitem(sys.modules, "pydicom", None)
    monkeypatch.setitem(sys.modules, "pydicom.pixels", None)
    with pytest.raises(
        ImportError, match=r"pydicom >= 3.*pip install \"pydicom>=3\".*\.\[images\]"
    ):
        load_image_folder(tmp_path)
