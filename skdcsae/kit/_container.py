"""Donor-kit container, format 3: canonical JSON and safetensors bytes in a plain pickled dict.

This module is the byte-level codec; it knows nothing of estimators, networks or kit fields.
A container is the pickle (protocol 4, no memo, no frame) of one ``dict``:

=================  ======  ================================================================
``format``         str     ``"skdcsae-donor-kit"``
``format_version`` int     ``3``
``meta``           str     canonical JSON of a dict: sorted keys, no spaces, ASCII escapes,
                           no NaN or infinity (exactly :func:`json.dumps` with
                           ``sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                           allow_nan=False``)
``tensors``        bytes   a safetensors file of every array, without ``__metadata__``
``sha256``         str     64 lowercase hex digits: SHA-256 of the message below
``hmac_sha256``    str     the same under HMAC-SHA256 with a shared key; absent when unsigned
=================  ======  ================================================================

The message hashed and signed is the exact bytes of both sections, length-prefixed and
domain-separated: ``b"skdcsae-donor-kit/3\\0" + u64le(len(meta)) + meta + u64le(len(tensors))
+ tensors``. The file is deterministic: the same content (and key) always gives the same bytes.

``pickle.loads`` and ``joblib.load`` open the file as that plain dict. :func:`load_container`
does not: it walks the opcodes itself (:mod:`skdcsae.kit._outer`), checks every declared size
against :class:`~skdcsae.kit.KitLimits` before allocating, verifies the HMAC (when a key is
given) and the digest over the exact bytes *before* parsing either section, then parses the
JSON with :mod:`skdcsae.kit._json` and the tensors with :mod:`skdcsae.kit._tensors`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import DonorKitError
from ._json import check_json_value, dump_json, parse_json
from ._limits import DEFAULT_LIMITS, KitLimits
from ._outer import FORMAT_NAME, FORMAT_VERSION, decode_outer, encode_outer
from ._tensors import dump_tensors, load_tensors

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Container",
    "KitLimits",
    "SignatureStatus",
    "content_digests",
    "dump_container",
    "load_container",
]

# The types of a container's content and of a signing key, as the functions below take them.
Meta = dict[str, Any]
Tensors = Mapping[str, np.ndarray]
Key = bytes | str | None

_DOMAIN = b"skdcsae-donor-kit/3\0"


class SignatureStatus(str, enum.Enum):
    """What :func:`load_container` established about a container's HMAC signature.

    Examples
    --------
    >>> from skdcsae.kit import SignatureStatus
    >>> str(SignatureStatus.UNVERIFIED)
    'present, not verified (no key given)'
    """

    VERIFIED = "verified"
    ABSENT = "absent"
    UNVERIFIED = "present, not verified (no key given)"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Container:
    """The verified content of a format-3 container.

    Attributes
    ----------
    meta : dict
        The parsed JSON metadata.
    tensors : dict of str to numpy.ndarray
        Fresh arrays (copies, not views of the file), in name order.
    sha256 : str
        The digest of the exact metadata and tensor bytes, verified.
    signature : SignatureStatus
        ``VERIFIED`` (a key was given and matched), ``ABSENT`` (unsigned, no key given) or
        ``UNVERIFIED`` (signed, but no key was given to check it).
    meta_bytes : int
        Size of the JSON section.
    tensor_bytes : int
        Size of the safetensors section.
    hmac_sha256 : str or None
        The signature as stored (64 hex digits), verified only when ``signature`` is
        ``VERIFIED``; None when unsigned.
    """

    meta: dict[str, Any]
    tensors: dict[str, np.ndarray]
    sha256: str
    signature: SignatureStatus
    meta_bytes: int
    tensor_bytes: int
    hmac_sha256: str | None = None


def _key_bytes(key: bytes | bytearray | str | None) -> bytes | None:
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be str or bytes, not {type(key).__name__}.")
    if not key:
        raise ValueError("key must not be empty.")
    return bytes(key)


def _message(meta: bytes | memoryview, tensors: bytes | memoryview) -> list:
    u64 = struct.Struct("<Q").pack
    return [_DOMAIN, u64(len(meta)), meta, u64(len(tensors)), tensors]


def _digest(parts: list) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _hmac(key: bytes, parts: list) -> str:
    h = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _assemble(meta: bytes, tensors: bytes, key: bytes | None) -> bytes:
    """Wrap already-encoded sections with their digest (and signature) in the outer pickle."""
    parts = _message(meta, tensors)
    fields: dict[str, str | int | bytes] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "meta": meta.decode("ascii"),
        "tensors": tensors,
        "sha256": _digest(parts),
    }
    if key is not None:
        fields["hmac_sha256"] = _hmac(key, parts)
    return encode_outer(fields)


def _encode_sections(meta, tensors, limits: KitLimits) -> tuple[bytes, bytes]:
    """The exact bytes of both sections, as written (and hashed)."""
    if type(meta) is not dict:
        raise TypeError(f"meta must be a dict, not {type(meta).__name__}.")
    check_json_value(meta, "the kit's metadata", limits)
    meta_bytes = dump_json(meta)
    if len(meta_bytes) > limits.max_meta_bytes:
        raise DonorKitError(
            f"the kit's metadata is {len(meta_bytes)} bytes as JSON (limit {limits.max_meta_bytes})"
        )
    return meta_bytes, dump_tensors(tensors, limits)


def content_digests(
    meta: Meta, tensors: Tensors, *, key: Key = None, limits: KitLimits = DEFAULT_LIMITS
) -> tuple[str, str | None]:
    """The SHA-256 digest (and HMAC) a container of this content carries, without the file.

    Parameters
    ----------
    meta, tensors, key, limits
        As for :func:`dump_container`.

    Returns
    -------
    sha256 : str
        What ``load_container(dump_container(meta, tensors)).sha256`` would be.
    hmac_sha256 : str or None
        The signature under ``key``; None without a key.

    Raises
    ------
    TypeError, ValueError, DonorKitError
        As :func:`dump_container` does.
    """
    key = _key_bytes(key)
    parts = _message(*_encode_sections(meta, tensors, limits))
    return _digest(parts), None if key is None else _hmac(key, parts)


def dump_container(
    meta: Meta, tensors: Tensors, *, key: Key = None, limits: KitLimits = DEFAULT_LIMITS
) -> bytes:
    """Encode metadata and arrays as the bytes of a format-3 container.

    Parameters
    ----------
    meta : dict
        Plain JSON data: ``dict`` with ``str`` keys, ``list``, ``str``, ``int``, ``bool``,
        finite ``float`` and ``None`` (no tuples, numpy scalars or other types, which would not
        come back as themselves).
    tensors : dict of str to numpy.ndarray
        Arrays of bool, int8-64, uint8-64 or float16-64, named by strings of
        ``[A-Za-z0-9_.:/-]``. They are written C-contiguous and little-endian.
    key : str or bytes, default=None
        A non-empty shared secret: when given, the container carries an HMAC-SHA256 signature.
    limits : KitLimits, default=DEFAULT_LIMITS
        The writer refuses what a reader with these limits would refuse.

    Returns
    -------
    data : bytes
        The container, identical for identical content and key.

    Raises
    ------
    TypeError
        If ``meta`` or ``tensors`` hold a value of an unsupported type, or ``key`` is not
        ``str`` or ``bytes``.
    ValueError
        If ``key`` is empty. :class:`DonorKitError` (a ``ValueError``) if a dtype, name,
        non-finite float or size cannot go into a kit.

    Examples
    --------
    >>> import numpy as np
    >>> from skdcsae.kit._container import dump_container, load_container
    >>> data = dump_container({"classes": [0, 1]}, {"features": np.zeros((3, 2), "float32")})
    >>> box = load_container(data)
    >>> box.meta, box.tensors["features"].shape, str(box.signature)
    ({'classes': [0, 1]}, (3, 2), 'absent')
    """
    key = _key_bytes(key)
    meta_bytes, tensor_bytes = _encode_sections(meta, tensors, limits)
    data = _assemble(meta_bytes, tensor_bytes, key)
    if len(data) > limits.max_file_bytes:
        raise DonorKitError(f"the kit is {len(data)} bytes (limit {limits.max_file_bytes})")
    return data


def _as_view(data: bytes | bytearray | memoryview) -> memoryview:
    """A byte view of ``data``; a mutable buffer is copied first, so that the bytes verified
    are the bytes parsed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}.")
    if not isinstance(data, bytes):
        view = memoryview(data)
        if not view.c_contiguous:
            raise TypeError("data must be a contiguous buffer.")
        data = view.tobytes()
    return memoryview(data)


