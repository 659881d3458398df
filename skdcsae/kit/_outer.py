"""The outer layer of a format-3 kit: a pickle of one flat dict, written and read by hand.

The writer emits exactly this opcode stream (protocol 4, no frame, no memo)::

    PROTO 4, EMPTY_DICT, MARK, (key, value) * n, SETITEMS, STOP

with each key a ``SHORT_BINUNICODE`` and each value the shortest of ``SHORT_BINUNICODE`` /
``BINUNICODE`` (str), ``SHORT_BINBYTES`` / ``BINBYTES`` / ``BINBYTES8`` (bytes) and
``BININT1`` / ``BININT2`` / ``BININT`` (int), keys in the fixed order of :data:`FIELDS`.
``pickle.loads`` and ``joblib.load`` turn it into a plain ``dict``.

The reader never runs the unpickler. It walks that grammar and nothing else: every other
opcode (globals, ``REDUCE``, ``BUILD``, memo puts and gets, persistent ids, extension codes,
frames, lists, tuples, floats, ...) is refused by name where it appears; every declared length
is checked against the bytes left and against a per-field cap *before* anything is sliced;
values are zero-copy :class:`memoryview` slices (only short ASCII strings are copied); an
unknown, duplicate, out-of-order or wrongly typed field, a non-shortest encoding and any byte
after ``STOP`` are refused. The grammar admits at most six fields, so the walk is bounded.
"""

from __future__ import annotations

import pickletools
import re
import struct

from ._errors import DonorKitError
from ._limits import KitLimits

__all__ = ["FIELDS", "FORMAT_NAME", "FORMAT_VERSION", "decode_outer", "encode_outer"]

FORMAT_NAME = "skdcsae-donor-kit"
FORMAT_VERSION = 3
FIELDS = ("format", "format_version", "meta", "tensors", "sha256", "hmac_sha256")
_OPTIONAL = frozenset({"hmac_sha256"})
_TYPES = {
    "format": str,
    "format_version": int,
    "meta": str,
    "tensors": bytes,
    "sha256": str,
    "hmac_sha256": str,
}
_HEX = re.compile(rb"[0-9a-f]{64}")
_REEXPORT = (
    "formats 1 and 2 were pre-release formats that this version no longer reads; "
    "ask the donor to re-export the kit with this version of skdcsae"
)
# Formats 1-2 were written with pickle.dump(protocol=4): frame, memo, then these two fields.
_LEGACY = re.compile(
    rb"\x80[\x04\x05]\x95[\s\S]{8}\}\x94\(\x8c\x06format\x94\x8c\x11skdcsae-donor-kit\x94"
    rb"\x8c\x0eformat_version\x94K([\x01\x02])"
)
_NAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}

PROTO, EMPTY_DICT, MARK, SETITEMS, STOP = 0x80, ord("}"), ord("("), ord("u"), ord(".")
SHORT_BINUNICODE, BINUNICODE = 0x8C, ord("X")
SHORT_BINBYTES, BINBYTES, BINBYTES8 = ord("C"), ord("B"), 0x8E
BININT1, BININT2, BININT = ord("K"), ord("M"), ord("J")
_STR_OPS = {SHORT_BINUNICODE: "<B", BINUNICODE: "<I"}
_BYTES_OPS = {SHORT_BINBYTES: "<B", BINBYTES: "<I", BINBYTES8: "<Q"}
_INT_OPS = {BININT1: "<B", BININT2: "<H", BININT: "<i"}
_VALUE_OPS = {**_STR_OPS, **_BYTES_OPS, **_INT_OPS}


def _length_op(n: int, ops: tuple[int, ...]) -> int:
    """The shortest of ``ops`` (1-, 4- then 8-byte length) that can hold length ``n``."""
    for op, bound in zip(ops, (2**8, 2**32, 2**64), strict=False):
        if n < bound:
            return op
    raise ValueError(f"a {n}-byte value is too long for a pickle")


