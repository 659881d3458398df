"""PyTorch networks: conv and MLP encoders/decoders with one Gaussian latent head per class.

Every network is described by a plain-data ``config`` dict (strings, ints and lists only) so
that an encoder can be rebuilt from a donor kit without unpickling any code:

``{"kind": "conv" | "mlp", "input_shape": [C, H, W] | [n_features], "conv_channels": [...],
"dense_sizes": [...], "latent_dim": d, "n_heads": K,
"norm": "batch" | "group" | "instance" | "none"}``

The decoder sees only the latent sample: it upsamples to the encoder's recorded feature-map
sizes (nearest neighbour) and never receives max-pool indices, so no information skips the
bottleneck.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

__all__ = [
    "MultiHeadEncoder",
    "MultiHeadVAE",
    "auto_architecture",
    "conv_stage_sizes",
    "make_config",
]

_LEAK = 0.1
_LOGVAR_CLAMP = 30.0


def make_config(
    *,
    input_shape: tuple[int, ...],
    conv_channels: tuple[int, ...],
    dense_sizes: tuple[int, ...],
    latent_dim: int,
    n_heads: int,
    norm: str,
) -> dict[str, Any]:
    """Plain-data description of a network (see the module docstring)."""
    kind = "conv" if len(input_shape) == 3 else "mlp"
    return {
        "kind": kind,
        "input_shape": [int(s) for s in input_shape],
        "conv_channels": [int(c) for c in conv_channels] if kind == "conv" else [],
        "dense_sizes": [int(s) for s in dense_sizes],
        "latent_dim": int(latent_dim),
        "n_heads": int(n_heads),
        "norm": str(norm),
    }


def auto_architecture(input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(conv_channels, dense_sizes)`` that suit the input: the ``"auto"`` architecture.

    Images get as many conv stages as halve the shorter side down to about 7 pixels
    (``round(log2(min(H, W) / 7))``, at least one): 2 for 28x28, 3 for 64x64, 5 for 224x224.
    Channels double from 32 per stage (at most 128) and the last stage has 16, so the dense
    layer (256 units) sees about ``16 * 7 * 7`` values whatever the image size. For 28x28 this
    is the light net ``(32, 16), (256,)``. Tabular data gets one dense layer of 256 units.
    """
    if len(input_shape) != 3:
        return (), (256,)
    side = min(input_shape[1], input_shape[2])
    n_stages = max(1, round(math.log2(max(side, 1) / 7)))
    channels = (*(min(32 * 2**i, 128) for i in range(n_stages - 1)), 16)
    return channels, (256,)


def auto_latent_dim(n_per_class: int) -> int:
    """Latent dimensions per head for the smallest class's image count: the ``"auto"`` width.

    One dimension per five images of the smallest class, at least 8 and at most 16: 8 up to 44
    images per class, 16 from 80. A head's dimensions are what its class's images must pin
    down, so a donor with few images gets a narrow latent and a larger donor a wider one.
    """
    return int(min(16, max(8, n_per_class // 5)))


def conv_stage_sizes(height: int, width: int, n_stages: int) -> list[tuple[int, int]]:
    """Feature-map size at the input of each conv stage, plus the final size.

    Each stage max-pools by 2 while the map is at least 2 pixels on that side.
    """
    sizes = [(height, width)]
    for _ in range(n_stages):
        h, w = sizes[-1]
        sizes.append((h // 2 if h >= 2 else h, w // 2 if w >= 2 else w))
    return sizes


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    if kind == "instance":
        # one group per channel: each image's channel normalised over its own pixels, with a
        # learned scale and shift; no running statistics (unlike InstanceNorm2d's option)
        return nn.GroupNorm(channels, channels)
    return nn.Identity()


def _conv_block(c_in: int, c_out: int, norm: str) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=norm == "none"),
        _norm2d(norm, c_out),
        nn.LeakyReLU(_LEAK),
    ]


def _dense_stack(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.LeakyReLU(_LEAK)]
    return layers


class _Pool(nn.Module):
    """2x2 max-pool on the sides that are at least 2 pixels long."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        kernel = (2 if h >= 2 else 1, 2 if w >= 2 else 1)
        return nn.functional.max_pool2d(x, kernel_size=kernel)


class MultiHeadEncoder(nn.Module):
    """Encoder body plus ``n_heads`` Gaussian heads of ``latent_dim`` dimensions each.

    ``forward(x)`` returns ``(mus, logvars)``, each of shape ``(n, n_heads, latent_dim)``.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = dict(config)
        layers: list[nn.Module] = []
        if config["kind"] == "conv":
            c, h, w = config["input_shape"]
            channels = [c, *config["conv_channels"]]
            sizes = conv_stage_sizes(h, w, len(config["conv_channels"]))
            for i in range(len(config["conv_channels"])):
                layers += _conv_block(channels[i], channels[i + 1], config["norm"])
                layers.append(_Pool())
            layers.append(nn.Flatten())
            flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        else:
            flat = config["input_shape"][0]
        dense = [flat, *config["dense_sizes"]]
        layers += _dense_stack(dense)
        self.body = nn.Sequential(*layers)
        self.heads = nn.Linear(dense[-1], config["n_heads"] * 2 * config["latent_dim"])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, d = self.config["n_heads"], self.config["latent_dim"]
        params = self.heads(self.body(x)).view(-1, k, 2, d)
        mus = params[:, :, 0, :]
        logvars = params[:, :, 1, :].clamp(-_LOGVAR_CLAMP, _LOGVAR_CLAMP)
        return mus, logvars


class _Decoder(nn.Module):
    """Mirror of the encoder that maps one latent sample back to input space."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.kind = config["kind"]
        dense = [config["latent_dim"], *reversed(config["dense_sizes"])]
        layers = _dense_stack(dense)
        if self.kind == "conv":
            c, h, w = config["input_shape"]
            conv = config["conv_channels"]
            sizes = conv_stage_sizes(h, w, len(conv))
            self.map_shape = (conv[-1], *sizes[-1])
            layers += [nn.Linear(dense[-1], math.prod(self.map_shape)), nn.LeakyReLU(_LEAK)]
            self.dense = nn.Sequential(*layers)
            up: list[nn.Module] = []
            outs = [c, *conv[:-1]]
            for i in reversed(range(len(conv))):
                up.append(nn.Upsample(size=sizes[i], mode="nearest"))
                if i == 0:
                    up.append(nn.Conv2d(conv[0], c, kernel_size=3, padding=1))
                else:
                    up += _conv_block(conv[i], outs[i], config["norm"])
            self.up = nn.Sequential(*up)
        else:
            layers.append(nn.Linear(dense[-1], config["input_shape"][0]))
            self.dense = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.dense(z)
        if self.kind == "conv":
            out = self.up(out.view(-1, *self.map_shape))
        return out


class MultiHeadVAE(nn.Module):
    """Encoder with one Gaussian head per class, plus a decoder that sees only the latent.

    ``n_heads=1`` is a standard VAE. ``forward(x)`` returns ``(mus, logvars)``;
    ``decode(z)`` maps latent samples of shape ``(n, latent_dim)`` to input space.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = dict(config)
        self.encoder = MultiHeadEncoder(config)
        self.decoder = _Decoder(config)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
