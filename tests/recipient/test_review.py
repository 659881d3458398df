"""RecipientLabeler.label: labels, confidence and the review queue from one encoding pass."""

import math

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skdcsae import RecipientLabeler
from skdcsae.recipient import LabellingResult, accuracy_at_coverage


@pytest.fixture(scope="module")
def fitted(digits_kit):
    path, X, y, _, rest = digits_kit
    return RecipientLabeler(path, device="cpu").fit(), X[rest], y[rest]


def test_label_agrees_with_predict_and_encodes_once(fitted, monkeypatch):
    labeler, X, _ = fitted
    calls = []
    encode = labeler._encode
    monkeypatch.setattr(
        labeler, "_encode", lambda rows, *a: calls.append(len(rows)) or encode(rows, *a)
    )
    result = labeler.label(X, review_fraction=0.1)
    assert calls == [len(X)]  # every image encoded exactly once
    monkeypatch.undo()
    assert isinstance(result, LabellingResult)
    np.testing.assert_array_equal(result.labels, labeler.predict(X))
    np.testing.assert_allclose(result.proba, labeler.predict_proba(X))
    np.testing.assert_allclose(result.features, labeler.transform(X))
    np.testing.assert_allclose(result.confidence, result.proba.max(axis=1))
    assert result.confidence.min() >= 0.5
    assert sum(result.counts().values()) == len(X)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_review_fraction_flags_the_least_confident(fitted, fraction):
    labeler, X, y = fitted
    result = labeler.label(X, review_fraction=fraction)
    expected = math.ceil(fraction * len(X) - 1e-9)
    assert result.n_flagged == expected == len(result.review_order)
    flagged = result.confidence[result.needs_review]
    kept = result.confidence[~result.needs_review]
    if 0 < expected < len(X):
        assert flagged.max() <= kept.min()
    assert np.all(np.diff(result.confidence[result.review_order]) >= 0)  # least confident first
    np.testing.assert_array_equal(np.sort(result.review_order), np.flatnonzero(result.needs_review))
    np.testing.assert_array_equal(result.kept, np.flatnonzero(~result.needs_review))
    if expected < len(X):  # the benchmark's accuracy-at-coverage scores exactly the kept labels
        kept_acc = np.mean(result.labels[result.kept] == y[result.kept])
        at = accuracy_at_coverage(y, result.labels, result.confidence, 1 - fraction)
        assert kept_acc == pytest.approx(at)


def test_min_confidence_and_both_rules(fitted):
    labeler, X, _ = fitted
    by_conf = labeler.label(X, min_confidence=0.9)
    np.testing.assert_array_equal(by_conf.needs_review, by_conf.confidence < 0.9)
    by_frac = labeler.label(X, review_fraction=0.05)
    both = labeler.label(X, review_fraction=0.05, min_confidence=0.9)
    np.testing.assert_array_equal(both.needs_review, by_conf.needs_review | by_frac.needs_review)
    none = labeler.label(X)
    assert none.n_flagged == 0 and none.review_order.size == 0
    assert "n_flagged=0" in repr(none)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"review_fraction": -0.1},
        {"review_fraction": 1.5},
        {"review_fraction": float("nan")},
        {"review_fraction": "0.2"},
        {"review_fraction": True},
        {"min_confidence": 2},
    ],
)
def test_review_settings_outside_0_1_are_refused(fitted, kwargs):
    labeler, X, _ = fitted
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=rf"^{name} must be a number in \[0, 1\]; got .*\.$"):
        labeler.label(X, **kwargs)


def test_label_needs_a_fitted_labeler_and_images(digits_kit, fitted):
    labeler, X, _ = fitted
    with pytest.raises(NotFittedError):
        RecipientLabeler(digits_kit[0]).label(X)
    with pytest.raises(ValueError, match="0 sample"):
        labeler.label(X[:0])
    with pytest.raises(ValueError, match="images of shape"):
        labeler.label(np.zeros((3, 1, 9, 9)))


def test_the_label_docstring_example_runs():
    """``label`` is inherited from a mixin, which tests/test_doctests.py does not walk."""
    import doctest

    from skdcsae.recipient import _review

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(_review.ReviewMixin.label, "label", module=_review):
        runner.run(test)
    assert runner.summarize(verbose=False) == (0, 8)
