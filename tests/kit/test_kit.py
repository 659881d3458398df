"""The donor kit, format 3: what goes in (and what never does), the file, the round trip."""

import dataclasses
import datetime
import doctest
import json
import os
import time

import joblib
import numpy as np
import pytest
import safetensors.numpy
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils import Bunch

import skdcsae
from skdcsae import DCSAETransformer, DonorKit, RecipientLabeler, ReleaseSettings, load_donor_kit
from skdcsae.kit import KitMember, verify_donor_kit, write_donor_kit
from skdcsae.kit._schema import MEMBER_KEYS, META_KEYS

from ..conftest import FAST_MLP, donor_split
from ..kit_helpers import digits_images, image_byte_patterns, read_content, train_donor, walk


@pytest.fixture(scope="module")
def donor():
    X, y = digits_images()
    return train_donor(X[:120], y[:120]), X, y


@pytest.fixture
def kit_path(donor, tmp_path):
    est, X, y = donor
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[:120], y[:120], release="per_image")
    return path


# --- what is in the file ---------------------------------------------------------------------
def test_joblib_opens_a_kit_as_one_plain_dict(kit_path):
    payload = joblib.load(kit_path)  # our own file: a trusted load is fine here
    assert set(payload) == {"format", "format_version", "meta", "tensors", "sha256"}
    assert payload["format"] == "skdcsae-donor-kit" and payload["format_version"] == 3
    assert type(payload["meta"]) is str and type(payload["tensors"]) is bytes
    meta = json.loads(payload["meta"])
    assert set(meta) == set(META_KEYS) and set(meta["members"][0]) == set(MEMBER_KEYS)
    arrays = safetensors.numpy.load(payload["tensors"])
    assert "members.0.features" in arrays and "preprocessing.offset" in arrays


