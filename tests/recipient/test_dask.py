"""Dask: lazy predict on Dask arrays, labelling on a real LocalCluster, killed workers, search."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

import dask  # noqa: E402
import joblib  # noqa: E402
import torch  # noqa: E402
from distributed import Client, LocalCluster, get_task_stream  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from skdcsae import DCSAETransformer, RecipientLabeler  # noqa: E402
from skdcsae._cli import main  # noqa: E402
from skdcsae.recipient import TorchThreads, label_archive  # noqa: E402
from skdcsae.recipient._malloc import tune_malloc  # noqa: E402

from ..conftest import FAST_CONV  # noqa: E402
from .scale_helpers import (  # noqa: E402
    label_probability,
    make_archive,
    make_kit,
    read_labels,
    uint8_digits,
)

N = 3000


@pytest.fixture(scope="module")
def client():
    """A real cluster: two worker processes with one thread each, torn down after the module."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """The kit, N images in a Zarr array, and the labels RecipientLabeler gives in process."""
    folder = tmp_path_factory.mktemp("dask")
    kit = make_kit(folder)
    X, _ = make_archive(N, seed=2)
    z = zarr.open_array(
        folder / "x.zarr", mode="w", shape=X.shape, chunks=(250, 8, 8), dtype=X.dtype
    )
    z[:] = X
    labeler = RecipientLabeler(kit, device="cpu").fit()
    decision = labeler.decision_function(X)
    return kit, folder / "x.zarr", X, labeler.predict(X), decision, label_probability(labeler, X)


@pytest.fixture(scope="module")
def adapted(archive):
    """The labels and probabilities of the labeler adapted to the whole archive (``fit(X)``,
    label_archive's default) in process."""
    kit, _, X, *_ = archive
    labeler = RecipientLabeler(kit, device="cpu").fit(X)
    assert labeler.n_pseudo_labelled_[0] > 0
    return labeler.predict(X), label_probability(labeler, X)


def _kit_loads(client):
    def loads():
        from skdcsae.recipient._dask import KIT_LOADS

        return KIT_LOADS["count"]

    return client.run(loads)


# --- Dask arrays, any scheduler -------------------------------------------------------------
def test_predict_on_a_dask_array_is_lazy_and_blockwise(archive):
    kit, _, X, expected, scores, _ = archive
    labeler = RecipientLabeler(kit, device="cpu").fit()
    lazy = da.from_array(X, chunks=(700, 4, 8))  # image axes split: merged into whole images
    y = labeler.predict(lazy)
    assert isinstance(y, da.Array) and y.chunks == ((700, 700, 700, 700, 200),)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(y.compute(), expected)
        flat = labeler.decision_function(lazy.reshape(N, 64).rechunk((1000, 64)))
        np.testing.assert_allclose(flat.compute(), scores, rtol=1e-6)

    def boom():
        raise RuntimeError("computed")

    never = da.from_delayed(dask.delayed(boom)(), shape=(10, 8, 8), dtype=np.uint8)
    labeler.predict(never)  # nothing is computed until asked
    with pytest.raises(ValueError, match="expects \\(1, 8, 8\\)"):
        labeler.predict(da.zeros((10, 9, 9), dtype=np.uint8))


def test_predict_on_the_cluster_loads_the_kit_once_per_worker(client, archive):
    kit, path, _, expected, *_ = archive
    labeler = RecipientLabeler(kit, device="cpu", batch_size=200).fit()  # a new cache key
    before = _kit_loads(client)
    lazy = da.from_zarr(str(path))  # 12 blocks of 250 images
    np.testing.assert_array_equal(client.compute(labeler.predict(lazy)).result(), expected)
    loads = {w: n - before[w] for w, n in _kit_loads(client).items()}
    assert sum(loads.values()) >= 1 and max(loads.values()) == 1, loads


def test_a_labeler_adapted_to_recipient_images_labels_the_same_on_workers(client, archive):
    kit, path, X, _, plain_scores, _ = archive
    adapted = RecipientLabeler(kit, device="cpu").fit(X[:1000])  # workers never see X[:1000]
    assert adapted.n_pseudo_labelled_[0] > 0
    assert not np.allclose(adapted.decision_function(X), plain_scores)  # a new classifier
    expected = adapted.predict(X)
    lazy = da.from_zarr(str(path))
    np.testing.assert_array_equal(client.compute(adapted.predict(lazy)).result(), expected)
    proba = client.compute(adapted.predict_proba(lazy)).result()
    np.testing.assert_allclose(proba, adapted.predict_proba(X), rtol=1e-6)


# --- label_archive on the cluster ---------------------------------------------------------------
def _done_counts(out):
    lines = (Path(f"{out}.parts") / "done.jsonl").read_text().splitlines()
    counts: dict = {}
    for k in (json.loads(line)["partition"] for line in lines):
        counts[k] = counts.get(k, 0) + 1
    return counts


def test_cluster_labels_equal_predict_in_process(client, archive, adapted, tmp_path):
    kit, path, _, expected, _, probability = archive
    plain = RecipientLabeler(kit, device="cpu", self_training=None)
    report = label_archive(
        plain, path, tmp_path / "labels.csv", partition_size=500, scheduler=client, device="cpu"
    )
    files, labels, written = read_labels(tmp_path / "labels.csv")
    assert files == [f"x.zarr[{i}]" for i in range(N)]  # every image once, in order
    np.testing.assert_array_equal(labels, expected.astype(str))
    np.testing.assert_allclose(written, probability, rtol=1e-5, atol=1e-6)
    assert report.n_partitions == 6 and report.n_labelled == N
    assert report.n_pseudo_labelled == 0


def test_cluster_adapts_to_the_archive_as_fit_does_in_process(client, archive, adapted, tmp_path):
    kit, path, *_ = archive
    out = tmp_path / "labels.csv"
    report = label_archive(kit, path, out, partition_size=500, scheduler=client, device="cpu")
    _, labels, written = read_labels(out)
    np.testing.assert_array_equal(labels, adapted[0].astype(str))
    np.testing.assert_allclose(written, adapted[1], rtol=1e-5, atol=1e-6)
    assert report.n_pseudo_labelled > 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_killed_worker_changes_nothing_in_the_output(client, archive, adapted, tmp_path):
    kit, path, *_ = archive
    expected = adapted[0]
    killed = {}

    def kill_a_busy_worker(record):
        if killed:
            return
        busy = [worker for worker, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.update(worker=busy[0], pid=pid)

    out = tmp_path / "labels.csv"
    report = label_archive(
        kit,
        path,
        out,
        partition_size=100,
        scheduler=client,
        device="cpu",
        on_partition=kill_a_busy_worker,
        keep_parts=True,
    )
    assert killed, "no worker had a partition in hand to lose"
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))
    assert report.n_labelled == N
    assert _done_counts(out) == {k: 1 for k in range(30)}  # every partition once
    client.wait_for_workers(2, timeout=120)
    assert killed["pid"] not in client.run(os.getpid).values()  # the nanny started another


