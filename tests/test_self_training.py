"""Which unlabelled rows self-training keeps: balanced, confident, the most confident first."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdcsae._self_training import balanced_selection


@settings(max_examples=60, deadline=None)
@given(
    logits=arrays(
        np.float64, st.tuples(st.integers(0, 40), st.integers(2, 4)), elements=st.floats(-5, 5)
    ),
    threshold=st.floats(0.3, 0.95),
    cap=st.one_of(st.none(), st.integers(0, 6)),
)
def test_balanced_selection_keeps_as_many_confident_rows_per_class(logits, threshold, cap):
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array([10, 20, 30, 40])[: proba.shape[1]]
    keep, guessed = balanced_selection(proba, classes, threshold=threshold, max_per_class=cap)
    np.testing.assert_array_equal(guessed, classes[proba.argmax(axis=1)])
    confidence = proba.max(axis=1)
    assert np.all(confidence[keep] >= threshold)
    confident = confidence >= threshold
    k = min(np.sum(confident & (guessed == c)) for c in classes)
    k = k if cap is None else min(k, cap)
    for c in classes:
        mine = guessed == c
        assert np.sum(keep & mine) == k
        if k and np.any(mine & ~keep):  # nothing left out is more confident than a kept row
            assert confidence[mine & ~keep].max() <= confidence[mine & keep].min()


def test_a_class_without_confident_rows_keeps_nothing():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.45, 0.55]])
    keep, _ = balanced_selection(proba, np.array([0, 1]), threshold=0.6)
    assert not keep.any()
