"""Architecture checks by arithmetic: an untrusted encoder config is checked, never built.

:func:`check_encoder_config` validates the plain-data config of
:class:`skdcsae._nn.MultiHeadEncoder` (see :func:`skdcsae._nn.make_config`) against
:class:`EncoderLimits`: the exact key set, the types (``bool`` is not an ``int``), the value
ranges, the list lengths -- checked *before* any element is looked at, so
``conv_channels=[1] * 10**6`` is refused in constant time -- the input size, every feature map
and the total parameter count. :func:`encoder_state_shapes` then lists every ``state_dict``
entry's name and shape from the same arithmetic as the builder, so weights can be matched to
the architecture without constructing a single layer. This module imports no torch.

The encoder's layout (mirrored from :mod:`skdcsae._nn._modules`): ``body`` is an
``nn.Sequential``; a conv encoder has, per stage ``i``, ``Conv2d(3x3)`` at ``4i`` (with a bias
only when ``norm="none"``), the norm at ``4i+1`` (``batch``: weight, bias, running mean and
variance, ``num_batches_tracked``; ``group`` and ``instance``: weight and bias; ``none``:
nothing), an activation and a pool, then ``Flatten``; each dense layer is a ``Linear`` at the
next even offset, followed by an activation; ``heads`` is one ``Linear`` with
``n_heads * 2 * latent_dim`` outputs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_ENCODER_LIMITS",
    "EncoderLimits",
    "check_encoder_config",
    "encoder_state_shapes",
]

CONFIG_KEYS = (
    "kind",
    "input_shape",
    "conv_channels",
    "dense_sizes",
    "latent_dim",
    "n_heads",
    "norm",
)
NORMS = ("batch", "group", "instance", "none")


@dataclass(frozen=True)
class EncoderLimits:
    """Upper bounds on an encoder described by an untrusted config.

    Parameters
    ----------
    max_conv_layers : int, default=32
        Most conv stages.
    max_dense_layers : int, default=32
        Most hidden dense layers.
    max_width : int, default=65536
        Most channels of a conv stage or units of a dense layer (input channels included).
    max_latent_dim : int, default=4096
        Largest latent dimension per head.
    max_heads : int, default=4096
        Most heads (one per class).
    max_input_values : int, default=2**26
        Most values per sample (``C * H * W`` or ``n_features``): 64 Mi, e.g. a 3 x 4096 x
        4096 image.
    max_feature_map_values : int, default=2**26
        Most values of one conv stage's output per sample, which bounds the activations.
    max_parameters : int, default=2**27
        Most entries in the whole ``state_dict`` (512 MiB as float32; a ResNet-18 has 11 Mi).
    """

    max_conv_layers: int = 32
    max_dense_layers: int = 32
    max_width: int = 65536
    max_latent_dim: int = 4096
    max_heads: int = 4096
    max_input_values: int = 2**26
    max_feature_map_values: int = 2**26
    max_parameters: int = 2**27

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if type(value) is not int or value < 1:
                raise ValueError(
                    f"EncoderLimits.{item.name} must be a positive int, got {value!r}."
                )


DEFAULT_ENCODER_LIMITS = EncoderLimits()


def _fail(message: str):
    raise ValueError(f"invalid encoder config: {message}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int(value: Any, name: str, high: int) -> int:
    if type(value) is not int or not 1 <= value <= high:
        _fail(f"{name} must be an int in [1, {high}], got {_short(value)}")
    return value


def _int_list(value: Any, name: str, low_len: int, high_len: int, high: int) -> list[int]:
    if type(value) is not list:
        _fail(f"{name} must be a list, got {type(value).__name__}")
    if not low_len <= len(value) <= high_len:  # before looking at any element
        _fail(f"{name} must have {low_len} to {high_len} entries, got {len(value)}")
    return [_int(v, f"{name} entries", high) for v in value]


def _pooled(side: int) -> int:
    """A side's length after one stage's pool (halved while at least 2 pixels)."""
    return side // 2 if side >= 2 else side


def _norm_shapes(prefix: str, norm: str, c: int) -> dict[str, tuple[int, ...]]:
    if norm == "batch":
        return {
            f"{prefix}.weight": (c,),
            f"{prefix}.bias": (c,),
            f"{prefix}.running_mean": (c,),
            f"{prefix}.running_var": (c,),
            f"{prefix}.num_batches_tracked": (),
        }
    if norm in ("group", "instance"):
        return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,)}
    return {}


def _state_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state_dict layout of a config already checked by :func:`check_encoder_config`."""
    shapes: dict[str, tuple[int, ...]] = {}
    index = 0
    if config["kind"] == "conv":
        c, h, w = config["input_shape"]
        for c_out in config["conv_channels"]:
            shapes[f"body.{index}.weight"] = (c_out, c, 3, 3)
            if config["norm"] == "none":
                shapes[f"body.{index}.bias"] = (c_out,)
            shapes.update(_norm_shapes(f"body.{index + 1}", config["norm"], c_out))
            c, h, w = c_out, _pooled(h), _pooled(w)
            index += 4  # conv, norm, activation, pool
        flat = c * h * w
        index += 1  # Flatten
    else:
        flat = config["input_shape"][0]
    for size in config["dense_sizes"]:
        shapes[f"body.{index}.weight"] = (size, flat)
        shapes[f"body.{index}.bias"] = (size,)
        flat = size
        index += 2  # Linear, activation
    out = config["n_heads"] * 2 * config["latent_dim"]
    shapes["heads.weight"] = (out, flat)
    shapes["heads.bias"] = (out,)
    return shapes


