"""The training defaults: augmentation, the cosine schedule, the step floor, "auto" nets."""

import math

import numpy as np
import pytest
import torch

from skdcsae import PAPER_PARAMS, DCSAETransformer
from skdcsae._nn._augment import (
    DEFAULT_AUGMENTATION,
    augment_images,
    check_augmentation,
    random_affine,
    random_gamma,
)
from skdcsae._nn._loss import auto_alpha
from skdcsae._nn._modules import auto_architecture, auto_latent_dim

from .kit_helpers import digits_images

TINY = {"n_components": 2, "batch_size": 16, "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def digits():
    X, y = digits_images()
    return X[:64].astype(np.float32), y[:64]


# --- random_affine ------------------------------------------------------------------------------
def test_zero_augmentation_is_the_identity():
    x = torch.rand(5, 1, 12, 10)
    zero = {"rotation": 0.0, "shift": 0.0, "scale": 0.0}
    torch.testing.assert_close(random_affine(x, torch.Generator().manual_seed(0), zero), x)


def test_affine_is_seeded_per_image_and_keeps_the_shape():
    x = torch.rand(6, 3, 16, 16)
    a = random_affine(x, torch.Generator().manual_seed(1), DEFAULT_AUGMENTATION)
    b = random_affine(x, torch.Generator().manual_seed(1), DEFAULT_AUGMENTATION)
    c = random_affine(x, torch.Generator().manual_seed(2), DEFAULT_AUGMENTATION)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    same = random_affine(
        x[:1].expand(6, -1, -1, -1), torch.Generator().manual_seed(1), DEFAULT_AUGMENTATION
    )
    assert not torch.allclose(same[0], same[1])  # each image gets its own draw


def test_a_shift_moves_a_spot_by_the_asked_fraction():
    x = torch.zeros(1, 1, 20, 20)
    x[0, 0, 10, 10] = 1.0
    settings = {"rotation": 0.0, "shift": 0.25, "scale": 0.0}
    g = torch.Generator().manual_seed(0)
    u = torch.rand(1, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = random_affine(x, g, settings)[0, 0]
    row, col = np.unravel_index(int(out.argmax()), out.shape)
    # the sampling grid moves by +shift, so the content moves by -shift (in pixels: * side)
    assert col == pytest.approx(10 - float(u[0, 2]) * 0.25 * 20, abs=1)
    assert row == pytest.approx(10 - float(u[0, 3]) * 0.25 * 20, abs=1)


def test_gamma_keeps_each_image_range_and_order_and_bends_the_middle():
    x = torch.rand(8, 1, 6, 6) * 3 - 1  # any scaling: values in [-1, 2]
    x[3] = 0.5  # a constant image is left alone
    out = random_gamma(x, torch.Generator().manual_seed(0), 0.4)
    torch.testing.assert_close(out.amin(dim=(1, 2, 3)), x.amin(dim=(1, 2, 3)))
    torch.testing.assert_close(out.amax(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3)))
    torch.testing.assert_close(out[3], x[3])
    order = torch.argsort(x[0].flatten())
    assert torch.all(torch.diff(out[0].flatten()[order]) >= -1e-6)  # monotone per image
    assert not torch.allclose(out[0], x[0], atol=1e-3)
    same = random_gamma(x, torch.Generator().manual_seed(0), 0.4)
    assert torch.equal(out, same)


def test_gamma_zero_is_the_affine_alone():
    x = torch.rand(4, 1, 10, 10)
    settings = {**DEFAULT_AUGMENTATION, "gamma": 0.0}
    alone = random_affine(x, torch.Generator().manual_seed(3), settings)
    torch.testing.assert_close(augment_images(x, torch.Generator().manual_seed(3), settings), alone)
    both = augment_images(x, torch.Generator().manual_seed(3), DEFAULT_AUGMENTATION)
    assert not torch.allclose(both, alone)
    assert check_augmentation({"gamma": 0})["gamma"] == 0.0


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        ({"flip": 1}, "unknown keys"),
        ({"rotation": 200}, "rotation"),
        ({"shift": -0.1}, "shift"),
        ({"gamma": 3}, "gamma"),
    ],
)
def test_bad_augmentation_settings_are_refused(augment, message):
    with pytest.raises(ValueError, match=message):
        check_augmentation(augment)
    assert check_augmentation(False) is None
    assert check_augmentation({"rotation": 5})["rotation"] == 5.0


# --- in a fit -----------------------------------------------------------------------------------
def test_augmentation_changes_training_and_is_seeded(digits):
    X, y = digits
    params = {**TINY, "conv_channels": (4,), "dense_sizes": (16,), "max_epochs": 2, "min_steps": 0,
              "lr_schedule": "constant"}  # fmt: skip
    a = DCSAETransformer(**params).fit(X, y).transform(X)
    b = DCSAETransformer(**params).fit(X, y).transform(X)
    plain = DCSAETransformer(**params, augment=False).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


