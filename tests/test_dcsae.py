"""Behaviour of DCSAETransformer: shapes, modes, reproducibility, persistence, bad input."""

import io

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer
from skdcsae._nn._modules import MultiHeadVAE

from .conftest import FAST_CONV, FAST_MLP


def _fast(**kw):
    return DCSAETransformer(**{**FAST_CONV, "random_state": 0, **kw})


def test_fit_transform_shapes_and_attributes(digits_binary):
    X, y = digits_binary
    est = _fast().fit(X, y)
    Z = est.transform(X)
    assert Z.shape == (len(X), 2 * 2)
    assert Z.dtype == np.float64
    assert est.n_features_in_ == 64
    assert est.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert est.n_iter_ == 3
    assert list(est.get_feature_names_out()) == [
        "dcsaetransformer_head0_z0",
        "dcsaetransformer_head0_z1",
        "dcsaetransformer_head1_z0",
        "dcsaetransformer_head1_z1",
    ]
    for term in ("train_loss", "train_mse", "train_kl", "train_rep"):
        values = est.history_[:, term]
        assert len(values) == 3 and np.all(np.isfinite(values))


def test_loss_decreases_with_training(digits_binary):
    X, y = digits_binary
    est = _fast(max_epochs=15).fit(X, y)
    losses = est.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_k_classes_one_head_each():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=4, return_X_y=True)
    est = _fast().fit(X.reshape(-1, 8, 8), y)
    assert est.transform(X.reshape(-1, 8, 8)[:5]).shape == (5, 4 * 2)
    assert est.net_.module_.config["n_heads"] == 4


def test_string_labels(digits_binary):
    X, y = digits_binary
    labels = np.where(y == 1, "pneumonia", "normal")
    est = _fast().fit(X, labels)
    np.testing.assert_array_equal(est.classes_, ["normal", "pneumonia"])


def test_same_seed_same_output_and_different_seed_differs(digits_binary):
    X, y = digits_binary
    a = _fast(random_state=3).fit(X, y).transform(X)
    b = _fast(random_state=3).fit(X, y).transform(X)
    c = _fast(random_state=4).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_does_not_change_global_torch_rng(digits_binary):
    X, y = digits_binary
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fast().fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_image_and_flat_input_agree(digits_binary):
    X, y = digits_binary
    a = _fast().fit(X, y).transform(X)
    b = _fast(image_shape=(8, 8)).fit(X.reshape(len(X), -1), y).transform(X.reshape(len(X), -1))
    c = _fast(image_shape=(1, 8, 8)).fit(X[:, None], y).transform(X[:, None])
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
    # a model fitted on images also transforms the flat form of the same images
    est = _fast().fit(X, y)
    np.testing.assert_allclose(est.transform(X), est.transform(X.reshape(len(X), -1)))


