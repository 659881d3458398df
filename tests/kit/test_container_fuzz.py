"""Fuzzing the format-3 reader in a child process with a memory and time limit.

Two kinds of cases, generated deterministically from ``(seed, index)``:

* **raw**: the bytes of a valid container, mutated anywhere (bit flips, byte writes, inserted
  and deleted runs, truncation, appended garbage, duplicated, swapped and spliced sections,
  forged pickle length fields, replaced opcodes). The reader must raise
  :class:`DonorKitError` or load exactly the content of a base container: the original (a
  no-op mutation, or a changed signature hex string when no key is checked), or another base
  that a splice happens to rebuild (the unsigned file's head and the signed file's tail).
* **forged**: the JSON or safetensors section mutated (text edits, forged header lengths,
  shapes, offsets and dtypes, duplicated entries, inserted brackets, ``NaN``, long numbers),
  then re-wrapped with a *correct* digest (and signature), as a forger would. The reader must
  raise :class:`DonorKitError` or load content that writes back and reloads to itself.

Any other exception, a ``MemoryError`` under the child's address-space limit, a crash or a
timeout fails the test. The child imports only the kit codec (not the ``skdcsae`` package
and its torch), sets ``RLIMIT_AS`` to its size after imports plus 1 GiB, ``RLIMIT_CPU`` and an
alarm, and reports a JSON summary on stdout.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skdcsae.kit._container import (
    SignatureStatus,
    _digest,
    _hmac,
    _message,
    dump_container,
    load_container,
)
from skdcsae.kit._errors import DonorKitError
from skdcsae.kit._json import dump_json

ROOT = Path(__file__).resolve().parents[2]
KEY = b"fuzz key"
MEMORY_HEADROOM = 1 << 30
INTERESTING = [0, 1, 2, 7, 8, 9, 255, 256, 65535, 65536, 2**40, 2**53, 2**62, 10**30]
INTERESTING += [2**k + d for k in (31, 32, 63, 64) for d in (-1, 0)]
FRAGMENTS = (
    b'NaN|Infinity|1e999|-0|"|\\|,| |\\u0000|"a":1,|]|}|\x00|\xff|\xc3\xa9|true|null|[]'.split(b"|")
)
FRAGMENTS += [b"[" * 40, b"{" * 40, b'{"a":' * 40, b"9" * 30]
DTYPE_NAMES = [
    *b"F16 F32 F64 I8 I16 I32 I64 U8 U16 U32 U64 BOOL BF16 C64 F8_E4M3 O f4".split(),
    b"",
]
OPCODES = b"\x80}(.u\x8cXCB\x8eKMJ\x8d\x95\x94qrhjgpcR\x93bQPi\x81\x92\x82])Gas\x88N"


# --------------------------------------------------------------------------------------------
# Base containers and content fingerprints
# --------------------------------------------------------------------------------------------
def _bases() -> list[tuple[str, bytes, bytes | None, bytes | None]]:
    """``(name, data, signing key, loading key)`` of the valid containers to mutate."""
    rng = np.random.default_rng(1)
    meta = {
        "classes": ["normal", "pneumonia"],
        "config": {"dense_sizes": [16, 8], "n": 3},
        "floats": [0.25, -1e-5],
        "ok": True,
        "none": None,
    }
    tensors = {
        "features": rng.normal(size=(20, 4)).astype(np.float32),
        "labels": np.arange(20, dtype=np.int64) % 2,
        "body.0.weight": rng.normal(size=(3, 1, 3, 3)).astype(np.float16),
        "mask": rng.random(5) > 0.5,
        "empty": np.zeros((0, 2), dtype=np.uint8),
        "step": np.array(3, dtype=np.int64),
    }
    big_meta = {**meta, "note": "x" * 300}
    big = {"features": rng.normal(size=(200, 4)).astype(np.float32), "w": np.ones(300)}
    signed = dump_container(meta, tensors, key=KEY)
    return [
        ("unsigned", dump_container(meta, tensors), None, None),
        ("signed", signed, KEY, KEY),
        ("signed_no_key", signed, KEY, None),
        ("empty", dump_container({}, {}), None, None),
        ("long_opcodes", dump_container(big_meta, big, key=KEY), KEY, KEY),
    ]


def _fingerprint(box) -> tuple:
    tensors = tuple((k, v.dtype.str, v.shape, v.tobytes()) for k, v in box.tensors.items())
    return dump_json(box.meta), tensors, box.sha256, box.signature


def _sections(data: bytes) -> tuple[bytes, bytes]:
    """The meta and tensor bytes of a container *we wrote* (trusted, test only)."""
    layout = {name: (start, end) for name, _, _, start, end in _outer_layout(data)}
    return data[slice(*layout["meta"])], data[slice(*layout["tensors"])]


def _outer_layout(data: bytes) -> list[tuple[str, int, int, int, int]]:
    """``(key, opcode position, length width, payload start, payload end)`` of each value."""
    widths = {0x8C: 1, ord("X"): 4, ord("C"): 1, ord("B"): 4, 0x8E: 8}
    fixed = {ord("K"): 1, ord("M"): 2, ord("J"): 4}
    pos, items, key = 4, [], None
    while data[pos] != ord("u"):
        op = data[pos]
        if op in widths:
            width = widths[op]
            n = int.from_bytes(data[pos + 1 : pos + 1 + width], "little")
            start = pos + 1 + width
            if key is None:
                key = data[start : start + n].decode()
            else:
                items.append((key, pos, width, start, start + n))
                key = None
            pos = start + n
        else:
            items.append((key, pos, 0, pos + 1, pos + 1 + fixed[op]))
            key, pos = None, pos + 1 + fixed[op]
    return items


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------
def _bytes_mutation(rng: random.Random, data: bytes, other: bytes) -> tuple[bytes, str]:
    """A generic mutation of a byte string (used on whole files and on sections)."""
    n = len(data)
    kind = rng.randrange(10)
    pos = rng.randrange(n + 1)
    if kind == 0 and n:
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return bytes(out), "bit flips"
    if kind == 1 and n:
        out = bytearray(data)
        out[rng.randrange(n)] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        return bytes(out), "byte write"
    if kind == 2:
        junk = rng.choice(
            [bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))), rng.choice(FRAGMENTS)]
        )
        return data[:pos] + junk + data[pos:], f"insert at {pos}"
    if kind == 3:
        return data[:pos] + data[pos + rng.randint(1, 64) :], f"delete at {pos}"
    if kind == 4:
        return data[:pos], f"truncate at {pos}"
    if kind == 5:
        return data + rng.choice([b"\x00", b".", data[: rng.randint(1, 64)], other]), "append"
    if kind == 6:
        a = rng.randrange(n + 1)
        b = min(n, a + rng.randint(1, 256))
        return data[:pos] + data[a:b] + data[pos:], f"duplicate [{a}:{b}] at {pos}"
    if kind == 7:
        a, b = sorted(rng.randrange(n + 1) for _ in range(2))
        c, d = sorted(rng.randrange(b, n + 1) for _ in range(2))
        return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:], "swap"
    if kind == 8:
        cut = rng.randrange(len(other) + 1)
        return data[:pos] + other[cut:], f"splice at {pos}/{cut}"
    return data, "no-op"


def _raw_mutation(rng: random.Random, data: bytes, other: bytes) -> tuple[bytes, str]:
    """A mutation of a whole container file, aware of its pickle layout."""
    kind = rng.randrange(6)
    layout = _outer_layout(data)
    if kind == 0:  # forge a length field of the outer pickle
        key, op_pos, width, start, end = rng.choice([item for item in layout if item[2]])
        true = end - start
        near = [true - 1, true + 1, true + 8, max(0, true - 8), len(data) - start]
        value = rng.choice([*INTERESTING, *near, len(data) - start + 1])
        value %= 1 << (8 * width)
        field = value.to_bytes(width, "little")
        return data[: op_pos + 1] + field + data[op_pos + 1 + width :], f"{key} length {value}"
    if kind == 1:  # replace an opcode
        key, op_pos, *_ = rng.choice(layout)
        op = rng.choice(OPCODES)
        return data[:op_pos] + bytes([op]) + data[op_pos + 1 :], f"{key} opcode {op:#x}"
    return _bytes_mutation(rng, data, other)


def _regex_edit(rng: random.Random, text: bytes, pattern: bytes, make) -> bytes:
    matches = list(re.finditer(pattern, text))
    if not matches:
        return text
    m = rng.choice(matches)
    return text[: m.start()] + make(m) + text[m.end() :]


def _header_mutation(rng: random.Random, header: bytes) -> tuple[bytes, str]:
    kind = rng.randrange(6)
    if kind == 0:

        def number(m):
            v = int(m.group())
            return str(rng.choice([*INTERESTING, v - 1, v + 1, -v, 2 * v, -1])).encode()

        return _regex_edit(rng, header, rb"-?\d+", number), "number"
    if kind == 1:

        def dtype(m):
            return b'"dtype":"' + rng.choice(DTYPE_NAMES) + b'"'

        return _regex_edit(rng, header, rb'"dtype":"[^"]*"', dtype), "dtype"
    if kind == 2:

        def shape(m):
            dims = [rng.choice([0, 1, 2, 3, 4, 20, *INTERESTING]) for _ in range(rng.randint(0, 9))]
            return b'"shape":' + json.dumps(dims).encode()

        return _regex_edit(rng, header, rb'"shape":\[[^\]]*\]', shape), "shape"
    if kind == 3:

        def offsets(m):
            a, b = (rng.choice([0, 1, 8, 16, 80, 160, *INTERESTING]) for _ in range(2))
            return b'"data_offsets":[' + str(a).encode() + b"," + str(b).encode() + b"]"

        return _regex_edit(rng, header, rb'"data_offsets":\[[^\]]*\]', offsets), "offsets"
    if kind == 4:  # duplicate an entry (same or new name): one data block, two tensors

        def duplicate(m):
            name = m.group(1) if rng.random() < 0.5 else m.group(1) + b"x"
            return m.group() + b',"' + name + b'":' + m.group(2)

        return _regex_edit(rng, header, rb'"([^"]+)":(\{[^{}]*\})', duplicate), "dup entry"
    return _bytes_mutation(rng, header, b"")


def _forged_mutation(rng: random.Random, meta: bytes, tensors: bytes) -> tuple[bytes, bytes, str]:
    """Mutate one section; the caller re-wraps it with a correct digest."""
    if rng.random() < 0.35:
        new, what = _bytes_mutation(rng, meta, b"")
        return new, tensors, f"meta {what}"
    size = int.from_bytes(tensors[:8], "little")
    header, rest = tensors[8 : 8 + size], tensors[8 + size :]
    choice = rng.randrange(4)
    if choice == 0:
        value = rng.choice([*INTERESTING, size - 1, size + 1, size + 8, len(tensors)])
        head = (value % 2**64).to_bytes(8, "little")
        return meta, head + tensors[8:], f"header length {value}"
    if choice == 1:
        new, what = _bytes_mutation(rng, rest, b"")
        return meta, tensors[: 8 + size] + new, f"data {what}"
    new, what = _header_mutation(rng, header)
    length = len(new) if rng.random() < 0.8 else size
    return meta, length.to_bytes(8, "little") + new + rest, f"header {what}"


def _wrap(meta: bytes, tensors: bytes, key: bytes | None) -> bytes:
    """The writer's outer layout around arbitrary sections (meta need not be ASCII)."""

    def item(op_short: int, op_long: int, raw: bytes) -> bytes:
        if len(raw) < 256:
            return bytes([op_short, len(raw)]) + raw
        return bytes([op_long]) + struct.pack("<I", len(raw)) + raw

    def text(raw: bytes) -> bytes:
        return item(0x8C, ord("X"), raw)

    parts = _message(meta, tensors)
    fields = [
        (b"format", text(b"skdcsae-donor-kit")),
        (b"format_version", b"K\x03"),
        (b"meta", text(meta)),
        (b"tensors", item(ord("C"), ord("B"), tensors)),
        (b"sha256", text(_digest(parts).encode())),
    ]
    if key is not None:
        fields.append((b"hmac_sha256", text(_hmac(key, parts).encode())))
    body = b"".join(text(name) + value for name, value in fields)
    return b"\x80\x04}(" + body + b"u."