def test_min_steps_is_a_floor_and_cosine_ends_at_zero(digits):
    X, y = digits
    est = DCSAETransformer(
        **TINY, conv_channels=(4,), dense_sizes=(16,), max_epochs=1, min_steps=20, augment=False,
        early_stopping=False,
    ).fit(X, y)  # fmt: skip
    steps_per_epoch = math.ceil(len(X) / 16)
    assert len(est.history_) == math.ceil(20 / steps_per_epoch)
    lr = est.net_.optimizer_.param_groups[0]["lr"]
    assert lr == pytest.approx(0.0, abs=1e-6 * est.lr)
    constant = DCSAETransformer(
        **TINY, conv_channels=(4,), dense_sizes=(16,), max_epochs=1, min_steps=20, augment=False,
        early_stopping=False, lr_schedule="constant",
    ).fit(X, y)  # fmt: skip
    assert constant.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(constant.lr)
    more_epochs = DCSAETransformer(
        **TINY, conv_channels=(4,), dense_sizes=(16,), max_epochs=7, min_steps=4, augment=False,
        early_stopping=False,
    ).fit(X, y)  # fmt: skip
    assert len(more_epochs.history_) == 7  # max_epochs wins when it gives more steps


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((1, 28, 28), ((32, 16), (256,))), ((1, 64, 64), ((32, 64, 16), (256,))),
     ((3, 224, 224), ((32, 64, 128, 128, 16), (256,))), ((1, 8, 8), ((16,), (256,))),
     ((12,), ((), (256,)))],
)  # fmt: skip
def test_auto_architecture_halves_to_about_seven_pixels(shape, expected):
    assert auto_architecture(shape) == expected


def test_auto_is_resolved_at_fit_and_the_paper_is_one_parameter_away(digits):
    X, y = digits
    est = DCSAETransformer(**TINY, max_epochs=1, min_steps=0, augment=False).fit(X, y)
    assert est.conv_channels == "auto" and est.net_.module_.config["conv_channels"] == [16]
    paper = DCSAETransformer(**PAPER_PARAMS)
    assert paper.min_steps == 0 and paper.augment is False and paper.lr_schedule == "constant"
    assert paper.rho is not None and paper.conv_channels != "auto"


@pytest.mark.parametrize(
    ("n_per_class", "width"),
    [(1, 8), (10, 8), (44, 8), (45, 9), (50, 10), (79, 15), (80, 16), (5000, 16)],
)
def test_auto_latent_width_grows_with_the_smallest_class(n_per_class, width):
    assert auto_latent_dim(n_per_class) == width


def test_auto_latent_width_is_resolved_from_the_labelled_rows_at_fit():
    X, y = digits_images()
    X = X.astype(np.float32)
    fast = {**TINY, "n_components": "auto", "conv_channels": (4,), "dense_sizes": (16,),
            "max_epochs": 1, "min_steps": 0, "augment": False}  # fmt: skip
    rows = np.concatenate([np.flatnonzero(y == 0)[:50], np.flatnonzero(y == 1)[:170]])
    est = DCSAETransformer(**fast).fit(X[rows], y[rows])
    assert est.n_components == "auto" and est.n_components_ == 10  # the smaller class: 50
    assert est.net_.module_.config["latent_dim"] == 10 and est.net_.rho == 25.0
    assert est.transform(X[:3]).shape == (3, 20)
    assert len(est.get_feature_names_out()) == 20
    unlabelled = y[rows].copy()
    unlabelled[30:50] = -1  # 30 labelled images of class 0 are left
    semi = DCSAETransformer(**fast, self_training=None).fit(X[rows], unlabelled)
    assert semi.n_components_ == 8
    unlabelled[80:] = -1  # 30 labelled images per class, 160 unlabelled
    pseudo = DCSAETransformer(**fast, self_training=0.5).fit(X[rows], unlabelled)
    per_class = 30 + pseudo.n_pseudo_labelled_ // 2  # the second fit's smallest class
    assert pseudo.n_pseudo_labelled_ > 0 and pseudo.n_components_ == auto_latent_dim(per_class)
    assert pseudo.n_components_ > 8
    assert pseudo.net_.module_.config["latent_dim"] == pseudo.n_components_
    assert pseudo.transform(X[:3]).shape == (3, 2 * pseudo.n_components_)
    fixed = DCSAETransformer(**{**fast, "n_components": 3}).fit(X[rows], y[rows])
    assert fixed.n_components_ == 3 and fixed.transform(X[:3]).shape == (3, 6)
    with pytest.raises(ValueError, match="n_components"):
        DCSAETransformer(**{**fast, "n_components": "wide"}).fit(X[rows], y[rows])


@pytest.mark.parametrize(
    ("n_values", "alpha"),
    [(64, 10.0), (784, 10.0), (3 * 784, 10.0 / 3), (64 * 64, 10.0 * 784 / 4096),
     (3 * 224 * 224, 10.0 * 784 / 150528), (20, 10.0)],
)  # fmt: skip
def test_auto_alpha_holds_a_28x28_images_reconstruction_weight(n_values, alpha):
    assert auto_alpha(n_values) == pytest.approx(alpha)
    # the weight of a whole image's summed error never exceeds a 28x28 grey image's
    assert auto_alpha(n_values) * n_values <= 10.0 * 784 + 1e-9


