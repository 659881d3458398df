"""Hostile, broken and tampered kits: each refused, and nothing in them executed.

Every hostile payload would create a marker file if it ran. Each case first proves that its
payload is live (a plain ``pickle.loads``/``joblib.load`` of it *does* create a control marker),
then that ``load_donor_kit`` and ``RecipientLabeler`` refuse the file and the marker was never
created.
"""

import dataclasses
import io
import os
import pickle
import shlex

import joblib
import numpy as np
import pytest

from skdcsae import DonorKitError, RecipientLabeler, load_donor_kit
from skdcsae.kit._kit import FORMAT_NAME, _digest, _signature

from ..kit_helpers import digits_images, read_payload, train_donor, write_payload


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


class ExecCall(SystemCall):
    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').close()",))


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


@pytest.fixture
def kit_bytes(donor, tmp_path_factory):
    est, X, y = donor
    path = tmp_path_factory.mktemp("good") / "kit.joblib"
    est.export_donor_kit(path, X[:100], y[:100])
    return path.read_bytes()


def _in_kit(evil):
    """A kit-shaped dict with the evil object where the features should be."""
    return {"format": FORMAT_NAME, "format_version": 1, "features": evil}


def _dumps(obj, protocol=4):
    return pickle.dumps(obj, protocol=protocol)


def _persistent_id_pickle(path):
    class WithPersistentId(pickle.Pickler):
        def persistent_id(self, obj):
            return "payload" if isinstance(obj, Touching) else None

    buf = io.BytesIO()
    WithPersistentId(buf, protocol=4).dump(_in_kit(Touching(path)))
    return buf.getvalue()


def _joblib_bytes(obj, **kwargs):
    buf = io.BytesIO()
    joblib.dump(obj, buf, **kwargs)
    return buf.getvalue()


def _inst_opcode(path):
    # Protocol 0 "INST": calls os.system('touch ...') while unpickling.
    command = f"touch {shlex.quote(str(path))}"
    return b"(S" + repr(command).encode() + b"\nios\nsystem\n."


def _scan_evading_global(path):
    # 'posix' 'system' 'x' POP STACK_GLOBAL: the static scan cannot tell which two strings
    # STACK_GLOBAL takes (the POP hides it), so only find_class stands in the way.
    def text(value):
        raw = value.encode()
        return b"\x8c" + bytes([len(raw)]) + raw

    command = f"touch {shlex.quote(str(path))}"
    module = os.system.__module__
    return (
        b"\x80\x04"
        + text(module)
        + text("system")
        + text("x")
        + b"0\x93"
        + text(command)
        + b"\x85R."
    )


