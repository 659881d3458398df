"""On-the-fly augmentation of training images: a small random affine and gamma per image.

Label-preserving jitter that radiographs, fundus photographs and CT slices all tolerate:
rotation, shift (a fraction of the image side, so one setting suits 28x28 and 224x224) and
scale, bilinear with border padding, then a random gamma curve on each image's own intensity
range (how two scanners' exposure and windowing differ). No flips: laterality carries meaning
in medical images. Drawn from a seeded :class:`torch.Generator`, so a fit is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "DEFAULT_AUGMENTATION",
    "augment_images",
    "check_augmentation",
    "random_affine",
    "random_gamma",
]

#: Rotation in degrees, shift as a fraction of the side, scale as a relative change, and the
#: log-range of the gamma exponent (0.4: exponents from 0.67 to 1.49).
DEFAULT_AUGMENTATION = {"rotation": 10.0, "shift": 0.07, "scale": 0.05, "gamma": 0.4}
_LIMITS = {"rotation": 180.0, "shift": 0.5, "scale": 0.5, "gamma": 2.0}


def check_augmentation(augment) -> dict[str, float] | None:
    """``True``/``False``/a dict of ``rotation``/``shift``/``scale``/``gamma`` -> settings.

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


def random_gamma(x: torch.Tensor, generator: torch.Generator, strength: float) -> torch.Tensor:
    """Each image of ``x`` (``(n, C, H, W)``) through its own random gamma curve.

    The exponent is ``exp(U(-strength, strength))``, applied to the image's intensities
    rescaled from its own ``[min, max]`` to ``[0, 1]`` and back, so the darkest and brightest
    values stay where they are whatever the input scaling, and the curve bends the values in
    between (a constant image is left as it is).
    """
    n = x.shape[0]
    u = (torch.rand(n, generator=generator) * 2 - 1).to(device=x.device, dtype=x.dtype)
    exponent = torch.exp(u * strength).view(n, 1, 1, 1)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    span = x.amax(dim=(1, 2, 3), keepdim=True) - low
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return low + span * ((x - low) / safe).clamp(0, 1) ** exponent


def augment_images(x: torch.Tensor, generator: torch.Generator, settings: dict) -> torch.Tensor:
    """:func:`random_affine`, then :func:`random_gamma` unless ``settings["gamma"]`` is 0.

    With ``gamma=0`` no number is drawn for it, so the draws (and the fit) are those of the
    affine alone.
    """
    x = random_affine(x, generator, settings)
    if settings.get("gamma"):
        x = random_gamma(x, generator, settings["gamma"])
    return x