@pytest.mark.parametrize(
    ("shape", "alpha"),
    [((8, 28, 28), 10.0), ((8, 3, 28, 28), 10.0 / 3), ((8, 40, 40), 10.0 * 784 / 1600),
     ((8, 30), 10.0)],
)  # fmt: skip
def test_auto_alpha_is_resolved_from_the_input_at_fit_and_reaches_the_loss(shape, alpha):
    rng = np.random.default_rng(0)
    X, y = rng.random(shape).astype(np.float32), np.repeat([0, 1], 4)
    fast = {**TINY, "max_epochs": 1, "min_steps": 0, "augment": False}
    est = DCSAETransformer(**fast).fit(X, y)
    assert est.alpha == "auto" and est.alpha_ == pytest.approx(alpha)
    assert est.net_.alpha == pytest.approx(alpha)  # the weight the loss was trained with
    fixed = DCSAETransformer(**fast, alpha=2.5).fit(X, y)
    assert fixed.alpha_ == 2.5 and fixed.net_.alpha == 2.5
    assert DCSAETransformer(**PAPER_PARAMS).alpha == 10.0  # the paper's, whatever the size
    with pytest.raises(ValueError, match="alpha"):
        DCSAETransformer(**fast, alpha="large").fit(X, y)


# --- unlabelled rows (y == -1) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def semi():
    X, y = digits_images()
    y_semi = y.copy()
    y_semi[40:] = -1  # 40 labelled images, the rest unlabelled
    return X.astype(np.float32), y, y_semi


SEMI = {**TINY, "conv_channels": (4,), "dense_sizes": (16,), "max_epochs": 10, "min_steps": 0,
        "augment": False, "lr_schedule": "constant"}  # fmt: skip


def test_unlabelled_rows_are_pseudo_labelled_when_confident(semi):
    X, y, y_semi = semi
    est = DCSAETransformer(**SEMI, self_training=0.6).fit(X, y_semi)
    np.testing.assert_array_equal(est.classes_, [0, 1])  # -1 is not a class
    assert 0 < est.n_pseudo_labelled_ <= np.sum(y_semi == -1)
    assert est.n_pseudo_labelled_ % 2 == 0  # as many per class
    again = DCSAETransformer(**SEMI, self_training=0.6).fit(X, y_semi)
    assert again.n_pseudo_labelled_ == est.n_pseudo_labelled_
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    labelled_only = DCSAETransformer(**SEMI, self_training=0.6).fit(X[:40], y[:40])
    assert labelled_only.n_pseudo_labelled_ == 0
    assert not np.allclose(labelled_only.transform(X), est.transform(X))


def test_without_self_training_unlabelled_rows_only_set_the_scaling(semi):
    X, y, y_semi = semi
    X = X.copy()
    X[-1] = 40.0  # an unlabelled image widens the input range
    est = DCSAETransformer(**SEMI, self_training=None).fit(X, y_semi)
    assert est.n_pseudo_labelled_ == 0 and est.input_range_ == (0.0, 40.0)
    same = DCSAETransformer(**SEMI).fit(X[:40], y[:40])
    assert same.input_range_ == (0.0, 16.0)


def test_unlabelled_rows_refused_where_they_cannot_go(semi, tmp_path):
    X, y, y_semi = semi
    with pytest.raises(ValueError, match=r"got no labels .*-1 marks unlabelled"):
        DCSAETransformer(**SEMI).fit(X[:10], -np.ones(10, int))
    with pytest.raises(ValueError, match=r"got 1 class .*recode a class named -1"):
        DCSAETransformer(**SEMI).fit(X[:10], np.r_[np.ones(5, int), -np.ones(5, int)])
    est = DCSAETransformer(**SEMI, self_training=None).fit(X, y_semi)
    with pytest.raises(ValueError, match=r"labelled images only.*X\[y != -1\]"):
        est.export_donor_kit(tmp_path / "kit.joblib", X, y_semi)
    assert not (tmp_path / "kit.joblib").exists()
    est.export_donor_kit(tmp_path / "kit.joblib", X[:40], y_semi[:40], release="per_image")
    with pytest.raises(ValueError, match="true-label head"):
        DCSAETransformer(**SEMI, feature_mode="paper").fit_transform(X, y_semi)
    with pytest.raises(ValueError, match="self_training=None"):
        DCSAETransformer(**SEMI, dp=True, noise_multiplier=1.0, norm="group").fit(X, y_semi)
    strings = np.where(y == 0, "normal", "pneumonia")  # -1 only marks numeric labels
    assert DCSAETransformer(**SEMI).fit(X[:40], strings[:40]).n_pseudo_labelled_ == 0
