"""Writing a file whole or not at all: the one writer behind checkpoints, metrics, pictures and workbooks.

A write cut short (Ctrl-C, ``kill -9``, a full disk) must never leave half a file that looks finished, and
must never destroy the previous version: a checkpoint is what a resumed run starts from, a workbook is a
learner's work. So the bytes go to a fresh temporary file beside the target, are flushed to disk
(``fsync``), and the temporary file then takes the target's name in one step (``os.replace``, atomic on POSIX
and Windows); on POSIX the directory is synced too, so the rename itself survives a power cut.

A process killed mid-write (``kill -9``) leaves its temporary file behind; the next write to the same target
removes the temporaries of writers that are no longer running.

A named pipe or a device (``-o /dev/stdout``) is written to directly: it holds no previous version, and
replacing it would put a regular file in its place (as root, even at /dev/null). A symbolic link stays, and
the file it points to is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ninjagrad.errors import UserError


def write_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` by ``data`` in one step that survives a crash; create missing parent directories.

    A place that cannot be written (read-only, full, a file where a directory should be) is a
    :class:`UserError` naming the path and what to do; whatever was at ``path`` before is left as it was.
    """
    with open_atomically(path) as file:
        file.write(data)
    return Path(path)


@contextlib.contextmanager
def open_atomically(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``path`` when the block ends, as :func:`write_atomically` does.

    For output too large to hold in memory at once; an exception inside the block leaves ``path`` as it was.
    """
    path = Path(path)
    if _is_stream(path):  # see the module docstring
        try:
            with open(path, "wb") as file:
                yield file
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror or error}") from None
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    # A fresh name per write ("x" mode refuses to reuse one); unlike mkstemp's 0600 it honours the umask.
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise UserError(f"cannot write {path}: {_reason(path, error)}") from None
        raise
    _fsync_directory(path.parent)
    remove_stale_temporaries(path)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files of writes to ``path`` whose process is gone; returns what was removed.

    A temporary file's name carries its writer's process id; one whose process still runs (another write
    in progress) is kept, and so is every file not named like a temporary of ``path``.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    with contextlib.suppress(OSError):
        for candidate in path.parent.iterdir():
            name = candidate.name
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid = name[len(prefix) :].split(".", 1)[0]
            if pid.isdigit() and not _running(int(pid)):
                with contextlib.suppress(OSError):
                    candidate.unlink()
                    removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap check: keep the file rather than guess
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only checked
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, under another user
        return True
    return True


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse early, before any work, a ``path`` that ``write_atomically`` could not write; writes nothing.

    The nearest existing ancestor must be a writable directory (``os.access`` also sees a read-only file
    system), and ``path`` itself must not be a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a directory; name a file")
    if _is_stream(path):
        if not os.access(path, os.W_OK):
            raise UserError(f"cannot write {path}: {os.strerror(errno.EACCES)}")
        return
    existing = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"cannot write {path}: {_reason(path, OSError())}")
    if not os.access(existing, os.W_OK | os.X_OK):
        error = OSError(errno.EACCES, os.strerror(errno.EACCES))
        if _read_only_file_system(existing):
            error = OSError(errno.EROFS, os.strerror(errno.EROFS))
        raise UserError(f"cannot write {path}: {_reason(path, error)} ({existing})")


def _is_stream(path: Path) -> bool:
    """A named pipe, a device (/dev/stdout, /dev/null) or a socket: written to, never replaced."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _read_only_file_system(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs on Windows
        return False


def _reason(path: Path, error: OSError) -> str:
    """What went wrong, and what to do, in words a user can act on."""
    in_the_way = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if in_the_way is not None:  # mkdir's own words for this are a puzzling "File exists"
        return f"{str(in_the_way)!r} is a file, not a directory; choose a writable output directory"
    if error.errno == errno.ENOSPC:
        return f"{error.strerror}; free some space, or choose another output directory"
    return f"{error.strerror or error}; choose a writable output directory"


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); directories cannot be opened this way on Windows."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
