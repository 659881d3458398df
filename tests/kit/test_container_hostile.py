"""Hand-written hostile files against the format-3 reader: memory bombs, code execution,
forged lengths and offsets, malformed and non-canonical JSON, pre-release formats.

Each must raise :class:`DonorKitError` with a one-line reason. This module imports only the
kit codec, numpy and pickle (no torch), so ``test_container_fuzz`` also runs the corpus in a
memory-limited child process.
"""

from __future__ import annotations

import json
import pickle
import re
import struct

import numpy as np
import pytest

from skdcsae.kit._container import _digest, _hmac, _message, dump_container, load_container
from skdcsae.kit._errors import DonorKitError
from skdcsae.kit._outer import encode_outer

KEY = b"shared secret"


def safetensors_blob(header: dict | bytes, data: bytes = b"", header_len: int | None = None):
    """A hand-made safetensors section (header JSON not padded)."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if header_len is None else header_len
    return struct.pack("<Q", n) + raw + data


def forged(meta: bytes = b"{}", tensors: bytes | None = None, key: bytes | None = None):
    """A container around arbitrary sections, with a *correct* digest (and signature)."""
    if tensors is None:
        tensors = safetensors_blob({})
    parts = _message(meta, tensors)
    fields = {"format": "skdcsae-donor-kit", "format_version": 3, "meta": meta.decode()}
    fields.update({"tensors": tensors, "sha256": _digest(parts)})
    if key is not None:
        fields["hmac_sha256"] = _hmac(key, parts)
    return encode_outer(fields)


def outer(**fields) -> bytes:
    """An outer pickle with arbitrary field values (digest not recomputed)."""
    base = {"format": "skdcsae-donor-kit", "format_version": 3, "meta": "{}"}
    base.update({"tensors": safetensors_blob({}), "sha256": "0" * 64})
    base.update(fields)
    return encode_outer(base)


VALID_START = b"\x80\x04}(\x8c\x06format\x8c\x11skdcsae-donor-kit"


def prefix_to(field: str) -> bytes:
    """A valid outer pickle up to and including the key ``field`` (its value missing)."""
    data = outer()
    key = bytes([0x8C, len(field)]) + field.encode()
    return data[: data.index(key) + len(key)]


def entry(dtype: str, shape: list, offsets: list) -> dict:
    """One safetensors header entry."""
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets}


def st_case(header: dict | bytes, data: bytes = b"") -> bytes:
    """A correctly digested container whose tensor section is hand-made."""
    return forged(tensors=safetensors_blob(header, data))


def _pickle_cases() -> list[tuple[str, bytes]]:
    old = pickle.dumps(
        {"format": "skdcsae-donor-kit", "format_version": 2, "weights": np.zeros(3)}, protocol=4
    )
    return [
        ("long_binput_memo_bomb", b"\x80\x04}r\xff\xff\xff\x7f."),
        ("long_binput_first", b"\x80\x04r\xff\xff\xff\x7f."),
        ("binget_reuse", VALID_START + b"q\x00\x8c\x0eformat_versionh\x00u."),
        ("memoize_then_get", b"\x80\x04}\x94(\x8c\x06format\x94h\x00u."),
        ("global_os_system", b"cos\nsystem\n(S'true'\ntR."),
        ("stack_global_reduce", b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."),
        ("stack_global_in_value", prefix_to("meta") + b"\x93R."),
        ("build_opcode", prefix_to("sha256") + b"b"),
        ("persistent_id", prefix_to("tensors") + b"Q."),
        ("ext_code", b"\x80\x04\x82\x01."),
        ("list_value", prefix_to("meta") + b"]u."),
        ("float_version", prefix_to("format_version") + b"G@\x08" + bytes(6) + b"u."),
        ("frame", b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f}."),
        ("protocol_2", b"\x80\x02}."),
        ("protocol_5", b"\x80\x05}."),
        ("huge_field_name", prefix_to("format")[:-8] + b"X\xff\xff\xff\xff"),
        ("huge_binbytes8", prefix_to("tensors") + b"\x8e" + b"\xff" * 8),
        ("huge_binbytes", prefix_to("tensors") + b"B\xff\xff\xff\x7f"),
        ("binbytes_past_end", prefix_to("tensors") + b"B\x00\x10\x00\x00abc"),
        ("short_binbytes_past_end", prefix_to("tensors") + b"C\xff\x00"),
        ("huge_meta_declared", prefix_to("meta") + b"X\x00\x00\x00\x7f"),
        ("non_canonical_short_bytes", prefix_to("tensors") + b"B\x02\x00\x00\x00{}"),
        ("non_canonical_int", prefix_to("format_version") + b"J\x03\x00\x00\x00"),
        ("negative_version", outer(format_version=-1)),
        ("empty_file", b""),
        ("zlib_compressed", b"\x78\x9c" + b"\x00" * 20),
        ("trailing_garbage", dump_container({}, {}) + b"\x00"),
        ("trailing_pickle", dump_container({}, {}) + dump_container({}, {})),
        ("no_stop", dump_container({}, {})[:-1]),
        ("duplicate_field", outer()[:-2] + b"\x8c\x06formatK\x03u."),
        ("unknown_field", outer()[:-2] + b"\x8c\x05extraK\x01u."),
        ("missing_fields", encode_outer({"format": "skdcsae-donor-kit", "format_version": 3})),
        ("wrong_type_meta", outer(meta=b"{}")),
        ("wrong_type_tensors", outer(tensors="{}")),
        ("wrong_format_name", outer(format="other-kit")),
        ("non_ascii_field", outer(sha256="\u00e9" * 32)),
        ("format_2_layout3", outer(format_version=2)),
        ("format_1_layout3", outer(format_version=1)),
        ("format_4", outer(format_version=4)),
        ("legacy_format_2_file", old),
        ("legacy_format_1_file", old.replace(b"version\x94K\x02", b"version\x94K\x01")),
        ("bad_digest_hex", outer(sha256="Z" * 64)),
        ("short_digest", outer(sha256="0" * 63)),
        ("bad_hmac_hex", outer(hmac_sha256="0" * 65)),
        ("digest_mismatch", outer()),
    ]


def _json_cases() -> list[tuple[str, bytes]]:
    return [
        ("deep_json_100k", forged(b"[" * 100_000 + b"]" * 100_000)),
        ("deep_json_unclosed", forged(b'{"a":' + b"[" * 100_000)),
        ("deep_json_objects", forged(b'{"a":' * 50_000 + b"1" + b"}" * 50_000)),
        ("json_nan", forged(b'{"x":NaN}')),
        ("json_infinity", forged(b'{"x":-Infinity}')),
        ("json_overflow_float", forged(b'{"x":1e999}')),
        ("json_huge_int", forged(b'{"x":' + b"9" * 5000 + b"}")),
        ("json_duplicate_key", forged(b'{"a":1,"a":2}')),
        ("json_not_canonical_space", forged(b'{"a": 1}')),
        ("json_not_canonical_order", forged(b'{"b":1,"a":2}')),
        ("json_not_canonical_float", forged(b'{"a":1.50}')),
        ("json_not_canonical_escape", forged(b'{"a":"\\u0041"}')),
        ("json_not_canonical_minus_zero", forged(b'{"a":-0}')),
        ("json_not_object", forged(b"[1]")),
        ("json_malformed", forged(b'{"a":')),
        ("json_control_char", forged(b'{"a":"\x01"}')),
        ("json_non_ascii", forged('{"a":"\u00e9"}'.encode())),
        ("json_long_string", forged(b'{"a":"' + b"x" * 70_000 + b'"}')),
        ("json_long_list", forged(b'{"a":[' + b",".join([b"0"] * 100_001) + b"]}")),
        ("json_too_big", forged(b'{"a":"' + b"x" * (1 << 20) + b'"}')),
    ]


def _safetensors_cases() -> list[tuple[str, bytes]]:
    u8 = entry("U8", [4], [0, 4])
    return [
        ("st_header_len_huge", forged(tensors=safetensors_blob(b"{}", header_len=2**63))),
        ("st_header_len_past_end", forged(tensors=safetensors_blob(b"{}", header_len=100))),
        ("st_short", forged(tensors=b"\x02\x00")),
        ("st_2pow40_elements", st_case({"x": entry("F32", [2**20, 2**20], [0, 2**42])})),
        ("st_2pow40_one_dim", st_case({"x": entry("U8", [2**40], [0, 2**40])}, b"\x00" * 8)),
        ("st_huge_dim_in_empty", st_case({"x": entry("U8", [0, 2**63], [0, 0])})),
        ("st_overlap", st_case({"a": u8, "b": entry("U8", [4], [2, 6])}, b"\x00" * 6)),
        ("st_out_of_range", st_case({"a": entry("U8", [4], [100, 104])}, b"\x00" * 4)),
        ("st_negative_offset", st_case({"a": entry("U8", [4], [-4, 0])})),
        ("st_gap", st_case({"a": entry("U8", [2], [2, 4])}, b"\x00" * 4)),
        ("st_short_data", st_case({"a": u8}, b"\x00" * 3)),
        ("st_extra_data", st_case({"a": u8}, b"\x00" * 5)),
        ("st_span_mismatch", st_case({"a": entry("F32", [2], [0, 4])}, b"\x00" * 4)),
        ("st_one_block_many_tensors", st_case({f"t{i}": u8 for i in range(2000)}, b"\x00" * 4)),
        ("st_same_block_twice", st_case({"a": u8, "b": u8}, b"\x00" * 4)),
        ("st_too_many_tensors", st_case({f"t{i}": entry("U8", [0], [0, 0]) for i in range(5000)})),
        ("st_metadata", st_case({"__metadata__": {"a": "b"}})),
        ("st_complex", st_case({"a": entry("C64", [1], [0, 8])}, b"\x00" * 8)),
        ("st_bfloat", st_case({"a": entry("BF16", [1], [0, 2])}, b"\x00" * 2)),
        ("st_numpy_object", st_case({"a": entry("O", [1], [0, 8])}, b"\x00" * 8)),
        ("st_extra_key", st_case({"a": {**entry("U8", [1], [0, 1]), "x": 1}}, b"\x00")),
        ("st_bad_name", st_case({"a b\n": entry("U8", [1], [0, 1])}, b"\x00")),
        ("st_long_name", st_case({"a" * 300: entry("U8", [1], [0, 1])}, b"\x00")),
        (
            "st_duplicate_name",
            st_case(
                b'{"a":'
                + json.dumps(entry("U8", [1], [0, 1])).encode()
                + b',"a":'
                + json.dumps(entry("U8", [1], [1, 2])).encode()
                + b"}",
                b"\x00\x00",
            ),
        ),
        ("st_too_many_dims", st_case({"a": entry("U8", [1] * 9, [0, 1])}, b"\x00")),
        ("st_bool_shape", st_case({"a": entry("U8", [True], [0, 1])}, b"\x00")),
        ("st_float_offsets", st_case({"a": entry("U8", [1], [0.0, 1.0])}, b"\x00")),
        ("st_bool_byte_2", st_case({"a": entry("BOOL", [2], [0, 2])}, b"\x01\x02")),
        ("st_deep_header", forged(tensors=safetensors_blob(b'{"a":' + b"[" * 100_000))),
        ("st_not_object", forged(tensors=safetensors_blob(b"[]"))),
        ("st_nan_shape", forged(tensors=safetensors_blob(b'{"a":{"dtype":"U8","shape":[NaN]}}'))),
    ]


def hostile_cases() -> list[tuple[str, bytes, bytes | None]]:
    """Hostile files, each of which must be refused with DonorKitError."""
    cases = [(name, data, None) for name, data in _pickle_cases() + _json_cases()]
    cases += [(name, data, None) for name, data in _safetensors_cases()]
    cases += [
        ("unsigned_with_key", dump_container({}, {}), KEY),
        ("wrong_key", dump_container({}, {}, key=b"another key"), KEY),
        ("signed_forged_content", forged(b'{"evil":1}', key=b"attacker key"), KEY),
    ]
    return cases


@pytest.mark.parametrize(
    ("data", "key"), [pytest.param(data, key, id=name) for name, data, key in hostile_cases()]
)
def test_hostile_files_are_refused(data, key):
    with pytest.raises(DonorKitError) as info:
        load_container(data, key=key)
    message = str(info.value)
    assert message and "\n" not in message and "\r" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x80\x04}r\xff\xff\xff\x7f.", "refused opcode LONG_BINPUT at byte 3"),
        (VALID_START + b"q\x00", "refused opcode BINPUT"),
        (VALID_START + b"\x94", "refused opcode MEMOIZE"),
        (VALID_START + b"h\x00", "refused opcode BINGET"),
        (b"\x80\x04\x8c\x02os\x8c\x06system\x93", "SHORT_BINUNICODE at byte 2 where EMPTY_DICT"),
        (b"cos\nsystem\n", "refused opcode GLOBAL at byte 0"),
        (prefix_to("meta") + b"\x93", "refused opcode STACK_GLOBAL"),
        (VALID_START + b"R", "refused opcode REDUCE"),
        (prefix_to("tensors") + b"\x8e" + b"\xff" * 8, "limit"),
        (prefix_to("tensors") + b"B\x00\x10\x00\x00abc", "only 3 bytes are left"),
        (VALID_START + b"\x8c\x04meta", "'meta' comes where 'format_version' belongs"),
        (dump_container({}, {}) + b"\x00", "1 bytes after the end"),
        (outer(format_version=2), "formats 1 and 2 were pre-release"),
        (outer(format_version=4), "format version 4 is not supported"),
        (outer(), "does not match its SHA-256 digest"),
        (forged(b"[" * 100_000), "nested deeper than 32"),
        (forged(b'{"x":NaN}'), "holds NaN"),
        (forged(b'{"x":' + b"9" * 5000 + b"}"), "more than 20 digits"),
        (forged(b'{"a":1,"a":2}'), "the key 'a' twice"),
        (forged(b'{"a": 1}'), "not canonical JSON"),
        (st_case({"x": entry("F32", [2**20, 2**20], [0, 2**42])}), "more than 268435456"),
        (
            st_case({"a": entry("U8", [4], [0, 4]), "b": entry("U8", [4], [0, 4])}, bytes(4)),
            "overlap",
        ),
        (st_case({"__metadata__": {}}), "__metadata__"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_refusal_reasons(data, expected):
    with pytest.raises(DonorKitError, match=re.escape(expected)):
        load_container(data)


def test_legacy_files_get_the_reexport_message():
    for version in (1, 2):
        payload = {"format": "skdcsae-donor-kit", "format_version": version, "x": np.zeros(2)}
        with pytest.raises(DonorKitError, match="re-export the kit with this version"):
            load_container(pickle.dumps(payload, protocol=4))
