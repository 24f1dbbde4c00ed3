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


def test_a_write_removes_the_temporaries_of_dead_writers_only(tmp_path):
    import subprocess
    import sys

    from ninjagrad.files import remove_stale_temporaries

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid now names no process
    dead = [tmp_path / f".model.npz.{child.pid}.{i:08x}.tmp" for i in range(3)]
    kept = [
        tmp_path / f".model.npz.{os.getpid()}.00000000.tmp",  # a write in progress (this process)
        tmp_path / f".other.npz.{child.pid}.00000000.tmp",  # another target's
        tmp_path / ".model.npz.notapid.tmp",
    ]
    for path in (*dead, *kept):
        path.write_bytes(b"partial")
    write_atomically(tmp_path / "model.npz", b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.npz", *(p.name for p in kept)])
    assert remove_stale_temporaries(tmp_path / "model.npz") == []


def test_check_writable_refuses_what_write_atomically_could_not_write_and_writes_nothing(tmp_path):
    from ninjagrad.files import check_writable

    (tmp_path / "a_file").write_text("in the way")
    (tmp_path / "a_dir").mkdir()
    with pytest.raises(UserError, match="a_file' is a file, not a directory"):
        check_writable(tmp_path / "a_file" / "deeper" / "x.svg")
    with pytest.raises(UserError, match="it is a directory; name a file"):
        check_writable(tmp_path / "a_dir")
    check_writable(tmp_path / "new" / "deeper" / "x.svg")  # missing parents are fine: they get created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir", "a_file"]
