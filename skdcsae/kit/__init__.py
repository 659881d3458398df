"""Donor kits: what crosses the institution boundary, and nothing else.

Written by :meth:`skdcsae.DCSAETransformer.export_donor_kit`, read by :func:`load_donor_kit`
and :class:`skdcsae.RecipientLabeler`. This package reads and writes kit files and knows
nothing of estimators.
"""

from ._kit import DonorKit, DonorKitError, load_donor_kit
from ._release import RELEASE_MODES

__all__ = ["RELEASE_MODES", "DonorKit", "DonorKitError", "load_donor_kit"]
