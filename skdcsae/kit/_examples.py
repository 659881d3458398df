"""A tiny, valid donor kit built from random numbers, for examples and tests.

It needs no estimator (this package knows nothing of them): an MLP encoder of 64 inputs with
random weights, and the synthetic release of 10 images per class.
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

__all__ = ["example_kit"]


def example_kit(seed: int = 0) -> DonorKit:
    """A sealed (digested, unsigned) two-class kit with one member of 40 synthetic rows.

    Examples
    --------
    >>> from skdcsae.kit._examples import example_kit
    >>> example_kit().n_donor
    20
    """
    rng = np.random.default_rng(seed)
    config = {
        "kind": "mlp",
        "input_shape": [64],
        "conv_channels": [],
        "dense_sizes": [16],
        "latent_dim": 2,
        "n_heads": 2,
        "norm": "batch",
    }
    weights = {
        name: rng.normal(scale=0.1, size=shape).astype(np.float32)
        for name, shape in encoder_state_shapes(config).items()
    }
    member = KitMember(
        encoder_config=config,
        encoder_weights=weights,
        features=rng.normal(size=(40, 4)).astype(np.float32),
        label_index=np.repeat(np.arange(2, dtype=np.int64), 20),
        feature_weights=np.ones(40),
        hyperparameters={"alpha": 10.0, "n_components": 2, "random_state": seed},
        n_groups_per_class=(1, 1),
    )
    kit = DonorKit(
        members=(member,),
        classes=np.array([0, 1]),
        image_shape=None,
        n_features_in=64,
        scaling="standard",
        input_offset=np.zeros(64, dtype=np.float32),
        input_scale=np.ones(64, dtype=np.float32),
        input_range=(0.0, 16.0),
        feature_mode="means",
        release=ReleaseSettings("synthetic"),
        n_images_per_class=(10, 10),
        versions={"skdcsae": "example"},
        created="2026-01-01T00:00:00+00:00",
    )
    return seal(kit)


def seal(kit: DonorKit, *, key=None) -> DonorKit:
    """The kit with the digest (and signature) of its content, as writing it would give."""
    sha256, signature = content_digests(*kit_to_content(kit), key=key)
    sealed = dataclasses.replace(kit, sha256=sha256, hmac_sha256=signature)
    return verify_donor_kit(sealed, key=key)
