"""Format-3 container: round trip, determinism, plain-pickle compatibility, digest, signing,
writer refusals and limits (hostile files: ``test_container_hostile``)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import pickletools

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skdcsae.kit._container import (
    DEFAULT_LIMITS,
    Container,
    KitLimits,
    SignatureStatus,
    dump_container,
    load_container,
)
from skdcsae.kit._errors import DonorKitError
from skdcsae.kit._json import dump_json
from skdcsae.kit._outer import encode_outer

from .test_container_hostile import forged

KEY = b"shared secret"
META = {
    "name": 'donor \u00e9\u4e2d \n\t"quoted" \\ \x00',
    "ints": [0, -1, 2**63 - 1, -(2**63)],
    "floats": [0.5, -0.0, 1e-300, 1.7976931348623157e308, 3.141592653589793],
    "nested": [[1, [2, [3, []]]], {"a": {}, "b": [True, False, None]}],
    "empty": {},
}


def sample_tensors() -> dict[str, np.ndarray]:
    """Every allowed dtype, 0-d, zero-size, non-contiguous and big-endian inputs."""
    rng = np.random.default_rng(0)
    return {
        "features": rng.normal(size=(50, 4)).astype(np.float32),
        "f16": np.array([0.5, -2.0, np.inf], dtype=np.float16),
        "f64": rng.normal(size=(2, 3, 4)),
        "big_endian": np.arange(6, dtype=">i4").reshape(2, 3),
        "transposed": np.arange(12, dtype=np.int64).reshape(3, 4).T,
        "i8": np.array([-128, 127], dtype=np.int8),
        "i16": np.array([-1], dtype=np.int16),
        "u8": np.arange(256, dtype=np.uint8),
        "u16": np.array([65535], dtype=np.uint16),
        "u32": np.array([2**32 - 1], dtype=np.uint32),
        "u64": np.array([2**64 - 1], dtype=np.uint64),
        "flags": np.array([[True, False], [False, True]]),
        "scalar": np.array(7, dtype=np.int32),
        "empty": np.zeros((0, 5), dtype=np.float32),
        "body.0.weight": np.ones((2, 1, 3, 3), dtype=np.float32),
    }


def _assert_same(box: Container, meta: dict, tensors: dict) -> None:
    assert box.meta == meta
    assert json.dumps(box.meta, sort_keys=True) == json.dumps(meta, sort_keys=True)
    assert list(box.tensors) == sorted(tensors)
    for name, array in tensors.items():
        got = box.tensors[name]
        assert got.shape == array.shape
        assert got.dtype == array.dtype.newbyteorder("<")
        assert got.dtype.byteorder in "=|<"
        np.testing.assert_array_equal(got, array)


def test_round_trip():
    tensors = sample_tensors()
    data = dump_container(META, tensors)
    box = load_container(data)
    _assert_same(box, META, tensors)
    assert box.signature is SignatureStatus.ABSENT
    assert str(box.signature) == "absent"
    assert box.meta_bytes == len(json.dumps(META, sort_keys=True, separators=(",", ":")))
    assert 0 < box.tensor_bytes < len(data)
    assert len(box.sha256) == 64
    assert box.tensors["scalar"].shape == ()
    box.tensors["features"][0, 0] = 1.0  # fresh arrays, not views of the file


def test_empty_container_round_trip():
    box = load_container(dump_container({}, {}))
    assert box.meta == {} and box.tensors == {}


def test_bytes_are_deterministic_and_independent_of_order():
    tensors = sample_tensors()
    first = dump_container(META, tensors, key=KEY)
    assert dump_container(META, tensors, key=KEY) == first
    reordered_meta = dict(reversed(list(META.items())))
    reordered = dict(reversed(list(tensors.items())))
    assert dump_container(reordered_meta, reordered, key=KEY) == first
    canonical = {k: np.asarray(v, v.dtype.newbyteorder("<"), order="C") for k, v in tensors.items()}
    assert dump_container(META, canonical, key=KEY) == first


def test_layout_is_a_plain_memo_free_pickle(tmp_path):
    data = dump_container(META, sample_tensors(), key=KEY)
    plain = pickle.loads(data)
    assert list(plain) == ["format", "format_version", "meta", "tensors", "sha256", "hmac_sha256"]
    assert [type(v) for v in plain.values()] == [str, int, str, bytes, str, str]
    assert plain["format"] == "skdcsae-donor-kit" and plain["format_version"] == 3
    assert json.loads(plain["meta"]) == META
    path = tmp_path / "kit.joblib"
    path.write_bytes(data)
    assert joblib.load(path) == plain
    names = {op.name for op, _, _ in pickletools.genops(data)}
    assert names <= {
        "PROTO",
        "EMPTY_DICT",
        "MARK",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "SHORT_BINBYTES",
        "BINBYTES",
        "BININT1",
        "SETITEMS",
        "STOP",
    }
    assert "hmac_sha256" not in pickle.loads(dump_container({}, {}))


def test_tamper_detection():
    data = dump_container(META, sample_tensors())
    plain = pickle.loads(data)
    changed_meta = plain["meta"].replace("donor", "d0nor")
    changed_tensors = bytearray(plain["tensors"])
    changed_tensors[-3] ^= 0x01
    for field, value in (("meta", changed_meta), ("tensors", bytes(changed_tensors))):
        with pytest.raises(DonorKitError, match="SHA-256 digest"):
            load_container(encode_outer({**plain, field: value}))
    for position in (len(data) // 2, len(data) - 100, len(data) - 2):  # tensor data and header
        raw = bytearray(data)
        raw[position] ^= 0x10
        with pytest.raises(DonorKitError):
            load_container(bytes(raw))


def test_signing():
    tensors = sample_tensors()
    signed = dump_container(META, tensors, key=KEY)
    assert load_container(signed, key=KEY).signature is SignatureStatus.VERIFIED
    assert load_container(signed, key=KEY.decode()).signature is SignatureStatus.VERIFIED
    box = load_container(signed)
    assert box.signature is SignatureStatus.UNVERIFIED
    assert str(box.signature) == "present, not verified (no key given)"
    _assert_same(box, META, tensors)
    with pytest.raises(DonorKitError, match="does not match this key"):
        load_container(signed, key=b"wrong")
    with pytest.raises(DonorKitError, match="signed kit expected"):
        load_container(dump_container(META, tensors), key=KEY)
    # new content with a recomputed digest keeps an old signature that no longer verifies
    plain = pickle.loads(signed)
    evil = pickle.loads(forged(b'{"evil":1}', plain["tensors"]))
    evil["hmac_sha256"] = plain["hmac_sha256"]
    assert load_container(encode_outer(evil)).meta == {"evil": 1}  # no key: digest only
    with pytest.raises(DonorKitError, match="does not match this key"):
        load_container(encode_outer(evil), key=KEY)


@pytest.mark.parametrize("key", [b"", ""])
def test_empty_keys_are_refused(key):
    with pytest.raises(ValueError, match="empty"):
        dump_container({}, {}, key=key)
    with pytest.raises(ValueError, match="empty"):
        load_container(dump_container({}, {}), key=key)


def test_argument_types():
    with pytest.raises(TypeError):
        load_container("not bytes")
    with pytest.raises(TypeError):
        load_container(b"", key=123)
    assert load_container(bytearray(dump_container({}, {}))).meta == {}
    assert load_container(memoryview(dump_container({}, {}))).meta == {}


@pytest.mark.parametrize(
    ("meta", "tensors", "error", "match"),
    [
        ([], {}, TypeError, "meta must be a dict"),
        ({"a": (1, 2)}, {}, TypeError, "tuple"),
        ({"a": np.float32(1)}, {}, TypeError, "float32"),
        ({1: 2}, {}, TypeError, "keys must be str"),
        ({"a": float("nan")}, {}, DonorKitError, "non-finite"),
        ({"a": 10**25}, {}, DonorKitError, "digits"),
        ({}, {"a": [1, 2]}, TypeError, "numpy array"),
        ({}, {"a": np.array([object()])}, DonorKitError, "no object"),
        ({}, {"a": np.zeros(2, dtype="f4,i4")}, DonorKitError, "structured"),
        ({}, {"a": np.array(["x"])}, DonorKitError, "string"),
        ({}, {"a": np.zeros(2, dtype=np.complex64)}, DonorKitError, "complex"),
        ({}, {"__metadata__": np.zeros(1)}, DonorKitError, "tensor name"),
        ({}, {"a b": np.zeros(1)}, DonorKitError, "tensor name"),
        ({}, {"": np.zeros(1)}, DonorKitError, "tensor name"),
    ],
)
def test_writer_refusals(meta, tensors, error, match):
    with pytest.raises(error, match=match):
        dump_container(meta, tensors)


def test_writer_normalises_booleans():
    odd = np.array([0, 1, 2, 255], dtype=np.uint8).view(bool)
    box = load_container(dump_container({}, {"b": odd}))
    assert box.tensors["b"].view(np.uint8).tolist() == [0, 1, 1, 1]


def test_limits_are_enforced_and_overridable():
    meta, tensors = {"a": list(range(10)), "b": [[]]}, {"x": np.zeros(10), "y": np.zeros(1)}
    data = dump_container(meta, tensors)
    small = [
        KitLimits(max_file_bytes=100),
        KitLimits(max_meta_bytes=5),
        KitLimits(max_json_items=5),
        KitLimits(max_tensors=1),
        KitLimits(max_tensor_bytes=40),
        KitLimits(max_tensor_elements=5),
        KitLimits(max_header_bytes=16),
        KitLimits(max_json_depth=1),
    ]
    for limits in small:
        with pytest.raises(DonorKitError):
            load_container(data, limits=limits)
        with pytest.raises(DonorKitError):
            dump_container(meta, tensors, limits=limits)
    assert dataclasses.replace(DEFAULT_LIMITS, max_tensors=2) == KitLimits(max_tensors=2)
    with pytest.raises(ValueError, match="positive int"):
        KitLimits(max_file_bytes=0)
    with pytest.raises(TypeError):
        load_container(data, limits={"max_file_bytes": 1})


def test_large_meta_and_tensor_sections_use_long_opcodes():
    meta = {"text": "x" * 300}
    tensors = {"big": np.zeros(100, np.float32)}
    data = dump_container(meta, tensors)
    assert b"\x8c\x04metaX" in data and b"\x8c\x07tensorsB" in data
    _assert_same(load_container(data), meta, tensors)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_DTYPES = st.sampled_from(
    ["?", "i1", "<i2", ">i4", "<i8", "u1", ">u2", "<u4", "<u8", "<f2", ">f4", "<f8"]
)
_ARRAYS = _DTYPES.flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
)


@settings(max_examples=60, deadline=None)
@given(
    meta=st.dictionaries(st.text(max_size=8), _JSON, max_size=5),
    tensors=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_.:/-]{1,12}", fullmatch=True), _ARRAYS, max_size=4
    ),
    signed=st.booleans(),
)
def test_round_trip_property(meta, tensors, signed):
    key = KEY if signed else None
    data = dump_container(meta, tensors, key=key)
    assert dump_container(meta, tensors, key=key) == data
    box = load_container(data, key=key)
    assert dump_json(box.meta) == dump_json(meta)
    assert sorted(box.tensors) == sorted(tensors)
    for name, array in tensors.items():
        got = box.tensors[name]
        assert got.shape == array.shape and got.dtype == array.dtype.newbyteorder("<")
        assert got.tobytes() == np.asarray(array, got.dtype).tobytes()
