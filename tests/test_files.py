"""The one atomic writer: whole or not at all, the old file kept on failure, errors a user can act on."""

import errno
import os

import pytest

from ninjagrad.errors import UserError
from ninjagrad.files import write_atomically


def test_writes_creates_parents_and_replaces(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    assert write_atomically(path, b"first") == path
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]  # no temporary left


def test_the_file_honours_the_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = write_atomically(tmp_path / "x.bin", b"1")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_keeps_the_old_file_and_says_what_to_do(tmp_path, monkeypatch, failing):
    path = write_atomically(tmp_path / "model.npz", b"old")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(f"ninjagrad.files.os.{failing}", disk_full)
    expected = r"cannot write .*model\.npz: No space left on device; free some space"
    with pytest.raises(UserError, match=expected):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(UserError, match=r"a_file' is a file, not a directory; choose a writable"):
        write_atomically(tmp_path / "a_file" / "sub" / "x.svg", b"<svg/>")


def test_an_interrupt_mid_write_leaves_no_temporary_and_propagates(tmp_path, monkeypatch):
    path = write_atomically(tmp_path / "m.json", b"{}")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("ninjagrad.files.os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, b'{"a": 1}')
    assert path.read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
