"""The donor kit: what goes in (and what never does), the file, the round trip."""

import dataclasses
import datetime
import doctest
import os
import time

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

import skdcsae
from skdcsae import DCSAETransformer, DonorKit, RecipientLabeler, load_donor_kit
from skdcsae.kit._kit import FORMAT_NAME, _digest

from ..conftest import FAST_MLP, donor_split
from ..kit_helpers import (
    digits_images,
    image_byte_patterns,
    read_payload,
    train_donor,
    walk,
)

TOP_LEVEL_FIELDS = {
    "feature_weights",
    "release",
    "privacy",
    "format",
    "format_version",
    "model",
    "encoder_config",
    "encoder_weights",
    "features",
    "labels",
    "classes",
    "image_shape",
    "n_features_in",
    "preprocessing",
    "feature_mode",
    "sampling_seed",
    "hyperparameters",
    "versions",
    "created",
    "sha256",
    "hmac_sha256",
}


@pytest.fixture(scope="module")
def donor():
    X, y = digits_images()
    return train_donor(X[:120], y[:120]), X, y


@pytest.fixture
def kit_path(donor, tmp_path):
    est, X, y = donor
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[:120], y[:120])
    return path


# --- what is in the file ---------------------------------------------------------------------
def test_kit_file_is_plain_data_that_joblib_can_read(kit_path, donor):
    est, _, y = donor
    payload = joblib.load(kit_path)  # our own file: a trusted load is fine here
    assert set(payload) == TOP_LEVEL_FIELDS
    for key, value in walk(payload):
        assert value is None or type(value) in (bool, int, float, str, np.ndarray), key
        if isinstance(value, np.ndarray):
            assert not value.dtype.hasobject, key
    assert payload["format"] == FORMAT_NAME and payload["format_version"] == 2
    assert payload["model"] == "DCSAETransformer"
    np.testing.assert_array_equal(payload["feature_weights"], np.ones(120))
    assert payload["release"]["mode"] == "per_image" and payload["privacy"] is None
    assert payload["encoder_config"] == est.net_.module_.encoder.config
    np.testing.assert_array_equal(payload["classes"], [0, 1])
    np.testing.assert_array_equal(payload["labels"], y[:120])
    assert payload["image_shape"] == [1, 8, 8] and payload["n_features_in"] == 64
    pre = payload["preprocessing"]
    assert pre["scaling"] == "minmax" and pre["input_range"] == [0.0, 16.0]
    np.testing.assert_array_equal(pre["offset"], est.input_offset_)
    np.testing.assert_array_equal(pre["scale"], est.input_scale_)
    assert payload["feature_mode"] == "means" and payload["sampling_seed"] is None
    hyper = payload["hyperparameters"]
    assert hyper["alpha"] == 10.0 and hyper["conv_channels"] == [8, 4]
    assert hyper["n_iter"] == 3 and "callbacks" not in hyper and "device" not in hyper
    assert set(payload["versions"]) == {"skdcsae", "torch", "scikit-learn", "numpy", "python"}
    assert payload["versions"]["skdcsae"] == skdcsae.__version__
    created = datetime.datetime.fromisoformat(payload["created"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600
    content = {k: v for k, v in payload.items() if k not in ("sha256", "hmac_sha256")}
    assert payload["sha256"] == _digest(content) and payload["hmac_sha256"] is None


def test_kit_weights_are_exactly_the_encoder(kit_path, donor):
    est, _, _ = donor
    weights = read_payload(kit_path)["encoder_weights"]
    encoder_state = est.net_.module_.encoder.state_dict()
    assert list(weights) == list(encoder_state)
    for name, tensor in encoder_state.items():
        assert isinstance(weights[name], np.ndarray)
        np.testing.assert_array_equal(weights[name], tensor.cpu().numpy())
    # BatchNorm's num_batches_tracked is a 0-d buffer and must stay 0-d.
    assert weights["body.1.num_batches_tracked"].shape == ()


def test_kit_has_no_decoder_and_no_images(kit_path, donor):
    est, X, _ = donor
    payload = read_payload(kit_path)
    keys = [key for key, _ in walk(payload)]
    assert not any("decoder" in key or "decode" in key for key in keys)
    n_encoder = sum(p.numel() for p in est.net_.module_.encoder.parameters())
    n_all = sum(p.numel() for p in est.net_.module_.parameters())
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    n_kit = sum(
        int(v.size)
        for k, v in payload["encoder_weights"].items()
        if not k.endswith(buffers)  # BatchNorm statistics are buffers, not parameters
    )
    assert n_kit == n_encoder < n_all
    data = kit_path.read_bytes()
    # No decoder tensor's bytes appear anywhere in the file ...
    for name, param in est.net_.module_.decoder.state_dict().items():
        if param.numel() >= 4:
            assert param.cpu().numpy().tobytes() not in data, name
    # ... nor any donor image, raw or scaled, as uint8, float32 or float64.
    patterns = image_byte_patterns(X[:120], est.input_offset_, est.input_scale_)
    assert len(patterns) >= 4 * 120
    assert not any(p in data for p in patterns)
    # Positive control: the same search does find an image that *is* in a file.
    assert patterns[0] in data[:100] + patterns[0] + data[100:]


def test_kit_contains_no_file_names_or_paths(tmp_path, donor):
    est, X, y = donor
    path = tmp_path / "site_A_secret_study" / "kit.joblib"
    path.parent.mkdir()
    est.export_donor_kit(path, X[:120], y[:120])
    data = path.read_bytes()
    for fragment in ("site_A_secret_study", str(tmp_path), "kit.joblib", os.getcwd()):
        assert fragment.encode() not in data
    for key, value in walk(read_payload(path)):
        if isinstance(value, str):
            assert os.sep not in value, (key, value)


def test_load_returns_the_exported_kit(kit_path, donor):
    est, X, y = donor
    kit = load_donor_kit(kit_path)
    assert isinstance(kit, DonorKit)
    np.testing.assert_array_equal(kit.features, est.transform(X[:120]).astype(np.float32))
    assert kit.features.dtype == np.float32
    np.testing.assert_array_equal(kit.labels, y[:120])
    assert kit.image_shape == (1, 8, 8) and kit.n_heads == 2 and kit.latent_dim == 2
    assert kit.n_donor == 120 and not kit.signed
    again = load_donor_kit(str(kit_path))
    assert again.sha256 == kit.sha256
    # The DonorKit re-encodes to the digest it was loaded with.
    assert _digest(kit._content()) == kit.sha256


def test_export_returns_what_load_gives(tmp_path, donor):
    est, X, y = donor
    exported = est.export_donor_kit(tmp_path / "k.joblib", X[:120], y[:120], key="k")
    loaded = load_donor_kit(tmp_path / "k.joblib", key="k")
    assert exported.sha256 == loaded.sha256 and exported.hmac_sha256 == loaded.hmac_sha256
    for field in dataclasses.fields(DonorKit):
        a, b = getattr(exported, field.name), getattr(loaded, field.name)
        if field.name == "encoder_weights":
            assert list(a) == list(b)
            for name in a:
                np.testing.assert_array_equal(a[name], b[name])
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        else:
            assert a == b, field.name


# --- writing -----------------------------------------------------------------------------------
def test_existing_file_is_not_overwritten_unless_asked(kit_path, donor):
    est, X, y = donor
    before = kit_path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        est.export_donor_kit(kit_path, X[:120], y[:120])
    assert kit_path.read_bytes() == before
    est.export_donor_kit(kit_path, X[:120], y[:120], key="now signed", overwrite=True)
    assert kit_path.read_bytes() != before and load_donor_kit(kit_path).signed
    assert sorted(p.name for p in kit_path.parent.iterdir()) == ["kit.joblib"]


def test_write_is_atomic_and_leaves_nothing_behind_on_failure(tmp_path, donor, monkeypatch):
    est, X, y = donor
    import skdcsae.kit._kit as kit_module

    def failing_dump(obj, f, protocol):
        f.write(b"\x80\x04partial")
        raise OSError("disk full")

    monkeypatch.setattr(kit_module.pickle, "dump", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120])
    assert list(tmp_path.iterdir()) == []
    # With overwrite=True a failed write also leaves the previous kit intact.
    monkeypatch.undo()
    est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120])
    good = (tmp_path / "kit.joblib").read_bytes()
    monkeypatch.setattr(kit_module.pickle, "dump", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120], overwrite=True)
    assert (tmp_path / "kit.joblib").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["kit.joblib"]


