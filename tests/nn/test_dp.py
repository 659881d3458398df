"""Differentially private training (dp=True): accounting, refusals, clipping, persistence."""

import json
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from skorch.callbacks import Callback

from skdcsae import DCSAETransformer
from skdcsae._nn._modules import MultiHeadVAE

from ..conftest import FAST_CONV, FAST_MLP

pytest.importorskip("opacus")

PRIVACY_KEYS = {
    "mechanism",
    "epsilon",
    "delta",
    "noise_multiplier",
    "max_grad_norm",
    "sample_rate",
    "epochs",
    "steps",
    "accountant",
    "library",
}


def _dp(**kw):
    params = {**FAST_CONV, "max_epochs": 2, "norm": "group", "random_state": 0, "dp": True}
    return DCSAETransformer(**{**params, **kw})


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=2, return_X_y=True)
    return X.reshape(-1, 8, 8), y


@pytest.fixture(scope="module")
def dp_fitted(digits):
    X, y = digits
    return _dp(target_epsilon=2.0).fit(X, y)


def test_target_epsilon_is_met_and_reported(dp_fitted, digits):
    X, _ = digits
    privacy = dp_fitted.privacy_
    assert set(privacy) == PRIVACY_KEYS
    json.dumps(privacy)  # plain builtins only
    assert privacy["mechanism"] == "DP-SGD"
    assert privacy["accountant"] == "rdp"
    assert privacy["library"].startswith("opacus ")
    assert 0 < privacy["epsilon"] <= 2.0 + 1e-9
    assert privacy["epsilon"] > 1.9  # the noise is not wastefully large
    assert privacy["delta"] == pytest.approx(min(1e-5, 1 / (10 * len(X))))
    assert privacy["sample_rate"] == pytest.approx(16 / len(X))
    assert privacy["noise_multiplier"] > 0
    assert privacy["max_grad_norm"] == 1.0
    assert privacy["epochs"] == 2 == dp_fitted.n_iter_
    assert privacy["steps"] == 2 * int(len(X) / 16)
    Z = dp_fitted.transform(X)
    assert Z.shape == (len(X), 4) and np.all(np.isfinite(Z))


def test_fitted_net_holds_the_plain_module_and_optimizer(dp_fitted):
    from opacus.optimizers import DPOptimizer

    net = dp_fitted.net_
    assert type(net.module_) is MultiHeadVAE
    assert not isinstance(net.optimizer_, DPOptimizer)
    keys = list(net.module_.encoder.state_dict())
    assert keys and not any("_module" in k for k in keys)
    for p in net.module_.parameters():
        assert not hasattr(p, "grad_sample") and not hasattr(p, "summed_grad")
    for m in net.module_.modules():
        assert not hasattr(m, "activations")
        assert not m._forward_hooks and not m._backward_hooks


def test_dp_leaves_no_attribute_that_a_plain_fit_lacks(dp_fitted, digits):
    """The guard for the Opacus pin: _dp.py deletes the private attributes Opacus sets while
    it trains, by name. A release that adds another one makes this test fail (whatever its
    name), before a kit or a pickle carries it."""
    X, y = digits
    plain = DCSAETransformer(
        **{**FAST_CONV, "max_epochs": 1, "norm": "group", "random_state": 0}
    ).fit(X, y)

    def attributes(module):
        params = {name: set(vars(p)) for name, p in module.named_parameters()}
        modules = {name: set(vars(m)) for name, m in module.named_modules()}
        return params, modules

    assert attributes(dp_fitted.net_.module_) == attributes(plain.net_.module_)


def test_installed_opacus_is_in_the_supported_range():
    import opacus
    from packaging.requirements import Requirement

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    spec = next(
        Requirement(line.strip().strip('",'))
        for line in pyproject.splitlines()
        if line.strip().startswith('"opacus')
    )
    assert spec.specifier.contains(opacus.__version__), (opacus.__version__, str(spec))


def test_pickle_round_trip(dp_fitted, digits):
    X, _ = digits
    clone = pickle.loads(pickle.dumps(dp_fitted))
    np.testing.assert_array_equal(clone.transform(X), dp_fitted.transform(X))
    assert clone.privacy_ == dp_fitted.privacy_


