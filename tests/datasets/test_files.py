"""_files: only regular files are opened, within a size limit; atomic, never-clobbering writes."""

import os
import socket
import threading

import pytest

from skdcsae._files import (
    atomic_write_bytes,
    atomic_writer,
    open_regular_file,
    read_regular_file,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# --- reading --------------------------------------------------------------------------------
def test_reads_a_regular_file_and_a_symlink_to_one(tmp_path):
    target = tmp_path / "scan.png"
    target.write_bytes(b"pixels")
    assert read_regular_file(target, max_bytes=6) == b"pixels"
    link = tmp_path / "link.png"
    link.symlink_to(target)
    assert read_regular_file(link, max_bytes=100) == b"pixels"
    with open_regular_file(link, max_bytes=100) as handle:
        assert handle.read(3) == b"pix"


def test_symlinks_refused_when_not_followed(tmp_path):
    target = tmp_path / "scan.png"
    target.write_bytes(b"pixels")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link") as info:
        read_regular_file(link, max_bytes=100, follow_symlinks=False)
    _one_line(info)
    assert read_regular_file(target, max_bytes=100, follow_symlinks=False) == b"pixels"


def test_too_big_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.dcm"
    path.write_bytes(b"x" * 101)
    with pytest.raises(ValueError, match=r"101 bytes.*limit of 100 bytes.*max_file_bytes") as info:
        read_regular_file(path, max_bytes=100, limit_name="max_file_bytes")
    _one_line(info)
    with pytest.raises(ValueError, match="limit of 100 bytes"):
        open_regular_file(path, max_bytes=100)
    assert read_regular_file(path, max_bytes=101) == b"x" * 101


def test_directory_refused(tmp_path):
    with pytest.raises(ValueError, match="is a folder; only regular files") as info:
        read_regular_file(tmp_path, max_bytes=10)
    _one_line(info)


@posix_only
def test_fifo_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.dcm"
    os.mkfifo(fifo)
    result = {}

    def attempt():
        try:
            read_regular_file(fifo, max_bytes=10)
        except ValueError as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "reading a FIFO blocked"
    assert "FIFO" in result["error"] and "\n" not in result["error"]


@posix_only
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_and_a_symlink_to_it_refused(tmp_path):
    with pytest.raises(ValueError, match="character device") as info:
        read_regular_file("/dev/zero", max_bytes=10)
    _one_line(info)
    link = tmp_path / "x.dcm"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"x\.dcm is a character device"):
        read_regular_file(link, max_bytes=10)


@posix_only
def test_socket_refused(tmp_path):
    path = tmp_path / "s.png"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        with pytest.raises(ValueError, match="socket"):
            read_regular_file(path, max_bytes=10)
    finally:
        server.close()


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing.png", max_bytes=10)


def test_control_characters_in_the_path_are_escaped(tmp_path):
    folder = tmp_path / "evil\x1b[2J"
    folder.mkdir()
    with pytest.raises(ValueError) as info:
        read_regular_file(folder, max_bytes=10)
    assert "\x1b" not in str(info.value) and "\\x1b[2J" in str(info.value)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_bad_max_bytes(tmp_path, bad):
    (tmp_path / "a").write_bytes(b"")
    with pytest.raises(ValueError, match="max_bytes"):
        read_regular_file(tmp_path / "a", max_bytes=bad)


# --- writing --------------------------------------------------------------------------------
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_then_refuse_to_clobber(tmp_path):
    path = tmp_path / "kit.joblib"
    atomic_write_bytes(path, b"first", overwrite=False)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError, match=r"kit\.joblib already exists; pass") as info:
        atomic_write_bytes(path, b"second", overwrite=False)
    _one_line(info)
    assert path.read_bytes() == b"first"
    with pytest.raises(FileExistsError, match="pass --force to replace it"):
        atomic_write_bytes(path, b"x", overwrite=False, overwrite_hint="pass --force to replace it")
    atomic_write_bytes(path, b"second", overwrite=True)
    assert path.read_bytes() == b"second"
    assert _leftovers(tmp_path) == []


def test_never_clobbers_a_file_created_during_the_write(tmp_path):
    path = tmp_path / "labels.csv"
    with pytest.raises(FileExistsError):  # noqa: SIM117
        with atomic_writer(path, overwrite=False) as handle:
            handle.write(b"mine")
            path.write_bytes(b"someone else's")  # appears after the first check
    assert path.read_bytes() == b"someone else's"
    assert _leftovers(tmp_path) == []


def test_a_dangling_symlink_counts_as_existing(tmp_path):
    path = tmp_path / "out.csv"
    path.symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(FileExistsError):
        atomic_write_bytes(path, b"x", overwrite=False)
    assert not (tmp_path / "elsewhere.csv").exists()


def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "kit.joblib"
    with pytest.raises(RuntimeError, match="disk on fire"):  # noqa: SIM117
        with atomic_writer(path, overwrite=False) as handle:
            handle.write(b"half of it")
            raise RuntimeError("disk on fire")
    assert not path.exists() and _leftovers(tmp_path) == []

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    path.write_bytes(b"old content")
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(path, b"new content", overwrite=True)
    assert path.read_bytes() == b"old content"
    assert _leftovers(tmp_path) == []


def test_write_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "nope" / "kit.joblib", b"x", overwrite=False)


def test_fallback_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "kit.joblib"
    atomic_write_bytes(path, b"data", overwrite=False)
    assert path.read_bytes() == b"data"
    with pytest.raises(FileExistsError):
        atomic_write_bytes(path, b"more", overwrite=False)
    assert path.read_bytes() == b"data" and _leftovers(tmp_path) == []


def test_permissions_follow_the_umask(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "k", b"x", overwrite=False)
    finally:
        os.umask(old)
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o644


def test_overwrite_must_be_a_bool(tmp_path):
    with pytest.raises(TypeError, match="overwrite must be a bool"):
        atomic_write_bytes(tmp_path / "k", b"x", overwrite="yes")


def test_text_mode_for_csv(tmp_path):
    import csv

    path = tmp_path / "labels.csv"
    with atomic_writer(path, overwrite=False, encoding="utf-8") as handle:
        csv.writer(handle).writerows([["file", "label"], ["Röntgen.png", "normal\nx"]])
    assert path.read_bytes() == 'file,label\r\nRöntgen.png,"normal\nx"\r\n'.encode()
    with pytest.raises(ValueError, match="boom"):  # noqa: SIM117
        with atomic_writer(path, overwrite=True, encoding="utf-8") as handle:
            handle.write("partial")
            raise ValueError("boom")
    assert path.read_bytes().startswith(b"file,label") and _leftovers(tmp_path) == []
