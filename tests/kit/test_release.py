"""What a kit releases: ReleaseSettings, the private default, prototypes, synthetic rows,
clipping and noise."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import KNeighborsClassifier

from skdcsae import DCSAETransformer, RecipientLabeler, ReleaseSettings, load_donor_kit
from skdcsae._cli import build_parser
from skdcsae.kit._gaussian import gaussian_mechanism_epsilon
from skdcsae.kit._release import release_features

from ..conftest import FAST_MLP


@pytest.fixture(scope="module")
def donor():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=2, return_X_y=True)
    est = DCSAETransformer(**{**FAST_MLP, "max_epochs": 5}, random_state=0).fit(X[:200], y[:200])
    return est, X, y


def _export(est, X, y, path, release=None, **kw):
    return est.export_donor_kit(path, X[:200], y[:200], **kw, **(
        {} if release is None else {"release": release}))  # fmt: skip


# --- the settings ---------------------------------------------------------------------------------
def test_the_default_is_private_and_per_image_is_one_parameter_away(donor, tmp_path):
    default = inspect.signature(DCSAETransformer.export_donor_kit).parameters["release"].default
    assert default == "synthetic" == ReleaseSettings().mode
    assert (ReleaseSettings().n_prototypes, ReleaseSettings().min_count) == (3, 10)
    est, X, y = donor
    kit = _export(est, X, y, tmp_path / "d.joblib")
    assert kit.release == ReleaseSettings() and kit.reveals.startswith("synthetic rows only")
    paper = _export(est, X, y, tmp_path / "p.joblib", release="per_image")
    assert paper.release == ReleaseSettings("per_image") and paper.n_rows == 200


def test_release_settings_are_one_frozen_record():
    s = ReleaseSettings("prototypes", n_prototypes=np.int64(4), min_count=5, clip_norm=2)
    assert type(s.n_prototypes) is int and type(s.clip_norm) is float  # plain types
    assert s.as_dict() == {
        "mode": "prototypes", "n_prototypes": 4, "min_count": 5, "n_synthetic": None,
        "feature_noise": None, "clip_norm": 2.0, "delta": None,
    }  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mode = "per_image"
    assert ReleaseSettings.from_release(s) is s
    assert ReleaseSettings.from_release("per_image") == ReleaseSettings(mode="per_image")
    with pytest.raises(TypeError, match="mode name or a ReleaseSettings"):
        ReleaseSettings.from_release(3)
    assert s.epsilon is None and ReleaseSettings("per_image").summarises is False


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"mode": "everything"}, "release must be one of 'per_image', 'prototypes'"),
        ({"n_prototypes": 0}, "n_prototypes must be a positive integer, got 0"),
        ({"n_prototypes": True}, "n_prototypes must be a positive integer"),
        ({"min_count": 1.5}, "min_count must be a positive integer"),
        ({"n_synthetic": 0}, "n_synthetic must be a positive integer or None"),
        ({"mode": "per_image", "feature_noise": -1.0, "clip_norm": 1.0}, "feature_noise must"),
        ({"clip_norm": 0.0}, "clip_norm must be a positive finite number or None"),
        ({"clip_norm": float("inf")}, "clip_norm must be a positive finite number"),
        ({"delta": 1.0}, r"delta must be a number in \(0, 1\)"),
        ({"mode": "per_image", "feature_noise": 1.0}, "feature_noise needs clip_norm"),
        ({"feature_noise": 1.0, "clip_norm": 1.0}, "not to synthetic rows"),
    ],
)
def test_bad_release_settings_are_refused_in_one_sentence(kw, match):
    with pytest.raises(ValueError, match=match) as info:
        ReleaseSettings(**kw)
    assert "\n" not in str(info.value) and str(info.value).count(". ") == 0


def test_the_cli_options_come_from_the_dataclass():
    donor = build_parser()._subparsers._group_actions[0].choices["donor"]
    flags = {a.dest: a for a in donor._actions}
    for item in dataclasses.fields(ReleaseSettings):
        dest = "release" if item.name == "mode" else item.name
        assert flags[dest].default == item.default, item.name
    assert flags["release"].option_strings == ["--release"]
    assert flags["release"].choices == ["per_image", "prototypes", "synthetic"]
    assert flags["n_synthetic"].option_strings == ["--n-synthetic"]


# --- the modes ------------------------------------------------------------------------------------
def test_prototypes_release_no_per_image_rows(donor, tmp_path):
    est, X, y = donor
    per_image = est.transform(X[:200]).astype(np.float32)
    kit = _export(est, X, y, tmp_path / "k.joblib", ReleaseSettings("prototypes", n_prototypes=4))
    loaded = load_donor_kit(tmp_path / "k.joblib")
    assert loaded == kit and loaded.release_mode == "prototypes"
    counts = np.bincount(np.searchsorted(est.classes_, y[:200]))
    assert loaded.n_rows <= 4 * len(counts) and loaded.n_donor == 200
    assert loaded.feature_weights.min() >= 10  # each prototype summarises >= min_count images
    for k, c in enumerate(est.classes_):
        assert loaded.feature_weights[loaded.labels == c].sum() == counts[k]
    dist = np.linalg.norm(loaded.features[:, None, :] - per_image[None], axis=2)
    assert dist.min() > 1e-3  # no released row is a donor image's feature vector
    assert loaded.n_images_per_class == tuple(counts.tolist())
    assert "no per-image rows" in loaded.summary()


def test_recipient_labels_with_every_mode(donor, tmp_path):
    est, X, y = donor
    scores = {}
    for mode in ("per_image", "prototypes", "synthetic"):
        path = tmp_path / f"{mode}.joblib"
        _export(est, X, y, path, mode)
        scores[mode] = RecipientLabeler(kit=path, device="cpu").fit().score(X[200:], y[200:])
    assert scores["per_image"] > 0.9
    assert scores["prototypes"] > 0.85 and scores["synthetic"] > 0.85


def test_prototypes_weights_reach_the_classifier(donor, tmp_path, monkeypatch):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    kit = _export(est, X, y, path, "prototypes")
    seen = {}
    from sklearn.svm import SVC

    original = SVC.fit

    def spy(self, X, y, sample_weight=None):
        seen["w"] = sample_weight
        return original(self, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(SVC, "fit", spy)
    RecipientLabeler(kit=path, device="cpu").fit()
    np.testing.assert_array_equal(seen["w"], kit.feature_weights)


def test_prototypes_need_a_classifier_with_sample_weight(donor, tmp_path):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    _export(est, X, y, path, "prototypes")
    labeler = RecipientLabeler(kit=path, classifier=KNeighborsClassifier(1), device="cpu")
    with pytest.raises(ValueError, match="takes no sample_weight"):
        labeler.fit()
    _export(est, X, y, tmp_path / "s.joblib")  # synthetic rows weigh 1: any classifier works
    RecipientLabeler(kit=tmp_path / "s.joblib", classifier=KNeighborsClassifier(1)).fit()


def test_synthetic_rows_are_draws_not_donor_rows(donor, tmp_path):
    est, X, y = donor
    per_image = est.transform(X[:200]).astype(np.float32)
    kit = _export(est, X, y, tmp_path / "s.joblib", ReleaseSettings(n_synthetic=30))
    assert kit.release_mode == "synthetic" and kit.n_rows == 30 * 2 and kit.n_donor == 200
    np.testing.assert_array_equal(kit.feature_weights, np.ones(60))
    dist = np.linalg.norm(kit.features[:, None, :] - per_image[None], axis=2)
    assert dist.min() > 1e-3
    for c in est.classes_:  # the draws follow each class
        gap = kit.features[kit.labels == c].mean(0) - per_image[y[:200] == c].mean(0)
        assert np.linalg.norm(gap) < per_image[y[:200] == c].std(0).max()
    assert "no row belongs to a donor image" in kit.summary()


def test_summaries_are_reproducible_but_noise_is_never_seeded(donor, tmp_path):
    est, X, y = donor
    for release in ("synthetic", "prototypes"):
        a = _export(est, X, y, tmp_path / "a.joblib", release, overwrite=True)
        b = _export(est, X, y, tmp_path / "b.joblib", release, overwrite=True)
        np.testing.assert_array_equal(a.features, b.features)
    # the noise comes from the OS's secure source: whoever knows the seed (it is in the kit's
    # hyperparameters) must not be able to regenerate and subtract it
    noisy = ReleaseSettings("per_image", feature_noise=1.0, clip_norm=5.0)
    a = _export(est, X, y, tmp_path / "a.joblib", noisy, overwrite=True)
    b = _export(est, X, y, tmp_path / "b.joblib", noisy, overwrite=True)
    assert not np.allclose(a.features, b.features)


@pytest.mark.parametrize("mode", ["prototypes", "synthetic"])
def test_class_below_min_count_is_refused_naming_the_choices(donor, tmp_path, mode):
    est, X, y = donor
    keep = np.r_[np.flatnonzero(y[:200] == 0)[:7], np.flatnonzero(y[:200] == 1)]
    path = tmp_path / "k.joblib"
    with pytest.raises(ValueError) as info:
        est.export_donor_kit(path, X[keep], y[keep], release=mode)
    message = str(info.value)
    assert "\n" not in message and "min_count=10" in message and "0 has 7" in message
    assert "release='per_image'" in message and "smaller min_count" in message
    assert not path.exists()
    est.export_donor_kit(path, X[keep], y[keep], release=ReleaseSettings(mode, min_count=5))


# --- clipping and noise ----------------------------------------------------------------------
def test_clipping_bounds_every_row(donor, tmp_path):
    est, X, y = donor
    norms = np.linalg.norm(est.transform(X[:200]), axis=1)
    clip = float(np.median(norms))
    kit = _export(est, X, y, tmp_path / "k.joblib", ReleaseSettings("per_image", clip_norm=clip))
    assert np.linalg.norm(kit.features, axis=1).max() <= clip * (1 + 1e-5)
    assert kit.members[0].n_clipped == int(np.sum(norms > clip)) > 0
    assert kit.release.epsilon is None and "were longer than the clip norm" in kit.summary()


def test_noise_is_calibrated_and_recorded(donor, tmp_path):
    est, X, y = donor
    clean = _export(est, X, y, tmp_path / "c.joblib", ReleaseSettings("per_image", clip_norm=50.0))
    noisy = _export(est, X, y, tmp_path / "n.joblib",
                    ReleaseSettings("per_image", clip_norm=50.0, feature_noise=0.01))  # fmt: skip
    residual = noisy.features - clean.features  # per-image rows: std = z * 2C = 1.0
    assert 0.85 < residual.std() < 1.15
    assert noisy.release.delta == 1e-5  # min(1e-5, 1 / (10 n)), recorded as used
    assert noisy.release.epsilon == pytest.approx(gaussian_mechanism_epsilon(0.01, 1e-5))
    text = load_donor_kit(tmp_path / "n.joblib").summary()
    assert "differentially private per donor image, given the encoder" in text


def test_prototype_noise_shrinks_with_prototype_size():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 2))
    y_index = np.repeat([0, 1], 200)
    kw = {"mode": "prototypes", "n_prototypes": 1, "min_count": 10, "clip_norm": 100.0}
    clean = release_features(features, y_index, 2, ReleaseSettings(**kw))
    noisy = release_features(features, y_index, 2, ReleaseSettings(**kw, feature_noise=1.0))
    # one prototype of 200 images per class: sensitivity 2C/200 = 1, so noise std 1
    assert clean.weights.tolist() == [200.0, 200.0]
    assert 0.1 < np.abs(noisy.features - clean.features).mean() < 3.0
    assert noisy.settings.delta == 1e-5 and clean.settings.delta is None
    assert noisy.settings.epsilon == pytest.approx(gaussian_mechanism_epsilon(1.0, 1e-5))


def test_gaussian_mechanism_epsilon_is_exact():
    from scipy.stats import norm

    for z in (0.5, 1.0, 3.0):
        eps = gaussian_mechanism_epsilon(z, 1e-5)
        delta = norm.cdf(1 / (2 * z) - eps * z) - np.exp(eps) * norm.cdf(-1 / (2 * z) - eps * z)
        assert delta == pytest.approx(1e-5, rel=1e-4)
    assert gaussian_mechanism_epsilon(2.0, 1e-5) < gaussian_mechanism_epsilon(1.0, 1e-5)
    with pytest.raises(ValueError, match="noise_multiplier must be positive"):
        gaussian_mechanism_epsilon(0.0, 1e-5)


# Opacus' PRV accountant takes log(1 - q) at sample rate q = 1 (harmless: it is masked)
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_gaussian_mechanism_epsilon_agrees_with_opacus():
    accountants = pytest.importorskip("opacus.accountants")
    for z in (1.0, 4.0):
        prv = accountants.PRVAccountant()
        prv.step(noise_multiplier=z, sample_rate=1.0)
        ours = gaussian_mechanism_epsilon(z, 1e-5)
        assert ours <= prv.get_epsilon(1e-5) + 1e-6  # PRV is a numerical upper bound
        assert ours == pytest.approx(prv.get_epsilon(1e-5), rel=0.02)


# --- properties over random feature tables ---------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    counts=st.lists(st.integers(10, 60), min_size=2, max_size=4),
    n_prototypes=st.integers(1, 6),
    min_count=st.integers(1, 10),
    dim=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_prototypes_partition_every_class(counts, n_prototypes, min_count, dim, seed):
    rng = np.random.default_rng(seed)
    y_index = np.repeat(np.arange(len(counts)), counts)
    features = rng.normal(size=(len(y_index), dim)) * rng.uniform(0.1, 5)
    chosen = ReleaseSettings("prototypes", n_prototypes=n_prototypes, min_count=min_count)
    out = release_features(features, y_index, len(counts), chosen, random_state=seed)
    rows, idx, weights = out.features, out.label_index, out.weights
    for k, n in enumerate(counts):
        w = weights[idx == k]
        assert w.sum() == n  # every image in exactly one prototype
        assert w.min() >= min_count and 1 <= len(w) <= n_prototypes
        lo, hi = features[y_index == k].min(0), features[y_index == k].max(0)
        assert np.all(rows[idx == k] >= lo - 1e-5) and np.all(rows[idx == k] <= hi + 1e-5)
    assert out.n_groups_per_class == tuple(int(np.sum(idx == k)) for k in range(len(counts)))


@settings(max_examples=15, deadline=None)
@given(
    counts=st.lists(st.integers(10, 40), min_size=2, max_size=3),
    n_synthetic=st.one_of(st.none(), st.integers(1, 50)),
    seed=st.integers(0, 2**16),
)
def test_synthetic_rows_per_class(counts, n_synthetic, seed):
    rng = np.random.default_rng(seed)
    y_index = np.repeat(np.arange(len(counts)), counts)
    features = rng.normal(size=(len(y_index), 3))
    chosen = ReleaseSettings("synthetic", n_synthetic=n_synthetic)
    out = release_features(features, y_index, len(counts), chosen, random_state=seed)
    for k, n in enumerate(counts):
        assert np.sum(out.label_index == k) == (2 * n if n_synthetic is None else n_synthetic)
    assert np.all(np.isfinite(out.features)) and np.all(out.weights == 1)
