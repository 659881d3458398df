"""Size and load time of a format-3 donor-kit container.

The container holds what a typical kit holds: a 1,000-row float32 feature table (1000 x 4),
its int64 labels, and the weights of a conv encoder of about 1 MB (float32, with batch-norm
buffers), plus a few KB of JSON metadata. It prints the file size against the raw array
bytes, and the time of :func:`load_container` (with and without an HMAC key) against the
trusting ways of opening the same bytes: ``pickle.loads`` of the outer dict, and
``safetensors.numpy.load`` of the tensor section alone.

Run from the repository root::

    python benchmarks/kit_format.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import safetensors.numpy

from skdcsae._network import make_config
from skdcsae._network_shapes import encoder_state_shapes
from skdcsae.kit._container import dump_container, load_container

KEY = b"benchmark key"


def example_content(n_rows: int = 1000, seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    """Metadata and arrays shaped like a real kit (about 1 MB of encoder weights)."""
    rng = np.random.default_rng(seed)
    config = make_config(
        input_shape=(1, 28, 28),
        conv_channels=(32, 64),
        dense_sizes=(80,),
        latent_dim=2,
        n_heads=2,
        norm="batch",
    )
    tensors = {}
    for name, shape in encoder_state_shapes(config).items():
        if name.endswith("num_batches_tracked"):
            tensors[f"encoder/{name}"] = np.array(100, dtype=np.int64)
        else:
            tensors[f"encoder/{name}"] = rng.normal(size=shape).astype(np.float32)
    tensors["features"] = rng.normal(size=(n_rows, 4)).astype(np.float32)
    tensors["labels"] = rng.integers(0, 2, n_rows).astype(np.int64)
    meta = {
        "encoder_config": config,
        "classes": [0, 1],
        "image_shape": [1, 28, 28],
        "preprocessing": {"scaling": "minmax", "input_range": [0.0, 255.0]},
        "versions": {"skdcsae": "0.1.0.dev0", "numpy": np.__version__},
        "created": "2026-01-01T00:00:00Z",
    }
    return meta, tensors


def best_time(function, repeat: int) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - began)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="timing repeats (best is kept)")
    args = parser.parse_args(argv)

    meta, tensors = example_content()
    raw = sum(a.nbytes for a in tensors.values())
    data = dump_container(meta, tensors, key=KEY)
    section = pickle.loads(data)["tensors"]  # our own file: trusted here
    times = {
        "load_container (key)": best_time(lambda: load_container(data, key=KEY), args.repeat),
        "load_container (no key)": best_time(lambda: load_container(data), args.repeat),
        "pickle.loads (trusting)": best_time(lambda: pickle.loads(data), args.repeat),
        "safetensors.numpy.load": best_time(lambda: safetensors.numpy.load(section), args.repeat),
        "dump_container (key)": best_time(
            lambda: dump_container(meta, tensors, key=KEY), args.repeat
        ),
    }
    print(
        f"arrays: {len(tensors)} ({raw:,} bytes); file: {len(data):,} bytes; "
        f"size ratio file/arrays: {len(data) / raw:.4f}"
    )
    reference = times["safetensors.numpy.load"]
    for name, seconds in times.items():
        print(
            f"{name:26s} {seconds * 1e3:8.3f} ms   x{seconds / reference:6.2f} "
            "of safetensors.numpy.load"
        )
    return {"file_bytes": len(data), "array_bytes": raw, **times}


if __name__ == "__main__":
    main()
