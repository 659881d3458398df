"""Join the members of several donor kits into one ensemble kit."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from ._container import SignatureStatus
from ._donor_kit import DonorKit, _same

__all__ = ["join_donor_kits"]

#: The parts of a kit that are not shared by its members: everything else must agree.
_PER_KIT = ("members", "versions", "created", "sha256", "hmac_sha256", "signature")
_SHARED = tuple(f.name for f in dataclasses.fields(DonorKit) if f.name not in _PER_KIT)


def join_donor_kits(kits) -> DonorKit:
    """One ensemble kit from the members of several kits exported from the same images.

    Each kit is typically a :meth:`~skdcsae.DCSAETransformer.export_donor_kit` of a
    transformer fitted with another ``random_state`` on the same donor images.
    :class:`~skdcsae.RecipientLabeler` trains one classifier per member and averages them.
    The joined kit is unsealed: write it with :func:`write_donor_kit` (and the donor's key) to
    digest and sign it.

    Parameters
    ----------
    kits : sequence of DonorKit
        At least two kits that agree on every shared part: classes, image shape, input
        scaling, feature mode, release settings, donor images per class, image preparation
        and model.

    Returns
    -------
    kit : DonorKit
        The members of ``kits`` in order, the shared parts of the first kit, the library
        versions of the first kit, a new creation time, no digest and no signature.

    Raises
    ------
    TypeError
        If an item of ``kits`` is not a DonorKit.
    ValueError
        If fewer than two kits are given, or two kits differ in a shared part (the message
        names the part and the kit).

    Notes
    -----
    Each member releases its own summary of the same images. With DP-SGD, the members'
    privacy guarantees compose: their epsilons add up at most.

    Examples
    --------
    >>> from skdcsae.kit import join_donor_kits
    >>> from skdcsae.kit._examples import example_kit
    >>> both = join_donor_kits([example_kit(0), example_kit(1)])
    >>> both.n_members, both.signed
    (2, False)
    """
    kits = list(kits)
    for i, kit in enumerate(kits):
        if not isinstance(kit, DonorKit):
            raise TypeError(f"kits[{i}] is a {type(kit).__name__}, not a DonorKit.")
    if len(kits) < 2:
        raise ValueError(f"join_donor_kits needs at least 2 kits; got {len(kits)}.")
    first = kits[0]
    for i, kit in enumerate(kits[1:], start=1):
        for name in _SHARED:
            if not _same(getattr(first, name), getattr(kit, name)):
                raise ValueError(
                    f"kits[{i}] differs from kits[0] in {name}: an ensemble's members must be "
                    "exported from the same donor images with the same preparation and release."
                )
    return dataclasses.replace(
        first,
        members=tuple(member for kit in kits for member in kit.members),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sha256="",
        hmac_sha256=None,
        signature=SignatureStatus.ABSENT,
    )
