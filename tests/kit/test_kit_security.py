"""Hostile, broken and tampered kit files: each refused with one line, and nothing executed.

Every code-execution payload would create a marker file if it ran. Each case first proves
that its payload is live (a plain ``pickle.loads``/``joblib.load`` of it *does* create a
control marker), then that ``load_donor_kit`` and ``RecipientLabeler`` refuse the file and
the marker was never created. The hostile *content* of valid containers (architectures,
shapes, values, classes) is in ``test_kit_schema``; the container's own corpus and fuzzer are
in ``test_container_hostile`` and ``test_container_fuzz`` (memo reuse, shared references and
reused data blocks are refused there, by the opcode reader).
"""

import contextlib
import dataclasses
import io
import os
import pickle
import shlex
import sys
import threading

import joblib
import numpy as np
import pytest

from skdcsae import DonorKitError, RecipientLabeler, load_donor_kit
from skdcsae.kit import verify_donor_kit
from skdcsae.kit._json import dump_json
from skdcsae.kit._limits import DEFAULT_LIMITS
from skdcsae.kit._outer import encode_outer
from skdcsae.kit._tensors import dump_tensors

from ..kit_helpers import digits_images, read_content, read_payload, train_donor, write_content


# --- payloads that would create a file if unpickled ----------------------------------------------
def _touch(path):
    with open(path, "w") as f:
        f.write("pwned")


class SystemCall:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.path)}",))


class EvalCall(SystemCall):
    def __reduce__(self):
        return (eval, (f"open({self.path!r}, 'w').close()",))


class FunctionCall(SystemCall):
    def __reduce__(self):
        return (_touch, (self.path,))


class Touching:
    """An ordinary class whose ``__setstate__`` (run by unpickling) writes a file."""

    def __init__(self, path):
        self.path = str(path)

    def __setstate__(self, state):
        _touch(state["path"])
        self.__dict__.update(state)


@pytest.fixture(scope="module")
def donor():
    X, y = digits_images()
    return train_donor(X[:100], y[:100]), X, y


@pytest.fixture(scope="module")
def kit_bytes(donor, tmp_path_factory):
    est, X, y = donor
    path = tmp_path_factory.mktemp("good") / "kit.joblib"
    est.export_donor_kit(path, X[:100], y[:100], release="per_image")
    return path.read_bytes()


def _in_kit(evil, version=3):
    """A kit-shaped dict with the evil object where the tensors should be."""
    return {"format": "skdcsae-donor-kit", "format_version": version, "tensors": evil}


def _dumps(obj, protocol=4):
    return pickle.dumps(obj, protocol=protocol)


def _joblib_bytes(obj, **kwargs):
    buf = io.BytesIO()
    joblib.dump(obj, buf, **kwargs)
    return buf.getvalue()


def _inst_opcode(path):
    # Protocol 0 "INST": calls os.system('touch ...') while unpickling.
    command = f"touch {shlex.quote(str(path))}"
    return b"(S" + repr(command).encode() + b"\nios\nsystem\n."


# name -> (build(marker_path) -> bytes, how a naive loader runs it)
HOSTILE = {
    "os.system via __reduce__": (lambda p: _dumps(_in_kit(SystemCall(p))), pickle.loads),
    "eval via __reduce__": (lambda p: _dumps(_in_kit(EvalCall(p))), pickle.loads),
    "os.system via protocol-0 GLOBAL": (lambda p: _dumps(SystemCall(p), 0), pickle.loads),
    "os.system via protocol-0 INST": (_inst_opcode, pickle.loads),
    "a pickled function call": (lambda p: _dumps(_in_kit(FunctionCall(p))), pickle.loads),
    "an arbitrary class instance": (lambda p: _dumps(_in_kit(Touching(p))), pickle.loads),
    "an object array in an old-format kit": (
        lambda p: _dumps(_in_kit(np.array([Touching(p), 1], dtype=object), version=2)),
        pickle.loads,
    ),
    "joblib file with an object array (NumpyArrayWrapper)": (
        lambda p: _joblib_bytes(_in_kit(np.array([Touching(p), 1], dtype=object))),
        lambda data: joblib.load(io.BytesIO(data)),
    ),
    "os.system appended after a valid kit": (None, None),
}