# --------------------------------------------------------------------------------------------
# Running cases
# --------------------------------------------------------------------------------------------
def run_cases(seed: int, start: int, count: int) -> dict:
    """Run cases ``start .. start+count`` and count their outcomes (never raises)."""
    bases = _bases()
    # what a raw mutation may load: a base's exact content under that loading key (a splice
    # can rebuild another base, e.g. the unsigned file's head + the signed file's tail)
    valid = {k: set() for *_, k in bases}
    for _, data, sign_key, _ in bases:
        for load_key in valid:
            if load_key is None or load_key == sign_key:
                valid[load_key].add(_fingerprint(load_container(data, key=load_key)))
    outcomes = {"refused": 0, "original": 0, "accepted": 0}
    failures = []
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        what = "?"
        name, data, sign_key, load_key = rng.choice(bases)
        other = rng.choice(bases)[1]
        forged = index % 3 == 2
        try:
            if forged:
                meta, tensors = _sections(data)
                meta, tensors, what = _forged_mutation(rng, meta, tensors)
                case = _wrap(meta, tensors, sign_key)
            else:
                case, what = _raw_mutation(rng, data, other)
            sys.stderr.write(f"{index} {name} {'forged' if forged else 'raw'} {what}\n")
            try:
                box = load_container(case, key=load_key)
            except DonorKitError as exc:
                assert str(exc) and "\n" not in str(exc), "multi-line message"
                outcomes["refused"] += 1
                continue
            if not forged:
                assert _fingerprint(box) in valid[load_key], "raw mutation loaded new content"
                outcomes["original"] += 1
                continue
            again = load_container(
                dump_container(box.meta, box.tensors, key=sign_key), key=load_key
            )
            assert _fingerprint(again)[:2] == _fingerprint(box)[:2], "not idempotent"
            assert box.signature in (
                SignatureStatus.VERIFIED,
                SignatureStatus.ABSENT,
                SignatureStatus.UNVERIFIED,
            )
            outcomes["accepted"] += 1
        except BaseException as exc:  # anything else is the failure we look for
            failures.append(
                {
                    "case": index,
                    "base": name,
                    "forged": forged,
                    "mutation": what,
                    "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                }
            )
            if isinstance(exc, KeyboardInterrupt):
                break
    return {"cases": count, **outcomes, "failures": failures[:20], "n_failures": len(failures)}


def _limit_resources(seconds: int) -> None:
    """Cap the address space at the current size plus 1 GiB, and the CPU and wall time."""
    import resource
    import signal

    with open("/proc/self/status") as f:
        vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = vm_kib * 1024 + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    signal.alarm(seconds)


def child_main(argv: list[str]) -> None:
    """Entry point of the child process: ``mode seed start count seconds``."""
    mode, seed, start, count, seconds = argv[0], *map(int, argv[1:])
    _limit_resources(seconds)
    began = time.perf_counter()
    if mode == "fuzz":
        summary = run_cases(seed, start, count)
    elif mode == "hostile":
        from tests.kit.test_container_hostile import hostile_cases

        summary = {"cases": 0, "refused": 0, "failures": []}
        for name, data, key in hostile_cases():
            summary["cases"] += 1
            try:
                load_container(data, key=key)
                summary["failures"].append({"case": name, "error": "loaded"})
            except DonorKitError:
                summary["refused"] += 1
            except BaseException as exc:
                summary["failures"].append({"case": name, "error": type(exc).__name__})
        summary["n_failures"] = len(summary["failures"])
    else:  # "selftest": a real memory bomb must be caught by the limit
        try:
            bomb = bytearray(2 * MEMORY_HEADROOM)
            summary = {"cases": 1, "n_failures": 0, "allocated": len(bomb)}
        except MemoryError:
            summary = {"cases": 1, "n_failures": 1, "failures": [{"error": "MemoryError"}]}
    summary["seconds"] = round(time.perf_counter() - began, 2)
    print(json.dumps(summary))


_CHILD = """
import sys, types
root = sys.argv[1]
package = types.ModuleType("skdcsae")  # the codec alone: skip the package's torch import
package.__path__ = [root + "/skdcsae"]
sys.modules["skdcsae"] = package
sys.path.insert(0, root)
from tests.kit.test_container_fuzz import child_main
child_main(sys.argv[2:])
"""


def run_in_child(mode: str, seed: int, start: int, count: int, seconds: int) -> dict:
    """Run a batch in a resource-limited child; fail with the last case it started."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the memory-limited child needs Linux (/proc and RLIMIT_AS)")
    args = [sys.executable, "-c", _CHILD, str(ROOT), mode, *map(str, (seed, start, count, seconds))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, env=env)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-500:]
        pytest.fail(f"fuzz child timed out; last cases: {tail!r}")
    if proc.returncode != 0:
        pytest.fail(f"fuzz child exited with {proc.returncode}; last: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(summary: dict, count: int) -> None:
    assert summary["cases"] == count
    assert summary["n_failures"] == 0, json.dumps(summary["failures"], indent=1)


def test_harness_catches_a_memory_bomb():
    summary = run_in_child("selftest", 0, 0, 1, 60)
    assert summary["n_failures"] == 1, "RLIMIT_AS did not stop a 2 GiB allocation"


def test_hostile_corpus_under_memory_limit():
    summary = run_in_child("hostile", 0, 0, 0, 120)
    assert summary["n_failures"] == 0, summary["failures"]
    assert summary["refused"] == summary["cases"] > 50


def test_fuzz_default():
    count = 3000
    summary = run_in_child("fuzz", 20240501, 0, count, 120)
    _check(summary, count)
    assert summary["refused"] > count // 2


@pytest.mark.slow
def test_fuzz_slow():
    count, batch = 100_000, 25_000
    totals = {"refused": 0, "original": 0, "accepted": 0, "seconds": 0.0}
    for start in range(0, count, batch):  # seed 7, cases 0..count, one child per batch
        summary = run_in_child("fuzz", 7, start, batch, 600)
        _check(summary, batch)
        for key in totals:
            totals[key] += summary[key]
    print(f"\nslow fuzz: {count} cases, {totals}")
    assert totals["refused"] > count // 2
