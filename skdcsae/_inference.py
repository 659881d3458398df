"""Inference shared by the estimators and the recipient: scaling, batched encoding, features.

Nothing here imports skorch: the recipient side needs only torch, numpy and these functions, so
that donor and recipient preprocess and encode images identically.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "DONOR_OFFSET",
    "POSITIVE_OFFSET",
    "batched_inference",
    "encode_in_batches",
    "head_features",
    "paper_sample",
    "scaled_tensor",
]

INFERENCE_BATCH = 512


def scaled_tensor(X, offset, scale, input_shape) -> torch.Tensor:
    """Scale a 2-d batch as ``(X - offset) / scale`` in float32; reshape to ``input_shape``.

    Returns a CPU tensor. Shared by the transformers and the recipient, so both preprocess
    images identically.
    """
    Xs = (np.asarray(X, dtype=np.float32) - offset) / scale
    return torch.from_numpy(np.ascontiguousarray(Xs)).reshape(-1, *input_shape)


def batched_inference(module, X, to_tensor, device, fn, batch_size: int = INFERENCE_BATCH):
    """``fn(module, batch)`` over ``X`` in batches (eval mode, no autograd).

    ``to_tensor`` turns a slice of rows of ``X`` into the module's input, so only one batch at a
    time is ever converted to float. ``fn`` returns a numpy array or a tuple of them, one row per
    input row; the result has the same structure with ``len(X)`` rows. The outputs are
    preallocated: appending many small per-batch arrays between the large temporary activations
    fragments the heap, and the process's memory then grows with ``len(X)``.
    """
    module.eval()
    n = X.shape[0]
    outputs = None
    with torch.inference_mode():
        # one pass even for zero rows, so that the outputs get their shapes and dtypes
        for start in range(0, max(n, 1), batch_size):
            result = fn(module, to_tensor(X[start : start + batch_size]).to(device))
            parts = result if isinstance(result, tuple) else (result,)
            if outputs is None:
                outputs = tuple(np.empty((n, *p.shape[1:]), dtype=p.dtype) for p in parts)
            for out, part in zip(outputs, parts, strict=True):
                out[start : start + len(part)] = part
    return outputs if isinstance(result, tuple) else outputs[0]


def encode_in_batches(
    module, X, to_tensor, device, batch_size: int = INFERENCE_BATCH
) -> tuple[np.ndarray, np.ndarray]:
    """Every head's means and log-variances, ``(n, n_heads, d)`` each, as float32 arrays."""

    def encode(module, batch):
        mu, logvar = module(batch)
        return mu.cpu().numpy(), logvar.cpu().numpy()

    return batched_inference(module, X, to_tensor, device, encode, batch_size)


# Seed offsets of the paper-mode samples: donor features (true-label head) and transform
# (positive head) draw from independent, reproducible streams.
DONOR_OFFSET = 0
POSITIVE_OFFSET = 1


def paper_sample(seed: int, mu: np.ndarray, logvar: np.ndarray, *, offset: int) -> np.ndarray:
    """Seeded reparameterised samples ``mu + eps * sigma`` (float32), as in Algorithm 1."""
    rng = np.random.default_rng([seed, offset])
    eps = rng.standard_normal(mu.shape, dtype=np.float32)
    return mu + eps * np.exp(0.5 * logvar)


def head_features(mus, logvars, *, feature_mode: str, sampling_seed: int | None) -> np.ndarray:
    """The features ``transform`` returns, from every head's means and log-variances.

    ``"means"``: all heads' means concatenated, ``(n, n_heads * d)``. ``"paper"``: a seeded
    sample from the positive head (head 1), ``(n, d)``, as Algorithm 1 labels recipient images.
    """
    if feature_mode == "paper":
        return paper_sample(sampling_seed, mus[:, 1], logvars[:, 1], offset=POSITIVE_OFFSET)
    return mus.reshape(mus.shape[0], -1)