def test_same_seed_same_output(dp_fitted, digits):
    X, y = digits
    again = _dp(target_epsilon=2.0).fit(X, y)
    np.testing.assert_array_equal(again.transform(X), dp_fitted.transform(X))
    assert again.privacy_ == dp_fitted.privacy_


def test_more_noise_less_epsilon(digits):
    X, y = digits
    X, y = X[:96], y[:96]
    eps = [_dp(noise_multiplier=s, max_epochs=1).fit(X, y).privacy_["epsilon"] for s in (0.7, 1.5)]
    assert all(math.isfinite(e) and e > 0 for e in eps)
    assert eps[1] < eps[0]


def test_noise_multiplier_zero_gives_infinite_epsilon(digits):
    X, y = digits
    est = _dp(noise_multiplier=0.0, max_epochs=1).fit(X[:64], y[:64])
    assert est.privacy_["epsilon"] == math.inf


class _CheckClipping(Callback):
    """After each DP step, p.grad is the clipped sum / expected batch size (no noise here)."""

    def __init__(self, bound):
        self.bound = bound
        self.checked = 0

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        from opacus.optimizers import DPOptimizer

        assert isinstance(net.optimizer_, DPOptimizer)
        grads = [p.grad.detach().ravel() for p in net.module_.parameters() if p.grad is not None]
        total = float(np.linalg.norm(np.concatenate([g.numpy() for g in grads])))
        n = len(batch[0])
        # each of the n per-sample gradients has norm <= bound; the sum is divided by 16
        assert total <= self.bound * n / 16 * (1 + 1e-4) + 1e-9
        self.checked += 1


def test_per_sample_gradients_are_clipped(digits):
    X, y = digits
    check = _CheckClipping(bound=1e-3)
    _dp(noise_multiplier=0.0, max_grad_norm=1e-3, max_epochs=1, callbacks=[check]).fit(
        X[:96], y[:96]
    )
    assert check.checked == 6


def test_empty_poisson_batches_are_noise_only_steps(digits):
    X, y = digits
    # sample rate 1/30: about a third of the 30 steps draw no image at all
    est = _dp(noise_multiplier=1.0, batch_size=1, max_epochs=1).fit(X[:30], y[:30])
    sizes = est.history_[-1, "batches", :, "train_batch_size"]
    assert len(sizes) == 30 and 0 in sizes
    assert est.privacy_["steps"] == 30
    for term in ("train_loss", "train_mse", "train_kl", "train_rep"):
        assert np.isfinite(est.history_[-1, term])
    assert np.all(np.isfinite(est.transform(X[:5])))


def test_tabular_mlp_trains_with_any_norm():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6))
    y = (X[:, 0] > 0).astype(int)
    est = DCSAETransformer(
        **{**FAST_MLP, "max_epochs": 1}, norm="batch", dp=True, noise_multiplier=1.0
    ).fit(X, y)
    assert math.isfinite(est.privacy_["epsilon"])


def test_dp_false_leaves_privacy_none(digits):
    X, y = digits
    est = DCSAETransformer(**{**FAST_CONV, "max_epochs": 1}, random_state=0).fit(X[:64], y[:64])
    assert est.privacy_ is None


