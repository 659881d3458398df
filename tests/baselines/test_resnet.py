"""ResNet18Classifier: the supervised skyline written in the package."""

import numpy as np
import pytest
import torch
from torch import nn

from skdcsae import ResNet18Classifier
from skdcsae.baselines._resnet import _augment, _BasicBlock, _ResNet18

from ..conftest import FAST_RESNET


def _fast(**kw):
    return ResNet18Classifier(**{**FAST_RESNET, "random_state": 0, **kw})


def test_standard_resnet18_architecture():
    module = _ResNet18(in_channels=3, n_classes=10, width=64)
    blocks = [m for m in module.modules() if isinstance(m, _BasicBlock)]
    assert len(blocks) == 8  # [2, 2, 2, 2]
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 + 16 + 3  # stem, two per block, three projection shortcuts
    assert sorted({m.out_channels for m in convs}) == [64, 128, 256, 512]
    stem = convs[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)  # small-image stem
    assert not any(isinstance(m, nn.MaxPool2d) for m in module.modules())
    # 11.17 M parameters: the CIFAR/MedMNIST ResNet-18 with 10 classes
    n_params = sum(p.numel() for p in module.parameters())
    assert n_params == 11_173_962
    out = module(torch.zeros(2, 3, 28, 28))
    assert out.shape == (2, 10)


def test_width_scales_every_stage():
    module = _ResNet18(in_channels=1, n_classes=2, width=16)
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    assert sorted({m.out_channels for m in convs}) == [16, 32, 64, 128]
    assert module(torch.zeros(1, 1, 28, 28)).shape == (1, 2)
    module.eval()
    assert module(torch.zeros(1, 1, 5, 7)).shape == (1, 2)  # any image size


def test_fit_predict_proba(digits_binary):
    X, y = digits_binary
    clf = _fast(max_epochs=5).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.9
    assert clf.image_shape_ == (1, 8, 8) and clf.n_features_in_ == 64
    assert clf.net_.module_.features[0].in_channels == 1


def test_string_labels_and_multiclass():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=4, return_X_y=True)
    labels = np.array(["zero", "one", "two", "three"])[y]
    clf = _fast(image_shape=(8, 8), max_epochs=5).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, sorted(set(labels)))
    assert clf.predict_proba(X).shape == (len(X), 4)
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, labels) > 0.7


def test_rgb_images():
    rng = np.random.default_rng(0)
    X = rng.random((40, 3, 12, 12)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    clf = _fast().fit(X, y)
    assert clf.image_shape_ == (3, 12, 12)
    assert clf.net_.module_.features[0].in_channels == 3
    assert clf.predict(X).shape == (40,)


def test_tabular_rows_run_as_one_row_images():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6))
    y = (X[:, 0] > 0).astype(int)
    clf = _fast().fit(X, y)
    assert clf.image_shape_ is None and clf.scaling_ == "standard"
    assert clf._to_tensor(X[:2]).shape == (2, 1, 1, 6)
    assert clf.predict_proba(X).shape == (50, 2)


def test_lone_last_batch_is_dropped_not_crashing():
    """17 samples, batch 16: BatchNorm cannot train on the 1-sample last batch of 1x1 maps."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(17, 2))
    y = np.repeat([0, 1], [9, 8])
    clf = _fast().fit(X, y)
    assert len(clf.history_[-1, "batches"]) == 1


def test_augment_flips_and_shifts_within_two_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 10, 10)
    x[:, :, 4, 3] = 1.0
    out = _augment(x, g)
    assert out.shape == x.shape
    rows, cols = np.nonzero(out[:, 0].sum(dim=0).numpy())
    assert set(rows) <= set(range(2, 7))  # 4 +- 2
    flipped_cols = set(range(9 - 3 - 2, 9 - 3 + 3))  # mirrored column 6, +- 2
    assert set(cols) <= set(range(1, 6)) | flipped_cols
    assert set(cols) & set(range(1, 6)) and set(cols) & flipped_cols  # both happen
    assert torch.all(out.sum(dim=(1, 2, 3)) <= 1.0)  # nothing invented, at most cut off
    again = _augment(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)  # seeded


def test_augment_is_seeded_and_changes_training(digits_binary):
    X, y = digits_binary
    a = _fast(augment=True).fit(X, y).predict_proba(X)
    b = _fast(augment=True).fit(X, y).predict_proba(X)
    plain = _fast(augment=False).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


def test_early_stopping_reports_validation_accuracy(digits_binary):
    X, y = digits_binary
    clf = _fast(early_stopping=True, max_epochs=100, n_iter_no_change=2).fit(X, y)
    assert clf.n_iter_ < 100
    assert "valid_loss" in clf.history_[-1] and "valid_acc" in clf.history_[-1]


def test_predict_uses_eval_mode_and_batches(digits_binary):
    X, y = digits_binary
    clf = _fast().fit(X, y)
    whole = clf.predict_proba(X)
    one_by_one = np.concatenate([clf.predict_proba(X[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(whole[:10], one_by_one, rtol=1e-5, atol=1e-6)
    assert not clf.net_.module_.training


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"width": 0}, "width"),
        ({"augment": "yes"}, "augment"),
        ({"lr": 0.0}, "lr"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"scaling": "robust"}, "scaling"),
    ],
)
def test_invalid_params(digits_binary, params, match):
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(*digits_binary)


def test_bad_inputs(digits_binary):
    X, y = digits_binary
    with pytest.raises(ValueError, match="at least 2 classes"):
        _fast().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="requires y"):
        _fast().fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        _fast().fit(X, np.linspace(0, 1, len(X)))
    clf = _fast().fit(X, y)
    with pytest.raises(ValueError, match="image shape"):
        clf.predict(np.zeros((2, 9, 9)))