# name -> (build(marker_path) -> bytes, error regex, live: how a naive loader runs it or None)
HOSTILE = {
    "os.system via __reduce__": (
        lambda p: _dumps(_in_kit(SystemCall(p))),
        r"'(posix|nt)\.system'",
        pickle.loads,
    ),
    "eval via __reduce__": (
        lambda p: _dumps(_in_kit(EvalCall(p))),
        r"'builtins\.eval'",
        pickle.loads,
    ),
    "exec via __reduce__": (
        lambda p: _dumps(_in_kit(ExecCall(p))),
        r"'builtins\.exec'",
        pickle.loads,
    ),
    "os.system via protocol-0 GLOBAL": (
        lambda p: _dumps(SystemCall(p), protocol=0),
        r"'(posix|nt)\.system'",
        pickle.loads,
    ),
    "os.system via protocol-0 INST": (
        _inst_opcode,
        r"old-style class instantiation \(pickle opcode INST",
        pickle.loads,
    ),
    "a pickled function call": (
        lambda p: _dumps(_in_kit(FunctionCall(p))),
        r"'tests\.test_kit_security\._touch'",
        pickle.loads,
    ),
    "a pickled function object": (
        lambda p: _dumps(_in_kit(_touch)),
        r"'tests\.test_kit_security\._touch'",
        None,
    ),
    "an arbitrary class instance": (
        lambda p: _dumps(_in_kit(Touching(p))),
        r"'tests\.test_kit_security\.Touching'",
        pickle.loads,
    ),
    "numpy object array holding an object": (
        lambda p: _dumps(_in_kit(np.array([Touching(p), 1], dtype=object))),
        r"'tests\.test_kit_security\.Touching'",
        pickle.loads,
    ),
    "numpy object array of harmless strings": (
        lambda p: _dumps(_in_kit(np.array(["a", "b"], dtype=object))),
        r"dtype 'O8'.*object",
        None,
    ),
    "numpy object array smuggling a pickle": (
        lambda p: _dumps(_in_kit(np.array([_dumps(SystemCall(p)), b"x"], dtype=object))),
        r"dtype 'O8'",
        None,
    ),
    "numpy structured array with an object field": (
        lambda p: _dumps(_in_kit(np.array([(1, Touching(p))], dtype=[("a", "i4"), ("b", "O")]))),
        r"'tests\.test_kit_security\.Touching'",
        pickle.loads,
    ),
    "numpy structured array without objects": (
        lambda p: _dumps(_in_kit(np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]))),
        r"dtype 'V12'",
        None,
    ),
    "joblib file with an object array (NumpyArrayWrapper)": (
        lambda p: _joblib_bytes(_in_kit(np.array([Touching(p), 1], dtype=object))),
        r"'joblib\.numpy_pickle\.NumpyArrayWrapper'",
        lambda data: joblib.load(io.BytesIO(data)),
    ),
    "os.system hidden from the opcode scan": (
        _scan_evading_global,
        r"'(posix|nt)\.system'",
        pickle.loads,
    ),
    "persistent id": (_persistent_id_pickle, r"persistent id", None),
    "copyreg extension code": (lambda p: b"\x80\x04\x82\x01.", r"extension code", None),
    "payload appended after a valid kit": (None, r"unexpected bytes follow", None),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_kit_is_refused_without_executing(case, tmp_path, kit_bytes):
    build, match, live = HOSTILE[case]
    marker = tmp_path / "marker_a"
    if build is None:  # a valid kit with an os.system pickle appended
        data = kit_bytes + _dumps(SystemCall(marker))
        live = lambda data: pickle.loads(data[len(kit_bytes) :])  # noqa: E731
    else:
        data = build(marker)
    if live is not None:
        # Control: the payload is live -- a naive loader runs it and creates the file. (Same
        # path length, so the length-prefixed strings in the pickle stay valid.)
        control = tmp_path / "marker_b"
        live(data.replace(str(marker).encode(), str(control).encode()))
        assert control.exists(), f"control payload for {case!r} did not run"
    path = tmp_path / "kit.joblib"
    path.write_bytes(data)
    with pytest.raises(DonorKitError, match=match) as info:
        load_donor_kit(path)
    assert not marker.exists()
    assert str(path) in str(info.value)
    assert "Nothing from the file was executed" in str(info.value)
    with pytest.raises(DonorKitError, match=match):
        RecipientLabeler(path, device="cpu").fit()
    assert not marker.exists()


@pytest.mark.parametrize("case", [c for c in HOSTILE if HOSTILE[c][0] is not None])
def test_restricted_unpickler_alone_runs_nothing(case, tmp_path):
    """Defense in depth: even with the opcode scan skipped, find_class refuses every payload."""
    from skdcsae.kit._kit import _RestrictedUnpickler

    build, _, _ = HOSTILE[case]
    marker = tmp_path / "marker_a"
    with pytest.raises(Exception):  # noqa: B017 -- refused or unparsable, never run
        _RestrictedUnpickler(io.BytesIO(build(marker))).load()
    assert not marker.exists()


# --- files that are not kits ----------------------------------------------------------------------
NOT_KITS = {
    "empty file": (b"", "the file is empty"),
    "random bytes": (
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "does not start with a pickle protocol header",
    ),
    "plain text": (b"patient,label\nA,1\nB,0\n", "does not start with a pickle protocol header"),
    "joblib dict lacking kit fields": (
        _joblib_bytes({"weights": [1.0, 2.0], "note": "hello"}),
        "'format' field is None",
    ),
    "joblib dict with a kit format but no fields": (
        _joblib_bytes({"format": FORMAT_NAME, "format_version": 1}),
        r"missing fields \[.*'encoder_weights'",
    ),
    "joblib file of a numeric array (joblib's own format)": (
        _joblib_bytes({"w": np.arange(5.0)}),
        "NumpyArrayWrapper",
    ),
    "compressed joblib file": (_joblib_bytes({"a": 1}, compress=3), "zlib-compressed"),
    "a pickled list": (_dumps([1, 2, 3]), "holds a list"),
    "unknown pickle protocol": (b"\x80\x09junk", "unknown pickle protocol"),
    "invalid opcode": (b"\x80\x04\xff", "truncated or corrupt"),
}


@pytest.mark.parametrize("case", list(NOT_KITS))
def test_files_that_are_not_kits_are_refused(case, tmp_path):
    data, match = NOT_KITS[case]
    path = tmp_path / "kit.joblib"
    path.write_bytes(data)
    with pytest.raises(DonorKitError, match=match):
        load_donor_kit(path)


