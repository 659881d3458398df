"""Calibrated probabilities of the default classifier, and the measures of calibration."""

import warnings

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.metrics import brier_score_loss
from sklearn.svm import SVC, LinearSVC

from skdcsae import DCSAETransformer, RecipientLabeler
from skdcsae._classifier import _FLAT_SLOPE
from skdcsae.kit import ReleaseSettings
from skdcsae.recipient import (
    accuracy_at_coverage,
    expected_calibration_error,
    risk_coverage_curve,
)
from skdcsae.recipient._calibration import default_classifier

from ..conftest import FAST_MLP


# --- the measures ---------------------------------------------------------------------------
def test_ece_by_hand_and_its_extremes():
    # four predictions in four bins: |1-.9| + |1-.8| + |1-.7| + |0-.6|, averaged
    proba = [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]
    assert expected_calibration_error([0, 1, 1, 1], proba) == pytest.approx(0.3)
    # a bin boundary (0.8 = 12/15) belongs to the lower bin: 0.8 and 0.79 share one bin
    assert expected_calibration_error(
        [0, 0], [[0.8, 0.2], [0.79, 0.21]], labels=[0, 1]
    ) == pytest.approx(1 - 0.795)
    # calibrated by construction: right with probability = confidence
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 20000)
    right = rng.uniform(size=conf.size) < conf
    y_true = np.where(right, 0, 1)
    proba = np.column_stack([conf, 1 - conf])
    assert expected_calibration_error(y_true, proba) < 0.01
    # the same predictions claimed with certainty: ECE = error rate
    certain = np.column_stack([np.ones_like(conf), np.zeros_like(conf)])
    assert expected_calibration_error(y_true, certain) == pytest.approx(1 - right.mean())
    # string classes, columns in the order given by labels
    proba = [[0.1, 0.9], [0.8, 0.2]]  # columns b, a: says a (0.9), then b (0.8)
    assert expected_calibration_error(["a", "b"], proba, labels=["b", "a"]) == pytest.approx(0.15)
    assert expected_calibration_error(["a", "b"], proba) == pytest.approx(0.85)  # read as a, b


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([0, 1], [[0.5, 0.5, 0.0], [0.1, 0.9, 0.0]]), {}, "one column per class"),
        (([0, 1], [[0.5, 0.5]]), {}, "inconsistent numbers of samples"),
        (([], np.zeros((0, 2))), {"labels": [0, 1]}, "at least one"),
        (([0, 1], [[0.5, 0.5], [0.1, 0.9]]), {"n_bins": 0}, "n_bins"),
    ],
)
def test_ece_refuses_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(*args, **kwargs)