def test_cli_on_a_scheduler_address(client, archive, adapted, tmp_path, capsys):
    kit, path, *_ = archive
    expected = adapted[0]
    out = tmp_path / "labels.csv"
    args = [
        "recipient",
        str(kit),
        str(path),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--scheduler",
        client.scheduler.address,
        "--partition-size",
        "1000",
    ]
    assert main(args) == 0, capsys.readouterr().err
    assert f"Labelled {N} images" in capsys.readouterr().out
    np.testing.assert_array_equal(read_labels(out)[1], expected.astype(str))


# --- hyperparameter search and threads ----------------------------------------------------
def test_grid_search_on_the_dask_joblib_backend(client):
    X, y = uint8_digits()
    X, y = X[::6], y[::6]  # 60 images
    params = {**FAST_CONV, "max_epochs": 2, "random_state": 0}
    pipe = Pipeline([("dcsae", DCSAETransformer(**params)), ("svc", SVC())])
    grid = {"dcsae__alpha": [1.0, 10.0], "dcsae__rho": [1.0, 5.0]}
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(tasks.data) >= 8  # the 4 x 2 fits ran on the workers
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the workers, so that the two runs compute alike
    try:
        serial = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == serial.best_params_


def test_torch_threads_plugin_sets_every_workers_threads(client):
    def threads():
        return torch.get_num_threads()

    client.register_plugin(TorchThreads(2))
    assert set(client.run(threads).values()) == {2}
    client.register_plugin(TorchThreads(1))
    assert set(client.run(threads).values()) == {1}
    if sys.platform == "linux":  # glibc's mallopt, as the plugin calls it
        assert set(client.run(tune_malloc).values()) == {True}
    with pytest.raises(ValueError, match="threads_per_task must be >= 1"):
        TorchThreads(0)


def test_a_local_cluster_serves_both_passes(archive, adapted, tmp_path, monkeypatch):
    from skdcsae.recipient import _cluster

    kit, path, *_ = archive
    started = []
    real = _cluster.local_cluster

    def counted(n_workers):
        started.append(n_workers)
        return real(n_workers)

    monkeypatch.setattr(_cluster, "local_cluster", counted)
    out = tmp_path / "labels.csv"
    report = label_archive(
        kit, path, out, partition_size=1000, scheduler="local", n_workers=1, device="cpu"
    )
    assert started == [1]  # the survey and the labelling ran on one cluster
    np.testing.assert_array_equal(read_labels(out)[1], adapted[0].astype(str))
    assert report.n_pseudo_labelled > 0