def _assert_refused(path, match=None):
    with pytest.raises(DonorKitError, match=match) as info:
        load_donor_kit(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_kit_is_refused_without_executing(case, tmp_path, kit_bytes):
    build, live = HOSTILE[case]
    marker = tmp_path / "marker_a"
    if build is None:
        data = kit_bytes + _dumps(SystemCall(marker))
        live = lambda data: pickle.loads(data[len(kit_bytes) :])  # noqa: E731
    else:
        data = build(marker)
    # Control: the payload is live -- a naive loader runs it and creates the file. (Same
    # path length, so the length-prefixed strings in the pickle stay valid.)
    control = tmp_path / "marker_b"
    live(data.replace(str(marker).encode(), str(control).encode()))
    assert control.exists(), f"control payload for {case!r} did not run"
    path = tmp_path / "kit.joblib"
    path.write_bytes(data)
    _assert_refused(path)
    assert not marker.exists()
    with pytest.raises(DonorKitError):
        RecipientLabeler(path, device="cpu").fit()
    assert not marker.exists()


# --- files that are not kits ----------------------------------------------------------------------
NOT_KITS = {
    "empty file": b"",
    "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "plain text": b"patient,label\nA,1\nB,0\n",
    "joblib dict lacking kit fields": _joblib_bytes({"weights": [1.0, 2.0], "note": "hello"}),
    "compressed joblib file": _joblib_bytes({"a": 1}, compress=3),
    "a pickled list": _dumps([1, 2, 3]),
    "unknown pickle protocol": b"\x80\x09junk",
    "invalid opcode": b"\x80\x04\xff",
    "memo bomb": b"\x80\x04}r\xff\xff\xff\x7f.",
}


@pytest.mark.parametrize("case", list(NOT_KITS))
def test_files_that_are_not_kits_are_refused(case, tmp_path):
    path = tmp_path / "kit.joblib"
    path.write_bytes(NOT_KITS[case])
    _assert_refused(path)


@pytest.mark.parametrize("keep", [0.5, 0.99, -1])
def test_truncated_kit_is_refused(keep, tmp_path, kit_bytes):
    cut = int(len(kit_bytes) * keep) if keep > 0 else len(kit_bytes) - 1
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes[:cut])
    _assert_refused(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_donor_kit(tmp_path / "nope.joblib")


def _load_within(path, seconds=20):
    """``load_donor_kit(path)`` in a thread; fail if it does not return in time."""
    outcome = {}

    def target():
        try:
            load_donor_kit(path)
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load_donor_kit({path}) hangs"
    return outcome.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_directory_and_dev_zero_are_refused_without_hanging(tmp_path):
    fifo = tmp_path / "kit.joblib"
    os.mkfifo(fifo)  # nobody ever writes: reading it would block forever
    for path in (fifo, tmp_path, "/dev/zero"):
        if not os.path.exists(path):
            continue
        error = _load_within(path)
        assert isinstance(error, DonorKitError), (path, error)
        assert "only regular files" in str(error) and "\n" not in str(error)
        assert str(error).startswith(str(path))


def test_too_large_a_file_is_refused_before_reading(tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    small = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=1000)
    with pytest.raises(DonorKitError, match="max_file_bytes"):
        load_donor_kit(path, limits=small)
    with pytest.raises(TypeError, match="limits must be a KitLimits"):
        load_donor_kit(path, limits={"max_file_bytes": 10})


# --- formats 1 and 2 ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [1, 2])
def test_formats_1_and_2_are_refused_with_the_reexport_message(version, tmp_path):
    """A kit as the old writer made it: ``pickle.dump`` of a dict holding numpy arrays."""
    old = {
        "format": "skdcsae-donor-kit",
        "format_version": version,
        "model": "DCSAETransformer",
        "encoder_config": {"kind": "mlp", "input_shape": [64], "conv_channels": [],
                           "dense_sizes": [16], "latent_dim": 2, "n_heads": 2, "norm": "batch"},
        "encoder_weights": {"heads.weight": np.zeros((8, 16), np.float32)},
        "features": np.zeros((10, 4), np.float32),
        "labels": np.arange(10) % 2,
        "classes": np.array([0, 1]),
        "sha256": "0" * 64,
        "hmac_sha256": None,
    }  # fmt: skip
    path = tmp_path / "old.joblib"
    path.write_bytes(pickle.dumps(old, protocol=4))
    message = _assert_refused(path, match="re-export the kit with this version")
    assert f"format {version}" in message or "formats 1 and 2" in message
    assert joblib.load(path)["format_version"] == version  # it really is an old kit


# --- tampering ---------------------------------------------------------------------------------
def _write_outer(path, meta, tensors, sha256, hmac_sha256=None):
    """A container whose sections are given and whose digest is *not* recomputed."""
    fields = {
        "format": "skdcsae-donor-kit",
        "format_version": 3,
        "meta": dump_json(meta).decode(),
        "tensors": dump_tensors(tensors, DEFAULT_LIMITS),
        "sha256": sha256,
    }
    if hmac_sha256 is not None:
        fields["hmac_sha256"] = hmac_sha256
    path.write_bytes(encode_outer(fields))


TAMPERING = {
    "one weight": lambda m, t: t["members.0.encoder.heads.bias"].__setitem__(0, 1e-3),
    "one label": lambda m, t: t["members.0.labels"].__setitem__(0, 1 - t["members.0.labels"][0]),
    "one feature": lambda m, t: t["members.0.features"].__setitem__((3, 1), 0.5),
    "the library version": lambda m, t: m["versions"].__setitem__("skdcsae", "0.0.1"),
    "the creation time": lambda m, t: m.__setitem__("created", "2020-01-01T00:00:00+00:00"),
    "the release": lambda m, t: m["release"].__setitem__("min_count", 1),
    "a hyperparameter": lambda m, t: m["members"][0]["hyperparameters"].__setitem__("rho", 9.0),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampered_kit_fails_its_digest(case, tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    meta, tensors = read_content(path)
    sha256 = read_payload(path)["sha256"]
    _write_outer(path, meta, tensors, sha256)
    assert load_donor_kit(path).sha256 == sha256  # control: the untampered rewrite loads
    TAMPERING[case](meta, tensors)
    _write_outer(path, meta, tensors, sha256)
    _assert_refused(path, match="does not match its SHA-256 digest")


def test_flipped_byte_in_the_weights_is_detected(tmp_path, kit_bytes, donor):
    est, _, _ = donor
    weight = est.net_.module_.encoder.state_dict()["body.0.weight"].numpy().tobytes()
    data = bytearray(kit_bytes)
    data[kit_bytes.index(weight) + len(weight) // 2] ^= 0x01
    path = tmp_path / "kit.joblib"
    path.write_bytes(bytes(data))
    _assert_refused(path, match="does not match its SHA-256 digest")


# --- signatures ---------------------------------------------------------------------------------
def test_signed_kits(tmp_path, donor):
    est, X, y = donor
    signed, unsigned = tmp_path / "signed.joblib", tmp_path / "unsigned.joblib"
    kit = est.export_donor_kit(signed, X[:100], y[:100], key="s3cret")
    est.export_donor_kit(unsigned, X[:100], y[:100])
    assert kit.signed and str(kit.signature) == "verified"
    assert str(load_donor_kit(signed, key="s3cret").signature) == "verified"
    assert load_donor_kit(signed, key=b"s3cret") == kit  # str and bytes keys agree
    without = load_donor_kit(signed)
    assert str(without.signature) == "present, not verified (no key given)"
    assert "HMAC-SHA256 present, not verified (no key given)" in without.summary()
    with pytest.raises(DonorKitError, match="signature does not match this key"):
        load_donor_kit(signed, key="s3cret!")
    with pytest.raises(DonorKitError, match="a key was given, but the kit is unsigned"):
        load_donor_kit(unsigned, key="s3cret")
    with pytest.raises(DonorKitError, match="a key was given, but the kit is unsigned"):
        RecipientLabeler(unsigned, key="s3cret", device="cpu").fit()
    RecipientLabeler(signed, key="s3cret", device="cpu").fit()
    # Stripping the signature from a signed kit does not help when a key is required.
    meta, tensors = read_content(signed)
    _write_outer(signed, meta, tensors, read_payload(signed)["sha256"])
    assert str(load_donor_kit(signed).signature) == "absent"
    with pytest.raises(DonorKitError, match="unsigned"):
        load_donor_kit(signed, key="s3cret")


def test_a_forged_signature_is_shown_as_unverified_and_refused_under_a_key(tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    meta, tensors = read_content(path)
    _write_outer(path, meta, tensors, read_payload(path)["sha256"], hmac_sha256="ab" * 32)
    kit = load_donor_kit(path)  # the digest is right; the signature cannot be checked
    assert str(kit.signature) == "present, not verified (no key given)"
    assert kit.summary().splitlines()[3].endswith("present, not verified (no key given)")
    with pytest.raises(DonorKitError, match="signature does not match this key"):
        load_donor_kit(path, key="any key")


def test_digest_is_integrity_not_authenticity_the_key_is(tmp_path, donor):
    """Somebody who edits a kit *and* recomputes the digest is caught only by the signature."""
    est, X, y = donor
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[:100], y[:100], key="donor-recipient secret")
    signature = read_payload(path)["hmac_sha256"]
    meta, tensors = read_content(path)
    tensors["members.0.labels"] = 1 - tensors["members.0.labels"]  # flip every label
    write_content(path, meta, tensors)  # a correct digest, no signature
    assert load_donor_kit(path).n_donor == 100  # without a key only the digest is checked
    with pytest.raises(DonorKitError, match="unsigned"):
        load_donor_kit(path, key="donor-recipient secret")
    write_content(path, meta, tensors, key="attacker's key")  # signed, with another key
    with pytest.raises(DonorKitError, match="signature does not match"):
        RecipientLabeler(path, key="donor-recipient secret", device="cpu").fit()
    assert read_payload(path)["hmac_sha256"] != signature


def test_in_memory_kit_is_verified_too(tmp_path, donor):
    est, X, y = donor
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[:100], y[:100], key="k")
    RecipientLabeler(kit, key="k", device="cpu").fit()
    member = kit.members[0]
    forged = dataclasses.replace(kit, members=(dataclasses.replace(
        member, label_index=1 - member.label_index),))  # fmt: skip
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        RecipientLabeler(forged, device="cpu").fit()
    with pytest.raises(DonorKitError, match="signature does not match"):
        RecipientLabeler(kit, key="other", device="cpu").fit()
    # An array changed in place (after making it writable) is caught as well.
    loaded = load_donor_kit(tmp_path / "k.joblib")
    with pytest.raises(ValueError, match="read-only"):
        loaded.features[0, 0] = 9.0
    loaded.features.flags.writeable = True
    loaded.features[0, 0] += 1.0
    with pytest.raises(DonorKitError, match="modified after it was loaded"):
        verify_donor_kit(loaded)
    # The verified copy does not follow later changes of the object it was made from.
    good = load_donor_kit(tmp_path / "k.joblib")
    checked = verify_donor_kit(good)
    good.features.flags.writeable = True
    good.features[1, 1] += 1.0
    assert not np.array_equal(checked.features, good.features)
    with pytest.raises(TypeError, match="expected a DonorKit"):
        verify_donor_kit({"features": [1]})


def test_refusals_leave_no_trace_in_the_loader(tmp_path, kit_bytes):
    """The loader keeps no mutable state: module globals are the same after many refusals."""
    import skdcsae.kit as kit_package

    modules = [m for name, m in sys.modules.items() if name.startswith("skdcsae.kit")]
    assert kit_package in modules and len(modules) > 10

    def snapshot():
        state = {}
        for module in modules:
            for name, value in vars(module).items():
                if isinstance(value, (dict, list, set, bytearray)):
                    state[(module.__name__, name)] = (id(value), repr(value))
                else:
                    state[(module.__name__, name)] = id(value)
        return state

    before = snapshot()
    path = tmp_path / "kit.joblib"
    for i in range(200):
        data = bytearray(kit_bytes)
        data[(i * 7919) % len(data)] ^= 0xFF
        path.write_bytes(bytes(data) if i % 4 else NOT_KITS["memo bomb"])
        with contextlib.suppress(DonorKitError):
            load_donor_kit(path, key="k" if i % 3 == 0 else None)
    assert snapshot() == before
