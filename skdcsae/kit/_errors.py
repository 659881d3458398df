"""The one exception every donor-kit reader failure raises."""

from __future__ import annotations

__all__ = ["DonorKitError"]


class DonorKitError(ValueError):
    """A file or object is not a valid, intact donor kit, or is unsafe to load.

    The message is one line (no newline) naming the file and the first check that failed.
    A subclass of :class:`ValueError`.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae import DonorKitError, load_donor_kit
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a kit")
    >>> try:
    ...     load_donor_kit(path)
    ... except DonorKitError as exc:
    ...     print("refused")
    refused
    """
