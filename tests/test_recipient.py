"""RecipientLabeler: labelling recipient images from a donor kit."""

import dataclasses
import pickle
import tracemalloc

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdcsae import DCSAETransformer, DonorKitError, RecipientLabeler, load_donor_kit
from skdcsae.kit import join_donor_kits, write_donor_kit

from .conftest import FAST_MLP
from .kit_helpers import digits_images, train_donor


@pytest.fixture(scope="module")
def digits_kit(tmp_path_factory):
    """A conv donor on 60 digit images per class; the kit path; all images and labels."""
    X, y = digits_images()
    donor = np.concatenate([np.flatnonzero(y == c)[:60] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), donor)
    est = train_donor(X[donor], y[donor], max_epochs=10)
    path = tmp_path_factory.mktemp("kit") / "digits.joblib"
    est.export_donor_kit(path, X[donor], y[donor], release="per_image")  # the pipeline's rows
    return est, path, X, y, donor, rest


def _labeler(path, **params):
    return RecipientLabeler(path, **{"device": "cpu", **params}).fit()


# --- the round trip ------------------------------------------------------------------------------
def test_recipient_computes_the_donors_features_and_labels(digits_kit):
    est, path, X, y, donor, rest = digits_kit
    pipe = Pipeline([("dcsae", est), ("svc", SVC())])
    pipe.named_steps["svc"].fit(est.transform(X[donor]), y[donor])
    labeler = _labeler(path, classifier=SVC())  # the default adds calibration (tests/recipient)
    np.testing.assert_allclose(labeler.transform(X[rest]), est.transform(X[rest]), atol=1e-6)
    np.testing.assert_array_equal(labeler.predict(X[rest]), pipe.predict(X[rest]))
    assert labeler.score(X[rest], y[rest]) == pipe.score(X[rest], y[rest]) > 0.9
    np.testing.assert_array_equal(labeler.classes_, [0, 1])
    assert labeler.n_features_in_ == 64 and labeler.image_shape_ == (1, 8, 8)
    assert labeler.device_ == "cpu" and not labeler.encoder_.training
    assert not hasattr(labeler.encoder_, "decoder")


def test_same_labels_for_every_input_form(digits_kit):
    _, path, X, _, _, rest = digits_kit
    labeler = _labeler(path)
    images = X[rest]
    expected = labeler.predict(images)
    forms = {
        "flat rows": images.reshape(len(images), -1),
        "(n, C, H, W)": images[:, None],
        "uint8": images.astype(np.uint8),
        "float32": images.astype(np.float32),
        "list of lists": images.reshape(len(images), -1).tolist(),
        "Fortran-ordered": np.asfortranarray(images.reshape(len(images), -1)),
    }
    for name, form in forms.items():
        np.testing.assert_array_equal(labeler.predict(form), expected, err_msg=name)
    assert labeler.transform(images.astype(np.float32)).dtype == np.float32
    assert labeler.transform(images.astype(np.uint8)).dtype == np.float64
    np.testing.assert_array_equal(labeler.fit_transform(images), labeler.transform(images))


def test_batch_size_does_not_change_the_features(digits_kit):
    _, path, X, _, _, rest = digits_kit
    whole = _labeler(path, batch_size=1024).transform(X[rest])
    for batch_size in (1, 7, 64):
        np.testing.assert_allclose(
            _labeler(path, batch_size=batch_size).transform(X[rest]), whole, atol=1e-6
        )