def test_meta_and_tensor_layout(kit_path, donor):
    est, _, y = donor
    meta, tensors = read_content(kit_path)
    assert meta["model"] == "DCSAETransformer" and meta["classes"] == [0, 1]
    assert meta["image_shape"] == [1, 8, 8] and meta["n_features_in"] == 64
    assert meta["preprocessing"] == {"scaling": "minmax", "input_range": [0.0, 16.0]}
    assert (
        meta["feature_mode"] == "means"
        and meta["n_images_per_class"] == np.bincount(y[:120]).tolist()
    )
    assert meta["release"] == ReleaseSettings("per_image").as_dict()
    assert meta["image_preparation"] is None
    assert set(meta["versions"]) == {"skdcsae", "torch", "scikit-learn", "numpy", "python"}
    assert meta["versions"]["skdcsae"] == skdcsae.__version__
    created = datetime.datetime.fromisoformat(meta["created"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600
    member = meta["members"][0]
    assert member["encoder_config"] == est.net_.module_.encoder.config
    assert member["sampling_seed"] is None and member["privacy"] is None
    assert member["n_groups_per_class"] is None and member["n_clipped"] is None
    hyper = member["hyperparameters"]
    assert hyper["alpha"] == "auto" and hyper["conv_channels"] == [8, 4]
    assert hyper["n_iter"] == 3 and "callbacks" not in hyper and "device" not in hyper
    labels = tensors["members.0.labels"]
    assert labels.dtype == np.int64 and np.array_equal(labels, y[:120])  # indices into classes
    assert tensors["members.0.features"].dtype == np.float32
    np.testing.assert_array_equal(tensors["members.0.feature_weights"], np.ones(120))
    np.testing.assert_array_equal(tensors["preprocessing.offset"], est.input_offset_)
    np.testing.assert_array_equal(tensors["preprocessing.scale"], est.input_scale_)
    for key, value in walk(meta):
        assert value is None or type(value) in (bool, int, float, str), key


def test_kit_weights_are_exactly_the_encoder(kit_path, donor):
    est, _, _ = donor
    _, tensors = read_content(kit_path)
    prefix = "members.0.encoder."
    weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    state = est.net_.module_.encoder.state_dict()
    assert set(weights) == set(state)
    for name, tensor in state.items():
        np.testing.assert_array_equal(weights[name], tensor.cpu().numpy())
    assert weights["body.1.num_batches_tracked"].shape == ()  # 0-d buffers stay 0-d


@pytest.mark.parametrize("release", ["per_image", "synthetic"])
def test_kit_has_no_decoder_and_no_images(tmp_path, donor, release):
    est, X, y = donor
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[:120], y[:120], release=release)
    meta, tensors = read_content(path)
    assert not any("decode" in name for name in tensors)
    assert "decode" not in json.dumps(meta)
    data = path.read_bytes()
    for name, param in est.net_.module_.decoder.state_dict().items():
        if param.numel() >= 4:
            assert param.cpu().numpy().tobytes() not in data, name
    patterns = image_byte_patterns(X[:120], est.input_offset_, est.input_scale_)
    assert len(patterns) >= 4 * 120 and not any(p in data for p in patterns)
    assert patterns[0] in data[:100] + patterns[0] + data[100:]  # the search does work


def test_kit_contains_no_file_names_or_paths(tmp_path, donor):
    est, X, y = donor
    path = tmp_path / "site_A_secret_study" / "kit.joblib"
    path.parent.mkdir()
    est.export_donor_kit(path, X[:120], y[:120])
    data = path.read_bytes()
    for fragment in ("site_A_secret_study", str(tmp_path), "kit.joblib", os.getcwd()):
        assert fragment.encode() not in data
    meta, _ = read_content(path)
    for key, value in walk(meta):
        if isinstance(value, str):
            assert os.sep not in value, (key, value)


# --- the round trip -----------------------------------------------------------------------------
def test_round_trip_gives_an_equal_kit_with_identical_features(kit_path, donor):
    est, X, y = donor
    kit = load_donor_kit(kit_path)
    assert isinstance(kit, DonorKit) and kit.n_members == 1
    np.testing.assert_array_equal(kit.features, est.transform(X[:120]).astype(np.float32))
    np.testing.assert_array_equal(kit.labels, y[:120])
    assert kit.image_shape == (1, 8, 8) and kit.n_classes == 2 and kit.n_donor == 120
    assert not kit.signed and str(kit.signature) == "absent"
    assert load_donor_kit(str(kit_path)) == kit
    assert not kit.features.flags.writeable  # a loaded kit's arrays are read-only
    exported = est.export_donor_kit(kit_path.with_name("k2.joblib"), X[:120], y[:120], key="k")
    loaded = load_donor_kit(kit_path.with_name("k2.joblib"), key="k")
    assert exported == loaded and exported.sha256 == loaded.sha256
    assert exported.hmac_sha256 == loaded.hmac_sha256 is not None
    assert exported != kit  # another release, another creation time


def test_equality_compares_content_exactly(kit_path):
    kit = load_donor_kit(kit_path)
    assert kit == verify_donor_kit(kit) and kit != "a kit"
    member = kit.members[0]
    other = dataclasses.replace(member, features=member.features.astype(np.float64))
    assert member != other and member == dataclasses.replace(member)
    with pytest.raises(TypeError):
        hash(kit)


def test_recipient_rebuilds_the_donors_encoder(kit_path, donor):
    est, X, _ = donor
    labeler = RecipientLabeler(kit_path, device="cpu").fit()
    state = est.net_.module_.encoder.state_dict()
    for name, tensor in labeler.encoder_.state_dict().items():
        assert torch.equal(tensor, state[name].cpu()), name
    np.testing.assert_allclose(labeler.transform(X[120:]), est.transform(X[120:]), atol=1e-6)
    np.testing.assert_allclose(labeler.transform(X[:120]), load_donor_kit(kit_path).features,
                               atol=1e-6)  # fmt: skip


# --- writing ------------------------------------------------------------------------------------
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
    import skdcsae._files as files

    def full_disk(fd):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120])
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120])
    good = (tmp_path / "kit.joblib").read_bytes()
    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        est.export_donor_kit(tmp_path / "kit.joblib", X[:120], y[:120], overwrite=True)
    assert (tmp_path / "kit.joblib").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["kit.joblib"]