def test_export_input_errors(tmp_path, donor):
    est, X, y = donor
    with pytest.raises(NotFittedError):
        DCSAETransformer().export_donor_kit(tmp_path / "a.joblib", X, y)
    with pytest.raises(ValueError, match="labels the transformer was not fitted on"):
        est.export_donor_kit(tmp_path / "a.joblib", X[:10], np.full(10, 7))
    with pytest.raises(ValueError, match="every class"):
        est.export_donor_kit(tmp_path / "a.joblib", X[y == 0][:10], np.zeros(10, int))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.export_donor_kit(tmp_path / "a.joblib", X[:10], y[:9])
    with pytest.raises(ValueError, match="needs the labels"):
        est.export_donor_kit(tmp_path / "a.joblib", X[:10], None)
    with pytest.raises(ValueError, match="non-empty str or bytes"):
        est.export_donor_kit(tmp_path / "a.joblib", X[:120], y[:120], key="")
    with pytest.raises(ValueError, match="image shape"):
        est.export_donor_kit(tmp_path / "a.joblib", np.zeros((4, 9, 9)), [0, 1, 0, 1])
    with pytest.raises(FileNotFoundError):
        est.export_donor_kit(tmp_path / "missing_dir" / "a.joblib", X[:120], y[:120])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- modes, labels, data kinds -----------------------------------------------------------------
