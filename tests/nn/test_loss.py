"""Property tests of the DC-SAE loss terms (hypothesis)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdcsae._nn._loss import dcsae_loss_terms, kl_to_standard_normal, repulsion

finite = st.floats(-10, 10, allow_nan=False, width=32)


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


@given(
    mu=arrays(np.float32, (4, 3), elements=finite),
    logvar=arrays(np.float32, (4, 3), elements=finite),
)
def test_kl_is_non_negative(mu, logvar):
    kl = kl_to_standard_normal(_t(mu), _t(logvar))
    assert kl.shape == (4,)
    assert torch.all(kl >= -1e-5)


@given(n=st.integers(1, 5), d=st.integers(1, 4))
def test_kl_is_zero_exactly_at_standard_normal(n, d):
    kl = kl_to_standard_normal(torch.zeros(n, d), torch.zeros(n, d))
    assert torch.equal(kl, torch.zeros(n))


@given(mu=arrays(np.float32, (2,), elements=finite), shift=st.floats(0.01, 5))
def test_kl_positive_away_from_standard_normal(mu, shift):
    mu = _t(mu)
    kl = kl_to_standard_normal(mu + shift, torch.zeros(2))
    assert kl > 0


@given(
    rho=st.floats(0.1, 20),
    direction=arrays(np.float32, (3,), elements=finite),
    extra=st.floats(0.0, 10.0),
)
def test_repulsion_zero_once_rho_apart(rho, direction, extra):
    direction = _t(direction)
    norm = torch.linalg.norm(direction)
    if norm < 1e-3:
        direction, norm = torch.tensor([1.0, 0.0, 0.0]), torch.tensor(1.0)
    # squared distance = rho + extra >= rho
    offset = direction / norm * float(np.sqrt(rho + extra))
    value = repulsion(torch.zeros(3), offset, rho)
    assert value.item() <= 1e-4 * rho


@given(rho=st.floats(0.5, 20), frac=st.floats(0.0, 0.95))
def test_repulsion_positive_below_rho(rho, frac):
    # squared distance = frac * rho < rho
    other = torch.tensor([float(np.sqrt(frac * rho)), 0.0])
    value = repulsion(torch.zeros(2), other, rho)
    assert value.item() > 0
    expected = (rho - frac * rho) ** 2 / rho
    assert np.isclose(value.item(), expected, rtol=1e-4, atol=1e-6)


@settings(max_examples=50)
@given(
    k=st.integers(2, 4),
    d=st.integers(1, 3),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    scale=st.floats(0.0, 100.0),
    rho=st.floats(0.1, 10),
)
def test_total_loss_finite_and_gradients_reach_every_head(k, d, n, seed, scale, rho):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 5, generator=g) * scale
    x_hat = torch.rand(n, 5, generator=g)
    mus = (torch.randn(n, k, d, generator=g) * 0.01).requires_grad_()
    logvars = (torch.randn(n, k, d, generator=g) * 0.1).requires_grad_()
    y = torch.randint(0, k, (n,), generator=g)
    terms = dcsae_loss_terms(x, x_hat, mus, logvars, y, rho=rho)
    total = (terms["kl"] + 10 * terms["mse"] + 10 * terms["rep"]).mean()
    assert torch.isfinite(total)
    total.backward()
    assert torch.all(torch.isfinite(mus.grad))
    # The true head gets a gradient from the repulsion (heads start closer than rho);
    # every wrong head from the KL and the repulsion.
    for i in range(n):
        for head in range(k):
            assert mus.grad[i, head].abs().sum() > 0, (i, head, y[i])


def test_terms_match_hand_computation():
    mus = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # true head 0 at (1, 0), wrong head at 0
    logvars = torch.zeros(1, 2, 2)
    y = torch.tensor([0])
    x = torch.ones(1, 3)
    x_hat = torch.zeros(1, 3)
    terms = dcsae_loss_terms(x, x_hat, mus, logvars, y, rho=5.0)
    assert terms["mse"].item() == 3.0
    assert terms["kl"].item() == 0.0  # wrong head is exactly N(0, I)
    assert np.isclose(terms["rep"].item(), (5.0 - 1.0) ** 2 / 5.0)
