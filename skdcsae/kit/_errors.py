"""The one exception every donor-kit reader failure raises."""

from __future__ import annotations

__all__ = ["DonorKitError"]


class DonorKitError(ValueError):
    """A file or object is not a valid, intact donor kit, or is unsafe to load.

    The message is one line (no newline) naming the first check that failed.
    """