def test_paper_mode_kit_holds_true_head_samples_and_the_seed(tmp_path):
    X, y = digits_images()
    est = DCSAETransformer(
        **{**FAST_MLP, "random_state": 0, "feature_mode": "paper", "image_shape": (8, 8)}
    )
    donor_features = est.fit_transform(X[:120], y[:120])
    kit = est.export_donor_kit(tmp_path / "paper.joblib", X[:120], y[:120])
    np.testing.assert_array_equal(kit.features, donor_features.astype(np.float32))
    assert kit.features.shape == (120, 2)
    assert kit.sampling_seed == est._seed and kit.feature_mode == "paper"
    recipient = RecipientLabeler(tmp_path / "paper.joblib", device="cpu").fit()
    np.testing.assert_allclose(recipient.transform(X[120:]), est.transform(X[120:]), atol=1e-6)
    assert "sampling seed" in load_donor_kit(tmp_path / "paper.joblib").summary()


def test_string_and_object_labels(tmp_path):
    X, y = digits_images()
    names = np.where(y == 1, "pneumonia", "normal")
    est = train_donor(X[:120], names[:120].astype(object))
    assert est.classes_.dtype == object
    kit = est.export_donor_kit(tmp_path / "s.joblib", X[:120], names[:120].astype(object))
    assert kit.classes.dtype.kind == "U" and kit.labels.dtype.kind == "U"
    loaded = load_donor_kit(tmp_path / "s.joblib")
    np.testing.assert_array_equal(loaded.classes, ["normal", "pneumonia"])
    recipient = RecipientLabeler(tmp_path / "s.joblib", device="cpu").fit()
    assert set(recipient.predict(X[120:])) <= {"normal", "pneumonia"}