@pytest.mark.parametrize("keep", [0.5, 0.99, -1])
def test_truncated_kit_is_refused(keep, tmp_path, kit_bytes):
    cut = int(len(kit_bytes) * keep) if keep > 0 else len(kit_bytes) - 1
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes[:cut])
    with pytest.raises(DonorKitError, match="truncated or corrupt"):
        load_donor_kit(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_donor_kit(tmp_path / "nope.joblib")


# --- tampering ---------------------------------------------------------------------------------
def _tamper_weight(p):
    p["encoder_weights"]["heads.bias"][0] += 1e-3


def _tamper_label(p):
    p["labels"][0] = 1 - p["labels"][0]


def _tamper_feature(p):
    p["features"][3, 1] += 1e-6


def _tamper_library_version(p):
    p["versions"]["skdcsae"] = "0.0.1"


def _tamper_created(p):
    p["created"] = "2020-01-01T00:00:00+00:00"


def _tamper_preprocessing(p):
    p["preprocessing"]["scale"] = np.array(p["preprocessing"]["scale"] * 2, dtype=np.float32)


def _tamper_hyperparameter(p):
    p["hyperparameters"]["rho"] = 99.0


TAMPERING = {
    "one weight": _tamper_weight,
    "one label": _tamper_label,
    "one feature": _tamper_feature,
    "the library version": _tamper_library_version,
    "the creation time": _tamper_created,
    "the preprocessing": _tamper_preprocessing,
    "a hyperparameter": _tamper_hyperparameter,
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampered_kit_fails_its_digest(case, tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    payload = read_payload(path)
    TAMPERING[case](payload)
    write_payload(path, payload)
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        load_donor_kit(path)


def test_untampered_rewrite_still_loads(tmp_path, kit_bytes):
    # Control for the tampering tests: re-writing the same payload is not "tampering".
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    write_payload(path, read_payload(path))
    assert load_donor_kit(path).n_donor == 100


def test_flipped_byte_in_the_weights_is_detected(tmp_path, kit_bytes, donor):
    est, _, _ = donor
    weight = est.net_.module_.encoder.state_dict()["body.0.weight"].numpy().tobytes()
    start = kit_bytes.index(weight)
    data = bytearray(kit_bytes)
    data[start + len(weight) // 2] ^= 0x01
    path = tmp_path / "kit.joblib"
    path.write_bytes(bytes(data))
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        load_donor_kit(path)


@pytest.mark.parametrize("version", [0, 3, "2", None])
def test_unknown_format_version_is_refused(version, tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    payload = read_payload(path)
    payload["format_version"] = version
    write_payload(path, payload)
    expected = rf"version {version!r} is not supported.*supported: 1, 2"
    with pytest.raises(DonorKitError, match=expected):
        load_donor_kit(path)


def _recompute_digest(payload):
    content = {k: v for k, v in payload.items() if k not in ("sha256", "hmac_sha256")}
    payload["sha256"] = _digest(content)
    return content


def test_digest_is_integrity_not_authenticity_the_key_is(tmp_path, donor):
    """Somebody who edits a kit *and* recomputes the digest is caught only by the signature."""
    est, X, y = donor
    path = tmp_path / "kit.joblib"
    est.export_donor_kit(path, X[:100], y[:100], key="donor-recipient secret")
    payload = read_payload(path)
    payload["labels"] = 1 - payload["labels"]  # flip every label
    _recompute_digest(payload)
    write_payload(path, payload)
    assert load_donor_kit(path).signed  # without a key only the digest is checked
    with pytest.raises(DonorKitError, match="signature does not match"):
        load_donor_kit(path, key="donor-recipient secret")
    with pytest.raises(DonorKitError, match="signature does not match"):
        RecipientLabeler(path, key="donor-recipient secret", device="cpu").fit()


def test_config_that_does_not_match_the_weights_is_refused(tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    payload = read_payload(path)
    payload["encoder_config"]["dense_sizes"] = [10**6]  # never allocated: built on "meta"
    _recompute_digest(payload)
    write_payload(path, payload)
    with pytest.raises(DonorKitError, match=r"encoder weight .* has shape"):
        load_donor_kit(path)
    payload["encoder_config"]["dense_sizes"] = [32]
    payload["encoder_weights"]["extra"] = np.zeros(3, np.float32)
    _recompute_digest(payload)
    write_payload(path, payload)
    with pytest.raises(DonorKitError, match=r"unexpected \['extra'\]"):
        load_donor_kit(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p.update(features=p["features"][:, :3]), r"features must have shape \(n, 4\)"),
        (lambda p: p.update(labels=p["labels"][:-1]), "99 labels for 100 feature rows"),
        (lambda p: p.update(labels=p["labels"] + 5), "labels must all be among classes"),
        (lambda p: p.update(feature_mode="magic"), "feature_mode must be"),
        (lambda p: p.update(image_shape=[1, 9, 9]), "does not match the encoder"),
        (
            lambda p: p["preprocessing"].update(scale=np.zeros_like(p["preprocessing"]["scale"])),
            "scale must be positive",
        ),
        (lambda p: p.update(surprise=1), r"unexpected fields \['surprise'\]"),
        (lambda p: p["features"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    ],
)
def test_inconsistent_kit_is_refused_even_with_a_valid_digest(edit, match, tmp_path, kit_bytes):
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    payload = read_payload(path)
    edit(payload)
    _recompute_digest(payload)
    write_payload(path, payload)
    with pytest.raises(DonorKitError, match=match):
        load_donor_kit(path)


# --- signatures --------------------------------------------------------------------------------
def test_signed_kits(tmp_path, donor):
    est, X, y = donor
    signed, unsigned = tmp_path / "signed.joblib", tmp_path / "unsigned.joblib"
    kit = est.export_donor_kit(signed, X[:100], y[:100], key="s3cret")
    est.export_donor_kit(unsigned, X[:100], y[:100])
    assert kit.signed and kit.hmac_sha256 == _signature(kit._content(), b"s3cret")
    assert load_donor_kit(signed, key="s3cret").signed
    assert load_donor_kit(signed, key=b"s3cret").sha256 == kit.sha256  # str and bytes agree
    with pytest.raises(DonorKitError, match="signature does not match this key"):
        load_donor_kit(signed, key="s3cret!")
    with pytest.raises(DonorKitError, match="not signed, but a key was given"):
        load_donor_kit(unsigned, key="s3cret")
    with pytest.raises(DonorKitError, match="not signed, but a key was given"):
        RecipientLabeler(unsigned, key="s3cret", device="cpu").fit()
    RecipientLabeler(signed, key="s3cret", device="cpu").fit()
    # Stripping the signature from a signed kit does not help when a key is required.
    payload = read_payload(signed)
    payload["hmac_sha256"] = None
    write_payload(signed, payload)
    assert not load_donor_kit(signed).signed
    with pytest.raises(DonorKitError, match="not signed"):
        load_donor_kit(signed, key="s3cret")
    payload["hmac_sha256"] = "not hex"
    write_payload(signed, payload)
    with pytest.raises(DonorKitError, match="signature is malformed"):
        load_donor_kit(signed)


def test_in_memory_kit_is_verified_too(tmp_path, donor):
    est, X, y = donor
    kit = est.export_donor_kit(tmp_path / "k.joblib", X[:100], y[:100], key="k")
    RecipientLabeler(kit, key="k", device="cpu").fit()
    forged = dataclasses.replace(kit, labels=1 - kit.labels)
    with pytest.raises(DonorKitError, match="does not match its SHA-256 digest"):
        RecipientLabeler(forged, device="cpu").fit()
    with pytest.raises(DonorKitError, match="signature does not match"):
        RecipientLabeler(kit, key="other", device="cpu").fit()


def test_stand_ins_refuse_misuse_directly():
    from skdcsae.kit._kit import _NDARRAY, _ArrayStub, _DtypeStub, _reconstruct_stub

    with pytest.raises(DonorKitError, match="not a plain ndarray"):
        _reconstruct_stub(np.matrix, (0,), b"b")
    with pytest.raises(DonorKitError, match="not a plain ndarray"):
        _reconstruct_stub(_NDARRAY, (5,), b"b")
    for code in ("O8", "V16", "M8", "c16", "f4,i4", "object"):
        with pytest.raises(DonorKitError):
            _DtypeStub(code, False, True)
    dtype = _DtypeStub("f4", False, True)
    with pytest.raises(DonorKitError, match="fields"):
        dtype.__setstate__((3, "|", None, ("a",), {"a": None}, 4, 1, 16))
    dtype.__setstate__((3, "<", None, None, None, -1, -1, 0))
    stub = _ArrayStub()
    with pytest.raises(DonorKitError, match="needs 12 bytes but 4"):
        stub.__setstate__((1, (3,), dtype, False, b"abcd"))
    stub.__setstate__((1, (3,), dtype, False, np.arange(3, dtype="<f4").tobytes()))
    np.testing.assert_array_equal(stub.array, [0.0, 1.0, 2.0])
    with pytest.raises(DonorKitError, match="state set twice"):
        stub.__setstate__((1, (3,), dtype, False, np.arange(3, dtype="<f4").tobytes()))


def test_big_endian_and_fortran_arrays_load_correctly(tmp_path, kit_bytes):
    """A kit written on another platform (big-endian, Fortran-ordered arrays) still verifies."""
    path = tmp_path / "kit.joblib"
    path.write_bytes(kit_bytes)
    payload = read_payload(path)
    original = payload["features"].copy()
    payload["features"] = np.asfortranarray(original.astype(">f4"))
    write_payload(path, payload)
    kit = load_donor_kit(path)  # the digest is over values, not byte order or memory layout
    np.testing.assert_array_equal(kit.features, original)
    assert kit.features.dtype == np.dtype("=f4") and kit.features.flags.c_contiguous
