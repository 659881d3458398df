"""label_archive in one process: every source, one encoding, resuming, bad files, memory."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from skdcsae import RecipientLabeler
from skdcsae._cli import main
from skdcsae.recipient import label_archive

from .scale_helpers import label_probability, make_archive, make_kit, read_labels

REPO = Path(__file__).resolve().parents[2]
N = 1000


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The kit, an archive of N images, its true labels, and the labels and probabilities of
    RecipientLabeler adapted to the archive (``fit(X)``, label_archive's default)."""
    folder = tmp_path_factory.mktemp("stream")
    kit = make_kit(folder)
    X, y = make_archive(N)
    labeler = RecipientLabeler(kit, device="cpu").fit(X)
    assert labeler.n_pseudo_labelled_[0] > 0
    return kit, X, y, labeler.predict(X), label_probability(labeler, X)


@pytest.fixture
def encodes(monkeypatch):
    """The number of images of each encoder pass (every pass goes through ``_encode``)."""
    counts = []
    real = RecipientLabeler._encode

    def counting(self, images, *args, **kwargs):
        counts.append(len(images))
        return real(self, images, *args, **kwargs)

    monkeypatch.setattr(RecipientLabeler, "_encode", counting)
    return counts


def _done_counts(out):
    counts = {}
    for line in (Path(f"{out}.parts") / "done.jsonl").read_text().splitlines():
        k = json.loads(line)["partition"]
        counts[k] = counts.get(k, 0) + 1
    return counts


def _write_source(kind, X, y, folder):
    """The archive X stored as ``kind``; its path (or X itself) and the expected names."""
    if kind == "array":
        return X, [f"array[{i}]" for i in range(len(X))]
    if kind == "npy":
        np.save(folder / "x.npy", X)
        return folder / "x.npy", [f"x.npy[{i}]" for i in range(len(X))]
    if kind == "zarr":
        import zarr

        z = zarr.open_array(
            folder / "x.zarr", mode="w", shape=X.shape, chunks=(128, 8, 8), dtype=X.dtype
        )
        z[:] = X
        return folder / "x.zarr", [f"x.zarr[{i}]" for i in range(len(X))]
    save = np.savez if kind == "npz" else np.savez_compressed
    save(folder / "x.npz", train_images=X, train_labels=y[:, None])
    if kind == "npz":  # stored: memory-mapped at the member's offset
        with zipfile.ZipFile(folder / "x.npz") as zf:
            assert zf.getinfo("train_images.npy").compress_type == zipfile.ZIP_STORED
    return folder / "x.npz", [f"x.npz:train[{i}]" for i in range(len(X))]


@pytest.mark.parametrize("kind", ["array", "npy", "npz", "npz_compressed", "zarr"])
def test_every_source_gives_the_labels_of_predict(setup, tmp_path, kind):
    kit, X, y, expected, scores = setup
    source, names = _write_source(kind, X, y, tmp_path)
    report = label_archive(kit, source, tmp_path / "labels.csv", partition_size=300, device="cpu")
    files, labels, written = read_labels(tmp_path / "labels.csv")
    assert files == names
    np.testing.assert_array_equal(labels, expected.astype(str))
    np.testing.assert_allclose(written, scores, rtol=1e-5, atol=1e-6)
    assert (report.n_images, report.n_labelled, report.n_partitions) == (N, N, 4)
    assert report.counts == {str(c): int(np.sum(expected == c)) for c in (0, 1)}
    assert not Path(f"{tmp_path / 'labels.csv'}.parts").exists()  # removed once merged
    if kind.startswith("npz"):  # the archive carries labels
        assert report.accuracy == pytest.approx(np.mean(expected == y))
    else:
        assert report.accuracy is None


def test_each_image_is_encoded_once(setup, tmp_path, encodes):
    kit, X, *_ = setup
    encoded = encodes
    plain = RecipientLabeler(kit, self_training=None)
    report = label_archive(plain, X, tmp_path / "kit.csv", partition_size=300, device="cpu")
    assert sum(encoded) == N and report.n_pseudo_labelled == 0
    encoded.clear()  # adapting to the archive: one more pass, no more
    report = label_archive(kit, X, tmp_path / "labels.csv", partition_size=300, device="cpu")
    assert sum(encoded) == 2 * N and report.n_pseudo_labelled > 0


