"""Read only regular files, within a size limit; write files atomically, never clobbering.

Paths given to skdcsae may name anything: a FIFO (reading blocks for ever), ``/dev/zero``
(never ends), a directory, or a file of many gigabytes. :func:`open_regular_file` and
:func:`read_regular_file` refuse everything but a regular file of at most ``max_bytes``
bytes, without ever blocking, before a single byte is read. :func:`atomic_writer` and
:func:`atomic_write_bytes` write through a temporary file in the destination folder, so that
the destination holds either its old content or the complete new one, never a part.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat

from ._sanitize import terminal_text

__all__ = ["atomic_write_bytes", "atomic_writer", "open_regular_file", "read_regular_file"]

# O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
# O_NOCTTY: opening a terminal never makes it the process's controlling terminal.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device (like /dev/zero)"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _refuse(path, what: str) -> ValueError:
    return ValueError(f"{terminal_text(os.fspath(path))} is {what}; only regular files are read.")


def _too_big(path, size: int, max_bytes: int, limit_name: str | None) -> ValueError:
    how = f"; raise {limit_name} to read it" if limit_name else ""
    return ValueError(
        f"{terminal_text(os.fspath(path))} has {size:,} bytes, more than the limit of "
        f"{max_bytes:,} bytes{how}."
    )


def _check_max_bytes(max_bytes) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}.")
    return max_bytes


def open_regular_file(path, *, max_bytes, follow_symlinks=True, limit_name=None):
    """Open a path for reading in binary mode, only if it is a regular file of bounded size.

    The path is checked with :func:`os.stat` before it is opened (so that devices, FIFOs and
    sockets are never opened at all), opened with ``O_NONBLOCK`` (so that a FIFO swapped in
    meanwhile cannot block) and checked again with :func:`os.fstat` on the descriptor: the
    file read is the one that was checked.

    Parameters
    ----------
    path : str or path-like
        The file.
    max_bytes : int
        Largest size accepted, in bytes; checked before anything is read.
    follow_symlinks : bool, default=True
        Follow a symbolic link to the file it names (which must be a regular file). With
        ``False`` a symbolic link is refused (``O_NOFOLLOW``).
    limit_name : str, default=None
        Name of the user-facing setting behind ``max_bytes``, quoted in the error message.

    Returns
    -------
    file : io.BufferedReader
        The open file, positioned at its start; use it as a context manager.

    Raises
    ------
    ValueError
        If the path is a folder, FIFO, socket, device or (with ``follow_symlinks=False``) a
        symbolic link, or if the file is larger than ``max_bytes``.
    OSError
        If the file cannot be opened (missing, no permission).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skdcsae._files import open_regular_file
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = folder / "scan.png"
    >>> _ = path.write_bytes(b"12345")
    >>> with open_regular_file(path, max_bytes=10) as f:
    ...     f.read()
    b'12345'
    >>> open_regular_file(folder, max_bytes=10)
    Traceback (most recent call last):
        ...
    ValueError: ... is a folder; only regular files are read.
    """
    max_bytes = _check_max_bytes(max_bytes)
    path = os.fspath(path)
    flags = _OPEN_FLAGS
    if not follow_symlinks:
        before = os.lstat(path)
        if stat.S_ISLNK(before.st_mode):
            raise _refuse(path, "a symbolic link")
        flags |= getattr(os, "O_NOFOLLOW", 0)
    else:
        before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise _refuse(path, _kind(before.st_mode))
    if before.st_size > max_bytes:
        raise _too_big(path, before.st_size, max_bytes, limit_name)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise _refuse(path, "a symbolic link") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # replaced by a socket or a folder
            raise _refuse(path, "not a regular file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, _kind(info.st_mode))
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise ValueError(
                f"{terminal_text(path)} was replaced while it was being opened; try again."
            )
        if info.st_size > max_bytes:
            raise _too_big(path, info.st_size, max_bytes, limit_name)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path, *, max_bytes, follow_symlinks=True, limit_name=None) -> bytes:
    """Read a whole regular file of at most ``max_bytes`` bytes.

    The checks are those of :func:`open_regular_file`; at most ``max_bytes + 1`` bytes are
    read, so a file that grows while it is read is refused rather than read without end.

    Parameters
    ----------
    path : str or path-like
        The file.
    max_bytes : int
        Largest size accepted, in bytes.
    follow_symlinks : bool, default=True
        Follow a symbolic link to a regular file; ``False`` refuses symbolic links.
    limit_name : str, default=None
        Name of the user-facing setting behind ``max_bytes``, quoted in the error message.

    Returns
    -------
    data : bytes
        The file's content.

    Raises
    ------
    ValueError
        If the path is not a regular file or holds more than ``max_bytes`` bytes.
    OSError
        If the file cannot be opened or read.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skdcsae._files import read_regular_file
    >>> path = Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = path.write_text("file,label\\n")
    >>> read_regular_file(path, max_bytes=1000)
    b'file,label\\n'
    >>> read_regular_file(path, max_bytes=4, limit_name="max_csv_bytes")
    Traceback (most recent call last):
        ...
    ValueError: ... has 11 bytes, more than the limit of 4 bytes; raise max_csv_bytes to read it.
    """
    with open_regular_file(
        path, max_bytes=max_bytes, follow_symlinks=follow_symlinks, limit_name=limit_name
    ) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_big(path, len(data), max_bytes, limit_name)
    return data


def _exists_error(path: str, overwrite_hint: str) -> FileExistsError:
    return FileExistsError(f"{terminal_text(path)} already exists; {overwrite_hint}.")


def _fsync_folder(folder: str) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(
    path, *, overwrite, overwrite_hint="pass overwrite=True to replace it", encoding=None
):
    """Write a file atomically: yield a binary file that lands at ``path`` only on success.

    The data goes to a new temporary file in the same folder (created exclusively, with the
    permissions a plain :func:`open` would give), is flushed and fsynced, and then appears
    at ``path`` in one step: :func:`os.link` when ``overwrite`` is false, which fails if
    ``path`` exists (no check-then-write race), or :func:`os.replace` when it is true. If
    the block raises, or anything fails, the temporary file is removed and ``path`` is left
    as it was.

    Parameters
    ----------
    path : str or path-like
        The destination file.
    overwrite : bool
        Replace an existing file. If false an existing ``path`` is never touched.
    overwrite_hint : str, default="pass overwrite=True to replace it"
        How the user allows overwriting, for the error message (a CLI says ``--force``).
    encoding : str, default=None
        ``None`` yields a binary file; an encoding (``"utf-8"``) yields a text file in that
        encoding with ``newline=""``, as :mod:`csv` wants.

    Yields
    ------
    file : io.BufferedWriter or io.TextIOWrapper
        The temporary file to write to.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false (checked first, and again when the
        file is put in place).
    OSError
        If the folder does not exist or the file cannot be written.

    Notes
    -----
    On a file system without hard links the exclusive step falls back to a check followed
    by :func:`os.replace`, which another process could race.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae._files import atomic_writer
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.csv")
    >>> with atomic_writer(path, overwrite=False) as f:
    ...     _ = f.write(b"file,label\\n")
    >>> open(path, "rb").read()
    b'file,label\\n'
    >>> import csv
    >>> with atomic_writer(path, overwrite=True, encoding="utf-8") as f:
    ...     _ = csv.writer(f).writerow(["a.png", "normal"])
    >>> open(path, "rb").read()
    b'a.png,normal\\r\\n'
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool, got {overwrite!r}.")
    path = os.path.abspath(os.fspath(path))
    if not overwrite and os.path.lexists(path):
        raise _exists_error(path, overwrite_hint)
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, as open() would give
    try:
        with os.fdopen(fd, "wb") as handle:
            if encoding is None:
                yield handle
            else:
                text = io.TextIOWrapper(handle, encoding=encoding, newline="")
                yield text
                text.flush()
                text.detach()  # leave the binary file open for the fsync below
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and fails if path exists
            except FileExistsError:
                raise _exists_error(path, overwrite_hint) from None
            except (OSError, NotImplementedError):
                # No hard links here (FAT, some network file systems): check, then rename.
                if os.path.lexists(path):
                    raise _exists_error(path, overwrite_hint) from None
                os.replace(tmp, path)
        _fsync_folder(folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_bytes(
    path, data, *, overwrite, overwrite_hint="pass overwrite=True to replace it"
) -> None:
    """Write ``data`` to ``path`` atomically; never leave a partial file.

    See :func:`atomic_writer` for how: a temporary file in the same folder, fsync, then
    :func:`os.link` (never clobbers) or, with ``overwrite=True``, :func:`os.replace`.

    Parameters
    ----------
    path : str or path-like
        The destination file.
    data : bytes-like
        The complete content.
    overwrite : bool
        Replace an existing file. If false, an existing ``path`` raises ``FileExistsError``.
    overwrite_hint : str, default="pass overwrite=True to replace it"
        How the user allows overwriting, for the error message.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    OSError
        If the file cannot be written; nothing is left behind.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdcsae._files import atomic_write_bytes
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> atomic_write_bytes(path, b"payload", overwrite=False)
    >>> atomic_write_bytes(path, b"other", overwrite=False)
    Traceback (most recent call last):
        ...
    FileExistsError: ... already exists; pass overwrite=True to replace it.
    >>> atomic_write_bytes(path, b"other", overwrite=True)
    >>> open(path, "rb").read()
    b'other'
    """
    view = memoryview(data)
    with atomic_writer(path, overwrite=overwrite, overwrite_hint=overwrite_hint) as handle:
        handle.write(view)