def test_risk_coverage_curve_and_accuracy_at_coverage():
    y_true = np.array([0, 1, 1, 0, 1, 0])
    y_pred = np.array([0, 1, 0, 0, 0, 0])
    conf = np.array([0.99, 0.9, 0.6, 0.9, 0.55, 0.7])
    coverage, accuracy, thresholds = risk_coverage_curve(y_true, y_pred, conf)
    # the two 0.9s enter together: one point for them
    np.testing.assert_allclose(coverage, [1 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    np.testing.assert_allclose(accuracy, [1, 1, 1, 4 / 5, 4 / 6])
    np.testing.assert_allclose(thresholds, [0.99, 0.9, 0.7, 0.6, 0.55])
    assert accuracy_at_coverage(y_true, y_pred, conf, 1.0) == pytest.approx(4 / 6)
    assert accuracy_at_coverage(y_true, y_pred, conf, 0.5) == 1.0
    # coverage 0.3 of 6: ceil(0.7 * 6) = 5 set aside (0.7 * 6 = 4.2), one kept
    assert accuracy_at_coverage(y_true, y_pred, conf, 0.3) == 1.0
    assert np.isnan(accuracy_at_coverage(y_true, y_pred, conf, 0.0))
    with pytest.raises(ValueError, match="coverage must be a number in"):
        accuracy_at_coverage(y_true, y_pred, conf, 1.2)
    with pytest.raises(ValueError, match="finite"):
        risk_coverage_curve(y_true, y_pred, np.r_[conf[:-1], np.nan])


# --- the default classifier -----------------------------------------------------------------
def test_default_classifier_is_a_cross_validated_sigmoid_svc():
    clf = default_classifier(np.repeat([0, 1], 10))
    assert isinstance(clf, CalibratedClassifierCV) and isinstance(clf.estimator, SVC)
    assert clf.method == "sigmoid" and clf.ensemble is False
    assert clf.cv.n_splits == 5 and clf.cv.shuffle is False
    assert default_classifier(np.repeat([0, 1], [3, 40])).cv.n_splits == 3
    seeded = default_classifier(np.repeat([0, 1], 10), random_state=7)
    assert seeded.cv.shuffle is True and seeded.cv.random_state == 7
    with pytest.warns(UserWarning, match="too few to calibrate"):
        assert type(default_classifier(np.array([0, 1, 1]))) is SVC


def test_the_calibration_never_reverses_the_svc():
    # interleaved classes: each held-out row's neighbours are of the other class, so the
    # out-of-fold decision values run against the labels and Platt's sigmoid comes out
    # decreasing, which would turn every label of the SVC into its opposite
    X, y = np.arange(40.0).reshape(-1, 1), np.arange(40) % 2
    plain = CalibratedClassifierCV(SVC(), method="sigmoid", cv=5, ensemble=False).fit(X, y)
    assert plain.calibrated_classifiers_[0].calibrators[0].a_ > 0  # sklearn's: reversed
    svc_labels = (plain.calibrated_classifiers_[0].estimator.decision_function(X) > 0).astype(int)
    assert np.all(plain.predict(X) != svc_labels)
    with pytest.warns(UserWarning, match="would have reversed the SVC"):
        ours = default_classifier(y).fit(X, y)
    assert np.array_equal(ours.predict(X), (ours.decision_function(X) > 0).astype(int))
    proba = ours.predict_proba(X)
    assert np.all(np.abs(proba - 0.5) < 0.002)
    # ordered as the SVC's decision, so the review queue still ranks by it
    order = np.argsort(ours.decision_function(X))
    assert np.all(np.diff(proba[order, 1]) >= 0)
    # separable classes: the sigmoid increases and is left as fitted, with no warning
    X2, y2 = (
        np.r_[np.zeros(10), np.ones(10)].reshape(-1, 1) + np.arange(20)[:, None] * 0.01,
        np.repeat([0, 1], 10),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine = default_classifier(y2).fit(X2, y2)
    assert fine.calibrated_classifiers_[0].calibrators[0].a_ < -_FLAT_SLOPE


@pytest.fixture(scope="module")
def tabular_kit(tmp_path_factory):
    """An MLP kit on 40 rows per class of a hard tabular problem, and held-out rows."""
    X, y = make_classification(
        n_samples=2040, n_features=6, n_informative=3, class_sep=0.7, flip_y=0.05, random_state=0
    )
    donor = np.concatenate([np.flatnonzero(y == c)[:40] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), donor)
    est = DCSAETransformer(**{**FAST_MLP, "max_epochs": 20, "random_state": 0}).fit(
        X[donor], y[donor]
    )
    path = tmp_path_factory.mktemp("tab") / "kit.joblib"
    # one row per donor image: the calibration is fitted on the rows the SVC learns from
    # (benchmarks/calibration.py measures the default synthetic release)
    est.export_donor_kit(path, X[donor], y[donor], release="per_image")
    return path, X[rest], y[rest]


def test_probabilities_mean_what_they_say_on_held_out_rows(tabular_kit):
    path, X, y = tabular_kit
    labeler = RecipientLabeler(path, device="cpu").fit()
    proba = labeler.predict_proba(X)
    accuracy = np.mean(labeler.predict(X) == y)
    assert 0.6 < accuracy < 0.95  # a problem with real uncertainty
    ece = expected_calibration_error(y, proba)
    assert ece < 0.06, ece
    # better than knowing nothing, and no worse than an uncalibrated overconfident labeling
    assert brier_score_loss(y, proba[:, 1]) < 0.25
    confident = np.where(proba > 0.5, 1.0, 0.0)
    assert ece < expected_calibration_error(y, confident) - 0.05
    # labels are the argmax of the probabilities, so the assigned label's probability >= 0.5
    np.testing.assert_array_equal(labeler.predict(X), labeler.classes_[proba.argmax(axis=1)])


def test_random_state_controls_the_folds(tabular_kit):
    path, X, _ = tabular_kit
    a = RecipientLabeler(path, device="cpu").fit().predict_proba(X[:200])
    b = RecipientLabeler(path, device="cpu").fit().predict_proba(X[:200])
    np.testing.assert_array_equal(a, b)  # None: the kit's order, no randomness
    s1 = RecipientLabeler(path, device="cpu", random_state=1).fit().predict_proba(X[:200])
    s1_again = RecipientLabeler(path, device="cpu", random_state=1).fit().predict_proba(X[:200])
    s2 = RecipientLabeler(path, device="cpu", random_state=2).fit().predict_proba(X[:200])
    np.testing.assert_array_equal(s1, s1_again)
    assert not np.allclose(s1, s2)


def test_prototype_weights_reach_the_svc_and_the_calibration(digits_kit, tmp_path):
    path, X, y, donor, rest = digits_kit
    from skdcsae import load_donor_kit

    kit = load_donor_kit(path)
    assert kit.n_donor == len(donor)
    est = DCSAETransformer(
        conv_channels=(8, 4),
        dense_sizes=(32,),
        max_epochs=5,
        min_steps=0,
        device="cpu",
        random_state=0,
    ).fit(X[donor], y[donor])
    proto = tmp_path / "proto.joblib"
    est.export_donor_kit(
        proto, X[donor], y[donor], release=ReleaseSettings("prototypes", n_prototypes=3)
    )
    labeler = RecipientLabeler(proto, device="cpu").fit()
    weights = labeler.kit_.feature_weights
    assert (
        labeler.kit_.n_rows <= 6
        and labeler.kit_.n_donor == len(donor)
        and weights.sum() == len(donor)
        and np.any(weights > 1)
    )
    by_hand = default_classifier(labeler.kit_.labels).fit(
        labeler.kit_.features, labeler.kit_.labels, sample_weight=weights
    )
    unweighted = default_classifier(labeler.kit_.labels).fit(
        labeler.kit_.features, labeler.kit_.labels
    )
    F = labeler.transform(X[rest])
    np.testing.assert_allclose(labeler.classifier_.predict_proba(F), by_hand.predict_proba(F))
    assert not np.allclose(by_hand.predict_proba(F), unweighted.predict_proba(F))
    assert labeler.label(X[rest]).proba.shape == (len(rest), 2)


def test_a_classifier_without_probabilities_still_predicts(digits_kit):
    path, X, y, _, rest = digits_kit
    labeler = RecipientLabeler(path, LinearSVC(), device="cpu").fit()
    assert not hasattr(labeler, "predict_proba")
    assert np.mean(labeler.predict(X[rest]) == y[rest]) > 0.8
    with pytest.raises(ValueError, match=r"label\(\) needs probabilities.*LinearSVC"):
        labeler.label(X[rest])


def test_a_kit_with_a_single_row_class_falls_back_to_a_plain_svc(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 4)), rng.normal(3, 1, (1, 4))])
    y = np.r_[np.zeros(30, int), 1]
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(X, y)
    path = tmp_path / "kit.joblib"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the donor side may warn about the tiny class
        est.export_donor_kit(path, X, y, release="per_image")
    with pytest.warns(UserWarning, match="1 feature row"):
        labeler = RecipientLabeler(path, device="cpu").fit()
    assert type(labeler.classifier_) is SVC and not hasattr(labeler, "predict_proba")
    assert labeler.predict(X).shape == (31,)