def check_encoder_config(
    config: Any, *, limits: EncoderLimits = DEFAULT_ENCODER_LIMITS
) -> dict[str, Any]:
    """Validate an untrusted encoder config by arithmetic, building nothing.

    Parameters
    ----------
    config : object
        Supposedly a dict with exactly the keys ``kind`` (``"conv"`` or ``"mlp"``),
        ``input_shape`` (``[C, H, W]`` or ``[n_features]``), ``conv_channels`` (at least one
        for conv, empty for mlp), ``dense_sizes``, ``latent_dim``, ``n_heads`` and ``norm``
        (``"batch"``, ``"group"``, ``"instance"`` or ``"none"``), all sizes ``int >= 1``.
    limits : EncoderLimits, default=DEFAULT_ENCODER_LIMITS
        Bounds on layer counts, widths, input and feature-map sizes and parameters.

    Returns
    -------
    config : dict
        A fresh copy, keys in the order of :func:`skdcsae._nn.make_config`.

    Raises
    ------
    ValueError
        With one line naming the first key, type, range or limit that fails.
    """
    if type(config) is not dict:
        _fail(f"expected a dict, got {type(config).__name__}")
    if len(config) != len(CONFIG_KEYS) or set(config) != set(CONFIG_KEYS):
        _fail(f"the keys must be exactly {list(CONFIG_KEYS)}")
    kind, norm = config["kind"], config["norm"]
    if type(kind) is not str or kind not in ("conv", "mlp"):
        _fail(f"kind must be 'conv' or 'mlp', got {_short(kind)}")
    if type(norm) is not str or norm not in NORMS:
        _fail(f"norm must be one of {list(NORMS)}, got {_short(norm)}")
    conv = kind == "conv"
    n_dims = 3 if conv else 1
    shape = _int_list(config["input_shape"], "input_shape", n_dims, n_dims, limits.max_input_values)
    values = 1
    for side in shape:
        values *= side
    if values > limits.max_input_values:
        _fail(f"input_shape {shape} has more than {limits.max_input_values} values")
    channels = _int_list(
        config["conv_channels"],
        "conv_channels",
        int(conv),
        limits.max_conv_layers if conv else 0,
        limits.max_width,
    )
    dense = _int_list(
        config["dense_sizes"], "dense_sizes", 0, limits.max_dense_layers, limits.max_width
    )
    checked = {
        "kind": kind,
        "input_shape": shape,
        "conv_channels": channels,
        "dense_sizes": dense,
        "latent_dim": _int(config["latent_dim"], "latent_dim", limits.max_latent_dim),
        "n_heads": _int(config["n_heads"], "n_heads", limits.max_heads),
        "norm": norm,
    }
    if conv:
        if shape[0] > limits.max_width:
            _fail(f"input_shape has {shape[0]} channels (limit {limits.max_width})")
        h, w = shape[1], shape[2]
        for c_out in channels:
            if c_out * h * w > limits.max_feature_map_values:
                _fail(
                    f"a conv stage outputs {c_out}x{h}x{w} values per sample "
                    f"(limit {limits.max_feature_map_values})"
                )
            h, w = _pooled(h), _pooled(w)
    total = 0
    for name, dims in _state_shapes(checked).items():
        size = 1
        for d in dims:
            size *= d
        total += size
        if total > limits.max_parameters:
            _fail(f"more than {limits.max_parameters} parameters (at {name})")
    return checked


def encoder_state_shapes(
    config: Any, *, limits: EncoderLimits = DEFAULT_ENCODER_LIMITS
) -> dict[str, tuple[int, ...]]:
    """Every ``state_dict`` entry of the encoder a config describes, by arithmetic.

    Parameters
    ----------
    config : object
        An untrusted encoder config; checked first with :func:`check_encoder_config`.
    limits : EncoderLimits, default=DEFAULT_ENCODER_LIMITS
        Passed to :func:`check_encoder_config`.

    Returns
    -------
    shapes : dict of str to tuple of int
        ``{name: shape}`` in ``state_dict`` order, equal to
        ``{k: tuple(v.shape) for k, v in MultiHeadEncoder(config).state_dict().items()}``.

    Raises
    ------
    ValueError
        If the config fails :func:`check_encoder_config`.
    """
    return _state_shapes(check_encoder_config(config, limits=limits))
