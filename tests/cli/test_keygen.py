"""``skdcsae keygen``: a private random key file, never clobbered without --force (#17)."""

from __future__ import annotations

import os
import re
import stat

import pytest

from skdcsae._cli import main


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keygen_writes_a_private_random_key(tmp_path, capsys):
    key = tmp_path / "secret.key"
    assert main(["keygen", str(key)]) == 0
    text = key.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text)
    assert mode(key) == 0o600
    assert "--key-file" in capsys.readouterr().out
    other = tmp_path / "other.key"
    assert main(["keygen", str(other), "-q"]) == 0
    assert other.read_text() != text and capsys.readouterr().out == ""


def test_keygen_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        assert main(["keygen", str(tmp_path / "k")]) == 0
    finally:
        os.umask(old)
    assert mode(tmp_path / "k") == 0o600


def test_keygen_never_overwrites_without_force(tmp_path, capsys):
    key = tmp_path / "secret.key"
    key.write_text("the old key\n")
    os.chmod(key, 0o644)
    assert main(["keygen", str(key)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert key.read_text() == "the old key\n"
    assert main(["keygen", str(key), "--force"]) == 0
    assert re.fullmatch(r"[0-9a-f]{64}\n", key.read_text()) and mode(key) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]  # no temporary left


def test_keygen_does_not_follow_a_link(tmp_path, capsys):
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "secret.key"
    link.symlink_to(target)
    assert main(["keygen", str(link)]) == 2
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("args", [["keygen", "no/such/folder/k"]])
def test_keygen_missing_folder(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert "does not exist" in capsys.readouterr().err


def test_donor_help_says_how_to_make_a_key(capsys):
    with pytest.raises(SystemExit):
        main(["donor", "--help"])
    assert "skdcsae keygen secret.key" in capsys.readouterr().out


def test_key_files_are_read_bounded(tmp_path, capsys):
    """A key file that is not a small regular file is refused in one line, not read."""
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo)
    big = tmp_path / "big.key"
    big.write_bytes(b"k" * 5000)
    for path in (fifo, big, "/dev/zero"):
        assert main(["inspect", str(tmp_path / "missing.joblib"), "--key-file", str(path)]) == 2
        err = capsys.readouterr().err
        assert "cannot use key file" in err and len(err.strip().splitlines()) == 1
