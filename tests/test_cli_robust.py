"""Nothing leaks a traceback, nothing is lost: every bad input seen on a first try, through the CLI.

Each case checks the exit code (2, or 130 for Ctrl-C), that no traceback is printed, that the message names
the problem and the fix, and that every file on disk before the command is unchanged (sha256 of each).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import signal
import subprocess
import sys
import threading
import tracemalloc
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cli_helpers import TINY, assert_refused, checksums, run_cli
from ninjagrad import cli
from ninjagrad.makemore import data as data_module
from ninjagrad.makemore.checkpoint import load_checkpoint
from ninjagrad.makemore.train import RUN_FILES, STAGING

ITEMS = "ann bob cy dee eve fay gus hal ivy jo kim lu".split()


# ---- a read-only output directory -----------------------------------------------------------------------


@pytest.fixture
def read_only(monkeypatch):
    """Make directories read-only as a read-only file system is: every change under them fails with EROFS.

    As root (which permissions do not stop) the file system calls are replaced; otherwise the kernel refuses
    for real (mode 0555), and the message says "Permission denied" instead.
    """
    frozen: list[Path] = []
    if os.geteuid() != 0:

        def freeze(directory: Path) -> None:
            for p in [directory, *directory.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o555)
            frozen.append(directory)

        yield freeze
        for directory in frozen:
            for p in [directory, *directory.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o755)
        return

    def inside(path) -> bool:
        if isinstance(path, int):
            return False
        resolved = Path(os.path.abspath(os.fsdecode(path)))
        return any(resolved == d or d in resolved.parents for d in frozen)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    def guard(real, *, writes=lambda *args, **kwargs: True):
        def guarded(path, *args, **kwargs):
            if kwargs.get("dir_fd") is not None or (inside(path) and writes(*args, **kwargs)):
                refuse(path)
            return real(path, *args, **kwargs)

        return guarded

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    for name in ("mkdir", "unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    monkeypatch.setattr(os, "open", guard(os.open, writes=lambda flags, *a, **k: bool(flags & write_flags)))
    opens_for_writing = lambda mode="r", *a, **k: any(c in mode for c in "wxa+")  # noqa: E731
    monkeypatch.setattr(builtins, "open", guard(builtins.open, writes=opens_for_writing))
    monkeypatch.setattr(io, "open", guard(io.open, writes=opens_for_writing))
    for name in ("replace", "rename"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os,
            name,
            lambda a, b, *r, _real=real, **k: refuse(a) if inside(a) or inside(b) else _real(a, b, *r, **k),
        )
    real_access, real_statvfs = os.access, os.statvfs
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, *a, **k: False if inside(p) and mode & os.W_OK else real_access(p, mode, *a, **k),
    )
    monkeypatch.setattr(
        os, "statvfs", lambda p: SimpleNamespace(f_flag=os.ST_RDONLY) if inside(p) else real_statvfs(p)
    )
    yield lambda directory: frozen.append(Path(os.path.abspath(directory)))


@pytest.mark.parametrize("flags", [[], ["--force"], ["--resume"]])
def test_training_into_a_read_only_directory_is_refused_and_changes_nothing(
    run_copy, read_only, capsys, flags
):
    if not flags:  # without --force or --resume: a directory that holds no run yet
        (run_copy / "model.npz").unlink()
    before = checksums(run_copy)
    read_only(run_copy)
    code, out, err = run_cli(capsys, "train", "-o", run_copy, *TINY, *flags)
    assert_refused(code, out, err, "cannot write", "choose a writable output directory", str(run_copy))
    assert "trained" not in out
    assert checksums(run_copy) == before
    assert not (run_copy / STAGING).exists()


def test_moons_and_graph_into_a_read_only_directory_are_refused(tmp_path, read_only, capsys):
    (tmp_path / "ro").mkdir()
    read_only(tmp_path / "ro")
    code, out, err = run_cli(capsys, "graph", "-o", tmp_path / "ro" / "neuron.dot")
    assert_refused(code, out, err, "cannot write", "writable")
    code, out, err = run_cli(capsys, "moons", "-o", tmp_path / "ro" / "moons")
    assert_refused(code, out, err, "-o", "writable")
    assert list((tmp_path / "ro").iterdir()) == []


# ---- sizes: --block-size, input files ---------------------------------------------------------------------


def test_a_huge_block_size_is_refused_before_the_examples_are_built(tmp_path, capsys):
    tracemalloc.start()
    try:
        code, out, err = run_cli(capsys, "train", "-o", tmp_path / "run", "--block-size", 10**8, *TINY)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_refused(code, out, err, "block_size 100,000,000", "GiB of memory", "choose a smaller --block-size")
    assert peak < 200 * 2**20  # the examples would take terabytes
    assert not (tmp_path / "run").exists()


def test_an_input_file_beyond_the_size_limit_is_refused_unread(tmp_path, capsys):
    big = tmp_path / "big.txt"
    with open(big, "wb") as file:
        file.truncate(data_module.MAX_INPUT_BYTES + 1)  # sparse: no disk used, nothing worth reading
    code, out, err = run_cli(capsys, "train", "-i", big, "-o", tmp_path / "run", *TINY)
    assert_refused(code, out, err, "at most 256 MiB", "pass a smaller file")
    assert not (tmp_path / "run").exists()


def test_an_endless_device_is_read_only_up_to_the_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "MAX_INPUT_BYTES", 4 * 2**20)  # the real limit, 256 MiB, reads as fast
    code, out, err = run_cli(capsys, "train", "-i", "/dev/zero", "-o", tmp_path / "run", *TINY)
    assert_refused(code, out, err, "/dev/zero holds more bytes than that", "at most 4 MiB")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_without_a_writer_is_refused_instead_of_hanging(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data_module, "FIFO_WAIT_SECONDS", 0.3)
    fifo = tmp_path / "names.fifo"
    os.mkfifo(fifo)
    code, out, err = run_cli(capsys, "train", "-i", fifo, "-o", tmp_path / "run", *TINY)
    assert_refused(code, out, err, "is a named pipe (FIFO) and nothing wrote to it", "start the program")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_with_a_writer_is_read_to_its_end(tmp_path):
    fifo = tmp_path / "names.fifo"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as pipe:  # blocks until the reader has opened its end
            for item in ITEMS:
                pipe.write(f"{item}\n".encode())
                pipe.flush()

    writer = threading.Thread(target=write)
    writer.start()
    assert data_module.read_items(fifo) == ITEMS
    writer.join(timeout=10)


# ---- messages about the data ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "encoding", "phrase"),
    [
        (b"\xff\xfe", "utf-16-le", "saved as UTF-16 (little-endian)"),
        (b"\xfe\xff", "utf-16-be", "saved as UTF-16 (big-endian)"),
        (b"", "utf-16-le", "NUL bytes, so it is UTF-16 or UTF-32 without a byte-order mark"),
        (b"\xff\xfe\x00\x00", "utf-32-le", "saved as UTF-32 (little-endian)"),
    ],
)
def test_utf16_and_utf32_input_is_named(tmp_path, capsys, mark, encoding, phrase):
    text = "\n".join(ITEMS) + "\n"
    source = tmp_path / "names.txt"
    source.write_bytes(mark + text.encode(encoding))
    code, out, err = run_cli(capsys, "train", "-i", source, "-o", tmp_path / "run", *TINY)
    assert_refused(code, out, err, phrase, "UTF-8")
    assert "are not UTF-8" not in err
    assert not (tmp_path / "run").exists()


def test_a_50_mb_line_is_not_echoed_whole(tmp_path, capsys):
    source = tmp_path / "names.txt"
    source.write_bytes("\n".join(ITEMS).encode() + b"\n" + b"x" * 25_000_000 + b" " + b"y" * 25_000_000)
    code, out, err = run_cli(capsys, "train", "-i", source, "-o", tmp_path / "run", *TINY)
    assert_refused(
        code, out, err, f"line {len(ITEMS) + 1}: item 'xxxx", "(50,000,001 characters)", "whitespace"
    )
    bad_utf8 = tmp_path / "latin1.txt"
    bad_utf8.write_bytes(b"\n".join(i.encode() for i in ITEMS) + b"\n" + b"z" * 10**6 + b"\xe9")
    code, out, err = run_cli(capsys, "train", "-i", bad_utf8, "-o", tmp_path / "run", *TINY)
    assert_refused(
        code, out, err, r"bytes b'\xe9' are not UTF-8", "(1,000,001 bytes)", "save the file as UTF-8"
    )


# ---- checkpoints that are not what they claim -------------------------------------------------------------


def test_an_npy_file_named_model_npz_is_refused_with_what_it_is(tmp_path, capsys):
    (tmp_path / "model.npz").write_bytes(b"")
    np.save(tmp_path / "array.npy", np.arange(5.0))
    (tmp_path / "array.npy").replace(tmp_path / "model.npz")
    before = checksums(tmp_path)
    code, out, err = run_cli(capsys, "sample", tmp_path)
    assert_refused(code, out, err, "a single NumPy array (an .npy file)", "point at the model.npz")
    assert checksums(tmp_path) == before


def test_random_bytes_as_a_checkpoint_are_refused_without_talk_of_pickle(tmp_path, capsys):
    (tmp_path / "model.npz").write_bytes(b"\x80\x04" + np.random.default_rng(1).bytes(4000))
    code, out, err = run_cli(capsys, "sample", tmp_path)
    assert_refused(code, out, err, "not an .npz (zip) archive", "train again")
    assert "pickle" not in err


def rewrite_checkpoint(path: Path, change) -> None:
    """Rewrite a real checkpoint with ``change(meta, arrays)`` applied."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def test_a_crafted_checkpoint_with_a_billion_hidden_units_allocates_nothing(run_copy, capsys):
    rewrite_checkpoint(
        run_copy / "model.npz", lambda meta, arrays: meta["model_config"].update(n_hidden=10**9)
    )
    before = checksums(run_copy)
    tracemalloc.start()
    try:
        code, out, err = run_cli(capsys, "sample", run_copy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_refused(code, out, err, "parameter W1 is float32[9, 8], the config needs float32[9, 1000000000]")
    assert "train again" in err
    assert peak < 50 * 2**20  # init_params would have asked for 224 GiB
    assert checksums(run_copy) == before


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_checkpoints_are_refused_without_numpy_warnings(run_copy, capsys, bad):
    def poison(meta, arrays):
        arrays["param.W2"][0, 0] = bad

    rewrite_checkpoint(run_copy / "model.npz", poison)
    before = checksums(run_copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run_cli(capsys, "sample", run_copy)
    assert_refused(code, out, err, "W2 holds NaN or infinite values", "train again")
    assert out == ""
    assert checksums(run_copy) == before


# ---- --force keeps a finished run until the new one can replace it ----------------------------------------


def test_force_with_a_new_run_that_diverges_keeps_the_finished_run(run_copy, capsys):
    before = checksums(run_copy)
    code, out, err = run_cli(capsys, "train", "-o", run_copy, *TINY, "--force", "--lr", "1e30")
    assert_refused(code, out, err, "training diverged", "smaller --lr", f"The run in {run_copy} is unchanged")
    assert checksums(run_copy) == before
    assert not (run_copy / STAGING).exists()
    assert load_checkpoint(run_copy / "model.npz").finished


def test_force_replaces_the_run_only_when_the_new_one_finishes(run_copy, capsys):
    code, out, _ = run_cli(
        capsys, "train", "-o", run_copy, *TINY[:-2], "--save-every", "30", "--force", "--seed", 5
    )
    assert code == 0
    assert sorted(p.name for p in run_copy.iterdir()) == sorted(RUN_FILES)
    assert json.loads((run_copy / "metrics.json").read_text())["config"]["seed"] == 5
    assert load_checkpoint(run_copy / "model.npz").train_state["config"]["seed"] == 5


# ---- Ctrl-C, stale temporaries ---------------------------------------------------------------------------


def test_ctrl_c_while_the_parser_is_built_is_exit_130_without_a_traceback(monkeypatch, capsys):
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.importlib, "import_module", interrupted)
    code, out, err = run_cli(capsys, "train", "--steps", "5")
    assert code == 130 and "Traceback" not in err and "interrupted" in err


def test_ctrl_c_that_an_extension_import_turns_into_an_import_error_is_still_exit_130(monkeypatch, capsys):
    # Seen on an AMD EPYC: SIGINT inside NumPy's C import came back as "ImportError: ... PyCapsule_Import
    # could not import module 'datetime'". The same mechanism, without the timing:
    def import_interrupted_in_c(name):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise ImportError('PyCapsule_Import could not import module "datetime"') from None

    monkeypatch.setattr(cli.importlib, "import_module", import_interrupted_in_c)
    code, out, err = run_cli(capsys, "train", "--steps", "5")
    assert code == 130 and "Traceback" not in err and "interrupted" in err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # main() put Python's own back


def test_an_import_error_without_ctrl_c_is_not_called_an_interruption(monkeypatch, capsys):
    def broken(name):
        raise ImportError("a real one")

    monkeypatch.setattr(cli.importlib, "import_module", broken)
    with pytest.raises(ImportError, match="a real one"):
        cli.main(["train", "--steps", "5"])


# Ctrl-C (SIGINT) arrives `delay` seconds into main(): while the parser is built, the data is read and
# encoded, the model is set up, or training has begun. A timer signal raises it in the main thread.
STARTUP = """
import signal, sys
from ninjagrad.cli import main
signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))
signal.setitimer(signal.ITIMER_REAL, float(sys.argv[1]))
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
@pytest.mark.parametrize("delay", [0.001, 0.05, 0.2, 0.5, 1.0])
def test_ctrl_c_during_start_up_is_exit_130_without_a_traceback(tmp_path, delay):
    out_dir = tmp_path / "run"
    process = subprocess.run(
        [sys.executable, "-c", STARTUP, str(delay), "train", "-o", str(out_dir), "--steps", "200000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 130, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    if (out_dir / "model.npz").exists():  # interrupted once training had begun: a checkpoint to resume
        assert not load_checkpoint(out_dir / "model.npz").finished


def test_the_command_starts_without_numpy_so_an_early_ctrl_c_finds_its_handler():
    # `import ninjagrad` (run by the `ninjagrad` script before main()) loads its names on first use
    probe = "import sys, ninjagrad.cli; print(sorted({'numpy', 'ninjagrad.tensors'} & set(sys.modules)))"
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == "[]", shown.stderr
    import ninjagrad

    assert set(ninjagrad.__all__) <= set(dir(ninjagrad))
    assert all(getattr(ninjagrad, name) is not None for name in ninjagrad.__all__)
    assert ninjagrad.float is ninjagrad.float32 and ninjagrad.long is ninjagrad.int64
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ninjagrad.nonsense  # noqa: B018


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_run_removes_the_temporaries_of_killed_runs(tmp_path, capsys):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    stale = [out_dir / f".model.npz.{dead_pid()}.{i:08x}.tmp" for i in range(14)]
    alive = out_dir / f".model.npz.{os.getpid()}.0000beef.tmp"  # a write in progress: kept
    other = out_dir / ".notes.txt.123.tmp"  # not a temporary of model.npz: kept
    for path in (*stale, alive, other):
        path.write_bytes(b"half a checkpoint")
    code, _, _ = run_cli(capsys, "train", "-o", out_dir, *TINY)
    assert code == 0
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([alive.name, other.name, *RUN_FILES])


# ---- output that the terminal cannot encode --------------------------------------------------------------


def test_ascii_stdout_gets_us_and_escaped_samples_instead_of_a_unicode_error(tmp_path):
    source = tmp_path / "names.txt"
    source.write_text("\n".join(["zoë", "chloé", "noël", "renée", "josé", *ITEMS]) + "\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    out_dir = tmp_path / "run"
    command = [sys.executable, "-m", "ninjagrad"]
    trained = subprocess.run(
        [*command, "train", "-i", str(source), "-o", str(out_dir), *TINY],
        capture_output=True,
        text=True,
        env=env,
    )
    assert trained.returncode == 0, trained.stderr
    assert " us/step" in trained.stdout and "UnicodeEncodeError" not in trained.stderr
    sampled = subprocess.run(
        [*command, "sample", str(out_dir), "-n", "300", "--seed", "0"], capture_output=True, env=env
    )
    assert sampled.returncode == 0, sampled.stderr
    text = sampled.stdout.decode("ascii")  # nothing but ASCII reached the stream ...
    assert "\\x" in text  # ... with é, ë as escapes
    assert b"Traceback" not in sampled.stderr