def test_export_input_errors(tmp_path, donor):
    est, X, y = donor
    path = tmp_path / "a.joblib"
    with pytest.raises(NotFittedError):
        DCSAETransformer().export_donor_kit(path, X, y)
    with pytest.raises(ValueError, match="labels the transformer was not fitted on"):
        est.export_donor_kit(path, X[:10], np.full(10, 7))
    with pytest.raises(ValueError, match="every class"):
        est.export_donor_kit(path, X[y == 0][:10], np.zeros(10, int))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.export_donor_kit(path, X[:10], y[:9])
    with pytest.raises(ValueError, match="needs the labels"):
        est.export_donor_kit(path, X[:10], None)
    with pytest.raises(ValueError, match="key must not be empty"):
        est.export_donor_kit(path, X[:120], y[:120], key="")
    with pytest.raises(TypeError, match="key must be str or bytes"):
        est.export_donor_kit(path, X[:120], y[:120], key=123)
    with pytest.raises(TypeError, match="overwrite must be a bool"):
        est.export_donor_kit(path, X[:120], y[:120], overwrite="yes")
    with pytest.raises(TypeError, match="release must be a mode name or a ReleaseSettings"):
        est.export_donor_kit(path, X[:120], y[:120], release={"mode": "per_image"})
    with pytest.raises(ValueError, match="release must be one of"):
        est.export_donor_kit(path, X[:120], y[:120], release="everything")
    with pytest.raises(ValueError, match="image shape"):
        est.export_donor_kit(path, np.zeros((4, 9, 9)), [0, 1, 0, 1])
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
    path = tmp_path / "paper.joblib"
    kit = est.export_donor_kit(path, X[:120], y[:120], release="per_image")
    np.testing.assert_array_equal(kit.features, donor_features.astype(np.float32))
    assert kit.features.shape == (120, 2)
    assert kit.sampling_seed == est._seed and kit.feature_mode == "paper"
    recipient = RecipientLabeler(path, device="cpu").fit()
    np.testing.assert_allclose(recipient.transform(X[120:]), est.transform(X[120:]), atol=1e-6)
    assert "sampling seed" in load_donor_kit(path).summary()


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        (lambda y: np.where(y == 1, "pneumonia", "normal").astype(object), "U"),
        (lambda y: y.astype(float) + 2.0, "f"),
    ],
    ids=["strings", "floats"],
)
def test_string_and_float_labels(tmp_path, labels, kind):
    X, y = digits_images()
    target = labels(y)
    est = train_donor(X[:120], target[:120])
    kit = est.export_donor_kit(tmp_path / "s.joblib", X[:120], target[:120])
    assert kit.classes.dtype.kind == kind and kit.labels.dtype.kind == kind
    loaded = load_donor_kit(tmp_path / "s.joblib")
    np.testing.assert_array_equal(loaded.classes, est.classes_.astype(loaded.classes.dtype))
    recipient = RecipientLabeler(tmp_path / "s.joblib", device="cpu").fit()
    assert set(recipient.predict(X[120:]).tolist()) <= set(loaded.classes.tolist())


def test_boolean_labels_are_refused_with_a_fix(tmp_path):
    X, y = digits_images()
    est = train_donor(X[:120], y[:120] == 1)
    with pytest.raises(ValueError, match="convert y to ints or strings"):
        est.export_donor_kit(tmp_path / "b.joblib", X[:120], y[:120] == 1)


def test_tabular_kit_round_trip(tmp_path):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(X, y)
    kit = est.export_donor_kit(tmp_path / "iris.joblib", X, y)
    assert kit.image_shape is None and kit.scaling == "standard"
    assert kit.input_offset.shape == (4,) and kit.encoder_config["kind"] == "mlp"
    assert "tabular, 4 features" in kit.summary()
    recipient = RecipientLabeler(tmp_path / "iris.joblib", device="cpu").fit()
    np.testing.assert_allclose(recipient.transform(X), est.transform(X), atol=1e-6)
    np.testing.assert_array_equal(recipient.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="this transformer is tabular"):
        est.export_donor_kit(tmp_path / "x.joblib", X, y, image_preparation=Bunch())


def test_export_from_a_fitted_pipeline(tmp_path):
    X, y = digits_images()
    pipe = Pipeline(
        [("dcsae", DCSAETransformer(**{**FAST_MLP, "random_state": 0})), ("svc", SVC())]
    )
    flat = X.reshape(len(X), -1)
    pipe.fit(flat[:120], y[:120])
    pipe.named_steps["dcsae"].export_donor_kit(
        tmp_path / "p.joblib", flat[:120], y[:120], release="per_image"
    )
    # the pipeline's classifier, not the recipient's calibrated default: like for like
    recipient = RecipientLabeler(tmp_path / "p.joblib", SVC(), device="cpu").fit()
    np.testing.assert_array_equal(recipient.predict(flat[120:]), pipe.predict(flat[120:]))


