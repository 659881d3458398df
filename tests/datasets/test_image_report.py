"""What load_image_folder did to the images is recorded and announced; class names survive."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from skdcsae.datasets import load_image_folder

from ..conftest import FAST_CONV


def _png(path, shape, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


def _no_warnings(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_image_folder(*args, **kwargs)


def test_resizing_donor_images_is_announced_and_recorded(tmp_path):
    for label in ("normal", "pneumonia"):
        for i in range(2):
            _png(tmp_path / label / f"{i}.png", (56, 40))
    with pytest.warns(UserWarning) as record:
        bunch = load_image_folder(tmp_path)
    assert len(record) == 1
    message = str(record[0].message)
    assert message == (
        f"{tmp_path}: resized 4 of 4 image(s) from 56x40 (4) to 28x28 (height x width; "
        "bilinear, aspect ratio not kept); the Bunch's original_shapes, resized and "
        "color_converted say which images."
    )
    assert bunch.original_shapes.tolist() == [[56, 40]] * 4
    assert bunch.original_shapes.dtype == np.int64
    assert bunch.resized.tolist() == [True] * 4 and bunch.resized.dtype == bool
    assert bunch.color_converted.tolist() == [False] * 4
    assert bunch.original_color.tolist() == ["gray"] * 4
    assert bunch.rescaled.tolist() == [False] * 4
    assert bunch.image_size == (28, 28) and bunch.color == "gray"
    assert "Original sizes: 56x40 (4); 4 resized" in bunch.DESCR


def test_rgb_recipient_images_converted_to_gray_are_announced(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((64, 64, 3), (200, 10, 10), np.uint8)).save(tmp_path / f"{i}.png")
    with pytest.warns(UserWarning) as record:
        bunch = load_image_folder(tmp_path)
    message = str(record[0].message)
    assert "resized 3 of 3 image(s) from 64x64 (3) to 28x28 (height x width; bilinear)" in message
    assert "converted 3 colour image(s) to grayscale (pass color='rgb' to keep colour)" in message
    assert message.count(".") == 1 + str(tmp_path).count(".")  # one sentence
    assert bunch.original_color.tolist() == ["rgb"] * 3
    assert bunch.color_converted.all()


def test_mixed_colour_and_gray_is_announced(tmp_path):
    _png(tmp_path / "gray.png", (28, 28))
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.warns(UserWarning, match=r"mixes 1 colour and 1 grayscale images"):
        gray = load_image_folder(tmp_path)
    assert gray.color_converted.tolist() == [False, True]
    with pytest.warns(UserWarning, match=r"converted 1 grayscale image\(s\) to RGB .* mixes"):
        rgb = load_image_folder(tmp_path, color="rgb")
    assert rgb.color_converted.tolist() == [True, False] and rgb.color == "rgb"
    assert not rgb.resized.any()


def test_nothing_done_nothing_said(tmp_path):
    _png(tmp_path / "a" / "x.png", (28, 28))
    _png(tmp_path / "b" / "y.png", (28, 28))
    bunch = _no_warnings(tmp_path)
    assert not bunch.resized.any() and not bunch.color_converted.any()
    assert _no_warnings(tmp_path, image_size=None).image_size == (28, 28)


def test_palette_images_count_as_gray_or_colour(tmp_path):
    Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)).convert("P").save(
        tmp_path / "gray_palette.png"
    )
    Image.fromarray(np.full((28, 28, 3), (255, 0, 0), np.uint8)).convert("P").save(
        tmp_path / "red_palette.png"
    )
    with pytest.warns(UserWarning, match="converted 1 colour"):
        bunch = load_image_folder(tmp_path)
    assert bunch.original_color.tolist() == ["gray", "rgb"]


def test_exif_rotation_gives_the_shown_original_shape(tmp_path):
    image = Image.fromarray(np.zeros((10, 30), np.uint8))  # 10 high, 30 wide as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    image.save(tmp_path / "turned.jpg", exif=exif.tobytes())
    bunch = load_image_folder(tmp_path, image_size=None)
    assert bunch.data.shape == (1, 30, 10)
    assert bunch.original_shapes.tolist() == [[30, 10]]
    with pytest.warns(UserWarning, match="from 30x10"):
        assert load_image_folder(tmp_path).original_shapes.tolist() == [[30, 10]]


def test_large_jpeg_is_decoded_at_a_reduced_scale_when_resized(tmp_path):
    y, x = np.mgrid[0:1600, 0:2000]
    photo = ((x // 250 + y // 200) % 2 * 200 + 20).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=95)
    with pytest.warns(UserWarning, match="from 1600x2000"):
        small = load_image_folder(tmp_path, image_size=(32, 40))
    assert small.original_shapes.tolist() == [[1600, 2000]]
    full = np.asarray(
        Image.fromarray(photo).resize((40, 32), Image.Resampling.BILINEAR), dtype=np.int16
    )
    assert np.abs(small.data[0].astype(np.int16) - full).mean() < 3


def test_sixteen_bit_and_dicom_are_marked_rescaled(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.arange(784, dtype=np.uint16).reshape(28, 28) * 80).save(buffer, "PNG")
    (tmp_path / "deep.png").write_bytes(buffer.getvalue())
    _png(tmp_path / "plain.png", (28, 28))
    bunch = _no_warnings(tmp_path)
    assert bunch.rescaled.tolist() == [True, False]
    assert "1 scaled from their own min-max to 0-255" in bunch.DESCR


def test_skipping_every_image_of_a_class_is_said(tmp_path):
    _png(tmp_path / "normal" / "a.png", (28, 28))
    (tmp_path / "pneumonia").mkdir()
    (tmp_path / "pneumonia" / "b.png").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="No image is left for class\\(es\\): pneumonia"):
        bunch = load_image_folder(tmp_path, skip_bad=True)
    assert bunch.target.tolist() == ["normal"] and bunch.target_names.tolist() == ["normal"]


def test_symlinked_class_folders_are_not_followed_but_named(tmp_path):
    _png(tmp_path / "store" / "x.png", (28, 28))
    root = tmp_path / "root"
    _png(root / "normal" / "a.png", (28, 28))
    (root / "pneumonia").symlink_to(tmp_path / "store", target_is_directory=True)
    with pytest.warns(UserWarning, match=r"symbolic link\(s\) to folders.*\n  pneumonia"):
        bunch = load_image_folder(root)
    assert bunch.target_names.tolist() == ["normal"]


def test_folder_names_reach_the_donor_kit(tmp_path):
    """The natural sklearn code keeps the class names in the kit, not 0 and 1."""
    from sklearn.datasets import load_digits

    from skdcsae import DCSAETransformer, load_donor_kit

    X, y = load_digits(n_class=2, return_X_y=True)
    names = np.array(["normal", "pneumonia"])
    for i in range(40):
        image = (X[i].reshape(8, 8) * 255 / 16).astype(np.uint8)
        (tmp_path / "donor" / names[y[i]]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "donor" / names[y[i]] / f"{i:02d}.png")
    b = load_image_folder(tmp_path / "donor", image_size=(8, 8))
    dcsae = DCSAETransformer(random_state=0, **FAST_CONV).fit(b.data, b.target)
    assert dcsae.classes_.tolist() == ["normal", "pneumonia"]
    dcsae.export_donor_kit(tmp_path / "kit.joblib", b.data, b.target)
    assert load_donor_kit(tmp_path / "kit.joblib").classes.tolist() == ["normal", "pneumonia"]
