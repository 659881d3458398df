"""Hardened JSON: bounded parsing of untrusted documents, canonical writing of trusted ones.

:func:`parse_json` caps the document's size, checks its nesting depth with a linear scan
*before* :func:`json.loads` runs (so the parser's recursion stays shallow), refuses non-ASCII
bytes, ``NaN``/``Infinity`` and overflowing floats, integer literals of more than
``max_json_int_digits`` digits (checked before Python converts them, so CPython's
int-digits limit is never reached), duplicate object keys, and over-long strings, arrays and
objects. With ``canonical=True`` it also requires the bytes to be exactly :func:`dump_json` of
the parsed value, so that a value has one encoding only.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ._errors import DonorKitError
from ._limits import KitLimits

__all__ = ["dump_json", "parse_json"]

_STRUCTURAL = re.compile(rb'["\\\[\]{}]')
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dump_json(value: Any) -> bytes:
    """The canonical encoding: sorted keys, no spaces, ASCII only, no NaN or infinity."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def check_json_value(value: Any, what: str, limits: KitLimits, depth: int = 0) -> None:
    """Check that a Python value is plain JSON data within ``limits`` (for the writer).

    Raises
    ------
    TypeError
        If the value holds anything but ``dict`` (with ``str`` keys), ``list``, ``str``,
        ``int``, ``bool``, ``float`` and ``None``: a tuple or a numpy scalar would not come
        back as the same type.
    DonorKitError
        If the value is nested too deeply, holds a non-finite float or breaks a size limit.
    """
    if depth > limits.max_json_depth:
        raise DonorKitError(f"{what} is nested deeper than {limits.max_json_depth} levels")
    if value is None or type(value) is bool:
        return
    if type(value) is int:
        if len(str(abs(value))) > limits.max_json_int_digits:
            raise DonorKitError(
                f"{what} holds an integer of more than {limits.max_json_int_digits} digits"
            )
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise DonorKitError(f"{what} holds a non-finite float {value!r}")
        return
    if type(value) is str:
        _check_string(value, what, limits)
        return
    if type(value) is list:
        _check_items(len(value), what, limits)
        for item in value:
            check_json_value(item, what, limits, depth + 1)
        return
    if type(value) is dict:
        _check_items(len(value), what, limits)
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{what} dict keys must be str, got {_short(key)}.")
            _check_string(key, what, limits)
            check_json_value(item, what, limits, depth + 1)
        return
    raise TypeError(
        f"{what} may hold only dict, list, str, int, float, bool and None, "
        f"not {type(value).__name__}."
    )


def _check_string(value: str, what: str, limits: KitLimits) -> None:
    if len(value) > limits.max_json_string:
        raise DonorKitError(
            f"{what} holds a string of {len(value)} characters (limit {limits.max_json_string})"
        )


def _check_items(n: int, what: str, limits: KitLimits) -> None:
    if n > limits.max_json_items:
        raise DonorKitError(
            f"{what} holds an array or object of {n} items (limit {limits.max_json_items})"
        )


def _check_depth(data: bytes, what: str, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth``; brackets inside string literals do not count.

    Only quotes, backslashes and brackets are visited. Where the document is malformed the
    count may be off, but only after the point where :func:`json.loads` stops with an error,
    so the parser never nests deeper than this scan saw.
    """
    depth, in_string, escaped = 0, False, -1
    for match in _STRUCTURAL.finditer(data):
        i = match.start()
        c = data[i]
        if in_string:
            if i == escaped:
                continue
            if c == _BACKSLASH:
                escaped = i + 1
            elif c == _QUOTE:
                in_string = False
        elif c == _QUOTE:
            in_string = True
        elif c in _OPEN:
            depth += 1
            if depth > max_depth:
                raise DonorKitError(f"{what} is nested deeper than {max_depth} levels")
        elif c in _CLOSE:
            depth -= 1


def parse_json(
    data: bytes, what: str, limits: KitLimits, *, max_bytes: int, canonical: bool
) -> Any:
    """Parse an untrusted JSON document within ``limits``.

    Parameters
    ----------
    data : bytes
        The document.
    what : str
        Its name in error messages.
    limits : KitLimits
        Depth, string, item-count and integer-digit limits.
    max_bytes : int
        Largest accepted document.
    canonical : bool
        Also require ``data == dump_json(value)``.

    Returns
    -------
    value : object
        The parsed value.

    Raises
    ------
    DonorKitError
        If the document is too large, not ASCII, too deeply nested, malformed, holds ``NaN``,
        an infinity, a too-long integer literal, a duplicate key or a too-long string or
        array, or (``canonical``) is not in canonical form.
    """
    if len(data) > max_bytes:
        raise DonorKitError(f"{what} is {len(data)} bytes (limit {max_bytes})")
    if not data.isascii():
        raise DonorKitError(f"{what} is not ASCII")
    _check_depth(data, what, limits.max_json_depth)

    def parse_int(text: str) -> int:
        if len(text.lstrip("-")) > limits.max_json_int_digits:
            raise DonorKitError(
                f"{what} holds an integer of more than {limits.max_json_int_digits} digits"
            )
        return int(text)

    def parse_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise DonorKitError(f"{what} holds a number out of float range")
        return value

    def parse_constant(text: str) -> float:
        raise DonorKitError(f"{what} holds {text}, which JSON does not allow")

    def object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        _check_items(len(pairs), what, limits)
        result: dict[str, Any] = {}
        for key, item in pairs:
            if key in result:
                raise DonorKitError(f"{what} has the key {_short(key)} twice")
            result[key] = item
        return result

    try:
        value = json.loads(
            data.decode("ascii"),
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
            object_pairs_hook=object_pairs,
        )
    except DonorKitError:
        raise
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DonorKitError(f"{what} is not valid JSON ({reason})") from None
    try:
        check_json_value(value, what, limits)
    except TypeError as exc:  # unreachable: json.loads builds plain values only
        raise DonorKitError(str(exc)) from None
    if canonical and dump_json(value) != data:
        raise DonorKitError(f"{what} is not canonical JSON (sorted keys, no spaces, ASCII escapes)")
    return value