def _int_op(value: int) -> int:
    if 0 <= value < 2**8:
        return BININT1
    if 0 <= value < 2**16:
        return BININT2
    if -(2**31) <= value < 2**31:
        return BININT
    raise ValueError(f"{value} does not fit a 4-byte pickle int")


def _encode_value(value: str | int | bytes) -> bytes:
    if type(value) is int:
        op = _int_op(value)
        return bytes([op]) + struct.pack(_INT_OPS[op], value)
    if type(value) is str:
        raw, ops = value.encode("utf-8"), (SHORT_BINUNICODE, BINUNICODE)
    else:
        raw, ops = bytes(value), (SHORT_BINBYTES, BINBYTES, BINBYTES8)
    op = _length_op(len(raw), ops)
    return bytes([op]) + struct.pack(_VALUE_OPS[op], len(raw)) + raw


def encode_outer(fields: dict[str, str | int | bytes]) -> bytes:
    """Pickle a flat dict of :data:`FIELDS` (in that order), deterministically, without memo.

    Parameters
    ----------
    fields : dict
        ``str``, ``int`` or ``bytes`` values under the names of :data:`FIELDS`.

    Returns
    -------
    data : bytes
        A protocol-4 pickle that ``pickle.loads`` turns back into ``fields``.
    """
    parts = [bytes([PROTO, 4, EMPTY_DICT, MARK])]
    for name in FIELDS:
        if name in fields:
            parts += [_encode_value(name), _encode_value(fields[name])]
    parts.append(bytes([SETITEMS, STOP]))
    return b"".join(parts)


def legacy_version(data: memoryview) -> int | None:
    """1 or 2 when ``data`` starts like a pre-release (format 1 or 2) kit, else None."""
    match = _LEGACY.match(bytes(data[:96]))
    return match.group(1)[0] if match else None