def test_kit_only_labels_are_those_of_fit_without_images(setup, tmp_path):
    kit, X, _, adapted, _ = setup
    expected = RecipientLabeler(kit, device="cpu").fit().predict(X)
    plain = RecipientLabeler(kit, self_training=None)
    label_archive(plain, X, tmp_path / "labels.csv", partition_size=300, device="cpu")
    np.testing.assert_array_equal(read_labels(tmp_path / "labels.csv")[1], expected.astype(str))
    assert not np.array_equal(expected, adapted)  # the adaptation changed some labels


def test_interrupted_run_resumes_without_relabelling(setup, tmp_path, encodes):
    kit, X, _, expected, _ = setup
    out = tmp_path / "labels.csv"

    def stop_after_two(record):
        if record["partition"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_archive(kit, X, out, partition_size=200, device="cpu", on_partition=stop_after_two)
    assert not out.exists()  # no output until every partition is labelled
    assert (Path(f"{out}.parts") / "adapt.npz").is_file()  # the images chosen, kept
    encodes.clear()
    report = label_archive(kit, X, out, partition_size=200, device="cpu", keep_parts=True)
    assert sum(encodes) == N - 400  # the 3 partitions left, and no second survey
    assert report.partitions_resumed == 2 and report.n_partitions == 5
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))
    assert _done_counts(out) == {k: 1 for k in range(5)}  # no partition labelled twice


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_process_resumes_without_relabelling(setup, tmp_path):
    kit, X, _, expected, _ = setup
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "labels.csv"
    code = (
        "import os, signal\n"
        "from skdcsae.recipient import label_archive\n"
        "def kill(record):\n"
        "    if record['partition'] == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"label_archive({str(kit)!r}, {str(tmp_path / 'x.npy')!r}, {str(out)!r}, "
        "partition_size=150, device='cpu', on_partition=kill)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not out.exists()
    report = label_archive(kit, tmp_path / "x.npy", out, device="cpu", keep_parts=True)
    assert report.partitions_resumed == 3 and report.n_partitions == 7  # its partition size
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))
    assert _done_counts(out) == {k: 1 for k in range(7)}
    assert not list(Path(f"{out}.parts").glob(".*.tmp"))


def _interrupt(record):
    raise KeyboardInterrupt


def test_another_run_in_the_parts_folder_is_refused(setup, tmp_path):
    kit, X, _, expected, _ = setup
    out = tmp_path / "labels.csv"
    with pytest.raises(KeyboardInterrupt):
        label_archive(kit, X, out, partition_size=200, device="cpu", on_partition=_interrupt)
    with pytest.raises(ValueError, match="another partition_size; pass resume=False"):
        label_archive(kit, X, out, partition_size=300, device="cpu")
    with pytest.raises(ValueError, match="another source"):
        label_archive(kit, X[::-1], out, device="cpu")
    report = label_archive(kit, X, out, partition_size=300, device="cpu", resume=False)
    assert report.partitions_resumed == 0
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        label_archive(kit, X, out, device="cpu")


def _image_folder(root, X):
    from PIL import Image

    root.mkdir()
    for i, image in enumerate(X):
        Image.fromarray(image).save(root / f"img{i:03d}.png")
    return [f"img{i:03d}.png" for i in range(len(X))]


def test_bad_files_are_reported_and_other_partitions_kept(setup, tmp_path):
    kit, X, *_ = setup
    names = _image_folder(tmp_path / "images", X[:30])
    (tmp_path / "images" / "img013.png").write_bytes(b"not a png")  # in partition 1
    out = tmp_path / "labels.csv"
    with pytest.raises(ValueError, match=r"(?s)1 image file.*img013\.png: .*skip_bad=True"):
        label_archive(kit, tmp_path / "images", out, partition_size=10, device="cpu")
    parts = Path(f"{out}.parts")
    assert sorted(p.name for p in parts.glob("part-*.csv")) == [
        "part-000000.csv",
        "part-000002.csv",
    ]
    report = label_archive(
        kit,
        tmp_path / "images",
        out,
        partition_size=10,
        skip_bad=True,
        device="cpu",
        keep_parts=True,
    )
    assert report.partitions_resumed == 2 and report.n_labelled == 29
    assert [name for name, _ in report.skipped] == ["img013.png"]
    assert read_labels(out)[0] == [n for n in names if n != "img013.png"]
    assert "img013.png" in report.skipped_file.read_text()
    assert _done_counts(out) == {0: 1, 1: 1, 2: 1}
    readable = np.delete(X[:30], 13, axis=0)
    expected = RecipientLabeler(kit, device="cpu").fit(readable).predict(readable)
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))


