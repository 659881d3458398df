"""The anomaly-detection VAE: reconstruction-error transformer and thresholding classifier."""

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import TunedThresholdClassifierCV

from skdcsae import AnomalyVAEClassifier, AnomalyVAETransformer

from ..conftest import FAST_CONV


def _vae(**kw):
    # ten epochs: after three the small VAE has not yet learned to tell the digits apart
    return AnomalyVAETransformer(**{**FAST_CONV, "max_epochs": 10, "random_state": 0, **kw})


# ---------------------------------------------------------------------------------------------
# AnomalyVAETransformer
# ---------------------------------------------------------------------------------------------


def test_trains_on_the_positive_class_only(digits_binary):
    X, y = digits_binary
    with_labels = _vae().fit(X, y)
    on_positives = _vae().fit(X[y == 1])
    assert with_labels.pos_label_ == 1 and on_positives.pos_label_ is None
    np.testing.assert_array_equal(with_labels.transform(X), on_positives.transform(X))
    # the scaling is learned on the training class too
    np.testing.assert_array_equal(with_labels.input_offset_, on_positives.input_offset_)
    np.testing.assert_array_equal(with_labels.classes_, [0, 1])


def test_pos_label_picks_the_training_class(digits_binary):
    X, y = digits_binary
    labels = np.where(y == 1, "pneumonia", "normal")
    default = _vae().fit(X, labels)
    assert default.pos_label_ == "pneumonia"  # the greater label
    on_normal = _vae(pos_label="normal").fit(X, labels)
    np.testing.assert_array_equal(on_normal.transform(X), _vae().fit(X[y == 0]).transform(X))
    with pytest.raises(ValueError, match=r"pos_label='covid' is not one of the labels"):
        _vae(pos_label="covid").fit(X, labels)


def test_output_is_the_reconstruction_error_of_the_latent_mean(digits_binary):
    X, y = digits_binary
    est = _vae().fit(X, y)
    errors = est.transform(X)
    assert errors.shape == (len(X), 1) and errors.dtype == np.float64
    assert est.transform(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(est.transform(X), errors)  # deterministic
    module = est.net_.module_
    with torch.no_grad():
        x = est._to_tensor(X.reshape(len(X), -1))
        mus, _ = module(x)
        expected = ((x - module.decode(mus[:, 0])) ** 2).flatten(1).sum(1).numpy()
    np.testing.assert_allclose(errors[:, 0], expected, rtol=1e-5)
    assert list(est.get_feature_names_out()) == ["reconstruction_error"]


def test_unseen_class_reconstructs_worse(digits_binary):
    X, y = digits_binary
    errors = _vae().fit(X, y).transform(X)[:, 0]
    assert np.median(errors[y == 0]) > np.median(errors[y == 1])


def test_continuous_labels_are_refused(digits_binary):
    X, _ = digits_binary
    with pytest.raises(ValueError, match="Unknown label type"):
        _vae().fit(X, np.linspace(0, 1, len(X)))


# ---------------------------------------------------------------------------------------------
# AnomalyVAEClassifier
# ---------------------------------------------------------------------------------------------


def _clf(**kw):
    return AnomalyVAEClassifier(_vae(), **kw)


def test_balanced_accuracy_threshold_is_the_best_cut_on_donor_data(digits_binary):
    X, y = digits_binary
    clf = _clf().fit(X, y)
    errors = clf.vae_.transform(X)[:, 0]
    achieved = balanced_accuracy_score(y, clf.predict(X))
    # brute force over every cut between two sorted errors
    cuts = np.concatenate([[errors.min() - 1], np.sort(errors)])
    best = max(balanced_accuracy_score(y, np.where(errors <= c, 1, 0)) for c in cuts)
    assert achieved == pytest.approx(best)
    # the threshold lies strictly between two donor errors (a midpoint)
    assert not np.any(np.isclose(errors, clf.threshold_))


def test_percentile_and_fixed_thresholds(digits_binary):
    X, y = digits_binary
    clf = _clf(threshold="percentile", percentile=80).fit(X, y)
    positive_errors = clf.vae_.transform(X[y == 1])[:, 0]
    assert clf.threshold_ == pytest.approx(np.percentile(positive_errors, 80))
    assert np.mean(clf.predict(X[y == 1]) == 1) == pytest.approx(0.8, abs=0.02)
    fixed = _clf(threshold=2.5).fit(X, y)
    assert fixed.threshold_ == 2.5
    errors = fixed.vae_.transform(X)[:, 0]
    np.testing.assert_array_equal(fixed.predict(X), np.where(errors <= 2.5, 1, 0))


def test_predict_and_decision_function_agree(digits_binary):
    X, y = digits_binary
    clf = _clf().fit(X, y)
    scores = clf.decision_function(X)
    errors = clf.vae_.transform(X)[:, 0]
    np.testing.assert_allclose(scores, clf.threshold_ - errors)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])
    assert clf.score(X, y) > 0.8


def test_pos_label_smaller_class_flips_the_score_sign(digits_binary):
    X, y = digits_binary
    labels = np.where(y == 1, "b", "a")
    clf = _clf(pos_label="a").fit(X, labels)
    assert clf.pos_label_ == "a" and clf.vae_.pos_label_ == "a"
    scores = clf.decision_function(X)
    errors = clf.vae_.transform(X)[:, 0]
    np.testing.assert_allclose(scores, errors - clf.threshold_)
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, np.where(errors <= clf.threshold_, "a", "b"))
    np.testing.assert_array_equal(pred, clf.classes_[(scores > 0).astype(int)])


def test_classifier_pos_label_overrides_the_vae_one(digits_binary):
    X, y = digits_binary
    clf = AnomalyVAEClassifier(_vae(pos_label=0)).fit(X, y)
    assert clf.pos_label_ == 1 and clf.vae_.pos_label_ == 1
    assert clf.vae.pos_label == 0  # the parameter itself is left alone


def test_binary_only(digits_binary):
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=3, return_X_y=True)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        _clf().fit(X.reshape(-1, 8, 8), y)
    X2, _ = digits_binary
    with pytest.raises(ValueError, match="got 1 class"):
        _clf().fit(X2, np.zeros(len(X2)))


def test_composes_with_tuned_threshold_cv(digits_binary):
    """scikit-learn's cross-validated threshold tuning works on the decision_function."""
    X, y = digits_binary
    tuned = TunedThresholdClassifierCV(
        _clf(), scoring="balanced_accuracy", cv=2, random_state=0
    ).fit(X, y)
    assert np.isfinite(tuned.best_threshold_)
    assert tuned.score(X, y) > 0.7


def test_default_vae_is_used_when_none_given():
    clf = AnomalyVAEClassifier()
    assert clf.get_params()["vae"] is None


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"threshold": "best"}, "threshold"),
        ({"percentile": 101}, "percentile"),
        ({"vae": "vae"}, "vae"),
    ],
)
def test_invalid_params(digits_binary, params, match):
    with pytest.raises(ValueError, match=match):
        AnomalyVAEClassifier(**{"vae": _vae(), **params}).fit(*digits_binary)