class _Reader:
    """A cursor over the pickle bytes that checks every length before it slices."""

    def __init__(self, data: memoryview):
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str, *, declared: bool = True) -> memoryview:
        if n > len(self.data) - self.pos and not declared:
            raise DonorKitError(f"the kit's pickle is truncated at byte {self.pos} ({what})")
        if n > len(self.data) - self.pos:
            raise DonorKitError(
                f"the kit's pickle declares {what} of {n} bytes at byte {self.pos}, but only "
                f"{len(self.data) - self.pos} bytes are left (truncated or forged length)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def opcode(self, allowed: set[int] | dict[int, str], expected: str) -> int:
        at = self.pos
        op = self.take(1, f"expecting {expected}", declared=False)[0]
        if op in allowed:
            return op
        name = _NAMES.get(op)
        if name is None:
            raise DonorKitError(f"the kit's pickle has an unknown opcode 0x{op:02x} at byte {at}")
        if op in _VALUE_OPS or op in (PROTO, EMPTY_DICT, MARK, SETITEMS, STOP):
            raise DonorKitError(
                f"the kit's pickle has opcode {name} at byte {at} where {expected} belongs"
            )
        raise DonorKitError(
            f"the kit's pickle has the refused opcode {name} at byte {at}: a format-3 kit is "
            "one dict of str, int and bytes, with no globals, calls, memo or other objects"
        )

    def value(self, op: int, what: str, cap: int) -> int | memoryview:
        at = self.pos - 1
        size = struct.calcsize(_VALUE_OPS[op])
        (arg,) = struct.unpack(_VALUE_OPS[op], self.take(size, f"inside {what}", declared=False))
        if op in _INT_OPS:
            if _int_op(arg) != op:
                raise DonorKitError(f"the kit's pickle encodes {what} at byte {at} non-canonically")
            return arg
        if arg > cap:
            raise DonorKitError(
                f"the kit's pickle declares {what} of {arg} bytes at byte {at} (limit {cap})"
            )
        ops = (SHORT_BINUNICODE, BINUNICODE) if op in _STR_OPS else _BYTES_OPS
        if _length_op(arg, tuple(ops)) != op:
            raise DonorKitError(f"the kit's pickle encodes {what} at byte {at} non-canonically")
        return self.take(arg, what)


def _ascii(raw: memoryview, what: str) -> str:
    data = bytes(raw)
    if not data.isascii():
        raise DonorKitError(f"the kit's {what} is not ASCII")
    return data.decode("ascii")


def _caps(limits: KitLimits) -> dict[str, int]:
    return {
        "format": 64,
        "format_version": 0,
        "meta": limits.max_meta_bytes,
        "tensors": 8 + limits.max_header_bytes + limits.max_tensor_bytes,
        "sha256": 64,
        "hmac_sha256": 64,
    }


def _check_field(name: str, value: str | int | memoryview) -> None:
    """Refuse a wrong format name or version as soon as it is read."""
    if name == "format" and value != FORMAT_NAME:
        raise DonorKitError(f"not a donor kit: its format is {value[:64]!r}, not {FORMAT_NAME!r}")
    if name == "format_version" and value != FORMAT_VERSION:
        if value in (1, 2):
            raise DonorKitError(f"donor kit format version {value}: {_REEXPORT}")
        raise DonorKitError(
            f"donor kit format version {value} is not supported: this version of skdcsae reads "
            f"format {FORMAT_VERSION} only"
        )
    if name in ("sha256", "hmac_sha256") and not _HEX.fullmatch(value.encode("ascii")):
        raise DonorKitError(f"the kit's {name} is not 64 lowercase hex digits")


def decode_outer(data: memoryview, limits: KitLimits) -> dict[str, str | int | memoryview]:
    """Parse the outer pickle of a kit without unpickling it.

    Parameters
    ----------
    data : memoryview
        The whole file.
    limits : KitLimits
        Caps on the declared lengths of the metadata and tensor sections.

    Returns
    -------
    fields : dict
        ``format`` (str), ``format_version`` (int), ``meta`` (memoryview of ASCII JSON),
        ``tensors`` (memoryview), ``sha256`` (str) and, when present, ``hmac_sha256`` (str).

    Raises
    ------
    DonorKitError
        On any deviation from the writer's grammar (see the module docstring).
    """
    legacy = legacy_version(data)
    if legacy is not None:
        raise DonorKitError(f"donor kit format version {legacy}: {_REEXPORT}")
    reader = _Reader(data)
    reader.opcode({PROTO}, "PROTO")
    if reader.take(1, "inside the protocol number", declared=False)[0] != 4:
        raise DonorKitError("the kit's pickle is not protocol 4, which format 3 is written in")
    reader.opcode({EMPTY_DICT}, "EMPTY_DICT")
    reader.opcode({MARK}, "MARK")
    caps, fields = _caps(limits), {}
    remaining = list(FIELDS)
    while True:
        op = reader.opcode({SETITEMS, *_STR_OPS}, "a field name or SETITEMS")
        if op == SETITEMS:
            break
        at = reader.pos - 1
        name = _ascii(reader.value(op, "a field name", 32), "field name")
        if name not in FIELDS:
            raise DonorKitError(f"the kit has an unknown field {name!r} at byte {at}")
        if name not in remaining:
            raise DonorKitError(f"the kit has the field {name!r} twice")
        if name != remaining[0]:
            raise DonorKitError(f"the kit's field {name!r} comes where {remaining[0]!r} belongs")
        remaining.pop(0)
        kind = _TYPES[name]
        ops = {str: _STR_OPS, int: _INT_OPS, bytes: _BYTES_OPS}[kind]
        op = reader.opcode(ops, f"the {kind.__name__} value of {name!r}")
        value = reader.value(op, f"the value of {name!r}", caps[name])
        if kind is str and name != "meta":
            value = _ascii(value, name)
        _check_field(name, value)
        fields[name] = value
    reader.opcode({STOP}, "STOP")
    if reader.pos != len(data):
        raise DonorKitError(
            f"the kit has {len(data) - reader.pos} bytes after the end of its pickle"
        )
    missing = [name for name in FIELDS if name not in fields and name not in _OPTIONAL]
    if missing:
        raise DonorKitError(f"the kit lacks the field(s) {', '.join(missing)}")
    return fields