# --- what the kit says about itself -------------------------------------------------------------
def test_repr_and_summary_show_every_part(kit_path):
    kit = load_donor_kit(kit_path)
    text = repr(kit)
    assert text.startswith("DonorKit(model='DCSAETransformer', classes=[0, 1], members=1")
    assert "release='per_image'" in text and kit.sha256[:12] in text and len(text) < 400
    summary = kit.summary()
    lines = summary.splitlines()
    assert lines[0] == "skdcsae donor kit (format 3), made by DCSAETransformer, 1 member"
    assert lines[1].split()[0] == "reveals" and "one feature row per donor image" in lines[1]
    assert "without differential privacy" in lines[2] and "none (unsigned)" in lines[3]
    for name, array in kit.encoder_weights.items():
        assert name in summary and f"{array.nbytes:,} bytes" in summary
    assert f"(120, 4) float32, {120 * 4 * 4:,} bytes" in summary
    assert "per class: 0: 61, 1: 59" in summary and "decoder, images, file names" in summary
    assert f"{kit.nbytes:,} bytes of arrays" in summary and kit.sha256 in summary


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("synthetic", "synthetic rows only: 240 rows drawn from Gaussian mixtures fitted to "
         "groups of at least 10 donor images per class; no row belongs to a donor image"),
        ("prototypes", "prototypes only: {rows} rows, each the mean of"),
        (ReleaseSettings("per_image", feature_noise=2.0, clip_norm=4.0),
         "one noisy feature row per donor image; Gaussian noise (multiplier 2, clip norm 4)"),
    ],
    ids=["synthetic", "prototypes", "noise"],
)  # fmt: skip
def test_summary_leads_with_what_the_kit_reveals(tmp_path, donor, release, expected):
    est, X, y = donor
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[:120], y[:120], release=release)
    assert kit.summary().splitlines()[1].endswith(kit.reveals)
    rows = len(kit.features)
    if release == "prototypes":  # k-means keeps up to 3 groups of >= 10 images per class
        assert 2 <= rows <= 6
    expected = expected.format(rows=rows)
    assert kit.reveals.startswith(expected) and "differentially private" not in kit.reveals[:30]


def test_summary_names_a_dp_encoder_and_ensembles(kit_path):
    kit = load_donor_kit(kit_path)
    privacy = {
        "mechanism": "DP-SGD", "epsilon": 3.0, "delta": 1e-5, "noise_multiplier": 1.1,
        "max_grad_norm": 1.0, "sample_rate": 0.1, "epochs": 10, "steps": 100,
        "accountant": "rdp", "library": "opacus 1.5",
    }  # fmt: skip
    private = dataclasses.replace(kit.members[0], privacy=privacy)
    dp_kit = dataclasses.replace(kit, members=(private,))
    assert "trained with DP-SGD (opacus 1.5): (epsilon=3, delta=1e-05)" in dp_kit.summary()
    both = dataclasses.replace(kit, members=(private, kit.members[0]))
    text = both.summary()
    assert "2 members (an ensemble)" in text and "1 of 2 trained with DP-SGD" in text
    assert "(over 2 members)" in both.reveals


def test_image_preparation_is_recorded_and_shown(tmp_path, donor):
    est, X, y = donor
    shapes = np.tile([8, 8], (120, 1))
    shapes[:60] = [56, 40]
    prep = Bunch(original_shapes=shapes, resized=np.arange(120) < 60,
                 color_converted=np.arange(120) < 3)  # fmt: skip
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[:120], y[:120], image_preparation=prep)
    assert kit.image_preparation == {
        "n_resized": 60,
        "resized_from": [[56, 40, 60]],
        "n_resized_unlisted": 0,
        "n_color_converted": 3,
    }
    text = load_donor_kit(tmp_path / "k.joblib").summary()
    assert "60 of 120 images resized from 56x40 to 8x8; 3 colour-converted to grayscale" in text
    # at most 20 sizes are listed; the rest are counted
    many = Bunch(original_shapes=np.stack([np.arange(120) % 25 + 10, np.full(120, 9)], 1),
                 resized=np.ones(120, bool), color_converted=np.zeros(120, bool))  # fmt: skip
    kit = est.export_donor_kit(tmp_path / "m.joblib", X[:120], y[:120], image_preparation=many)
    listed = kit.image_preparation["resized_from"]
    assert len(listed) == 20 and kit.image_preparation["n_resized_unlisted"] == 120 - sum(
        c for *_, c in listed
    )
    assert "and 20 of other sizes" in kit.summary()
    with pytest.raises(ValueError, match="describes 10 images, X has 120"):
        est.export_donor_kit(tmp_path / "x.joblib", X[:120], y[:120], image_preparation=Bunch(
            original_shapes=shapes[:10], resized=prep.resized[:10],
            color_converted=prep.color_converted[:10]))  # fmt: skip
    with pytest.raises(TypeError, match=r"Bunch of skdcsae\.datasets\.load_image_folder"):
        est.export_donor_kit(tmp_path / "x.joblib", X[:120], y[:120], image_preparation=object())


