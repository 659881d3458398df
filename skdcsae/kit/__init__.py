"""Donor kits: what crosses the institution boundary, and nothing else.

Written by :meth:`skdcsae.DCSAETransformer.export_donor_kit` (or :func:`write_donor_kit`),
read by :func:`load_donor_kit` and :class:`skdcsae.RecipientLabeler`. This package reads,
writes and checks kit files and knows nothing of estimators:

- ``_container``, ``_outer``, ``_json``, ``_tensors``, ``_limits``: the format-3 file (a plain
  pickled dict of canonical JSON and safetensors bytes, read without unpickling);
- ``_schema`` and ``_checks``: the kit's fields, checked one by one;
- ``_donor_kit``: the :class:`DonorKit` and :class:`KitMember` data classes;
- ``_io``: load, write and verify; ``_join``: several kits' members as one ensemble kit;
  ``_summary``: what a kit reveals, in words;
- ``_release`` and ``_gaussian``: :class:`ReleaseSettings` and what they do to the features.
"""

from ._container import SignatureStatus
from ._donor_kit import DonorKit, KitMember
from ._errors import DonorKitError
from ._io import load_donor_kit, verify_donor_kit, write_donor_kit
from ._join import join_donor_kits
from ._limits import DEFAULT_LIMITS, KitLimits
from ._release import RELEASE_MODES, ReleaseSettings

__all__ = [
    "DEFAULT_LIMITS",
    "RELEASE_MODES",
    "DonorKit",
    "DonorKitError",
    "KitLimits",
    "KitMember",
    "ReleaseSettings",
    "SignatureStatus",
    "join_donor_kits",
    "load_donor_kit",
    "verify_donor_kit",
    "write_donor_kit",
]
