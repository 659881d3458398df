"""Size and load time of donor kits: format 3 against format 2, in the same run.

Two measurements:

1. **The format-3 container** (``dump_container``/``load_container``) against the trusting
   ways of opening the same bytes (``pickle.loads``, ``safetensors.numpy.load``).
2. **A 1,000-image kit in format 3 and in format 2**: the same content -- the light conv
   encoder (conv (32, 16), dense (256,), batch norm, 28 x 28 inputs, 2 heads x 2), random
   weights, 1,000 per-image feature rows -- written by this checkout's
   :func:`skdcsae.kit.write_donor_kit` and by the format-2 writer of commit ``0118b6b``
   (``git archive 0118b6b skdcsae``, imported in a subprocess with ``PYTHONPATH`` set to it),
   then loaded by each version's ``load_donor_kit`` (best of ``--repeat``).

Run from the repository root::

    python benchmarks/kit_format.py [--repeat 20] [--write]

``--write`` also writes ``benchmarks/results/kit_format.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import safetensors.numpy

from skdcsae._nn._modules import make_config
from skdcsae._nn._shapes import encoder_state_shapes
from skdcsae.kit._container import dump_container, load_container

HERE = Path(__file__).resolve().parent
OLD_COMMIT = "0118b6b"
KEY = b"benchmark key"
N_ROWS = 1000


def light_config() -> dict:
    return make_config(
        input_shape=(1, 28, 28),
        conv_channels=(32, 16),
        dense_sizes=(256,),
        latent_dim=2,
        n_heads=2,
        norm="batch",
    )


def kit_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of a 1,000-image per-image kit of the light net (random numbers)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in encoder_state_shapes(light_config()).items():
        if name.endswith("num_batches_tracked"):
            arrays[f"w/{name}"] = np.array(100, dtype=np.int64)
        elif name.endswith("running_var"):
            arrays[f"w/{name}"] = (rng.random(shape) + 0.5).astype(np.float32)
        else:
            arrays[f"w/{name}"] = rng.normal(size=shape).astype(np.float32)
    arrays["features"] = rng.normal(size=(N_ROWS, 4)).astype(np.float32)
    arrays["labels"] = np.repeat(np.arange(2, dtype=np.int64), N_ROWS // 2)
    return arrays


def best_time(function, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - began)
    return best


def container_timings(repeat: int) -> tuple[dict, dict]:
    arrays = kit_arrays()
    meta = {"encoder_config": light_config(), "classes": [0, 1], "image_shape": [1, 28, 28]}
    raw = sum(a.nbytes for a in arrays.values())
    tensors = {k.replace("w/", "encoder/"): v for k, v in arrays.items()}
    data = dump_container(meta, tensors, key=KEY)
    section = pickle.loads(data)["tensors"]  # our own file: trusted here
    times = {
        "load_container (key)": best_time(lambda: load_container(data, key=KEY), repeat),
        "load_container (no key)": best_time(lambda: load_container(data), repeat),
        "pickle.loads (trusting)": best_time(lambda: pickle.loads(data), repeat),
        "safetensors.numpy.load": best_time(lambda: safetensors.numpy.load(section), repeat),
        "dump_container (key)": best_time(lambda: dump_container(meta, tensors, key=KEY), repeat),
    }
    return {"file_bytes": len(data), "array_bytes": raw}, times


def format3(arrays: dict, folder: Path, repeat: int) -> dict:
    """Write and load the kit with this checkout's format 3."""
    from skdcsae.kit import DonorKit, KitMember, ReleaseSettings, load_donor_kit, write_donor_kit

    weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
    member = KitMember(
        encoder_config=light_config(),
        encoder_weights=weights,
        features=arrays["features"],
        label_index=arrays["labels"],
        feature_weights=np.ones(N_ROWS),
        hyperparameters={"alpha": 10.0, "beta": 10.0, "rho": 5.0, "n_iter": 50},
    )
    kit = DonorKit(
        members=(member,),
        classes=np.array([0, 1]),
        image_shape=(1, 28, 28),
        n_features_in=784,
        scaling="minmax",
        input_offset=np.array(0.0, dtype=np.float32),
        input_scale=np.array(255.0, dtype=np.float32),
        input_range=(0.0, 255.0),
        feature_mode="means",
        release=ReleaseSettings("per_image"),
        n_images_per_class=(N_ROWS // 2, N_ROWS // 2),
        versions={"skdcsae": "benchmark"},
        created="2026-01-01T00:00:00+00:00",
    )
    path = folder / "format3.joblib"
    write = best_time(lambda: write_donor_kit(kit, path, overwrite=True), max(3, repeat // 4))
    load = best_time(lambda: load_donor_kit(path), repeat)
    loaded = load_donor_kit(path)
    assert np.array_equal(loaded.features, arrays["features"])
    return {"file_bytes": path.stat().st_size, "load_s": load, "write_s": write}


# Runs under the format-2 package of commit 0118b6b (PYTHONPATH set to its export).
_OLD = r"""
import json, sys, time
import numpy as np
from skdcsae._kit import DonorKit, _atomic_write, _digest, load_donor_kit
import dataclasses
arrays = dict(np.load(sys.argv[1]))
path, repeat = sys.argv[2], int(sys.argv[3])
weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
kit = DonorKit(
    encoder_config=json.loads(sys.argv[4]), encoder_weights=weights,
    features=arrays["features"], labels=arrays["labels"], classes=np.array([0, 1]),
    image_shape=(1, 28, 28), n_features_in=784, scaling="minmax",
    input_offset=np.array(0.0, dtype=np.float32), input_scale=np.array(255.0, dtype=np.float32),
    input_range=(0.0, 255.0), feature_mode="means", sampling_seed=None,
    hyperparameters={"alpha": 10.0, "beta": 10.0, "rho": 5.0, "n_iter": 50},
    versions={"skdcsae": "benchmark"}, created="2026-01-01T00:00:00+00:00",
    feature_weights=np.ones(len(arrays["features"])), release={"mode": "per_image"},
)
kit = dataclasses.replace(kit, sha256=_digest(kit._content()))
def best(fn, n):
    out = float("inf")
    for _ in range(n):
        t = time.perf_counter(); fn(); out = min(out, time.perf_counter() - t)
    return out
write = best(lambda: _atomic_write(path, kit._payload(), overwrite=True), max(3, repeat // 4))
load = best(lambda: load_donor_kit(path), repeat)
assert np.array_equal(load_donor_kit(path).features, arrays["features"])
import os
print(json.dumps({"file_bytes": os.path.getsize(path), "load_s": load, "write_s": write}))
"""


def format2(arrays: dict, folder: Path, repeat: int) -> dict:
    """Write and load the same kit with the format-2 code of commit 0118b6b."""
    old = folder / "old"
    old.mkdir()
    root = HERE.parent
    archive = subprocess.run(
        ["git", "archive", OLD_COMMIT, "skdcsae"], cwd=root, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    np.savez(folder / "arrays.npz", **arrays)
    env = {**os.environ, "PYTHONPATH": str(old), "OMP_NUM_THREADS": "1"}
    args = [folder / "arrays.npz", folder / "format2.joblib", repeat, json.dumps(light_config())]
    proc = subprocess.run(
        [sys.executable, "-c", _OLD, *map(str, args)],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"format-2 run failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="timing repeats (best is kept)")
    parser.add_argument("--write", action="store_true", help="write results/kit_format.md")
    args = parser.parse_args(argv)

    sizes, times = container_timings(args.repeat)
    arrays = kit_arrays()
    raw = sum(a.nbytes for a in arrays.values())
    with tempfile.TemporaryDirectory() as tmp:
        new = format3(arrays, Path(tmp), args.repeat)
        old = format2(arrays, Path(tmp), args.repeat)
    lines = [
        "# Donor kit file format: size and load time",
        "",
        f"- Command: `python benchmarks/kit_format.py --repeat {args.repeat} --write`",
        f"- Machine: {_cpu()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}, numpy {np.__version__}; best of {args.repeat} loads.",
        f"- Kit: {N_ROWS:,} per-image feature rows (1000 x 4 float32) and the light conv "
        f"encoder (conv (32, 16), dense (256,), batch norm, 28 x 28): {raw:,} bytes of arrays, "
        "random numbers. Format 3 from this checkout; format 2 from commit "
        f"`{OLD_COMMIT}` (`git archive`, imported in a subprocess), same content, same run.",
        "- `load_donor_kit` reads the file and checks everything: format 2 scans the opcodes, "
        "unpickles through the allow-list and builds the encoder on torch's meta device; "
        "format 3 walks its own opcodes, verifies the digest, parses the JSON and safetensors "
        "sections and checks every field by arithmetic (no torch).",
        "",
        "| format | file bytes | file / arrays | load_donor_kit ms | write ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in (("3 (this checkout)", new), (f"2 ({OLD_COMMIT})", old)):
        lines.append(
            f"| {name} | {r['file_bytes']:,} | {r['file_bytes'] / raw:.4f} | "
            f"{r['load_s'] * 1e3:.2f} | {r['write_s'] * 1e3:.2f} |"
        )
    lines += [
        "",
        f"Format 3 / format 2: file size x{new['file_bytes'] / old['file_bytes']:.3f}, "
        f"load time x{new['load_s'] / old['load_s']:.2f}.",
        "",
        "## The format-3 container alone",
        "",
        f"Same arrays in a bare container with a few KB of JSON: {sizes['file_bytes']:,} bytes "
        f"for {sizes['array_bytes']:,} bytes of arrays.",
        "",
        "| operation | ms | x safetensors.numpy.load |",
        "| --- | --- | --- |",
    ]
    reference = times["safetensors.numpy.load"]
    for name, seconds in times.items():
        lines.append(f"| {name} | {seconds * 1e3:.3f} | {seconds / reference:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (HERE / "results" / "kit_format.md").write_text(text)
    return {"format3": new, "format2": old, "container": {**sizes, **times}}


if __name__ == "__main__":
    main()
