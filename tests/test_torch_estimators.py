"""Behaviour the baselines share with DCSAETransformer: seeding, devices, verbose, persistence."""

import io

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdcsae import (
    AnomalyVAEClassifier,
    AnomalyVAETransformer,
    DCSAETransformer,
    ResNet18Classifier,
    VAETransformer,
)

from .conftest import FAST_CONV, FAST_RESNET

# DCSAETransformer has the same tests in test_dcsae.py.
FACTORIES = {
    "vae": lambda **kw: VAETransformer(**{**FAST_CONV, **kw}),
    "anomaly_vae": lambda **kw: AnomalyVAETransformer(**{**FAST_CONV, **kw}),
    "anomaly_clf": lambda **kw: AnomalyVAEClassifier(AnomalyVAETransformer(**{**FAST_CONV, **kw})),
    "resnet": lambda **kw: ResNet18Classifier(**{**FAST_RESNET, **kw}),
}


def _output(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    if hasattr(est, "decision_function"):
        return est.decision_function(X)
    return est.transform(X)


def _net_of(est):
    return est.vae_.net_ if isinstance(est, AnomalyVAEClassifier) else est.net_


@pytest.fixture(params=list(FACTORIES))
def make(request):
    return FACTORIES[request.param]


def test_same_seed_same_output_different_seed_differs(make, digits_binary):
    X, y = digits_binary
    a = _output(make(random_state=3).fit(X, y), X)
    b = _output(make(random_state=3).fit(X, y), X)
    c = _output(make(random_state=4).fit(X, y), X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_torch_rng_alone(make, digits_binary):
    X, y = digits_binary
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make(random_state=0).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_unknown_and_unavailable_devices(make, digits_binary):
    X, y = digits_binary
    with pytest.raises(ValueError, match="Unknown device 'gpu'"):
        make(device="gpu").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            make(device="cuda").fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_and_predicts_on_cuda(make, digits_binary):
    X, y = digits_binary
    est = make(device="cuda", random_state=0).fit(X, y)
    assert _net_of(est).device == "cuda"
    assert next(_net_of(est).module_.parameters()).is_cuda
    assert np.all(np.isfinite(_output(est, X)))


def test_verbose_prints_table_and_progress(make, digits_binary, capsys):
    X, y = digits_binary
    make(verbose=1, random_state=0).fit(X, y)
    out, err = capsys.readouterr()
    assert "train_loss" in out
    assert err == ""  # the progress bar is drawn on a terminal only (tests/test_progress.py)
    make(verbose=0, random_state=0).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_clone_and_joblib_round_trip(make, digits_binary):
    X, y = digits_binary
    est = make(random_state=0).fit(X, y)
    fresh = clone(est)
    assert fresh.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(fresh))
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    np.testing.assert_array_equal(_output(joblib.load(buf), X), _output(est, X))


def test_history_records_each_epoch(make, digits_binary):
    X, y = digits_binary
    est = make(random_state=0).fit(X, y)
    history = _net_of(est).history
    assert len(history) == 3
    assert np.all(np.isfinite(history[:, "train_loss"]))
    if not isinstance(est, AnomalyVAEClassifier):
        assert est.n_iter_ == 3 and est.history_ is history


def test_float32_uint8_and_image_layouts(make, digits_binary):
    X, y = digits_binary
    X8 = np.round(X * 255 / 16).astype(np.uint8)
    a = _output(make(random_state=0).fit(X8, y), X8)
    b = _output(make(random_state=0).fit(X8.astype(np.float32), y), X8.astype(np.float32))
    c = _output(make(random_state=0).fit(X8[:, None], y), X8[:, None])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "cls", [DCSAETransformer, VAETransformer, AnomalyVAETransformer, ResNet18Classifier]
)
def test_parameters_are_declared_once_as_dataclass_fields(cls):
    """The generated ``__init__`` is the estimator's signature, one argument per field, and the
    dataclass adds neither a repr nor an equality of its own (scikit-learn's stay)."""
    import dataclasses
    import inspect

    fields = dataclasses.fields(cls)
    signature = inspect.signature(cls).parameters
    assert sorted(signature) == sorted(f.name for f in fields)
    assert {n: p.default for n, p in signature.items()} == cls().get_params(deep=False)
    assert repr(cls()) == f"{cls.__name__}()"
    assert repr(cls(random_state=3)) == f"{cls.__name__}(random_state=3)"
    assert cls() != cls()  # identity, as for any scikit-learn estimator
    positional = [n for n, p in signature.items() if p.kind is not p.KEYWORD_ONLY]
    assert positional == (["width"] if cls is ResNet18Classifier else ["n_components"])