def test_memory_is_bounded_by_the_partition(setup, tmp_path):
    kit, *_ = setup
    X, _ = make_archive(60_000, seed=1)
    np.save(tmp_path / "big.npy", X)
    del X
    tracemalloc.start()
    try:  # from the end of the first partition: loading the kit is not labelling
        report = label_archive(
            kit,
            tmp_path / "big.npy",
            tmp_path / "labels.csv",
            partition_size=2048,
            device="cpu",
            on_partition=lambda record: record["partition"] or tracemalloc.reset_peak(),
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.n_labelled == 60_000
    # the images as float32 alone would take 15 MB, their labels file 2 MB
    assert peak < 8e6, f"peak traced memory {peak / 1e6:.1f} MB"


def test_cli_streams_resumes_and_skips_bad_files(setup, tmp_path, capsys):
    kit, X, *_ = setup
    _image_folder(tmp_path / "images", X[:25])
    (tmp_path / "images" / "img004.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "labels.csv"
    args = [
        "recipient",
        str(kit),
        str(tmp_path / "images"),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--partition-size",
        "10",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "img004.png" in err and "--skip-bad" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--skip-bad"]) == 0
    shown, err = capsys.readouterr()
    assert "Resumed an interrupted run: 2 of 3 partitions" in shown
    assert "Labelled 24 images" in shown
    # the skipped file: one warning line, as for load_image_folder's
    assert "Skipped 1 unreadable image file(s)" in err and "img004.png" in err
    assert len(read_labels(out)[0]) == 24
    assert main([*args, "--workers", "2", "--force"]) == 2
    assert "--workers needs --scheduler local" in capsys.readouterr().err


def test_core_imports_and_labels_without_dask(setup, tmp_path):
    kit, X, *_ = setup
    np.save(tmp_path / "x.npy", X[:50])
    code = (
        "import sys\n"
        "for name in ('dask', 'dask.array', 'distributed', 'zarr'):\n"
        "    sys.modules[name] = None  # import fails\n"
        "import skdcsae\n"
        "from skdcsae.recipient import label_archive\n"
        f"r = label_archive({str(kit)!r}, {str(tmp_path / 'x.npy')!r}, "
        f"{str(tmp_path / 'l.csv')!r}, device='cpu')\n"
        "assert r.n_labelled == 50\n"
        "try:\n"
        f"    label_archive({str(kit)!r}, {str(tmp_path / 'x.npy')!r}, "
        f"{str(tmp_path / 'm.csv')!r}, device='cpu', scheduler='local')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "assert not any(m.startswith(('dask', 'distributed')) for m in sys.modules\n"
        "               if sys.modules[m] is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "pip install skdcsae[distributed]" in proc.stdout.decode()


def test_bad_arguments_are_refused_before_labelling(setup, tmp_path, capsys):
    from skdcsae import DCSAETransformer

    from ..conftest import FAST_MLP
    from .scale_helpers import uint8_digits

    kit, X, *_ = setup
    out = tmp_path / "labels.csv"
    with pytest.raises(ValueError, match='n_workers applies to scheduler="local" only'):
        label_archive(kit, X, out, n_workers=2)
    with pytest.raises(ValueError, match="n_workers must be a positive int"):
        label_archive(kit, X, out, scheduler="local", n_workers=0)
    with pytest.raises(ValueError, match="partition_size must be a positive int"):
        label_archive(kit, X, out, partition_size=0, device="cpu")
    with pytest.raises(ValueError, match=r"expects \(1, 8, 8\)"):
        label_archive(kit, np.zeros((5, 9, 9), np.uint8), out, device="cpu")
    images, y = uint8_digits()
    flat = images.reshape(len(images), -1)[:80]
    tabular = tmp_path / "tabular.joblib"
    DCSAETransformer(**FAST_MLP, random_state=0).fit(flat, y[:80]).export_donor_kit(
        tabular, flat, y[:80]
    )
    _image_folder(tmp_path / "images", X[:3])
    with pytest.raises(ValueError, match="tabular data, not for image files"):
        label_archive(tabular, tmp_path / "images", out, device="cpu")
    assert not out.exists() and not Path(f"{out}.parts").exists()
    with pytest.raises(SystemExit):
        main(
            [
                "recipient",
                str(kit),
                str(tmp_path / "images"),
                "--out",
                str(out),
                "--partition-size",
                "0",
            ]
        )
    assert "expected a positive integer" in capsys.readouterr().err


def test_cli_adapts_alike_in_memory_and_streaming_and_can_switch_it_off(setup, tmp_path, capsys):
    kit, X, _, expected, _ = setup
    np.savez(tmp_path / "x.npz", train_images=X, train_labels=np.zeros((len(X), 1), int))
    base = ["recipient", str(kit), str(tmp_path / "x.npz"), "--device", "cpu"]
    streamed, reviewed, plain = (tmp_path / f"{n}.csv" for n in ("s", "r", "p"))
    assert main([*base, "--out", str(streamed), "--partition-size", "300"]) == 0
    assert "as many per class, joined its training (--self-training 0.5)" in capsys.readouterr()[0]
    # the in-memory path (review rules label in memory) gives the same labels
    assert main([*base, "--out", str(reviewed), "--review-fraction", "0.1"]) == 0
    capsys.readouterr()
    for out in (streamed, reviewed):
        np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))
    assert main([*base, "--out", str(plain), "--no-self-training"]) == 0
    assert "Adapted" not in capsys.readouterr()[0]
    kit_only = RecipientLabeler(kit, device="cpu").fit().predict(X)
    np.testing.assert_array_equal(read_labels(plain)[1], kit_only.astype(str))
    for bad in ("1.5", "0", "nan"):
        assert main([*base, "--out", str(tmp_path / "x.csv"), "--self-training", bad]) == 2
        err = capsys.readouterr()[1]
        assert "--self-training must be between 0 and 1" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("damage", ["truncated", "foreign", "oversized", "lying_header"])
def test_a_damaged_adaptation_file_is_refused_on_resume(setup, tmp_path, damage):
    kit, X, *_ = setup
    out = tmp_path / "labels.csv"
    with pytest.raises(KeyboardInterrupt):
        label_archive(kit, X, out, partition_size=200, device="cpu", on_partition=_interrupt)
    path = Path(f"{out}.parts") / "adapt.npz"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "foreign":  # the right names, features of the wrong width
        np.savez(path, features_0=np.zeros((4, 3), np.float32), classes_0=np.zeros(4, np.int64))
    elif damage == "oversized":
        path.write_bytes(b"\0" * (64 << 20))
    else:  # a header that claims 4e12 values: refused before anything that size is allocated
        header = io.BytesIO()
        shape = {"descr": "<f4", "fortran_order": False, "shape": (10**12, 4)}
        np.lib.format.write_array_header_1_0(header, shape)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("features_0.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match=r"adapt\.npz is not this run's adaptation file"):
        label_archive(kit, X, out, partition_size=200, device="cpu")
    report = label_archive(kit, X, out, partition_size=200, device="cpu", resume=False)
    assert report.n_labelled == N and report.n_pseudo_labelled > 0


def test_a_larger_archive_adapts_on_an_evenly_spaced_pool(setup, tmp_path, monkeypatch, encodes):
    from skdcsae.recipient import _members

    kit, X, *_ = setup
    monkeypatch.setattr(_members, "MAX_ADAPTATION_POOL", 300)  # the archive holds 1,000
    expected = RecipientLabeler(kit, device="cpu").fit(X)
    assert expected.n_iter_[0] >= 1
    encodes.clear()
    out = tmp_path / "labels.csv"
    report = label_archive(kit, X, out, partition_size=128, device="cpu")
    assert sum(encodes) == 300 + N  # the pool once, then every image
    np.testing.assert_array_equal(read_labels(out)[1], expected.predict(X).astype(str))
    assert report.n_pseudo_labelled == expected.n_pseudo_labelled_[0]
