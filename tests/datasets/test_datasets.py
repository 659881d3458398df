"""MedMNIST fetcher: local copies, checksums, downloads from a local server, binary views."""

import functools
import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from skdcsae.datasets import fetch_medmnist, get_data_home, load_medmnist_npz
from skdcsae.datasets._medmnist import binarize_labels, medmnist_url

from ..conftest import shared_data_file

PNEUMONIA_SIZES = {"train": 4708, "val": 524, "test": 624}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test may touch the user's data home or the network."""
    monkeypatch.setenv("SKDCSAE_DATA", str(tmp_path / "default_home"))
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", "http://127.0.0.1:9/never-used/")
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def data_home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def local_pneumonia(data_home):
    """The official pneumoniamnist.npz copied where fetch_medmnist looks for it."""
    target = data_home / "medmnist" / "pneumoniamnist.npz"
    target.parent.mkdir(parents=True)
    shutil.copyfile(shared_data_file("pneumoniamnist.npz"), target)
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path):
    """A static file server on 127.0.0.1 in a thread; yields (served folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_medmnist(path, images, labels):
    """An npz in the official layout, keys in the official (confusing) order."""
    arrays = {f"{s}_images": images[s] for s in ("train", "val", "test")}
    arrays |= {f"{s}_labels": labels[s] for s in ("train", "val", "test")}
    np.savez(path, **arrays)


def _leftovers(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- data home --------------------------------------------------------------------------------
def test_get_data_home_precedence(monkeypatch, tmp_path):
    explicit = tmp_path / "explicit"
    assert get_data_home(explicit) == str(explicit.resolve())
    assert explicit.is_dir()
    monkeypatch.setenv("SKDCSAE_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == str((tmp_path / "from_env").resolve())
    monkeypatch.delenv("SKDCSAE_DATA")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert get_data_home() == str((tmp_path / "sk" / "skdcsae").resolve())


# --- local, verified copy -----------------------------------------------------------------------
@pytest.mark.realdata
def test_fetch_local_copy_without_network(local_pneumonia, data_home):
    bunch = fetch_medmnist("pneumoniamnist", data_home=data_home, download_if_missing=False)
    assert bunch.data.shape == (PNEUMONIA_SIZES["train"], 28, 28)
    assert bunch.data.dtype == np.uint8
    assert bunch.target.shape == (PNEUMONIA_SIZES["train"],)
    assert bunch.target.dtype == np.int64
    # Keyed reads: train labels, not val images. The MANIFEST's class counts.
    assert np.bincount(bunch.target).tolist() == [1214, 3494]
    assert bunch.target_names.tolist() == ["normal", "pneumonia"]
    assert bunch.filename == str(local_pneumonia)
    assert bunch.split == "train"
    assert "28209eda62fecd6e6a2d98b1501bb15f" in bunch.DESCR and "CC BY 4.0" in bunch.DESCR
    with np.load(local_pneumonia) as raw:
        np.testing.assert_array_equal(bunch.data, raw["train_images"])


@pytest.mark.realdata
@pytest.mark.parametrize("split", ["val", "test"])
def test_fetch_each_split(local_pneumonia, data_home, split):
    X, y = fetch_medmnist("pneumoniamnist", data_home=data_home, split=split, return_X_y=True)
    assert X.shape == (PNEUMONIA_SIZES[split], 28, 28)
    assert y.shape == (PNEUMONIA_SIZES[split],)


@pytest.mark.realdata
def test_fetch_all_concatenates_in_order(local_pneumonia, data_home):
    bunch = fetch_medmnist("pneumoniamnist", data_home=data_home, split="all", binary=True)
    assert len(bunch.data) == sum(PNEUMONIA_SIZES.values())
    for split, n in PNEUMONIA_SIZES.items():
        assert (bunch.sample_split == split).sum() == n
    test = fetch_medmnist("pneumoniamnist", data_home=data_home, split="test")
    np.testing.assert_array_equal(bunch.data[bunch.sample_split == "test"], test.data)
    np.testing.assert_array_equal(bunch.target[bunch.sample_split == "test"], test.target)


@pytest.mark.realdata
def test_fetch_refuses_corrupted_copy(local_pneumonia, data_home):
    raw = bytearray(local_pneumonia.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    local_pneumonia.write_bytes(bytes(raw))
    with pytest.raises(OSError, match=r"MD5 .* not loaded") as info:
        fetch_medmnist("pneumoniamnist", data_home=data_home)
    assert str(local_pneumonia) in str(info.value)
    assert "28209eda62fecd6e6a2d98b1501bb15f" in str(info.value)


def test_fetch_refuses_a_different_file(data_home, tmp_path):
    path = data_home / "medmnist" / "breastmnist.npz"
    path.parent.mkdir(parents=True)
    images = {s: np.zeros((2, 28, 28), np.uint8) for s in ("train", "val", "test")}
    labels = {s: np.zeros((2, 1), np.uint8) for s in ("train", "val", "test")}
    _write_medmnist(path, images, labels)
    with pytest.raises(OSError, match="not the official release"):
        fetch_medmnist("breastmnist", data_home=data_home, download_if_missing=False)


def test_missing_file_without_download(data_home):
    with pytest.raises(OSError) as info:
        fetch_medmnist("retinamnist", data_home=data_home, download_if_missing=False)
    message = str(info.value)
    assert "download_if_missing=False" in message
    assert str(data_home / "medmnist" / "retinamnist.npz") in message
    assert "retinamnist.npz" in message and "bd4c0672f1bba3e3a89f0e4e876791e4" in message


def test_invalid_arguments(data_home):
    with pytest.raises(ValueError, match="name"):
        fetch_medmnist("mnist", data_home=data_home)
    with pytest.raises(ValueError, match="size"):
        fetch_medmnist("pneumoniamnist", size=32, data_home=data_home)
    with pytest.raises(ValueError, match="split"):
        fetch_medmnist("pneumoniamnist", split="training", data_home=data_home)


# --- downloads ----------------------------------------------------------------------------------
def test_default_url_is_the_official_zenodo_record(monkeypatch):
    monkeypatch.delenv("SKDCSAE_MEDMNIST_URL")
    assert medmnist_url("pneumoniamnist", 28) == (
        "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1"
    )
    assert medmnist_url("retinamnist", 224).endswith("/retinamnist_224.npz?download=1")
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", "http://mirror/{filename}?x=1")
    assert medmnist_url("breastmnist", 64) == "http://mirror/breastmnist_64.npz?x=1"


@pytest.mark.realdata
def test_download_from_local_server(http_server, data_home, monkeypatch):
    folder, base_url = http_server
    shutil.copyfile(shared_data_file("pneumoniamnist.npz"), folder / "pneumoniamnist.npz")
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", base_url)
    bunch = fetch_medmnist("pneumoniamnist", data_home=data_home, split="test")
    assert bunch.data.shape == (624, 28, 28)
    assert _leftovers(data_home / "medmnist") == ["pneumoniamnist.npz"]  # no temp file left
    # The second call reads the cached copy: the server may be gone.
    (folder / "pneumoniamnist.npz").unlink()
    assert len(fetch_medmnist("pneumoniamnist", data_home=data_home, split="test").data) == 624


@pytest.mark.realdata
def test_download_with_wrong_checksum_is_discarded(http_server, data_home, monkeypatch):
    folder, base_url = http_server
    raw = bytearray(shared_data_file("pneumoniamnist.npz").read_bytes())
    raw[1000] ^= 0x01
    (folder / "pneumoniamnist.npz").write_bytes(bytes(raw))
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", base_url)
    with pytest.raises(OSError, match="discarded") as info:
        fetch_medmnist("pneumoniamnist", data_home=data_home)
    assert base_url + "pneumoniamnist.npz" in str(info.value)
    assert _leftovers(data_home / "medmnist") == []


def test_download_404_gives_url_and_destination(http_server, data_home, monkeypatch):
    _, base_url = http_server
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", base_url)
    with pytest.raises(OSError, match="HTTP 404") as info:
        fetch_medmnist("breastmnist", data_home=data_home)
    message = str(info.value)
    assert base_url + "breastmnist.npz" in message
    assert str(data_home / "medmnist" / "breastmnist.npz") in message
    assert _leftovers(data_home / "medmnist") == []


def test_download_connection_refused(data_home, monkeypatch):
    url = f"http://127.0.0.1:{_unused_port()}/"
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", url)
    with pytest.raises(OSError, match="Could not download") as info:
        fetch_medmnist("retinamnist", size=64, data_home=data_home)
    message = str(info.value)
    assert url + "retinamnist_64.npz" in message
    assert str(data_home / "medmnist" / "retinamnist_64.npz") in message
    assert "afda852cc34dcda56f86ad2b2457dbcc" in message
    assert _leftovers(data_home / "medmnist") == []


# --- layout and binary views (synthetic files, no checksum involved) -----------------------------
def test_binarize_retina_grades():
    grades = np.array([0, 1, 2, 3, 4, 0, 4])
    np.testing.assert_array_equal(binarize_labels("retinamnist", grades), [0, 1, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(binarize_labels("pneumoniamnist", [0, 1, 1]), [0, 1, 1])
    with pytest.raises(ValueError, match=r"0\.\.4"):
        binarize_labels("retinamnist", [0, 5])
    with pytest.raises(ValueError, match="No binary view"):
        binarize_labels("somefile.npz", [0, 1, 2])


def test_load_npz_rgb_layout_and_binary_retina(tmp_path):
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (5, 28, 28, 3), dtype=np.uint8) for s in ("train", "val")}
    images["test"] = rng.integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    labels = {
        "train": np.array([[0], [1], [2], [3], [4]], np.uint8),
        "val": np.array([[4], [0], [0], [2], [1]], np.uint8),
        "test": np.array([[3], [0]], np.uint8),
    }
    path = tmp_path / "retinamnist.npz"
    _write_medmnist(path, images, labels)

    graded = load_medmnist_npz(path, split="val")
    assert graded.data.shape == (5, 3, 28, 28)  # channels first
    np.testing.assert_array_equal(graded.data, images["val"].transpose(0, 3, 1, 2))
    assert graded.target.tolist() == [4, 0, 0, 2, 1]
    assert graded.target_names.tolist() == ["0", "1", "2", "3", "4"]

    binary = load_medmnist_npz(path, split="all", binary=True)
    assert binary.target.tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0]
    assert binary.target_names.tolist() == ["no DR (grade 0)", "DR (grades 1-4)"]
    assert binary.sample_split.tolist() == ["train"] * 5 + ["val"] * 5 + ["test"] * 2
    assert "grades 1, 2, 3, 4 -> 1" in binary.DESCR
    assert "not checked" in binary.DESCR


def test_load_npz_reads_by_key_not_position(tmp_path):
    """Keys stored in an unusual order still land in the right fields."""
    path = tmp_path / "breastmnist_custom.npz"
    rng = np.random.default_rng(1)
    arrays = {}
    for s in ("test", "train", "val"):
        arrays[f"{s}_labels"] = np.array([[1], [0], [1]], np.uint8)
        arrays[f"{s}_images"] = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.savez(path, **arrays)
    X, y = load_medmnist_npz(path, split="train", return_X_y=True)
    np.testing.assert_array_equal(X, arrays["train_images"])
    assert y.tolist() == [1, 0, 1]
    assert load_medmnist_npz(path).target_names.tolist() == ["malignant", "normal, benign"]


def test_load_npz_rejects_bad_layouts(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, train_images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="train_labels"):
        load_medmnist_npz(path)
    np.savez(path, train_images=np.zeros((3, 28, 28), np.uint8), train_labels=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="3 images but train_labels has 2"):
        load_medmnist_npz(path)
    np.savez(path, train_images=np.zeros((3, 28, 28), np.uint8), train_labels=np.zeros((3, 14)))
    with pytest.raises(ValueError, match="single-label"):
        load_medmnist_npz(path)
    with pytest.raises(OSError, match="No such file"):
        load_medmnist_npz(tmp_path / "missing.npz")


def test_load_npz_refuses_pickled_objects(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        train_images=np.array([object()] * 3, dtype=object),
        train_labels=np.zeros((3, 1), np.uint8),
    )
    with pytest.raises(ValueError, match="allow_pickle"):
        load_medmnist_npz(path)


@pytest.mark.realdata
def test_load_balanced_subset():
    bunch = load_medmnist_npz(shared_data_file("pneumoniamnist_balanced.npz"), split="test")
    assert bunch.data.shape == (468, 28, 28)
    assert np.bincount(bunch.target).tolist() == [234, 234]
    assert bunch.target_names.tolist() == ["normal", "pneumonia"]


# --- bounded reads and downloads -------------------------------------------------------------
def test_download_larger_than_the_cap_is_discarded(http_server, data_home, monkeypatch):
    from skdcsae.datasets import _base

    folder, base_url = http_server
    (folder / "breastmnist.npz").write_bytes(bytes(5000))
    monkeypatch.setenv("SKDCSAE_MEDMNIST_URL", base_url)
    monkeypatch.setattr(_base, "MAX_DATASET_BYTES", 1000)
    with pytest.raises(OSError, match="larger than 1,000 bytes") as info:
        fetch_medmnist("breastmnist", data_home=data_home)
    assert "\n" not in str(info.value)
    assert _leftovers(data_home / "medmnist") == []


def test_load_npz_bounds_what_its_members_inflate_to(tmp_path, monkeypatch):
    from skdcsae.datasets import _medmnist

    path = tmp_path / "zeros.npz"
    zeros = {f"{s}_images": np.zeros((500, 28, 28), np.uint8) for s in ("train", "val", "test")}
    labels = {f"{s}_labels": np.zeros((500, 1), np.uint8) for s in ("train", "val", "test")}
    np.savez_compressed(path, **zeros, **labels)
    assert path.stat().st_size < 50_000
    assert load_medmnist_npz(path).data.shape == (500, 28, 28)
    monkeypatch.setattr(_medmnist, "MAX_DATASET_BYTES", 100_000)
    with pytest.raises(ValueError, match=r"inflates to [\d,]+ bytes, more than the 100,000"):
        load_medmnist_npz(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_load_npz_refuses_a_fifo_and_a_folder(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(ValueError, match="FIFO"):
        load_medmnist_npz(tmp_path / "pipe.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        load_medmnist_npz(tmp_path / "dir.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        load_medmnist_npz(tmp_path / "plain.npy")