@pytest.mark.parametrize(
    "params, match",
    [
        ({"norm": "batch", "target_epsilon": 3.0}, r"norm='group'"),
        ({"early_stopping": True, "target_epsilon": 3.0}, "early_stopping"),
        ({"target_epsilon": 3.0, "noise_multiplier": 1.0}, "exactly one of.*both"),
        ({}, "exactly one of.*neither"),
        ({"target_epsilon": 1e-9}, "cannot be reached"),
        ({"dp": False, "target_epsilon": 3.0}, "dp=False"),
        ({"feature_mode": "paper", "target_epsilon": 3.0}, "feature_mode='paper'"),
    ],
)
def test_refusals(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _dp(**params).fit(X[:40], y[:40])


def test_missing_opacus_says_how_to_install(digits, monkeypatch):
    X, y = digits
    monkeypatch.setitem(sys.modules, "opacus", None)
    with pytest.raises(ImportError, match=r"skdcsae\[privacy\]"):
        _dp(target_epsilon=3.0).fit(X[:40], y[:40])


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("norm", ["group", "none"])
def test_opacus_per_sample_gradients_match_one_sample_backprop(norm):
    """The hooks see every layer of the encoder and of ``decode``: per-sample gradients of the
    mean DC-SAE loss equal each sample's own gradient (GroupNorm mixes no samples)."""
    import torch
    from opacus import GradSampleModule

    from skdcsae._nn._loss import dcsae_loss_terms
    from skdcsae._nn._modules import make_config

    torch.manual_seed(0)
    config = make_config(
        input_shape=(1, 8, 8),
        conv_channels=(8, 4),
        dense_sizes=(16,),
        latent_dim=2,
        n_heads=2,
        norm=norm,
    )
    module = MultiHeadVAE(config)
    X, y = torch.rand(5, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1])

    def loss(X, y):
        mus, logvars = module(X)
        x_hat = module.decode(mus[torch.arange(len(y)), y]).view_as(X)
        terms = dcsae_loss_terms(X, x_hat, mus, logvars, y, rho=5.0)
        return (10 * terms["mse"] + terms["kl"] + 10 * terms["rep"]).mean()

    hooks = GradSampleModule(module, loss_reduction="mean")
    loss(X, y).backward()
    per_sample = {name: p.grad_sample.clone() for name, p in module.named_parameters()}
    hooks.to_standard_module()
    for i in range(len(X)):
        module.zero_grad()
        loss(X[i : i + 1], y[i : i + 1]).backward()
        for name, p in module.named_parameters():
            torch.testing.assert_close(per_sample[name][i], p.grad, rtol=1e-3, atol=1e-3)


# --- the donor kit of a private fit ----------------------------------------------------------
def test_kit_records_the_guarantee_and_withholds_the_seed(dp_fitted, digits, tmp_path):
    from skdcsae import load_donor_kit

    X, y = digits
    path = tmp_path / "kit.joblib"
    dp_fitted.export_donor_kit(path, X[:100], y[:100], release="synthetic")
    kit = load_donor_kit(path)
    assert kit.privacy == dp_fitted.privacy_
    assert kit.privacy["epsilon"] <= 2.0 + 1e-6
    # the seed would regenerate DP-SGD's noise
    assert kit.hyperparameters["random_state"].startswith("<withheld")
    text = kit.summary()
    assert "trained with DP-SGD" in text.splitlines()[2]
    assert f"epsilon={kit.privacy['epsilon']:.3g}" in text
    assert kit.reveals.startswith("synthetic rows only")


def test_cli_donor_with_dp_prints_the_guarantee(digits, tmp_path):
    from ..cli.test_cli import run_cli

    X, y = digits
    npz = tmp_path / "digits.npz"
    np.savez(npz, train_images=(X[:120] * 16).astype(np.uint8), train_labels=y[:120, None])
    kit = tmp_path / "kit.joblib"
    out = run_cli(
        "donor",
        npz,
        "--out",
        kit,
        "--dp",
        "--target-epsilon",
        "4",
        "--epochs",
        "2",
        "--steps",
        "0",
        "--conv-channels",
        "8,4",
        "--dense-sizes",
        "32",
        "--device",
        "cpu",
    )  # fmt: skip  (not --quiet: the guarantee is an information line)
    assert "differentially private per donor image" in out.stdout
    shown = run_cli("inspect", kit).stdout
    assert "trained with DP-SGD" in shown and "norm group" in shown
    refused = run_cli("donor", npz, "--out", tmp_path / "k2.joblib", "--dp", check=False)
    assert refused.returncode == 2 and "--target-epsilon" in refused.stderr


def test_instance_norm_trains_privately(digits):
    X, y = digits
    est = _dp(norm="instance", noise_multiplier=1.0, max_epochs=1).fit(X[:64], y[:64])
    assert 0 < est.privacy_["epsilon"] < math.inf
    assert not dict(est.net_.module_.encoder.named_buffers())