def test_encoding_never_converts_all_images_to_float(tmp_path):
    """Memory stays at a batch's worth: no float copy of the whole (uint8) X is ever made."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    X = (rng.integers(0, 128, (80, 28, 28)) + 127 * y[:, None, None]).astype(np.uint8)
    est = DCSAETransformer(
        conv_channels=(4,),
        dense_sizes=(8,),
        max_epochs=1,
        min_steps=0,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    est.export_donor_kit(tmp_path / "k.joblib", X, y)
    labeler = _labeler(tmp_path / "k.joblib", batch_size=128)
    recipient = rng.integers(0, 256, (6000, 28, 28)).astype(np.uint8)
    float32_copy = recipient.size * 4  # 18.8 MB
    tracemalloc.start()
    try:
        labeler.predict(recipient)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < float32_copy / 4, f"peak {peak:,} bytes"


# --- bad recipient data ---------------------------------------------------------------------------
def test_wrong_shapes_and_channels_are_explained(digits_kit, tmp_path):
    _, path, X, _, _, rest = digits_kit
    labeler = _labeler(path)
    rgb = np.repeat(X[rest][:, None], 3, axis=1)
    with pytest.raises(ValueError, match=r"\(3, 8, 8\) but .* expects \(1, 8, 8\).*grayscale"):
        labeler.predict(rgb)
    with pytest.raises(ValueError, match=r"\(1, 7, 7\) but .* expects \(1, 8, 8\).*resize"):
        labeler.predict(X[rest][:, :7, :7])
    with pytest.raises(ValueError, match=r"grayscale and resize them to 8x8"):
        labeler.predict(np.zeros((2, 3, 9, 9)))
    with pytest.raises(ValueError, match="X has 50 features, but RecipientLabeler is expecting 64"):
        labeler.predict(X[rest].reshape(len(rest), -1)[:, :50])
    with pytest.raises(ValueError, match="2D array"):
        labeler.predict(X[rest][0].ravel())
    with pytest.raises(ValueError, match="0 sample"):
        labeler.predict(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        labeler.predict(np.full((2, 8, 8), np.nan))
    with pytest.raises(ValueError, match=r"X has 4 features, but .* expecting 64"):  # at fit too
        RecipientLabeler(path, device="cpu").fit(np.zeros((3, 4)))
    tabular = make_blobs(n_samples=60, n_features=4, centers=2, random_state=0)
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(*tabular)
    est.export_donor_kit(tmp_path / "tab.joblib", *tabular)
    with pytest.raises(ValueError, match="tabular data with 4 features"):
        _labeler(tmp_path / "tab.joblib").predict(np.zeros((2, 2, 2)))


def test_values_outside_the_donors_range_are_explained(tmp_path):
    X, y = digits_images()
    X255 = (X * 255 / 16).round().astype(np.uint8)  # the donor's images: uint8 0-255
    est = train_donor(X255[:120], y[:120])
    est.export_donor_kit(tmp_path / "u8.joblib", X255[:120], y[:120])
    labeler = _labeler(tmp_path / "u8.joblib")
    rest = X255[120:]
    labeler.predict(rest)
    with pytest.raises(ValueError, match=r"looks scaled to \[0, 1\].*\[0, 255\].*uint8"):
        labeler.predict(rest / 255.0)
    with pytest.raises(ValueError, match=r"values in \[-255, 0\] but .* \[0, 255\]"):
        labeler.predict(-rest.astype(float))
    assert len(_labeler(tmp_path / "u8.joblib", range_tolerance=None).predict(rest / 255.0)) == len(
        rest
    )
    # Within the tolerance (10% of the range) is fine: e.g. 270 for a 0-255 donor.
    labeler.predict(np.clip(rest.astype(float) * 1.05, 0, 270))
    # Dark uint8 images are not mistaken for [0, 1] floats (they have no fractions).
    labeler.predict(np.minimum(rest, 1))

    # The other way round: the donor used [0, 1] floats, the recipient passes uint8.
    est01 = train_donor(X255[:120] / 255.0, y[:120])
    est01.export_donor_kit(tmp_path / "01.joblib", X255[:120] / 255.0, y[:120])
    with pytest.raises(ValueError, match=r"\[0, 255\] but .* \[0, 1\].*divide uint8 .* by 255"):
        _labeler(tmp_path / "01.joblib").predict(rest)


@pytest.mark.parametrize(("top", "factor"), [(249, "255 if the images were 8-bit"),
                                             (3000, "4095 if the images were 12-bit")])  # fmt: skip
def test_rescaled_images_are_told_the_bit_depths_full_scale(tmp_path, top, factor):
    """A donor whose brightest pixel is 249 had 8-bit images: multiply by 255, not 249 (#17)."""
    X, y = digits_images()
    Xd = (X * top / 16).round()  # the donor's maximum is ``top``
    train_donor(Xd[:120], y[:120]).export_donor_kit(tmp_path / "k.joblib", Xd[:120], y[:120])
    with pytest.raises(ValueError, match=f"multiply X by {factor}") as exc:
        _labeler(tmp_path / "k.joblib").predict(Xd[120:] / top)
    assert f"by {top}." not in str(exc.value)


# --- the classifier ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "classifier, has_proba, has_decision",
    [
        (None, True, True),  # calibrated SVC; decision values of its SVC
        (KNeighborsClassifier(3), True, False),
        (LogisticRegression(), True, True),
    ],
)
def test_methods_follow_the_classifier(digits_kit, classifier, has_proba, has_decision):
    _, path, X, y, _, rest = digits_kit
    unfitted = RecipientLabeler(path, classifier, device="cpu")
    assert hasattr(unfitted, "predict_proba") is has_proba
    assert hasattr(unfitted, "decision_function") is has_decision
    labeler = clone(unfitted).fit()
    assert hasattr(labeler, "predict_proba") is has_proba
    assert hasattr(labeler, "predict_log_proba") is hasattr(
        labeler.classifier_, "predict_log_proba"
    )
    assert hasattr(labeler, "decision_function") is has_decision
    if has_proba:
        proba = labeler.predict_proba(X[rest])
        assert proba.shape == (len(rest), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        if hasattr(labeler, "predict_log_proba"):
            np.testing.assert_allclose(labeler.predict_log_proba(X[rest]), np.log(proba), atol=1e-6)
    if has_decision:
        assert labeler.decision_function(X[rest]).shape == (len(rest),)
    assert labeler.score(X[rest], y[rest]) > 0.8
    if classifier is not None:  # cloned, never fitted in place
        assert labeler.classifier_ is not classifier
        assert not hasattr(classifier, "classes_")
    else:
        assert isinstance(labeler.classifier_, CalibratedClassifierCV)
        assert isinstance(labeler.classifier_.estimator, SVC)


def test_kit_object_path_and_string_path_agree(digits_kit):
    _, path, X, _, _, rest = digits_kit
    by_path = _labeler(path).predict(X[rest])
    np.testing.assert_array_equal(_labeler(str(path)).predict(X[rest]), by_path)
    np.testing.assert_array_equal(_labeler(load_donor_kit(path)).predict(X[rest]), by_path)


# --- ensembles ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ensemble(digits_kit, tmp_path_factory):
    """Two donors of different seeds on the same images, and their kits joined."""
    _, path, X, y, donor, rest = digits_kit
    other = train_donor(X[donor], y[donor], max_epochs=10, random_state=1)
    folder = tmp_path_factory.mktemp("ensemble")
    second = other.export_donor_kit(folder / "b.joblib", X[donor], y[donor], release="per_image")
    joined = join_donor_kits([load_donor_kit(path), second])
    assert joined.n_members == 2 and joined.sha256 == ""  # unsealed until written
    write_donor_kit(joined, folder / "both.joblib")
    return folder / "both.joblib", path, folder / "b.joblib", X, y, rest


def test_one_member_kit_behaves_as_a_plain_encoder_and_classifier(digits_kit):
    _, path, X, _, _, rest = digits_kit
    labeler = _labeler(path)
    assert labeler.encoders_ == [labeler.encoder_]
    assert labeler.classifiers_ == [labeler.classifier_]
    features = labeler.transform(X[rest])
    np.testing.assert_array_equal(labeler.predict(X[rest]), labeler.classifier_.predict(features))
    np.testing.assert_array_equal(
        labeler.decision_function(X[rest]), labeler.classifier_.decision_function(features)
    )


def test_an_ensemble_averages_its_members(ensemble):
    both, first, second, X, y, rest = ensemble
    labeler = _labeler(both)
    one, two = _labeler(first), _labeler(second)
    assert len(labeler.encoders_) == len(labeler.classifiers_) == 2
    images = X[rest]
    mean = (one.decision_function(images) + two.decision_function(images)) / 2
    np.testing.assert_allclose(labeler.decision_function(images), mean, rtol=1e-6, atol=1e-9)
    # the default (calibrated) classifiers vote with their averaged probabilities
    mean_proba = (one.predict_proba(images) + two.predict_proba(images)) / 2
    np.testing.assert_allclose(labeler.predict_proba(images), mean_proba, rtol=1e-6)
    np.testing.assert_array_equal(
        labeler.predict(images), labeler.classes_[mean_proba.argmax(axis=1)]
    )
    plain = RecipientLabeler(both, classifier=SVC(), device="cpu").fit()  # no probabilities
    plain_mean = plain.decision_function(images)
    np.testing.assert_array_equal(plain.predict(images), plain.classes_[(plain_mean > 0) * 1])
    np.testing.assert_allclose(
        labeler.transform(images), np.hstack([one.transform(images), two.transform(images)])
    )
    scores = [m.score(images, y[rest]) for m in (one, two)]
    assert labeler.score(images, y[rest]) >= min(scores) - 0.02
    with pytest.raises(ValueError, match="several: use transform"):
        labeler.encode(images)
    proba = RecipientLabeler(both, classifier=LogisticRegression(), device="cpu").fit()
    p1 = RecipientLabeler(first, classifier=LogisticRegression(), device="cpu").fit()
    p2 = RecipientLabeler(second, classifier=LogisticRegression(), device="cpu").fit()
    expected = (p1.predict_proba(images) + p2.predict_proba(images)) / 2
    np.testing.assert_allclose(proba.predict_proba(images), expected, rtol=1e-6)
    np.testing.assert_allclose(proba.predict_log_proba(images), np.log(expected), rtol=1e-6)
    knn = RecipientLabeler(both, classifier=KNeighborsClassifier(3), device="cpu").fit()
    assert set(knn.predict(images)) <= {0, 1}  # votes of the members' predictions


def test_an_in_memory_ensemble_is_verified(ensemble):
    both, *_ = ensemble
    kit = load_donor_kit(both)
    swapped = dataclasses.replace(kit, members=kit.members[::-1])
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        RecipientLabeler(swapped, device="cpu").fit()


def test_fit_never_learns_from_y(digits_kit):
    _, path, X, y, _, rest = digits_kit
    plain = _labeler(path).predict(X[rest])
    checked = RecipientLabeler(path, device="cpu", self_training=None).fit(X[rest], 1 - y[rest])
    np.testing.assert_array_equal(checked.predict(X[rest]), plain)
    adapted = RecipientLabeler(path, device="cpu").fit(X[rest])
    flipped = RecipientLabeler(path, device="cpu").fit(X[rest], 1 - y[rest])
    np.testing.assert_array_equal(flipped.predict(X[rest]), adapted.predict(X[rest]))
    with pytest.raises(ValueError, match=r"labels .*7.* that the donor kit does not know"):
        RecipientLabeler(path, device="cpu").fit(X[rest], np.full(len(rest), 7))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RecipientLabeler(path, device="cpu").fit(X[rest], y[rest][:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        RecipientLabeler(path, device="cpu").fit(X[rest], np.linspace(0, 1, len(rest)))


def test_fit_on_recipient_images_adds_the_confident_ones_balanced(digits_kit):
    _, path, X, y, donor, rest = digits_kit
    kit_rows = len(donor)
    adapted = RecipientLabeler(path, device="cpu", classifier=SVC()).fit(X[rest])
    (n_pseudo,) = adapted.n_pseudo_labelled_
    assert 0 < n_pseudo <= len(rest) and n_pseudo % 2 == 0  # as many per class
    assert adapted.classifier_.shape_fit_[0] == kit_rows + n_pseudo  # SVC: guesses from the default
    again = RecipientLabeler(path, device="cpu", classifier=SVC()).fit(X[rest])
    np.testing.assert_array_equal(again.decision_function(X), adapted.decision_function(X))
    assert adapted.score(X[rest], y[rest]) > 0.9
    strict = RecipientLabeler(path, device="cpu", self_training=0.999).fit(X[rest])
    assert strict.n_pseudo_labelled_[0] < n_pseudo  # a higher threshold keeps fewer
    for plain in (
        RecipientLabeler(path, device="cpu", self_training=None).fit(X[rest]),
        RecipientLabeler(path, device="cpu").fit(),
    ):
        np.testing.assert_array_equal(plain.n_pseudo_labelled_, [0])
        assert plain.classifier_.calibrated_classifiers_[0].estimator.shape_fit_[0] == kit_rows
    with pytest.raises(ValueError, match="self_training"):
        RecipientLabeler(path, device="cpu", self_training=1.5).fit(X[rest])


def test_self_training_repeats_until_its_choice_is_stable(digits_kit):
    from skdcsae._self_training import balanced_selection
    from skdcsae.recipient._members import MAX_PSEUDO_PER_CLASS, fit_member_classifier

    _, path, X, _, _, rest = digits_kit
    once = RecipientLabeler(path, device="cpu").fit(X[rest])  # max_iter=1, the default
    np.testing.assert_array_equal(once.n_iter_, [1])
    # one round by hand: the kit's classifier guesses, the balanced choice joins it once
    kit_only = RecipientLabeler(path, device="cpu").fit()
    features = kit_only.transform(X[rest])
    keep, guessed = balanced_selection(
        kit_only.predict_proba(X[rest]), kit_only.classes_, threshold=0.5,
        max_per_class=MAX_PSEUDO_PER_CLASS,
    )  # fmt: skip
    by_hand = clone(kit_only.classifier_)
    fit_member_classifier(
        by_hand, kit_only.kit_.members[0], kit_only.classes_, extra=(features[keep], guessed[keep])
    )
    np.testing.assert_allclose(once.predict_proba(X), by_hand.predict_proba(kit_only.transform(X)))
    full = RecipientLabeler(path, device="cpu", max_iter=10).fit(X[rest])
    (rounds,) = full.n_iter_
    assert 1 <= rounds <= 10
    if rounds < 10:  # it stopped because the last round chose what the one before had
        again = RecipientLabeler(path, device="cpu", max_iter=rounds + 3).fit(X[rest])
        np.testing.assert_array_equal(again.n_iter_, [rounds])
        np.testing.assert_allclose(again.predict_proba(X), full.predict_proba(X))
    np.testing.assert_array_equal(kit_only.n_iter_, [0])
    with pytest.raises(ValueError, match="max_iter"):
        RecipientLabeler(path, device="cpu", max_iter=0).fit(X[rest])


def test_unfitted_and_missing_kit(digits_kit):
    _, path, X, _, _, _ = digits_kit
    for method in ("predict", "transform", "decision_function", "score"):
        args = (X[:3], [0, 1, 0]) if method == "score" else (X[:3],)
        with pytest.raises(NotFittedError):
            getattr(RecipientLabeler(path), method)(*args)
    with pytest.raises(ValueError, match="needs a donor kit"):
        RecipientLabeler().fit()
    with pytest.raises(FileNotFoundError):
        RecipientLabeler(path.parent / "missing.joblib").fit()
    with pytest.raises(ValueError, match="Unknown device"):
        RecipientLabeler(path, device="tpu").fit()
    with pytest.raises(ValueError, match="batch_size"):
        RecipientLabeler(path, batch_size=0).fit()
    with pytest.raises(ValueError, match="kit"):
        RecipientLabeler(kit=42).fit()


def test_pickle_clone_and_model_selection(digits_kit):
    _, path, X, y, _, rest = digits_kit
    labeler = _labeler(path)
    restored = pickle.loads(pickle.dumps(labeler))
    np.testing.assert_array_equal(restored.predict(X[rest]), labeler.predict(X[rest]))
    assert clone(labeler).get_params()["kit"] == path
    # Evaluate the kit on labelled recipient data, tuning only the recipient's classifier.
    search = GridSearchCV(
        RecipientLabeler(path, SVC(), device="cpu"), {"classifier__C": [0.1, 10.0]}, cv=3
    )
    search.fit(X[rest], y[rest])
    assert search.best_params_["classifier__C"] in (0.1, 10.0) and search.best_score_ > 0.8
    scores = cross_val_score(RecipientLabeler(path, device="cpu"), X[rest], y[rest], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


# --- scikit-learn's common checks -----------------------------------------------------------------
# A labeler is a *pre-trained* model: its encoder takes exactly the kit's number of features and
# it predicts the kit's classes. The kit below is trained on 3 features and classes {0, 1, 2},
# the shape of most common checks' data, so those checks run as they would for a real recipient.
# The checks that feed data of another width cannot apply; each is listed with its reason.
# (check_classifiers_one_label passes although y is not learned from: this kit labels all of
# that check's points with the check's single class.)
_OTHER_WIDTH = (
    "feeds data with {} features; a donor kit's encoder takes exactly the donor's feature count "
    "(3 here), so fit/predict refuse it with a clear error"
)
EXPECTED_FAILED_CHECKS = {
    "check_estimators_dtypes": _OTHER_WIDTH.format(5),
    "check_dtype_object": _OTHER_WIDTH.format(10),
    "check_fit2d_1sample": _OTHER_WIDTH.format(10),
    "check_fit2d_1feature": _OTHER_WIDTH.format(1),
    "check_n_features_in_after_fitting": _OTHER_WIDTH.format(4),
    "check_positive_only_tag_during_fit": _OTHER_WIDTH.format(4),
    "check_estimators_overwrite_params": _OTHER_WIDTH.format(2),
    "check_estimators_fit_returns_self": _OTHER_WIDTH.format(2),
    "check_readonly_memmap_input": _OTHER_WIDTH.format(2),
    "check_classifier_data_not_an_array": _OTHER_WIDTH.format(2),
    "check_classifiers_classes": _OTHER_WIDTH.format(2),
    "check_classifiers_train": _OTHER_WIDTH.format(2),
    "check_fit_idempotent": _OTHER_WIDTH.format(2),
    "check_fit_check_is_fitted": _OTHER_WIDTH.format(2),
    "check_n_features_in": _OTHER_WIDTH.format(2),
    "check_non_transformer_estimators_n_iter": _OTHER_WIDTH.format(4),
    # runs since the default classifier has both decision_function and predict_proba
    "check_decision_proba_consistency": _OTHER_WIDTH.format(4),
    "check_methods_subset_invariance": (
        "float32 inference: the CPU BLAS uses another kernel for 1-3 row batches, so a row "
        "encoded alone can differ from the same row in a full batch by 1 ulp (~2e-7), above the "
        "check's atol of 1e-7 (platform dependent; may pass)"
    ),
}


@pytest.fixture(scope="module")
def checks_kit(tmp_path_factory):
    X, y = make_blobs(n_samples=120, n_features=3, centers=3, random_state=0)
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(X, y)
    return est.export_donor_kit(tmp_path_factory.mktemp("checks") / "blobs.joblib", X, y)


@parametrize_with_checks(
    [RecipientLabeler(device="cpu")],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check, checks_kit):
    check(estimator.set_params(kit=checks_kit))


def test_an_ensemble_streamed_adapts_each_member_as_fit_does(ensemble, tmp_path):
    from skdcsae.recipient import label_archive

    both, _, _, X, _, rest = ensemble
    adapted = RecipientLabeler(both, device="cpu").fit(X[rest])
    assert adapted.n_pseudo_labelled_.shape == (2,) and adapted.n_pseudo_labelled_.all()
    report = label_archive(both, X[rest], tmp_path / "labels.csv", partition_size=40, device="cpu")
    with open(report.out) as f:
        written = [line.split(",")[1] for line in f.read().splitlines()[1:]]
    assert written == [str(v) for v in adapted.predict(X[rest])]
    assert report.n_pseudo_labelled == adapted.n_pseudo_labelled_.sum()
