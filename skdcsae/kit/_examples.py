"""Small, valid donor kits built from random numbers, for examples, tests and fuzzing.

They need no estimator (this package knows nothing of them): encoders with random weights
and feature rows laid out as each release mode lays them out.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._nn._shapes import encoder_state_shapes
from ._container import content_digests
from ._donor_kit import DonorKit, KitMember
from ._io import verify_donor_kit
from ._release import ReleaseSettings
from ._schema import kit_to_content

__all__ = ["example_kit", "seal"]


def _member(rng, config, classes, counts, settings, feature_mode, seed) -> KitMember:
    weights = {
        name: rng.normal(scale=0.1, size=shape).astype(np.float32)
        for name, shape in encoder_state_shapes(config).items()
    }
    for name in weights:
        if name.endswith("num_batches_tracked"):
            weights[name] = np.array(10, dtype=np.int64)
        elif name.endswith("running_var"):
            weights[name] = np.abs(weights[name]) + np.float32(1.0)
    n_classes = len(classes)
    if settings.mode == "per_image":
        rows, sizes, groups = list(counts), [1.0] * sum(counts), None
    elif settings.mode == "prototypes":
        rows, sizes, groups = [1] * n_classes, [float(c) for c in counts], (1,) * n_classes
    else:
        rows = [2 * c if settings.n_synthetic is None else settings.n_synthetic for c in counts]
        sizes, groups = [1.0] * sum(rows), (1,) * n_classes
    width = config["latent_dim"] * (n_classes if feature_mode == "means" else 1)
    label_index = np.repeat(np.arange(n_classes, dtype=np.int64), rows)
    return KitMember(
        encoder_config=config,
        encoder_weights=weights,
        features=rng.normal(size=(len(label_index), width)).astype(np.float32),
        label_index=label_index,
        feature_weights=np.asarray(sizes, dtype=np.float64),
        sampling_seed=seed if feature_mode == "paper" else None,
        hyperparameters={"alpha": 10.0, "conv_channels": [4], "random_state": seed},
        n_groups_per_class=groups,
        n_clipped=None if settings.clip_norm is None else 0,
    )


def example_kit(
    seed: int = 0,
    *,
    image_shape: tuple[int, int, int] | None = None,
    release: str | ReleaseSettings = "synthetic",
    classes=(0, 1),
    n_per_class: int = 10,
    n_members: int = 1,
    feature_mode: str = "means",
) -> DonorKit:
    """A sealed (digested, unsigned) kit of random content.

    Parameters
    ----------
    seed : int, default=0
        Seeds the random weights and features.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` for a conv encoder with batch norm; None for a 64-input MLP encoder.
    release : str or ReleaseSettings, default="synthetic"
        The release the rows are laid out for (one group per class).
    classes : sequence, default=(0, 1)
        Sorted, distinct classes.
    n_per_class : int, default=10
        Donor images per class.
    n_members : int, default=1
        Encoders in the kit.
    feature_mode : {"means", "paper"}, default="means"

    Returns
    -------
    kit : DonorKit

    Examples
    --------
    >>> from skdcsae.kit._examples import example_kit
    >>> kit = example_kit()
    >>> kit.n_donor, kit.features.shape
    (20, (40, 4))
    >>> example_kit(image_shape=(1, 8, 8), release="per_image", n_members=2).n_members
    2
    """
    rng = np.random.default_rng(seed)
    settings = ReleaseSettings.from_release(release)
    if image_shape is None:  # 64 features in 0-16 (digits), standardised per feature
        n_features, input_shape, channels = 64, [64], []
        preprocessing = {
            "scaling": "standard",
            "input_offset": np.zeros(64, dtype=np.float32),
            "input_scale": np.ones(64, dtype=np.float32),
            "input_range": (0.0, 16.0),
        }
    else:  # uint8 images, min-max scaled
        n_features = int(np.prod(image_shape))
        input_shape, channels = [int(s) for s in image_shape], [4]
        preprocessing = {
            "scaling": "minmax",
            "input_offset": np.array(0.0, dtype=np.float32),
            "input_scale": np.array(255.0, dtype=np.float32),
            "input_range": (0.0, 255.0),
        }
    config = {
        "kind": "mlp" if image_shape is None else "conv",
        "input_shape": input_shape,
        "conv_channels": channels,
        "dense_sizes": [8],
        "latent_dim": 2,
        "n_heads": len(classes),
        "norm": "batch",
    }
    counts = [n_per_class] * len(classes)
    members = tuple(
        _member(rng, config, classes, counts, settings, feature_mode, seed + k)
        for k in range(n_members)
    )
    kit = DonorKit(
        members=members,
        classes=np.asarray(list(classes)),
        image_shape=None if image_shape is None else tuple(input_shape),
        n_features_in=n_features,
        **preprocessing,
        feature_mode=feature_mode,
        release=settings,
        n_images_per_class=tuple(counts),
        versions={"skdcsae": "example"},
        created="2026-01-01T00:00:00+00:00",
    )
    return seal(kit)


def seal(kit: DonorKit, *, key=None) -> DonorKit:
    """The kit with the digest (and signature) of its content, as writing it would give.

    Examples
    --------
    >>> import dataclasses
    >>> from skdcsae.kit._examples import example_kit, seal
    >>> kit = example_kit()
    >>> seal(dataclasses.replace(kit, sha256="")) == kit
    True
    """
    sha256, signature = content_digests(*kit_to_content(kit), key=key)
    sealed = dataclasses.replace(kit, sha256=sha256, hmac_sha256=signature)
    return verify_donor_kit(sealed, key=key)
