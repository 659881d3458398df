"""On-the-fly augmentation of training images: a small random affine per image and step.

Label-preserving geometric jitter that radiographs, fundus photographs and CT slices all
tolerate: rotation, shift (a fraction of the image side, so one setting suits 28x28 and
224x224) and scale, bilinear with border padding. No flips: laterality carries meaning in
medical images. Drawn from a seeded :class:`torch.Generator`, so a fit is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = ["DEFAULT_AUGMENTATION", "check_augmentation", "random_affine"]

#: Rotation in degrees, shift as a fraction of the side, scale as a relative change.
DEFAULT_AUGMENTATION = {"rotation": 10.0, "shift": 0.07, "scale": 0.05}
_LIMITS = {"rotation": 180.0, "shift": 0.5, "scale": 0.5}


def check_augmentation(augment) -> dict[str, float] | None:
    """``True``/``False``/a dict of ``rotation``/``shift``/``scale`` -> settings or None.

    Raises
    ------
    ValueError
        For an unknown key or a value outside its range.
    """
    if augment is False or augment is None:
        return None
    if augment is True:
        return dict(DEFAULT_AUGMENTATION)
    unknown = set(augment) - set(DEFAULT_AUGMENTATION)
    if unknown:
        raise ValueError(
            f"augment has unknown keys {sorted(unknown)}; allowed: {sorted(DEFAULT_AUGMENTATION)}."
        )
    settings = {**DEFAULT_AUGMENTATION, **{k: float(v) for k, v in augment.items()}}
    for key, value in settings.items():
        if not 0.0 <= value <= _LIMITS[key]:
            raise ValueError(f"augment[{key!r}] must be in [0, {_LIMITS[key]:g}], got {value!r}.")
    return settings


def random_affine(x: torch.Tensor, generator: torch.Generator, settings: dict) -> torch.Tensor:
    """A random affine per image of ``x`` (``(n, C, H, W)``), on ``x``'s device.

    Rotation ``U(-r, r)`` degrees, scale ``U(1 - s, 1 + s)``, shift ``U(-t, t)`` times the side
    on each axis. The random numbers come from ``generator`` (on the CPU), so the draw does not
    depend on the device.
    """
    n = x.shape[0]
    u = (torch.rand(n, 4, generator=generator) * 2 - 1).to(device=x.device, dtype=x.dtype)
    angle = u[:, 0] * math.radians(settings["rotation"])
    inverse_scale = 1.0 / (1.0 + u[:, 1] * settings["scale"])
    shift = u[:, 2:] * settings["shift"] * 2.0  # normalised coordinates span 2 per side
    cos, sin = torch.cos(angle) * inverse_scale, torch.sin(angle) * inverse_scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
