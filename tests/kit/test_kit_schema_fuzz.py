"""The schema fuzzer: valid containers whose meaning is mutated at random.

It mutates valid (meta, tensors) -- meta values and keys, tensor shapes, dtypes and values --
and re-dumps them with :func:`dump_container`, so that the container is valid and only the
content is hostile. Every case must either load to a kit that re-encodes to exactly the same
bytes (and whose arrays pass the checks), or raise :class:`DonorKitError`; never anything
else. The cases run in a child process that imports the kit package alone (no torch), with
its address space capped at its size after imports plus 1 GiB and its time capped; the
hand-written corpus of ``test_kit_schema`` runs there too.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skdcsae.kit._container import DEFAULT_LIMITS, dump_container
from skdcsae.kit._errors import DonorKitError
from skdcsae.kit._io import _decode
from skdcsae.kit._schema import kit_to_content

from .test_kit_schema import _load, bases, hostile_cases

ROOT = Path(__file__).resolve().parents[2]
MEMORY_HEADROOM = 1 << 30


INTERESTING = [
    None, True, False, 0, 1, -1, 2, 3, 7, 10, 64, 4096, 4097, 2**31, 2**63, 10**19, -(2**63) - 1,
    0.0, -0.0, 0.5, 1.0, 1e-300, 1e300, "", "x", "means", "paper", "per_image", "prototypes",
    "synthetic", "conv", "mlp", "batch", "none", "\x1b[2J", "a" * 300, [], {}, [0], [1, 2],
    [1, 8, 8], [3, 4096, 4096], [0, 1], ["a", "b"], [[1, 1, 1]], {"a": 1},
]  # fmt: skip
DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint64", "bool"]


def _paths(obj, prefix=()):
    """Every (container, key) location in a JSON tree."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield obj, k
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            yield obj, i
            yield from _paths(v, (*prefix, i))


def _mutate_meta(rng: random.Random, meta: dict) -> str:
    spots = list(_paths(meta))
    holder, key = rng.choice(spots)
    kind = rng.randrange(7)
    if kind == 0:
        holder[key] = copy.deepcopy(rng.choice(INTERESTING))
        return f"meta[{key!r}] = interesting"
    if kind == 1 and isinstance(holder, dict):
        del holder[key]
        return f"del meta[{key!r}]"
    if kind == 2 and isinstance(holder, dict):
        holder[rng.choice(["extra", "decoder", str(key) + "_"])] = rng.choice(INTERESTING)
        return "meta key added"
    if kind == 3 and isinstance(holder, list):
        holder.insert(rng.randrange(len(holder) + 1), copy.deepcopy(holder[key]))
        return f"list item {key} duplicated"
    if kind == 4 and isinstance(holder, list):
        del holder[key]
        return f"list item {key} removed"
    if kind == 5:
        other, okey = rng.choice(spots)
        holder[key] = copy.deepcopy(other[okey])
        return f"meta[{key!r}] = meta[{okey!r}]"
    value = holder[key]
    if type(value) is int:
        holder[key] = value + rng.choice([-1, 1, 2**31, -value - 1, value * 1000])
    elif type(value) is float:
        holder[key] = rng.choice([-value, value * 1e6, float(int(value)), int(value)])
    elif type(value) is str:
        holder[key] = value[: rng.randrange(len(value) + 1)] + rng.choice(["", "\x00", "é"])
    else:
        holder[key] = None
    return f"meta[{key!r}] nudged"


def _mutate_tensor(rng: random.Random, nprng, tensors: dict) -> str:
    name = rng.choice(sorted(tensors))
    a = tensors[name]
    kind = rng.randrange(7)
    if kind == 0:
        tensors[name] = a.astype(rng.choice(DTYPES))
        return f"{name} dtype {tensors[name].dtype}"
    if kind == 1 and a.size:
        flat = a.reshape(-1).copy()
        i = rng.randrange(flat.size)
        poke = rng.choice([np.nan, np.inf, -np.inf, -1, 0, 1e38, 2**40, 7])
        try:
            flat[i] = poke
        except (OverflowError, ValueError):
            flat[i] = 0
        tensors[name] = flat.reshape(a.shape)
        return f"{name}[{i}] = {poke}"
    if kind == 2:
        shape = list(a.shape)
        choice = rng.randrange(4)
        if choice == 0 and shape:
            shape[rng.randrange(len(shape))] += rng.choice([-1, 1, 5])
            shape = [max(s, 0) for s in shape]
        elif choice == 1:
            shape.append(1)
        elif choice == 2 and shape:
            shape.pop()
        else:
            shape = [0, *shape[1:]]
        tensors[name] = nprng.normal(size=shape).astype(a.dtype)
        return f"{name} shape {shape}"
    if kind == 3:
        del tensors[name]
        return f"{name} removed"
    if kind == 4:
        tensors[name.replace("0", "1", 1) if "0" in name else name + "_x"] = a
        return f"{name} copied"
    if kind == 5 and a.ndim and len(a) > 1:
        tensors[name] = a[: rng.randrange(len(a))]
        return f"{name} truncated"
    tensors[name] = (nprng.normal(size=a.shape) * 1e3).astype(a.dtype)
    return f"{name} values replaced"


