"""Reading, writing and verifying donor kits: file -> container -> schema -> DonorKit, and back.

Every failure of untrusted content is a :class:`DonorKitError` with one line of reason that
names the file. Errors of the caller (a key that is not ``str`` or ``bytes``, limits that are
not :class:`KitLimits`) and of the file system (a missing file) are raised as they are.
"""

from __future__ import annotations

import dataclasses
import hmac
import os

from .._files import atomic_write_bytes, read_regular_file
from .._sanitize import terminal_text
from ._container import SignatureStatus, _key_bytes, dump_container, load_container
from ._donor_kit import DonorKit
from ._errors import DonorKitError
from ._limits import DEFAULT_LIMITS, KitLimits
from ._schema import content_to_kit, kit_to_content

__all__ = ["load_donor_kit", "verify_donor_kit", "write_donor_kit"]

# What decoding untrusted content may raise besides DonorKitError; reported as one.
_CONTENT_ERRORS = (ValueError, TypeError, KeyError, UnicodeError, OverflowError, MemoryError)


def _limits(limits: KitLimits | None) -> KitLimits:
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, KitLimits):
        raise TypeError(f"limits must be a KitLimits or None, not {type(limits).__name__}.")
    return limits


def _one_line(where: str, exc: BaseException) -> DonorKitError:
    if isinstance(exc, DonorKitError):
        reason = str(exc)
    elif isinstance(exc, MemoryError):
        reason = "not enough memory to decode the kit"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return DonorKitError(f"{where}: {' '.join(reason.split())}")


def _decode(data: bytes, key: bytes | None, limits: KitLimits) -> DonorKit:
    box = load_container(data, key=key, limits=limits)
    return content_to_kit(
        box.meta,
        box.tensors,
        limits=limits,
        sha256=box.sha256,
        hmac_sha256=box.hmac_sha256,
        signature=box.signature,
    )


def load_donor_kit(path, *, key=None, limits=None) -> DonorKit:
    """Read a donor kit file and verify it, never unpickling it.

    The file must be a regular file of at most ``limits.max_file_bytes`` (a FIFO or a device
    such as ``/dev/zero`` is refused without reading). Its container is decoded by a reader
    that executes nothing (see :mod:`skdcsae.kit._container`), its HMAC (given ``key``) and
    SHA-256 digest are checked over the exact bytes, and every field is checked by
    :mod:`skdcsae.kit._schema` -- the encoder architecture by arithmetic against the weights'
    shapes before any layer is built.

    Parameters
    ----------
    path : str or path-like
        The kit file written by :meth:`skdcsae.DCSAETransformer.export_donor_kit`.
    key : str or bytes, default=None
        The shared secret the donor signed the kit with. When given, unsigned kits and kits
        signed with another key are refused. When None, a signature is reported as
        ``present, not verified (no key given)``.
    limits : KitLimits, default=None
        Size limits (:class:`KitLimits`); None means the defaults.

    Returns
    -------
    kit : DonorKit
        The verified kit; its arrays are read-only.

    Raises
    ------
    DonorKitError
        If the file is not a regular file, is too large, is not a format-3 kit (formats 1
        and 2 are refused with a request to re-export), fails its signature or digest, or
        holds a field that fails its check; the message is one line naming the file.
    OSError
        If the file cannot be opened (``FileNotFoundError`` for a missing file).
    TypeError
        If ``key`` is not ``str`` or ``bytes``, or ``limits`` is not a ``KitLimits``.

    See Also
    --------
    skdcsae.RecipientLabeler : label images with a kit (accepts the path directly).

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae import load_donor_kit
    >>> from skdcsae.kit import write_donor_kit
    >>> from skdcsae.kit._examples import example_kit
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> _ = write_donor_kit(example_kit(), path, key="shared secret")
    >>> kit = load_donor_kit(path, key="shared secret")
    >>> kit.classes, kit.features.shape, str(kit.signature)
    (array([0, 1]), (40, 4), 'verified')
    >>> str(load_donor_kit(path).signature)
    'present, not verified (no key given)'
    >>> load_donor_kit(path, key="wrong")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skdcsae.kit._errors.DonorKitError: ...: the kit's HMAC-SHA256 signature does not match ...
    """
    key = _key_bytes(key)
    limits = _limits(limits)
    where = terminal_text(os.fspath(path))
    try:
        data = read_regular_file(path, max_bytes=limits.max_file_bytes, limit_name="max_file_bytes")
    except ValueError as exc:  # not a regular file, or too large: the message names the file
        raise DonorKitError(" ".join(str(exc).split())) from None
    try:
        return _decode(data, key, limits)
    except (DonorKitError, *_CONTENT_ERRORS) as exc:
        raise _one_line(where, exc) from None


