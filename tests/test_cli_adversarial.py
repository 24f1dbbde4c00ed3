"""The command line used carelessly: absurd numbers, odd files and streams, broken checkpoints and workbooks.

Each case is one that once ended in a traceback, a wrong exit code, a misleading message or a lost file.
Bad input must be exit 2 with a short message and no traceback, and must leave every file as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import TINY, assert_refused, checksums, run_cli

HUGE = "9" * 400  # an integer argparse accepts and no float can hold


# ---- numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--steps", "--batch-size", "--embd", "--hidden", "--block-size"])
def test_a_400_digit_size_is_refused_as_too_large_not_an_overflow_error(tmp_path, capsys, flag):
    code, out, err = run_cli(capsys, "train", "-o", tmp_path / "run", *TINY, flag, HUGE)
    assert_refused(code, out, err, "GiB of memory, more than the", "choose a smaller")
    assert not (tmp_path / "run").exists()


# ---- standard streams: closed, full --------------------------------------------------------------------


def test_training_with_stderr_closed_runs_to_the_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # what Python has there when started with `2>&-`
    code, out, _ = run_cli(capsys, "train", "-o", tmp_path / "run", *TINY)
    assert code == 0  # the progress bar had nowhere to go: an AttributeError, and a step-0 model.npz
    assert "wrote" in out
    from ninjagrad.makemore.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "run" / "model.npz").finished


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("argv", [["kata", "list"], ["sample", "RUN", "-n", "3", "--seed", "0"]])
def test_stdout_on_a_full_disk_is_exit_2_with_a_message(finished_run, argv):
    argv = [str(finished_run) if a == "RUN" else a for a in argv]
    with open("/dev/full", "wb") as full:
        process = subprocess.run(
            [sys.executable, "-m", "ninjagrad", *argv], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr and "Exception ignored" not in process.stderr
    assert "cannot write the output: No space left on device" in process.stderr


# ---- checkpoints -----------------------------------------------------------------------------------------


def rewrite_meta(path: Path, change) -> None:
    """Rewrite a real checkpoint with ``change(meta)`` applied to its JSON."""
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (lambda meta: meta["model_config"].update(n_hidden=8.0), "model n_hidden must be a positive integer"),
        (lambda meta: meta["model_config"].update(bn_eps=-1), "model bn_eps must be positive, got -1"),
        (lambda meta: meta.update(vocab=".." + meta["vocab"][2:]), "a vocabulary must start with '.'"),
    ],
)
@pytest.mark.parametrize("command", ["sample", "resume"])
def test_an_invalid_stored_config_is_blamed_on_the_checkpoint(run_copy, capsys, change, shown, command):
    rewrite_meta(run_copy / "model.npz", change)
    before = checksums(run_copy)
    argv = ["sample", run_copy] if command == "sample" else ["train", "-o", run_copy, *TINY, "--resume"]
    code, out, err = run_cli(capsys, *argv)
    # it was "model n_hidden must be a positive integer, got 8.0; pass e.g. 1 or more": pass it where?
    assert_refused(
        code, out, err, f"{run_copy / 'model.npz'} is not a compatible ninjagrad checkpoint", shown
    )
    assert "train again" in err and "pass e.g." not in err and "the lecture uses" not in err
    assert checksums(run_copy) == before


# ---- data files ------------------------------------------------------------------------------------------

ITEMS = "ann bob cy dee eve fay gus hal ivy jo kim lu".split()


NOT_UTF8 = os.fsdecode(b"n\xe9.txt")  # Latin-1 "né.txt", as a USB stick may name it
needs_linux = pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8 needs Linux")


@needs_linux
def test_a_data_file_whose_name_is_not_utf8_trains_and_plots(tmp_path):
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.makemore.train import TrainConfig, train

    source = tmp_path / NOT_UTF8
    source.write_text("\n".join(ITEMS) + "\n")
    config = TrainConfig(steps=60, n_embd=3, n_hidden=8, save_every=20)
    # matplotlib refused the plot's title with the name in it: a TypeError once the model was trained
    train(config, load_dataset(source, config.block_size), tmp_path / "run")
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0


@needs_linux
def test_a_file_name_that_is_not_utf8_is_printed_with_an_escape(tmp_path):
    source = tmp_path / NOT_UTF8
    source.write_text("\n".join(ITEMS) + "\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}  # strict, as in a UTF-8 locale such as en_US.UTF-8
    process = subprocess.run(
        [sys.executable, "-m", "ninjagrad", "train", "-i", str(source), "-o", str(tmp_path / "run"), *TINY],
        capture_output=True,
        text=True,
        env=env,
    )
    assert process.returncode == 0, process.stderr  # print() raised a UnicodeEncodeError
    assert "data: " + str(tmp_path / "n\\udce9.txt") in process.stdout


# ---- output files that are not regular files -------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_samples_written_to_a_named_pipe_reach_its_reader_and_the_pipe_stays(finished_run, tmp_path, capsys):
    fifo = tmp_path / "samples.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there: opening to write cannot block
    try:
        code, out, err = run_cli(capsys, "sample", finished_run, "-n", "5", "--seed", "0", "-o", fifo)
        assert code == 0, err
        assert stat.S_ISFIFO(fifo.stat().st_mode)  # os.replace had put a regular file in its place
        received = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert len(received.splitlines()) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["samples.fifo"]


def test_a_symbolic_link_as_output_stays_a_link_to_the_new_samples(finished_run, tmp_path, capsys):
    target = tmp_path / "kept" / "samples.txt"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "latest.txt"
    link.symlink_to(target)
    code, _, err = run_cli(capsys, "sample", finished_run, "-n", "4", "--seed", "0", "-o", link)
    assert code == 0, err
    assert link.is_symlink() and len(target.read_text().splitlines()) == 4


# ---- kata workbooks --------------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_kata_check_of_a_device_is_refused_instead_of_reading_forever(capsys):
    code, out, err = run_cli(capsys, "kata", "check", "/dev/zero", "--timeout", "2")
    assert_refused(code, out, err, "/dev/zero is not a regular file", "workbook's file")


def test_samples_are_never_written_over_a_model(run_copy, tmp_path, capsys):
    before = checksums(run_copy)
    other = tmp_path / "other.npz"
    shutil.copy(run_copy / "model.npz", other)
    for model, output, what in (
        (run_copy, run_copy / "model.npz", "the model being sampled"),  # RUN -o RUN/model.npz
        (run_copy / "model.npz", run_copy / "model.npz", "the model being sampled"),
        (run_copy, other, "a model (a .npz archive)"),
    ):
        code, out, err = run_cli(capsys, "sample", model, "-o", output, "-n", 3)
        assert_refused(code, out, err, f"-o {output} is {what}", "-o samples.txt")
    assert checksums(run_copy) == before and other.read_bytes() == (run_copy / "model.npz").read_bytes()
    text = tmp_path / "samples.txt"
    text.write_text("old samples\n")  # an earlier text output is replaced, as before
    code, _, _ = run_cli(capsys, "sample", run_copy, "-o", text, "-n", 3)
    assert code == 0 and len(text.read_text().splitlines()) == 3
