"""Arithmetic encoder checks: equal to the built encoder's state_dict, and hostile configs
refused at once without allocating."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdcsae._nn._modules import MultiHeadEncoder, make_config
from skdcsae._nn._shapes import (
    DEFAULT_ENCODER_LIMITS,
    EncoderLimits,
    check_encoder_config,
    encoder_state_shapes,
)

NORMS = ("batch", "group", "instance", "none")


def built_shapes(config: dict) -> list[tuple[str, tuple[int, ...]]]:
    """What the real builder makes (as the recipient does: ``MultiHeadEncoder(config)``)."""
    return [(k, tuple(v.shape)) for k, v in MultiHeadEncoder(config).state_dict().items()]


conv_configs = st.builds(
    make_config,
    input_shape=st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 20)),
    conv_channels=st.lists(st.integers(1, 9), min_size=1, max_size=5).map(tuple),
    dense_sizes=st.lists(st.integers(1, 12), max_size=3).map(tuple),
    latent_dim=st.integers(1, 5),
    n_heads=st.integers(1, 4),
    norm=st.sampled_from(NORMS),
)
mlp_configs = st.builds(
    make_config,
    input_shape=st.tuples(st.integers(1, 40)),
    conv_channels=st.just(()),
    dense_sizes=st.lists(st.integers(1, 12), max_size=4).map(tuple),
    latent_dim=st.integers(1, 5),
    n_heads=st.integers(1, 4),
    norm=st.sampled_from(NORMS),
)


@settings(max_examples=150, deadline=None)
@given(config=st.one_of(conv_configs, mlp_configs))
def test_shapes_equal_the_built_encoder(config):
    assert list(encoder_state_shapes(config).items()) == built_shapes(config)
    assert check_encoder_config(config) == config


@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_on_a_real_sized_conv_encoder(norm):
    config = make_config(
        input_shape=(1, 28, 28),
        conv_channels=(32, 16, 8),
        dense_sizes=(64,),
        latent_dim=4,
        n_heads=2,
        norm=norm,
    )
    assert list(encoder_state_shapes(config).items()) == built_shapes(config)


def test_returns_a_copy():
    config = make_config(
        input_shape=(5,), conv_channels=(), dense_sizes=(3,), latent_dim=2, n_heads=1, norm="none"
    )
    checked = check_encoder_config(config)
    checked["dense_sizes"].append(7)
    assert config["dense_sizes"] == [3]


def _valid(**changes):
    base = make_config(
        input_shape=(1, 8, 8),
        conv_channels=(4,),
        dense_sizes=(8,),
        latent_dim=2,
        n_heads=2,
        norm="batch",
    )
    return {**base, **changes}


HOSTILE = {
    "million_conv_layers": _valid(conv_channels=[1] * 10**6),
    "million_dense_layers": _valid(dense_sizes=[1] * 10**6),
    "huge_dense": _valid(dense_sizes=[10**12]),
    "wide_dense_stack": _valid(
        kind="mlp", input_shape=[60000], conv_channels=[], dense_sizes=[60000] * 30
    ),
    "huge_image": _valid(input_shape=[3, 10**9, 10**9]),
    "huge_channels": _valid(input_shape=[10**6, 8, 8]),
    "huge_feature_map": _valid(input_shape=[1, 8192, 8192], conv_channels=[64]),
    "huge_mlp_input": _valid(kind="mlp", input_shape=[10**12], conv_channels=[]),
    "huge_latent": _valid(latent_dim=10**9),
    "huge_heads": _valid(n_heads=10**9),
    "params_over_cap": _valid(kind="mlp", input_shape=[2**26], conv_channels=[], dense_sizes=[4]),
    "bool_size": _valid(latent_dim=True),
    "float_size": _valid(latent_dim=2.0),
    "str_size": _valid(n_heads="2"),
    "zero_size": _valid(dense_sizes=[0]),
    "negative_size": _valid(conv_channels=[-4]),
    "nested_list": _valid(dense_sizes=[[8]]),
    "tuple_not_list": _valid(dense_sizes=(8,)),
    "unknown_norm": _valid(norm="layer"),
    "norm_not_str": _valid(norm=["batch"]),
    "unknown_kind": _valid(kind="resnet"),
    "conv_with_flat_input": _valid(input_shape=[64]),
    "mlp_with_image_input": _valid(kind="mlp", input_shape=[1, 8, 8], conv_channels=[]),
    "mlp_with_conv_channels": _valid(kind="mlp", input_shape=[64]),
    "conv_without_channels": _valid(conv_channels=[]),
    "missing_key": {k: v for k, v in _valid().items() if k != "norm"},
    "extra_key": _valid(activation="relu"),
    "not_a_dict": [("kind", "conv")],
}


@pytest.mark.parametrize("config", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_configs_are_refused_quickly_without_allocating(config):
    tracemalloc.start()
    began = time.perf_counter()
    try:
        with pytest.raises(ValueError) as info:
            encoder_state_shapes(config)
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert elapsed < 0.5
    assert peak < 1 << 20, f"{peak} bytes allocated while checking"


def test_limits_are_overridable():
    config = _valid()
    assert check_encoder_config(config, limits=DEFAULT_ENCODER_LIMITS)
    with pytest.raises(ValueError, match="parameters"):
        check_encoder_config(config, limits=EncoderLimits(max_parameters=10))
    with pytest.raises(ValueError, match="conv_channels"):
        check_encoder_config(_valid(conv_channels=[4, 4]), limits=EncoderLimits(max_conv_layers=1))
    with pytest.raises(ValueError, match="positive int"):
        EncoderLimits(max_width=0)
