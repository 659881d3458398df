"""Data-home helpers and checksum-verified downloads, shared by the dataset loaders."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from .._files import atomic_writer, open_regular_file
from .._sanitize import terminal_text

__all__ = ["file_md5", "get_data_home"]

logger = logging.getLogger("skdcsae.datasets")

#: Environment variable that overrides the default data home.
DATA_HOME_ENV = "SKDCSAE_DATA"

_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT = 60  # seconds without data before a download is abandoned
#: Largest dataset file downloaded or checksummed (the largest MedMNIST+ file used here,
#: a 224x224 split archive, is a few hundred megabytes).
MAX_DATASET_BYTES = 4 << 30


def get_data_home(data_home=None) -> str:
    """Return the folder where skdcsae keeps downloaded datasets, creating it if needed.

    The folder is, in order of precedence:

    1. ``data_home``, when given;
    2. the environment variable ``SKDCSAE_DATA``;
    3. ``skdcsae`` inside scikit-learn's data home, i.e. ``~/scikit_learn_data/skdcsae``
       (or ``$SCIKIT_LEARN_DATA/skdcsae`` when that variable is set).

    A leading ``~`` is expanded to the user's home folder.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. ``None`` picks the default described above.

    Returns
    -------
    data_home : str
        Absolute path of the data home. It exists when the function returns.

    Raises
    ------
    OSError
        If the folder does not exist and cannot be created (e.g. no write permission).

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae.datasets import get_data_home
    >>> home = tempfile.mkdtemp()
    >>> get_data_home(os.path.join(home, "skdcsae_data")) == os.path.join(home, "skdcsae_data")
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV)
    if data_home is None:
        from sklearn.datasets import get_data_home as sklearn_data_home

        data_home = os.path.join(sklearn_data_home(), "skdcsae")
    path = Path(os.path.expanduser(os.fspath(data_home))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def file_md5(path) -> str:
    """MD5 hex digest of a regular file of at most :data:`MAX_DATASET_BYTES`, in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open_regular_file(path, max_bytes=MAX_DATASET_BYTES) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_at_most(source, out, digest, max_bytes: int) -> bool:
    """Copy ``source`` to ``out`` in chunks, updating ``digest``; False past ``max_bytes``."""
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > max_bytes:
            return False
        out.write(chunk)
        digest.update(chunk)
    return True


def download_verified(url: str, destination: Path, md5: str) -> Path:
    """Download ``url`` to ``destination``; only a file with the expected MD5 lands there.

    The data is streamed to a temporary file in the destination folder
    (:func:`skdcsae._files.atomic_writer`), its MD5 computed on the fly, and the file put in
    place (replacing any older copy) only when the checksum matches. At most
    :data:`MAX_DATASET_BYTES` are downloaded. On any failure nothing is left behind and
    ``OSError`` is raised with the URL and where to put the file by hand.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    by_hand = (
        f"Download it yourself from {terminal_text(url)} and save it as "
        f"{terminal_text(destination)} (its MD5 must be {md5}), then call the function again."
    )
    logger.info("Downloading %s to %s", url, destination)
    digest = hashlib.md5(usedforsecurity=False)
    with atomic_writer(destination, overwrite=True) as out:
        try:
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
                complete = _copy_at_most(response, out, digest, MAX_DATASET_BYTES)
        except urllib.error.HTTPError as exc:
            raise OSError(
                f"Could not download {terminal_text(url)}: HTTP {exc.code} "
                f"{terminal_text(exc.reason)}. {by_hand}"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OSError(
                f"Could not download {terminal_text(url)}: {terminal_text(reason)}. {by_hand}"
            ) from exc
        if not complete:
            raise OSError(
                f"Could not download {terminal_text(url)}: it is larger than "
                f"{MAX_DATASET_BYTES:,} bytes, far more than any file expected there. {by_hand}"
            )
        found = digest.hexdigest()
        if found != md5:
            raise OSError(
                f"The file downloaded from {terminal_text(url)} has MD5 {found}, not the "
                f"published {md5}; it was discarded (the download was corrupted or the source "
                f"changed). {by_hand}"
            )
    return destination