# --- ensembles -----------------------------------------------------------------------------------
def test_a_kit_of_several_members_round_trips(tmp_path, donor):
    est, X, y = donor
    other = train_donor(X[:120], y[:120], random_state=1)
    one = est.export_donor_kit(tmp_path / "a.joblib", X[:120], y[:120], release="per_image")
    two = other.export_donor_kit(tmp_path / "b.joblib", X[:120], y[:120], release="per_image")
    both = dataclasses.replace(one, members=one.members + two.members)
    with pytest.raises(ValueError, match="modified after it was loaded or written"):
        RecipientLabeler(both, device="cpu").fit()  # assembled in memory: digest is stale
    written = write_donor_kit(both, tmp_path / "ensemble.joblib", key="k")
    loaded = load_donor_kit(tmp_path / "ensemble.joblib", key="k")
    assert loaded == written and loaded.n_members == 2
    assert isinstance(loaded.members[1], KitMember)
    np.testing.assert_array_equal(loaded.members[1].features, two.features)
    _, tensors = read_content(tmp_path / "ensemble.joblib")
    assert "members.1.encoder.heads.weight" in tensors
    for name in ("features", "labels", "feature_weights", "encoder_config", "n_rows"):
        with pytest.raises(ValueError, match=f"kit.members\\[k\\].{name}"):
            getattr(loaded, name)


def test_docstring_examples_run():
    """The numpydoc examples of the kit, export and recipient modules."""
    import skdcsae._export
    import skdcsae.kit._donor_kit
    import skdcsae.kit._examples
    import skdcsae.kit._gaussian
    import skdcsae.kit._io
    import skdcsae.kit._release
    import skdcsae.recipient._labeler

    modules = (
        skdcsae._export,
        skdcsae.kit._donor_kit,
        skdcsae.kit._examples,
        skdcsae.kit._gaussian,
        skdcsae.kit._io,
        skdcsae.kit._release,
        skdcsae.recipient._labeler,
    )
    for module in modules:
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        result = doctest.testmod(module, optionflags=flags)
        assert result.attempted > 0 and result.failed == 0, module.__name__


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
    dcsae = pipe.named_steps["dcsae"]
    path = tmp_path / "pneumonia_kit.joblib"
    dcsae.export_donor_kit(path, X[donor], y[donor], release="per_image")
    start = time.perf_counter()
    labeler = RecipientLabeler(path, device="cpu").fit()  # a fresh load, as the recipient does
    kit_accuracy = labeler.score(X[recipient], y[recipient])
    label_s = time.perf_counter() - start
    private = tmp_path / "private.joblib"
    dcsae.export_donor_kit(private, X[donor], y[donor])  # the default: synthetic rows
    private_accuracy = (
        RecipientLabeler(private, device="cpu").fit().score(X[recipient], y[recipient])
    )
    print(
        f"\nPneumoniaMNIST 50/class: kit {path.stat().st_size:,} bytes; pipeline accuracy "
        f"{pipeline_accuracy:.4f}, per-image kit {kit_accuracy:.4f}, default (synthetic) kit "
        f"{private_accuracy:.4f} on {len(recipient)} recipient images; donor fit "
        f"{fit_s:.1f} s, recipient load+label {label_s:.1f} s"
    )
    assert abs(kit_accuracy - pipeline_accuracy) <= 0.005
    assert kit_accuracy >= 0.8 and private_accuracy >= kit_accuracy - 0.05
    np.testing.assert_allclose(
        labeler.transform(X[recipient[:500]]), dcsae.transform(X[recipient[:500]]), atol=1e-5
    )
    data = path.read_bytes() + private.read_bytes()
    patterns = image_byte_patterns(X[donor], dcsae.input_offset_, dcsae.input_scale_)
    assert not any(p in data for p in patterns)
