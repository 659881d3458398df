"""VAETransformer: the standard-VAE baseline (one head, unsupervised, latent means)."""

import numpy as np
import pytest
import torch

from skdcsae import VAETransformer
from skdcsae._nn._loss import kl_to_standard_normal
from skdcsae._nn._nets import _VAENet

from ..conftest import FAST_CONV, FAST_MLP


def _fast(**kw):
    return VAETransformer(**{**FAST_CONV, "random_state": 0, **kw})


def test_transform_returns_latent_means_of_one_head(digits_binary):
    X, _ = digits_binary
    est = _fast(n_components=3).fit(X)
    Z = est.transform(X)
    assert Z.shape == (len(X), 3)
    assert est.net_.module_.config["n_heads"] == 1
    mus, _ = est._encode(X.reshape(len(X), -1))
    np.testing.assert_allclose(Z, mus[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(est.transform(X), Z)  # means: deterministic
    assert list(est.get_feature_names_out()) == [f"vaetransformer{j}" for j in range(3)]
    assert not hasattr(est, "classes_")


def test_labels_are_ignored(digits_binary):
    X, y = digits_binary
    without = _fast().fit(X).transform(X)
    with_y = _fast().fit(X, y).transform(X)
    shuffled = _fast().fit(X, y[::-1]).transform(X)
    np.testing.assert_array_equal(without, with_y)
    np.testing.assert_array_equal(without, shuffled)


def test_loss_terms_logged_and_loss_decreases(digits_binary):
    X, _ = digits_binary
    est = _fast(max_epochs=15).fit(X)
    for term in ("train_loss", "train_mse", "train_kl"):
        assert np.all(np.isfinite(est.history_[:, term]))
    assert "train_rep" not in est.history_[-1]
    losses = est.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_vae_loss_is_weighted_mse_plus_kl():
    """The per-sample loss: alpha * sum of squared errors + kl_weight * KL to N(0, I)."""
    from skdcsae._nn._modules import MultiHeadVAE, make_config

    config = make_config(
        input_shape=(4,), conv_channels=(), dense_sizes=(), latent_dim=2, n_heads=1, norm="none"
    )
    net = _VAENet(MultiHeadVAE, module__config=config, alpha=3.0, kl_weight=0.5)
    net.initialize()
    mus = torch.tensor([[[0.5, -1.0]]])
    logvars = torch.tensor([[[0.2, -0.3]]])
    X = torch.tensor([[1.0, 2.0, 0.0, -1.0]])
    torch.manual_seed(0)
    terms = net.loss_terms((mus, logvars), None, X)
    torch.manual_seed(0)
    z = mus[:, 0] + torch.randn_like(mus[:, 0]) * torch.exp(0.5 * logvars[:, 0])
    x_hat = net.module_.decode(z)
    expected_mse = ((X - x_hat) ** 2).sum(dim=1)
    expected_kl = 0.5 * (mus[:, 0] ** 2 + logvars[:, 0].exp() - 1 - logvars[:, 0]).sum(dim=1)
    torch.testing.assert_close(terms["mse"], expected_mse)
    torch.testing.assert_close(terms["kl"], expected_kl)
    torch.testing.assert_close(expected_kl, kl_to_standard_normal(mus[:, 0], logvars[:, 0]))
    net.history.new_epoch()
    net.history.new_batch()
    torch.manual_seed(0)
    loss = net.get_loss((mus, logvars), None, X=X, training=True)
    torch.testing.assert_close(loss, (3.0 * expected_mse + 0.5 * expected_kl).mean())
    assert net.history[-1, "batches", -1, "train_kl"] == pytest.approx(expected_kl.item())


def test_kl_weight_pulls_means_to_origin(digits_binary):
    X, _ = digits_binary
    loose = np.abs(_fast(kl_weight=0.0, max_epochs=10).fit(X).transform(X)).mean()
    tight = np.abs(_fast(kl_weight=50.0, max_epochs=10).fit(X).transform(X)).mean()
    assert tight < loose


def test_same_architecture_as_dcsae_with_one_head(digits_binary):
    from skdcsae import DCSAETransformer

    X, y = digits_binary
    vae = _fast().fit(X)
    dcsae = DCSAETransformer(**FAST_CONV, random_state=0).fit(X, y)
    vae_cfg = dict(vae.net_.module_.config, n_heads=None)
    dcsae_cfg = dict(dcsae.net_.module_.config, n_heads=None)
    assert vae_cfg == dcsae_cfg


def test_tabular_data_uses_mlp_and_standard_scaling():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=5.0, scale=3.0, size=(60, 5))
    est = VAETransformer(**FAST_MLP, random_state=0).fit(X)
    assert est.net_.module_.config["kind"] == "mlp"
    assert est.scaling_ == "standard"
    assert est.transform(X).shape == (60, 2)


def test_early_stopping_without_labels(digits_binary):
    X, _ = digits_binary
    est = _fast(early_stopping=True, max_epochs=200, n_iter_no_change=2, lr=0.05).fit(X)
    assert est.n_iter_ < 200
    assert "valid_loss" in est.history_[-1] and "valid_kl" in est.history_[-1]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1.0}, "alpha"),
        ({"kl_weight": -0.1}, "kl_weight"),
        ({"n_components": 0}, "n_components"),
        ({"norm": "layer"}, "norm"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_params(digits_binary, params, match):
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(digits_binary[0])


def test_bad_inputs(digits_binary):
    X, _ = digits_binary
    with pytest.raises(ValueError, match="needs 100 features per sample but X has 64"):
        _fast(image_shape=(10, 10)).fit(X.reshape(len(X), -1))
    with pytest.raises(ValueError, match="0 sample"):
        _fast().fit(np.empty((0, 8, 8)))
    est = _fast().fit(X)
    with pytest.raises(ValueError, match="image shape"):
        est.transform(np.zeros((2, 9, 9)))
