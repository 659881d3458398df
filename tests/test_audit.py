"""The leakage audit: a near-duplicate membership attack on a donor kit."""

from __future__ import annotations

import numpy as np
import pytest

from skdcsae import (
    DCSAETransformer,
    LeakageAudit,
    RecipientLabeler,
    ReleaseSettings,
    audit_donor_kit,
)

from .conftest import FAST_CONV, donor_split


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=4, return_X_y=True)
    keep = y < 2  # 0 vs 1: 360 images
    return X[keep].reshape(-1, 8, 8), y[keep]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    donor, rest = donor_split(y, 60, seed=0)
    est = DCSAETransformer(**{**FAST_CONV, "max_epochs": 8}, random_state=0)
    return est.fit(X[donor], y[donor]), donor, rest


def test_per_image_kit_reveals_every_member(digits, fitted, tmp_path):
    X, y = digits
    est, donor, rest = fitted
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[donor], y[donor], release="per_image")
    audit = audit_donor_kit(path, X[donor], X[rest[:120]], X_eval=X[rest], y_eval=y[rest])
    assert isinstance(audit, LeakageAudit)
    assert audit.membership_auc == 1.0 and audit.advantage == 1.0
    assert audit.tpr_at_low_fpr == 1.0
    np.testing.assert_allclose(audit.member_distances, 0.0, atol=1e-5)
    assert audit.non_member_distances.min() > 0
    labeler = RecipientLabeler(kit=path).fit()
    assert audit.accuracy == pytest.approx(labeler.score(X[rest], y[rest]))
    text = audit.summary()
    assert "1.000" in text and "reveals which images the donor had" in text
    assert "not a proof" in text
    assert audit.accuracy_cost is None and "per-image kit" not in text


def test_accuracy_cost_against_a_per_image_kit(digits, fitted, tmp_path):
    X, y = digits
    est, donor, rest = fitted
    kits = {}
    for release in ("per_image", "prototypes"):
        kits[release] = est.export_donor_kit(tmp_path / f"{release}.joblib", X[donor], y[donor],
                                             release=release)  # fmt: skip
    args = (X[donor], X[rest[:100]])
    kw = {"X_eval": X[rest], "y_eval": y[rest], "y_members": y[donor]}
    same = audit_donor_kit(kits["per_image"], *args, **kw)
    # a per-image kit is its own reference (float32 rows against float64 features: ~0 points)
    assert abs(same.accuracy_cost) < 1.0
    proto = audit_donor_kit(kits["prototypes"], *args, **kw)
    assert proto.per_image_accuracy == pytest.approx(same.per_image_accuracy)
    assert proto.accuracy_cost == pytest.approx(100 * (proto.per_image_accuracy - proto.accuracy))
    assert "vs per-image kit   this release" in proto.summary()
    with pytest.raises(ValueError, match="y_members has 3 labels"):
        audit_donor_kit(kits["per_image"], *args, X_eval=X[rest], y_eval=y[rest],
                        y_members=y[:3])  # fmt: skip


@pytest.mark.parametrize(
    ("accuracy", "words"),
    [
        (0.896, "this release costs 2.0 points of accuracy (0.916 with a per-image kit"),
        (0.924, "this release gains 0.8 points of accuracy (0.916 with a per-image kit"),
        (0.916, "this release costs no accuracy (0.916 with a per-image kit"),
    ],
)
def test_summary_says_cost_or_gain_in_words(accuracy, words):
    """The sign convention: accuracy_cost > 0 is a loss, and the summary says which (#17)."""
    audit = LeakageAudit(membership_auc=0.5, advantage=0.0, tpr_at_low_fpr=0.0,
                         member_distances=np.ones(3), non_member_distances=np.ones(3),
                         accuracy=accuracy, balanced_accuracy=accuracy, release={},
                         privacy=None, n_rows=3, per_image_accuracy=0.916)  # fmt: skip
    assert audit.accuracy_cost == pytest.approx(100 * (0.916 - accuracy))
    text = audit.summary()
    assert words in text
    assert "+" not in text.split("vs per-image kit")[1]  # no signed number to misread


@pytest.mark.parametrize("release", ["prototypes", "synthetic"])
def test_summaries_hide_members(digits, fitted, tmp_path, release):
    X, y = digits
    est, donor, rest = fitted
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[donor], y[donor], release=release)
    audit = audit_donor_kit(path, X[donor], X[rest])
    # far from the per-image kit's perfect 1.0; members are not at distance zero
    assert audit.membership_auc < 0.8
    assert audit.member_distances.min() > 1e-4
    assert audit.accuracy is None and "kit accuracy" not in audit.summary()


def test_noise_lowers_the_attack(digits, fitted, tmp_path):
    X, y = digits
    est, donor, rest = fitted
    path = tmp_path / "kit.joblib"
    noisy = ReleaseSettings("per_image", feature_noise=0.5, clip_norm=5.0)
    kit = est.export_donor_kit(path, X[donor], y[donor], release=noisy)
    audit = audit_donor_kit(kit, X[donor], X[rest])
    assert audit.membership_auc < 0.9
    assert "feature noise" in audit.summary() and audit.release["epsilon"] > 0


def test_paper_mode_kit_can_be_audited(digits, tmp_path):
    X, y = digits
    donor, rest = donor_split(y, 60, seed=1)
    est = DCSAETransformer(**FAST_CONV, feature_mode="paper", random_state=0)
    est.fit(X[donor], y[donor])
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[donor], y[donor])
    audit = audit_donor_kit(kit, X[donor], X[rest])
    assert 0.0 <= audit.membership_auc <= 1.0
    assert len(audit.member_distances) == len(donor)


def test_audit_input_errors(digits, fitted, tmp_path):
    X, y = digits
    est, donor, rest = fitted
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[donor], y[donor])
    with pytest.raises(ValueError, match="needs its labels y_eval"):
        audit_donor_kit(kit, X[donor], X[rest], X_eval=X[rest])
    with pytest.raises(ValueError, match=r"image shape|features"):
        audit_donor_kit(kit, X[donor].reshape(len(donor), -1)[:, :10], X[rest])
    with pytest.raises(ValueError, match="members and non-members"):
        audit_donor_kit(kit, X[donor], X[rest][:0])
