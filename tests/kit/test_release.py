"""What a kit releases: per-image rows, prototypes, synthetic rows, clipping and noise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import KNeighborsClassifier

from skdcsae import DCSAETransformer, DonorKitError, RecipientLabeler, load_donor_kit
from skdcsae.kit._kit import _CONTENT_FIELDS, _digest
from skdcsae.kit._release import gaussian_mechanism_epsilon, release_features

from ..conftest import FAST_MLP
from ..kit_helpers import read_payload, write_payload


@pytest.fixture(scope="module")
def donor():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=2, return_X_y=True)
    est = DCSAETransformer(**{**FAST_MLP, "max_epochs": 5}, random_state=0).fit(X[:200], y[:200])
    return est, X, y


def _export(est, X, y, path, **kw):
    return est.export_donor_kit(path, X[:200], y[:200], **kw)


# --- prototypes ------------------------------------------------------------------------------
def test_prototypes_release_no_per_image_rows(donor, tmp_path):
    est, X, y = donor
    per_image = est.transform(X[:200]).astype(np.float32)
    kit = _export(est, X, y, tmp_path / "k.joblib", release="prototypes", n_prototypes=4)
    loaded = load_donor_kit(tmp_path / "k.joblib")
    assert loaded.release_mode == "prototypes" and loaded.sha256 == kit.sha256
    counts = np.bincount(np.searchsorted(est.classes_, y[:200]))
    assert loaded.n_donor <= 4 * len(counts)
    # each prototype summarises >= min_count images and every image is in exactly one
    assert loaded.feature_weights.min() >= 10
    for k, c in enumerate(est.classes_):
        assert loaded.feature_weights[loaded.labels == c].sum() == counts[k]
    # no released row is a donor image's feature vector
    dist = np.linalg.norm(loaded.features[:, None, :] - per_image[None], axis=2)
    assert dist.min() > 1e-3
    assert loaded.release["n_images_per_class"] == counts.tolist()
    assert "no per-image features" in loaded.summary()


def test_recipient_labels_with_prototypes_and_synthetic(donor, tmp_path):
    est, X, y = donor
    scores = {}
    for mode in ("per_image", "prototypes", "synthetic"):
        path = tmp_path / f"{mode}.joblib"
        _export(est, X, y, path, release=mode)
        scores[mode] = RecipientLabeler(kit=path, device="cpu").fit().score(X[200:], y[200:])
    assert scores["per_image"] > 0.9
    assert scores["prototypes"] > 0.85 and scores["synthetic"] > 0.85


def test_prototypes_weights_reach_the_classifier(donor, tmp_path, monkeypatch):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    kit = _export(est, X, y, path, release="prototypes")
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
    _export(est, X, y, path, release="prototypes")
    labeler = RecipientLabeler(kit=path, classifier=KNeighborsClassifier(1), device="cpu")
    with pytest.raises(ValueError, match="takes no sample_weight"):
        labeler.fit()
    # per-image kits keep working with any classifier
    _export(est, X, y, tmp_path / "p.joblib")
    RecipientLabeler(kit=tmp_path / "p.joblib", classifier=KNeighborsClassifier(1)).fit()


def test_synthetic_rows_are_draws_not_donor_rows(donor, tmp_path):
    est, X, y = donor
    per_image = est.transform(X[:200]).astype(np.float32)
    kit = _export(est, X, y, tmp_path / "s.joblib", release="synthetic", n_synthetic=30)
    assert kit.release_mode == "synthetic" and kit.n_donor == 30 * 2
    np.testing.assert_array_equal(kit.feature_weights, np.ones(60))
    dist = np.linalg.norm(kit.features[:, None, :] - per_image[None], axis=2)
    assert dist.min() > 1e-3
    # the draws follow each class: their class means sit near the donor's class means
    for c in est.classes_:
        gap = kit.features[kit.labels == c].mean(0) - per_image[y[:200] == c].mean(0)
        spread = per_image[y[:200] == c].std(0).max()
        assert np.linalg.norm(gap) < spread
    assert "no row belongs to a donor image" in kit.summary()


def test_summaries_are_reproducible_but_noise_is_never_seeded(donor, tmp_path):
    est, X, y = donor
    for kw in ({"release": "synthetic"}, {"release": "prototypes"}):
        a = _export(est, X, y, tmp_path / "a.joblib", overwrite=True, **kw)
        b = _export(est, X, y, tmp_path / "b.joblib", overwrite=True, **kw)
        np.testing.assert_array_equal(a.features, b.features)
    # the noise comes from the OS's secure source: whoever knows the seed (it is in the kit's
    # hyperparameters) must not be able to regenerate and subtract it
    kw = {"feature_noise": 1.0, "clip_norm": 5.0}
    a = _export(est, X, y, tmp_path / "a.joblib", overwrite=True, **kw)
    b = _export(est, X, y, tmp_path / "b.joblib", overwrite=True, **kw)
    assert not np.allclose(a.features, b.features)


@pytest.mark.parametrize("mode", ["prototypes", "synthetic"])
def test_class_below_min_count_is_refused(donor, tmp_path, mode):
    est, X, y = donor
    keep = np.r_[np.flatnonzero(y[:200] == 0)[:7], np.flatnonzero(y[:200] == 1)]
    path = tmp_path / "k.joblib"
    with pytest.raises(ValueError, match=r"min_count=10.*0 \(7\)"):
        est.export_donor_kit(path, X[keep], y[keep], release=mode)
    assert not path.exists()
    est.export_donor_kit(path, X[keep], y[keep], release=mode, min_count=5)  # accepted


# --- clipping and noise ----------------------------------------------------------------------
def test_noise_needs_clip_norm_and_says_why(donor, tmp_path):
    est, X, y = donor
    with pytest.raises(ValueError, match=r"feature_noise needs clip_norm.*L2 norms up to"):
        _export(est, X, y, tmp_path / "k.joblib", feature_noise=1.0)
    with pytest.raises(ValueError, match="synthetic rows are draws"):
        _export(est, X, y, tmp_path / "k.joblib", release="synthetic", feature_noise=1.0,
                clip_norm=1.0)  # fmt: skip


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"release": "everything"}, "release must be one of"),
        ({"n_prototypes": 0}, "n_prototypes must be a positive integer"),
        ({"min_count": 1.5}, "min_count must be a positive integer"),
        ({"feature_noise": -1.0, "clip_norm": 1.0}, "must be positive"),
        ({"clip_norm": 0.0}, "clip_norm must be a positive number"),
        ({"feature_noise": 1.0, "clip_norm": 1.0, "delta": 1.0}, r"delta must be in \(0, 1\)"),
        ({"release": "synthetic", "n_synthetic": 0}, "n_synthetic must be a positive"),
    ],
)
def test_bad_release_settings_are_refused(donor, tmp_path, kw, match):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    with pytest.raises(ValueError, match=match):
        _export(est, X, y, path, **kw)
    assert not path.exists()


def test_clipping_bounds_every_row(donor, tmp_path):
    est, X, y = donor
    norms = np.linalg.norm(est.transform(X[:200]), axis=1)
    clip = float(np.median(norms))
    kit = _export(est, X, y, tmp_path / "k.joblib", clip_norm=clip)
    assert np.linalg.norm(kit.features, axis=1).max() <= clip * (1 + 1e-5)
    assert kit.release["n_clipped"] == int(np.sum(norms > clip)) > 0
    assert kit.release["epsilon"] is None


def test_noise_is_calibrated_and_recorded(donor, tmp_path):
    est, X, y = donor
    clean = _export(est, X, y, tmp_path / "c.joblib", clip_norm=50.0)
    noisy = _export(est, X, y, tmp_path / "n.joblib", clip_norm=50.0, feature_noise=0.01)
    # per-image rows: std = z * 2C = 1.0 per coordinate
    residual = noisy.features - clean.features
    assert 0.85 < residual.std() < 1.15
    assert noisy.release["delta"] == 1e-5  # min(1e-5, 1 / (10 n))
    assert noisy.release["epsilon"] == pytest.approx(gaussian_mechanism_epsilon(0.01, 1e-5))
    text = load_donor_kit(tmp_path / "n.joblib").summary()
    assert "differentially private per donor image, given the encoder" in text


def test_prototype_noise_shrinks_with_prototype_size():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 2))
    y_index = np.repeat([0, 1], 200)
    classes = np.array([0, 1])
    kw = {"mode": "prototypes", "n_prototypes": 1, "min_count": 10, "clip_norm": 100.0}
    clean, _, w, _ = release_features(features, y_index, classes, **kw)
    noisy, _, _, info = release_features(features, y_index, classes, feature_noise=1.0, **kw)
    # one prototype of 200 images per class: sensitivity 2C/200 = 1, so noise std 1
    assert w.tolist() == [200.0, 200.0]
    assert 0.1 < np.abs(noisy - clean).mean() < 3.0
    assert info["epsilon"] == pytest.approx(gaussian_mechanism_epsilon(1.0, 1e-5))


def test_gaussian_mechanism_epsilon_is_exact():
    from scipy.stats import norm

    for z in (0.5, 1.0, 3.0):
        eps = gaussian_mechanism_epsilon(z, 1e-5)
        # plugging epsilon back into the exact delta(epsilon) gives the target delta
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
        # the PRV accountant is a numerical upper bound on the exact value
        assert ours <= prv.get_epsilon(1e-5) + 1e-6
        assert ours == pytest.approx(prv.get_epsilon(1e-5), rel=0.02)


# --- the file format -------------------------------------------------------------------------
def test_version_1_kit_still_loads_as_per_image(donor, tmp_path):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    kit = _export(est, X, y, path)
    payload = read_payload(path)
    for name in ("feature_weights", "release", "privacy"):
        del payload[name]
    payload["format_version"] = 1
    payload["sha256"] = _digest({k: payload[k] for k in _CONTENT_FIELDS})
    write_payload(path, payload)
    old = load_donor_kit(path)
    assert old.format_version == 1 and old.release_mode == "per_image" and old.privacy is None
    np.testing.assert_array_equal(old.feature_weights, np.ones(200))
    labeler = RecipientLabeler(kit=path, device="cpu").fit()
    fresh = RecipientLabeler(kit=kit).fit()
    np.testing.assert_array_equal(labeler.predict(X[200:]), fresh.predict(X[200:]))


def _tamper(path, change):
    payload = read_payload(path)
    change(payload)
    content = {k: v for k, v in payload.items() if k not in ("sha256", "hmac_sha256")}
    payload["sha256"] = _digest(content)  # a forger who recomputes the digest
    write_payload(path, payload)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p: p["feature_weights"].__setitem__(0, -1.0), "positive and finite"),
        (lambda p: p.__setitem__("feature_weights", p["feature_weights"][:-1]), "feature weights"),
        (lambda p: p["feature_weights"].__setitem__(0, 2.0), "per-image release has weight 1"),
        (lambda p: p["release"].__setitem__("mode", "all"), "release mode must be one of"),
        (lambda p: p.__setitem__("release", ["per_image"]), "release must be a dict"),
        (lambda p: p.__setitem__("privacy", "yes"), "privacy must be a dict or None"),
        (lambda p: p.__setitem__("privacy", {"epsilon": "1"}), "privacy epsilon"),
        (lambda p: p["release"].__setitem__("epsilon", -1.0), "release epsilon"),
    ],
)
def test_inconsistent_release_fields_are_refused(donor, tmp_path, change, match):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    _export(est, X, y, path)
    _tamper(path, change)
    with pytest.raises(DonorKitError, match=match):
        load_donor_kit(path)


def test_changing_the_release_without_the_digest_is_detected(donor, tmp_path):
    est, X, y = donor
    path = tmp_path / "k.joblib"
    _export(est, X, y, path, release="prototypes")
    payload = read_payload(path)
    payload["release"]["min_count"] = 1000
    write_payload(path, payload)
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        load_donor_kit(path)


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
    classes = np.arange(len(counts))
    rows, idx, weights, info = release_features(
        features, y_index, classes, mode="prototypes", n_prototypes=n_prototypes,
        min_count=min_count, random_state=seed,
    )  # fmt: skip
    for k, n in enumerate(counts):
        w = weights[idx == k]
        assert w.sum() == n  # every image in exactly one prototype
        assert w.min() >= min_count and 1 <= len(w) <= n_prototypes
        # each prototype is a mean of the class's rows: inside the class's bounding box
        lo, hi = features[y_index == k].min(0), features[y_index == k].max(0)
        assert np.all(rows[idx == k] >= lo - 1e-5) and np.all(rows[idx == k] <= hi + 1e-5)
    assert info["n_groups_per_class"] == [int(np.sum(idx == k)) for k in classes]


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
    rows, idx, weights, _ = release_features(
        features, y_index, np.arange(len(counts)), mode="synthetic", n_synthetic=n_synthetic,
        random_state=seed,
    )  # fmt: skip
    for k, n in enumerate(counts):
        assert np.sum(idx == k) == (2 * n if n_synthetic is None else n_synthetic)
    assert np.all(np.isfinite(rows)) and np.all(weights == 1)