def _verify(fields: dict, key: bytes | None) -> SignatureStatus:
    """Check the signature (given a key) and the digest over the exact section bytes."""
    parts = _message(fields["meta"], fields["tensors"])
    signature = fields.get("hmac_sha256")
    if key is not None:
        if signature is None:
            raise DonorKitError(
                "signed kit expected: a key was given, but the kit is unsigned; ask the donor to "
                "sign it with the shared key (export_donor_kit(..., key=...))"
            )
        if not hmac.compare_digest(_hmac(key, parts), signature):
            raise DonorKitError(
                "the kit's HMAC-SHA256 signature does not match this key: it was signed with "
                "another key or modified after signing"
            )
    if not hmac.compare_digest(_digest(parts), fields["sha256"]):
        raise DonorKitError(
            "the kit's content does not match its SHA-256 digest: it was modified or corrupted"
        )
    if key is not None:
        return SignatureStatus.VERIFIED
    return SignatureStatus.ABSENT if signature is None else SignatureStatus.UNVERIFIED


def load_container(
    data: bytes | bytearray | memoryview, *, key: Key = None, limits: KitLimits = DEFAULT_LIMITS
) -> Container:
    """Verify and decode the bytes of a format-3 container, never unpickling them.

    Parameters
    ----------
    data : bytes
        The whole file. Check its size against ``limits.max_file_bytes`` before reading it.
        A ``bytearray`` or ``memoryview`` is copied to ``bytes`` first.
    key : str or bytes, default=None
        The shared secret. When given, an unsigned container or a signature made with another
        key is refused; when None, a signature is reported but not checked.
    limits : KitLimits, default=DEFAULT_LIMITS
        The size limits, all checked before allocating.

    Returns
    -------
    container : Container
        The metadata, arrays, digest and signature status.

    Raises
    ------
    DonorKitError
        With a one-line reason, for every failure: not a format-3 container, a refused pickle
        opcode, a size over a limit, a forged length or offset, a non-canonical or malformed
        JSON document, a safetensors section that fails its checks, a missing or wrong
        signature, a digest mismatch, or format version 1 or 2 (re-export the kit).
    TypeError
        If ``data`` is not a bytes-like buffer, or ``key`` is not ``str`` or ``bytes``.
    ValueError
        If ``key`` is empty.
    """
    key = _key_bytes(key)
    if not isinstance(limits, KitLimits):
        raise TypeError(f"limits must be a KitLimits, not {type(limits).__name__}.")
    view = _as_view(data)
    if len(view) > limits.max_file_bytes:
        raise DonorKitError(f"the kit is {len(view)} bytes (limit {limits.max_file_bytes})")
    fields = decode_outer(view, limits)
    status = _verify(fields, key)
    meta = parse_json(
        bytes(fields["meta"]),
        "the kit's metadata",
        limits,
        max_bytes=limits.max_meta_bytes,
        canonical=True,
    )
    if type(meta) is not dict:
        raise DonorKitError("the kit's metadata is not a JSON object")
    tensors = load_tensors(fields["tensors"], limits)
    return Container(
        meta=meta,
        tensors=tensors,
        sha256=fields["sha256"],
        signature=status,
        meta_bytes=len(fields["meta"]),
        tensor_bytes=len(fields["tensors"]),
        hmac_sha256=fields.get("hmac_sha256"),
    )