def test_tabular_kit_round_trip(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(X, y)
    kit = est.export_donor_kit(tmp_path / "iris.joblib", X, y)
    assert kit.image_shape is None and kit.scaling == "standard"
    assert kit.input_offset.shape == (4,) and kit.encoder_config["kind"] == "mlp"
    recipient = RecipientLabeler(tmp_path / "iris.joblib", device="cpu").fit()
    np.testing.assert_allclose(recipient.transform(X), est.transform(X), atol=1e-6)
    np.testing.assert_array_equal(recipient.classes_, [0, 1, 2])


def test_export_from_a_fitted_pipeline(tmp_path):
    X, y = digits_images()
    pipe = Pipeline(
        [("dcsae", DCSAETransformer(**{**FAST_MLP, "random_state": 0})), ("svc", SVC())]
    )
    pipe.fit(X[:120].reshape(120, -1), y[:120])
    pipe.named_steps["dcsae"].export_donor_kit(
        tmp_path / "p.joblib", X[:120].reshape(120, -1), y[:120]
    )
    recipient = RecipientLabeler(tmp_path / "p.joblib", device="cpu").fit()
    rest = X[120:].reshape(len(X) - 120, -1)
    np.testing.assert_array_equal(recipient.predict(rest), pipe.predict(rest))


def test_repr_and_summary_show_every_part(kit_path):
    kit = load_donor_kit(kit_path)
    text = repr(kit)
    assert text.startswith("DonorKit(model='DCSAETransformer', classes=[0, 1], n_donor=120")
    assert "signed=False" in text and kit.sha256[:12] in text and len(text) < 400
    summary = kit.summary()
    for name, array in kit.encoder_weights.items():
        assert name in summary and f"{array.nbytes:,} bytes" in summary
    assert f"donor features   (120, 4) float32, {120 * 4 * 4:,} bytes" in summary
    assert "per class: 0: " in summary and "not included     decoder, images" in summary
    assert f"total            {kit.nbytes:,} bytes" in summary
    assert kit.sha256 in summary and "none (unsigned)" in summary


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_trained_kit_loads_on_cpu(tmp_path):
    X, y = digits_images()
    est = train_donor(X[:120], y[:120], device="cuda")
    kit = est.export_donor_kit(tmp_path / "gpu.joblib", X[:120], y[:120])
    assert all(isinstance(w, np.ndarray) for w in kit.encoder_weights.values())
    recipient = RecipientLabeler(tmp_path / "gpu.joblib", device="cpu").fit()
    assert next(recipient.encoder_.parameters()).device.type == "cpu"
    # cuDNN runs float32 convolutions in TF32 by default on Ampere and later GPUs: features
    # agree to about 1e-3 (measured on an H200: largest gap 4e-4 on PneumoniaMNIST)
    gpu, cpu = est.transform(X[120:]), recipient.transform(X[120:])
    np.testing.assert_allclose(cpu, gpu, rtol=1e-3, atol=2e-3)
    np.testing.assert_array_equal(recipient.predict(X[120:]), RecipientLabeler(
        tmp_path / "gpu.joblib", device="cuda").fit().predict(X[120:]))  # fmt: skip


def test_docstring_examples_run():
    """The numpydoc examples of the kit and recipient modules (also run by --doctest-modules)."""
    import skdcsae.kit._kit
    import skdcsae.recipient._labeler

    for module in (skdcsae.kit._kit, skdcsae.recipient._labeler):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 5 and result.failed == 0, module.__name__


# --- the real-data round trip -----------------------------------------------------------------
@pytest.mark.realdata
def test_round_trip_on_pneumonia_matches_the_pipeline(pneumonia_balanced, tmp_path):
    X, y = pneumonia_balanced
    donor, recipient = donor_split(y, 50, seed=0)
    light = {"conv_channels": (32, 16), "dense_sizes": (256,), "batch_size": 16}
    pipe = Pipeline(
        [("dcsae", DCSAETransformer(**light, device="cpu", random_state=0)), ("svc", SVC())]
    )
    start = time.perf_counter()
    pipe.fit(X[donor], y[donor])
    fit_s = time.perf_counter() - start
    pipeline_accuracy = pipe.score(X[recipient], y[recipient])

    path = tmp_path / "pneumonia_kit.joblib"
    pipe.named_steps["dcsae"].export_donor_kit(path, X[donor], y[donor])
    size = path.stat().st_size
    start = time.perf_counter()
    labeler = RecipientLabeler(path, device="cpu").fit()  # a fresh load, as the recipient does
    kit_accuracy = labeler.score(X[recipient], y[recipient])
    label_s = time.perf_counter() - start
    print(
        f"\nPneumoniaMNIST 50/class: kit {size:,} bytes; pipeline accuracy "
        f"{pipeline_accuracy:.4f}, kit accuracy {kit_accuracy:.4f} on {len(recipient)} "
        f"recipient images; donor fit {fit_s:.1f} s, recipient load+label {label_s:.1f} s"
    )
    assert abs(kit_accuracy - pipeline_accuracy) <= 0.005
    assert kit_accuracy >= 0.8
    np.testing.assert_allclose(
        labeler.transform(X[recipient[:500]]),
        pipe.named_steps["dcsae"].transform(X[recipient[:500]]),
        atol=1e-5,
    )
    # Nothing of the donor's images is in the file.
    data = path.read_bytes()
    dcsae = pipe.named_steps["dcsae"]
    patterns = image_byte_patterns(X[donor], dcsae.input_offset_, dcsae.input_scale_)
    assert not any(p in data for p in patterns)
    weights = read_payload(path)["encoder_weights"]
    assert weights.keys() == dcsae.net_.module_.encoder.state_dict().keys()