def test_uint8_and_float_inputs_give_same_features(digits_binary):
    X, y = digits_binary
    X8 = np.round(X * 255 / 16).astype(np.uint8)
    z_uint8 = _fast().fit(X8, y).transform(X8)
    z_float = _fast().fit(X8.astype(np.float64), y).transform(X8.astype(np.float64))
    z_unit = _fast().fit(X8 / 255.0, y).transform(X8 / 255.0)
    np.testing.assert_allclose(z_uint8, z_float, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(z_uint8, z_unit, rtol=1e-4, atol=1e-4)
    assert z_uint8.dtype == np.float64


def test_output_dtype_follows_input(digits_binary):
    X, y = digits_binary
    est = _fast().fit(X, y)
    assert est.transform(X.astype(np.float32)).dtype == np.float32
    assert est.transform(X.astype(np.float64)).dtype == np.float64


def test_rgb_and_odd_sizes():
    rng = np.random.default_rng(0)
    X = rng.random((40, 3, 13, 17)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    est = _fast().fit(X, y)
    assert est.image_shape_ == (3, 13, 17)
    assert est.transform(X).shape == (40, 4)
    x_hat = est.net_.module_.decode(torch.zeros(2, 2))
    assert tuple(x_hat.shape) == (2, 3, 13, 17)


def test_tabular_data_uses_mlp():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    est = DCSAETransformer(**FAST_MLP, random_state=0).fit(X, y)
    assert est.net_.module_.config["kind"] == "mlp"
    assert est.image_shape_ is None
    assert est.transform(X).shape == (60, 4)


def test_decoder_only_sees_the_latent():
    """No max-unpool indices or skip connections: decode() takes nothing but z."""
    from skdcsae._nn._modules import make_config

    config = make_config(
        input_shape=(1, 28, 28),
        conv_channels=(128, 64, 32, 16),
        dense_sizes=(2048, 1000, 250),
        latent_dim=2,
        n_heads=2,
        norm="batch",
    )
    module = MultiHeadVAE(config)
    names = {type(m).__name__ for m in module.modules()}
    assert "MaxUnpool2d" not in names
    out = module.decode(torch.zeros(3, 2))
    assert out.shape == (3, 1, 28, 28)
    # the authors' architecture: conv channels and dense widths as in their code
    convs = [m.out_channels for m in module.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [128, 64, 32, 16]


def test_paper_mode(digits_binary):
    X, y = digits_binary
    est = _fast(feature_mode="paper")
    Z_fit = est.fit_transform(X, y)
    assert Z_fit.shape == (len(X), 2)
    Z1, Z2 = est.transform(X), est.transform(X)
    np.testing.assert_array_equal(Z1, Z2)  # seeded samples
    mus, _ = est._encode(X.reshape(len(X), -1))
    # transform reads the positive head; fit_transform each image's true head
    assert np.abs(Z1 - mus[:, 1]).mean() < np.abs(Z1 - mus[:, 0]).mean()
    rows = np.arange(len(y))
    assert np.abs(Z_fit - mus[rows, y]).mean() < np.abs(Z_fit - mus[rows, 1 - y]).mean()
    assert list(est.get_feature_names_out()) == ["dcsaetransformer_z0", "dcsaetransformer_z1"]


def test_paper_mode_needs_two_classes():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=3, return_X_y=True)
    with pytest.raises(ValueError, match="two classes"):
        _fast(feature_mode="paper").fit(X.reshape(-1, 8, 8), y)


def test_early_stopping(digits_binary):
    X, y = digits_binary
    est = _fast(early_stopping=True, max_epochs=200, n_iter_no_change=2, lr=0.05).fit(X, y)
    assert est.n_iter_ < 200
    assert "valid_loss" in est.history_[-1]
    assert "valid_rep" in est.history_[-1]


def test_verbose_prints_table_and_progress(digits_binary, capsys):
    X, y = digits_binary
    _fast(verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    assert "train_loss" in out and "train_rep" in out
    assert err == ""  # the progress bar is drawn on a terminal only (tests/test_progress.py)


def test_user_callbacks_are_called(digits_binary):
    from skorch.callbacks import Callback

    class Count(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    est = _fast(callbacks=[Count()]).fit(*digits_binary)
    assert dict(est.net_.callbacks_)["user_0"].epochs == 3
    est = _fast(callbacks=[("count", Count())]).fit(*digits_binary)
    assert dict(est.net_.callbacks_)["count"].epochs == 3


def test_pipeline_gridsearch_clone_and_pickle(digits_binary):
    X, y = digits_binary
    pipe = Pipeline([("dcsae", _fast()), ("svc", SVC())])
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.9
    grid = GridSearchCV(
        pipe,
        {"dcsae__alpha": ["auto", 1.0], "dcsae__beta": [10.0], "dcsae__rho": [2.0, 5.0]},
        cv=2,
        n_jobs=1,
    ).fit(X, y)
    assert set(grid.best_params_) == {"dcsae__alpha", "dcsae__beta", "dcsae__rho"}
    assert len(grid.cv_results_["params"]) == 4  # "auto" and numbers in one grid
    assert grid.best_estimator_.named_steps["dcsae"].alpha_ in (10.0, 1.0)

    fitted = pipe.named_steps["dcsae"]
    fresh = clone(fitted)
    assert not hasattr(fresh, "net_") and fresh.get_params() == fitted.get_params()

    buf = io.BytesIO()
    joblib.dump(pipe, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_allclose(
        loaded.named_steps["dcsae"].transform(X), fitted.transform(X), rtol=1e-6
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CPU-only machine")
def test_model_saved_on_gpu_loads_on_cpu_only_machine(digits_binary):
    X, y = digits_binary
    est = _fast().fit(X, y)
    expected = est.transform(X)
    # What a GPU-trained estimator looks like when pickled: skorch records device="cuda".
    est.net_.device = "cuda"
    est.device_ = "cuda"
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    with pytest.warns(UserWarning, match="(?i)cuda"):
        loaded = joblib.load(buf)
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    np.testing.assert_allclose(loaded.transform(X), expected, rtol=1e-6)


def test_gridsearch_parallel(digits_binary):
    X, y = digits_binary
    pipe = Pipeline([("dcsae", _fast(max_epochs=2)), ("svc", SVC())])
    grid = GridSearchCV(pipe, {"dcsae__rho": [2.0, 5.0]}, cv=2, n_jobs=2).fit(X, y)
    assert np.isfinite(grid.best_score_)


# ---------------------------------------------------------------------------------------------
# Bad input: a clear ValueError / TypeError that says what was wrong
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1.0}, "alpha"),
        ({"beta": -0.5}, "beta"),
        ({"rho": -1.0}, "rho"),
        ({"rho": 0.0}, "rho"),
        ({"feature_mode": "samples"}, "feature_mode"),
        ({"norm": "layer"}, "norm"),
        ({"max_epochs": 0}, "max_epochs"),
    ],
)
def test_invalid_params(digits_binary, params, match):
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(*digits_binary)


def test_unknown_and_unavailable_devices(digits_binary):
    X, y = digits_binary
    with pytest.raises(ValueError, match="Unknown device 'gpu'"):
        _fast(device="gpu").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            _fast(device="cuda").fit(X, y)
        with pytest.raises(ValueError, match="CUDA is not available"):
            _fast(device="cuda:1").fit(X, y)


def test_bad_inputs(digits_binary):
    X, y = digits_binary
    Xn = X.astype(float).copy()
    Xn[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fast().fit(Xn, y)
    Xi = X.astype(float).copy()
    Xi[1, 2, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        _fast().fit(Xi, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _fast().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="requires y"):
        _fast().fit(X, None)
    with pytest.raises(ValueError, match="needs 100 features per sample but X has 64"):
        _fast(image_shape=(10, 10)).fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match=r"image shape \(1, 8, 8\).*image_shape=\(1, 9, 9\)"):
        _fast(image_shape=(9, 9)).fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        _fast().fit(np.empty((0, 8, 8)), np.empty(0))
    with pytest.raises(ValueError, match="Unknown label type"):
        _fast().fit(X, np.linspace(0, 1, len(X)))
    est = _fast().fit(X, y)
    with pytest.raises(ValueError, match="image shape"):
        est.transform(np.zeros((2, 9, 9)))
    with pytest.raises(ValueError, match="expecting 64 features"):
        est.transform(np.zeros((2, 60)))
    Xn2 = X[:2].astype(float).copy()
    Xn2[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.transform(Xn2)


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _fast().transform(np.zeros((2, 8, 8)))


@pytest.mark.parametrize("norm", ["batch", "group", "instance", "none"])
def test_norm_choices_and_what_the_encoder_stores(digits_binary, norm, tmp_path):
    from skdcsae import RecipientLabeler

    X, y = digits_binary
    est = _fast(norm=norm).fit(X, y)
    encoder = est.net_.module_.encoder
    buffers = {name for name, _ in encoder.named_buffers()}
    # only BatchNorm keeps statistics of the training data in the shipped encoder
    assert bool(buffers) == (norm == "batch")
    layers = [m for m in encoder.modules() if isinstance(m, torch.nn.GroupNorm)]
    if norm == "instance":
        assert layers and all(m.num_groups == m.num_channels for m in layers)
    elif norm == "group":
        assert layers and all(m.num_groups == min(8, m.num_channels) for m in layers)
    else:
        assert not layers
    kit = est.export_donor_kit(tmp_path / "kit.joblib", X, y)
    assert kit.encoder_config["norm"] == norm
    np.testing.assert_allclose(
        RecipientLabeler(kit=tmp_path / "kit.joblib").fit().transform(X), est.transform(X),
        atol=1e-5,
    )  # fmt: skip