def verify_donor_kit(kit, *, key=None, limits=None) -> DonorKit:
    """Check a DonorKit object as if it were a file: content, digest and signature.

    The kit's content is encoded again and its SHA-256 digest compared with ``kit.sha256``,
    so a kit whose arrays or fields were changed in memory after loading is refused; given
    ``key``, ``kit.hmac_sha256`` must be the content's signature under it. The kit returned
    is built from a copy of the content that was checked, so later changes to the object
    passed in do not reach it.

    Parameters
    ----------
    kit : DonorKit
        A kit returned by :func:`load_donor_kit` or :func:`write_donor_kit` (or export).
    key : str or bytes, default=None
        The shared secret; when given, the kit must carry a matching signature.
    limits : KitLimits, default=None
        Size limits; None means the defaults.

    Returns
    -------
    kit : DonorKit
        A verified copy.

    Raises
    ------
    DonorKitError
        If the content is not a valid kit, does not match its digest, or (given ``key``) is
        unsigned or signed with another key.
    TypeError
        If ``kit`` is not a DonorKit, or ``key`` or ``limits`` has the wrong type.

    Examples
    --------
    >>> import dataclasses
    >>> from skdcsae.kit import verify_donor_kit
    >>> from skdcsae.kit._examples import example_kit
    >>> kit = example_kit()
    >>> verify_donor_kit(kit) == kit
    True
    >>> edited = dataclasses.replace(kit, created="2000-01-01T00:00:00+00:00")
    >>> verify_donor_kit(edited)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skdcsae.kit._errors.DonorKitError: DonorKit object: the kit's content does not match ...
    """
    if not isinstance(kit, DonorKit):
        raise TypeError(f"expected a DonorKit, got {type(kit).__name__}.")
    key = _key_bytes(key)
    limits = _limits(limits)
    where = "DonorKit object"
    try:
        stored, signature = kit.sha256, kit.hmac_sha256
        if type(stored) is not str or not (signature is None or type(signature) is str):
            raise DonorKitError("its sha256 and hmac_sha256 must be strings")
        data = dump_container(*kit_to_content(kit), key=key, limits=limits)
        fresh = _decode(data, key, limits)  # a copy of the content, checked field by field
        if not hmac.compare_digest(fresh.sha256.encode(), stored.encode("utf-8", "replace")):
            raise DonorKitError(
                "the kit's content does not match its SHA-256 digest: it was modified after "
                "it was loaded or written"
            )
        if key is not None:
            if signature is None:
                raise DonorKitError(
                    "signed kit expected: a key was given, but the kit is unsigned; ask the "
                    "donor to sign it with the shared key (export_donor_kit(..., key=...))"
                )
            if not hmac.compare_digest(
                fresh.hmac_sha256.encode(), signature.encode("utf-8", "replace")
            ):
                raise DonorKitError(
                    "the kit's HMAC-SHA256 signature does not match this key: it was signed "
                    "with another key or modified after signing"
                )
            status = SignatureStatus.VERIFIED
        else:
            status = SignatureStatus.ABSENT if signature is None else SignatureStatus.UNVERIFIED
            if signature is not None and not (
                len(signature) == 64 and all(c in "0123456789abcdef" for c in signature)
            ):
                raise DonorKitError("its hmac_sha256 is not 64 lowercase hex digits")
    except (DonorKitError, AttributeError, *_CONTENT_ERRORS) as exc:
        raise _one_line(where, exc) from None
    return _replace_signature(fresh, signature, status)


def _replace_signature(kit: DonorKit, signature: str | None, status: SignatureStatus) -> DonorKit:
    return dataclasses.replace(kit, hmac_sha256=signature, signature=status)


def write_donor_kit(kit, path, *, key=None, overwrite=False, limits=None) -> DonorKit:
    """Write a kit to a file atomically, after checking its content as a reader would.

    The digest (and, with ``key``, the signature) is computed from the content; the kit's
    own ``sha256`` and ``hmac_sha256`` are ignored, so a kit assembled in memory (e.g. the
    members of several exports joined into an ensemble) can be written.

    Parameters
    ----------
    kit : DonorKit
        The content to write.
    path : str or path-like
        The file (conventionally ``*.joblib``); written to a temporary file in the same
        folder, then moved into place.
    key : str or bytes, default=None
        Sign the kit with HMAC-SHA256 under this shared secret.
    overwrite : bool, default=False
        Replace an existing file; otherwise it raises ``FileExistsError``.
    limits : KitLimits, default=None
        The writer refuses what a reader with these limits would refuse.

    Returns
    -------
    kit : DonorKit
        What was written, equal to what :func:`load_donor_kit` gives for the file.

    Raises
    ------
    DonorKitError
        If the content is not a valid kit.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    TypeError
        If ``kit`` is not a DonorKit, or ``overwrite`` is not a bool.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae.kit import load_donor_kit, write_donor_kit
    >>> from skdcsae.kit._examples import example_kit
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> written = write_donor_kit(example_kit(), path)
    >>> load_donor_kit(path) == written
    True
    """
    if not isinstance(kit, DonorKit):
        raise TypeError(f"expected a DonorKit, got {type(kit).__name__}.")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {overwrite!r}.")
    key = _key_bytes(key)
    limits = _limits(limits)
    data = dump_container(*kit_to_content(kit), key=key, limits=limits)
    written = _decode(data, key, limits)  # refuses what a reader would refuse
    atomic_write_bytes(path, data, overwrite=overwrite)
    return written
