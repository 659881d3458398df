"""``skdcsae keygen``: make a random key file for signing and checking donor kits.

Write 32 random bytes (from Python's secrets module) as 64 hex digits to
KEYFILE, readable and writable by you only (mode 600). Never overwrites a file
unless --force is given.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from ._common import CLIError, info
from ._options import add_command, add_force_option, add_quiet_option

_EPILOG = """example:
  skdcsae keygen secret.key
  skdcsae donor xrays/ --out kit.joblib --key-file secret.key
  skdcsae recipient kit.joblib unlabelled/ --out labels.csv --key-file secret.key
  (give the recipient a copy of secret.key by another channel than the kit)
"""

KEY_BYTES = 32  # 256 bits: as long as an HMAC-SHA256 digest

_HELP = "make a random key file for --key-file (signing and checking kits)"


def add_parser(sub) -> None:
    p = add_command(sub, "keygen", run, help=_HELP, epilog=_EPILOG, doc=__doc__)
    p.add_argument("keyfile", metavar="KEYFILE", help="the key file to create")
    add_force_option(p, "replace an existing key file")
    add_quiet_option(p)


def write_key_file(path: Path, *, force: bool) -> None:
    """A new key in ``path``, created with mode 0o600: never readable by others, not even empty.

    Without ``force`` the file is created exclusively (``O_EXCL``): an existing file, or a
    link, is never touched. With it, the key goes to a new private file in the same folder
    that then replaces ``path`` in one step.
    """
    data = (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    target = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp" if force else path
    try:
        fd = os.open(target, flags, 0o600)
    except FileExistsError:
        raise CLIError(f"{path} already exists; pass --force to replace the key") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(target, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        raise


def run(args) -> None:
    path = Path(args.keyfile)
    if not path.parent.is_dir():
        raise CLIError(f"folder {path.parent} does not exist")
    write_key_file(path, force=args.force)
    info(
        args,
        f"Key written to {path} (readable by you only). Pass --key-file {path} to "
        "`skdcsae donor` and `skdcsae recipient`; give the recipient a copy by another "
        "channel than the kit.",
    )