def run_cases(seed: int, start: int, count: int) -> dict:
    """Mutate, re-dump, load; tally outcomes and any exception other than DonorKitError."""
    base_list = bases()
    outcomes = {"refused": 0, "accepted": 0, "unencodable": 0}
    failures = []
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        nprng = np.random.default_rng([seed, index])
        name, meta, tensors = rng.choice(base_list)
        meta, tensors = copy.deepcopy(meta), {k: v.copy() for k, v in tensors.items()}
        done = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            if rng.random() < 0.6:
                done.append(_mutate_meta(rng, meta))
            else:
                done.append(_mutate_tensor(rng, nprng, tensors))
        try:
            try:
                data = dump_container(meta, tensors)
            except (DonorKitError, TypeError):
                outcomes["unencodable"] += 1  # the container cannot hold it: not a schema case
                continue
            try:
                kit = _decode(data, None, DEFAULT_LIMITS)
            except DonorKitError as exc:
                assert str(exc) and "\n" not in str(exc), "multi-line message"
                outcomes["refused"] += 1
                continue
            # accepted: it must re-encode to the very same bytes, and its arrays be sane
            assert dump_container(*kit_to_content(kit)) == data, "not a fixed point"
            for member in kit.members:
                assert np.isfinite(member.features).all()
                assert member.label_index.min() >= 0 and member.label_index.max() < kit.n_classes
            kit.summary()
            outcomes["accepted"] += 1
        except BaseException as exc:  # anything else is what we look for
            failures.append(
                {"case": index, "base": name, "mutations": done,
                 "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            )  # fmt: skip
            if isinstance(exc, KeyboardInterrupt):
                break
    return {"cases": count, **outcomes, "failures": failures[:20], "n_failures": len(failures)}


# --------------------------------------------------------------------------------------------
# The memory-limited child
# --------------------------------------------------------------------------------------------
def _limit_resources(seconds: int) -> None:
    import resource
    import signal

    with open("/proc/self/status") as f:
        vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = vm_kib * 1024 + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    signal.alarm(seconds)


def child_main(argv: list[str]) -> None:
    """``mode seed start count seconds``; prints a JSON summary."""
    mode, seed, start, count, seconds = argv[0], *map(int, argv[1:])
    cases = hostile_cases() if mode == "hostile" else None
    _limit_resources(seconds)
    began = time.perf_counter()
    if mode == "fuzz":
        summary = run_cases(seed, start, count)
    else:
        summary = {"cases": 0, "refused": 0, "failures": []}
        for name, meta, tensors, limits, _ in cases:
            summary["cases"] += 1
            try:
                _load(meta, tensors, limits)
                summary["failures"].append({"case": name, "error": "loaded"})
            except DonorKitError:
                summary["refused"] += 1
            except BaseException as exc:
                summary["failures"].append({"case": name, "error": type(exc).__name__})
        summary["n_failures"] = len(summary["failures"])
    summary["seconds"] = round(time.perf_counter() - began, 2)
    print(json.dumps(summary))


_CHILD = """
import sys, types
root = sys.argv[1]
for name, path in (("skdcsae", "/skdcsae"), ("skdcsae._nn", "/skdcsae/_nn")):
    package = types.ModuleType(name)  # the kit package alone: skip the torch imports
    package.__path__ = [root + path]
    sys.modules[name] = package
sys.path.insert(0, root)
from tests.kit.test_kit_schema_fuzz import child_main
child_main(sys.argv[2:])
assert "torch" not in sys.modules
"""


def run_in_child(mode: str, seed: int, start: int, count: int, seconds: int) -> dict:
    if not sys.platform.startswith("linux"):
        pytest.skip("the memory-limited child needs Linux (/proc and RLIMIT_AS)")
    args = [sys.executable, "-c", _CHILD, str(ROOT), mode, *map(str, (seed, start, count, seconds))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"schema child timed out; stderr tail: {(exc.stderr or b'')[-500:]!r}")
    if proc.returncode != 0:
        pytest.fail(f"schema child exited with {proc.returncode}; {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_hostile_content_under_memory_limit():
    summary = run_in_child("hostile", 0, 0, 0, 300)
    assert summary["n_failures"] == 0, summary["failures"]
    assert summary["refused"] == summary["cases"] == len(hostile_cases())


def test_schema_fuzz_default():
    count = 600
    summary = run_in_child("fuzz", 20260101, 0, count, 300)
    assert summary["cases"] == count
    assert summary["n_failures"] == 0, json.dumps(summary["failures"], indent=1)
    assert summary["refused"] > count // 3 and summary["accepted"] > 0


@pytest.mark.slow
def test_schema_fuzz_slow():
    count, batch = 20_000, 5_000
    totals = {"refused": 0, "accepted": 0, "unencodable": 0, "seconds": 0.0}
    for start in range(0, count, batch):
        summary = run_in_child("fuzz", 13, start, batch, 600)
        assert summary["cases"] == batch
        assert summary["n_failures"] == 0, json.dumps(summary["failures"], indent=1)
        for key in totals:
            totals[key] += summary[key]
    print(f"\nslow schema fuzz: {count} cases, {totals}")
    assert totals["refused"] > count // 3
