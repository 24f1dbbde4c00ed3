"""`ninjagrad train` and `ninjagrad sample` end to end: messages, exit codes, files, Ctrl-C and kill -9."""

import contextlib
import errno
import io
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ninjagrad.cli import build_parser, main
from ninjagrad.commands import sample as sample_command
from ninjagrad.commands import train as train_command
from ninjagrad.makemore import sample as sample_module
from ninjagrad.makemore.checkpoint import load_checkpoint
from ninjagrad.makemore.data import load_dataset
from ninjagrad.makemore.model import PARAM_NAMES
from ninjagrad.makemore.train import TrainConfig, train

SMALL_FLAGS = ["--steps", "400", "--embd", "4", "--hidden", "12", "--save-every", "150"]


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of the CLI run in this process."""
    try:
        code = main(list(argv))
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def spawn(*argv, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "ninjagrad", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def names_file(tmp_path, text: bytes, name="data.txt"):
    path = tmp_path / name
    path.write_bytes(text)
    return path


GOOD_ITEMS = b"".join(b"%s\n" % name for name in b"ann bob cy dee eve fay gus hal ivy jo kim".split())


# --- bad input: exit 2, a clear message, no traceback, nothing written ---------------------------------


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing.txt", "no such file: .*missing.txt"),
        (lambda d: d, "is a directory"),
        (lambda d: names_file(d, b""), "data.txt is empty"),
        (lambda d: names_file(d, b"\n \n\n"), "data.txt has only blank lines"),
        (lambda d: names_file(d, GOOD_ITEMS + b"b\xe9a\n"), r"line 12: bytes b'\\xe9' are not UTF-8"),
        (lambda d: names_file(d, b"ann\nmr.x\n" + GOOD_ITEMS), r"line 2: item 'mr.x' contains '\.'"),
        (
            lambda d: names_file(d, b"ann\nmary jo\n" + GOOD_ITEMS),
            "line 2: item 'mary jo' contains whitespace",
        ),
        (lambda d: names_file(d, b"ann\nbob\n"), "has 2 items; the 80/10/10 split needs at least 10"),
    ],
)
def test_bad_data_exits_2_with_a_message_and_writes_nothing(tmp_path, capsys, make_input, message):
    source = make_input(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "train", "-i", str(source), "-o", str(out_dir), *SMALL_FLAGS)
    assert code == 2
    assert err.startswith("ninjagrad train: error: ")
    assert re.search(message, err), err
    assert "Traceback" not in err + out
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["--steps", "lots"], "argument --steps: expected an integer >= 1, got 'lots'"),
        (["--batch-size", "1"], "argument --batch-size: must be >= 2, got 1"),
        (["--hidden", "-5"], "argument --hidden: must be >= 1, got -5"),
        (["--lr", "0"], "argument --lr: must be a positive finite number, got 0"),
        (["--lr", "nan"], "argument --lr: must be a positive finite number, got nan"),
        (["--lr", "fast"], "argument --lr: expected a positive number, got 'fast'"),
        (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--save-every", "0"], "argument --save-every: must be >= 1, got 0"),
    ],
)
def test_bad_flags_exit_2_with_a_message(tmp_path, capsys, flags, message):
    code, _, err = run_cli(capsys, "train", "-o", str(tmp_path / "out"), *flags)
    assert code == 2 and message in err
    assert not (tmp_path / "out").exists()


def test_the_printed_resume_command_repeats_every_training_flag():
    # Every flag that sets a TrainConfig field, at a value that is not its default, survives the round trip
    # through the command printed on Ctrl-C: otherwise the resumed run would be refused as another run.
    parser = build_parser()
    non_default = ["--steps", "77", "--batch-size", "5", "--embd", "3", "--hidden", "9", "--block-size", "4"]
    non_default += ["--lr", "0.30000000000000004", "--seed", "12", "--save-every", "7"]
    args = parser.parse_args(["train", "-i", "my names.txt", "-o", "out dir", *non_default])
    command = shlex.split(train_command._resume_command(args, args.output))
    assert command[:2] == ["ninjagrad", "train"] and command[-1] == "--resume"
    again = parser.parse_args(command[1:])
    assert (again.input, again.output, again.resume) == (args.input, args.output, True)
    fields = [field for _, _, field, _, _ in train_command.CONFIG_FLAGS]
    assert sorted(fields) == sorted(TrainConfig.__dataclass_fields__)
    assert {f: getattr(again, f) for f in fields} == {f: getattr(args, f) for f in fields}
    assert all(getattr(args, f) != getattr(TrainConfig(), f) for f in fields)


def test_an_output_directory_that_cannot_be_written_exits_2_before_training(tmp_path, capsys, monkeypatch):
    from ninjagrad import files

    def read_only(path, mode="r", *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(files, "open", read_only, raising=False)  # the writer module's own open()
    code, out, err = run_cli(capsys, "train", "-o", str(tmp_path / "out"), *SMALL_FLAGS)
    assert code == 2 and "Traceback" not in err
    assert re.search(r"cannot write .*model\.npz: Permission denied; .*writable output directory", err), err
    assert "trained" not in out


def test_resume_and_force_together_are_refused(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "-o", str(tmp_path / "out"), "--resume", "--force")
    assert code == 2 and "--resume and --force contradict each other" in err


# --- a short run, then sampling -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short CLI run in its own directory: (directory, stdout). Module-scoped: no capsys here."""
    out_dir = tmp_path_factory.mktemp("cli") / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "-o", str(out_dir), *SMALL_FLAGS]) == 0
    return out_dir, stdout.getvalue()


def test_train_prints_data_losses_and_20_samples_and_writes_three_files(trained):
    out_dir, out = trained
    lines = out.splitlines()
    assert any(line.startswith("examples: train 182,625 / val 22,655 / test 22,866") for line in lines)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    loss_line = next(line for line in lines if line.startswith("loss: "))
    for split in ("train", "val", "test"):
        assert f"{split} {metrics['losses'][split]:.4f}" in loss_line
    start = lines.index("20 samples:")
    samples = lines[start + 1 : start + 21]
    assert len(samples) == 20 and all(line.startswith("  ") for line in samples)
    from ninjagrad.makemore.diagnostics import PLOT_FILES  # the training diagnostics, beside loss.png

    files = sorted(p.name for p in out_dir.iterdir())
    assert files == sorted(["loss.png", "metrics.json", "model.npz", *PLOT_FILES])


def test_sample_prints_n_names_reproducibly_with_a_seed(trained, capsys):
    out_dir, _ = trained
    code, first, _ = run_cli(capsys, "sample", str(out_dir), "-n", "12", "--seed", "3")
    assert code == 0
    names = first.splitlines()
    vocab = load_checkpoint(out_dir / "model.npz").vocab
    assert len(names) == 12 and all(set(name) <= set(vocab.chars[1:]) for name in names)
    assert run_cli(capsys, "sample", str(out_dir), "-n", "12", "--seed", "3")[1] == first
    assert run_cli(capsys, "sample", str(out_dir), "-n", "12", "--seed", "4")[1] != first


def test_training_again_into_a_finished_run_is_refused(trained, capsys):
    out_dir, _ = trained
    before = (out_dir / "model.npz").read_bytes()
    code, _, err = run_cli(capsys, "train", "-o", str(out_dir), *SMALL_FLAGS)
    assert code == 2 and "already exists; pass --resume" in err and "--force" in err
    assert (out_dir / "model.npz").read_bytes() == before


def test_resume_with_other_flags_names_both_values(trained, capsys):
    out_dir, _ = trained
    flags = [*SMALL_FLAGS[:-4], "--hidden", "13", "--save-every", "150"]
    code, _, err = run_cli(capsys, "train", "-o", str(out_dir), *flags, "--resume")
    assert code == 2 and "n_hidden differs" in err and "it was 12, this command has 13" in err


def test_sample_draws_a_large_n_in_bounded_batches(trained, capsys, monkeypatch):
    # Drawing -n 10**8 names at once would need tens of gigabytes; the command draws them in batches.
    out_dir, _ = trained
    calls = []
    real = sample_module.sample_checkpoint

    def spy(checkpoint, n, rng):
        calls.append(n)
        return real(checkpoint, n, rng)

    monkeypatch.setattr("ninjagrad.makemore.sample.sample_checkpoint", spy)
    monkeypatch.setattr(sample_command, "SAMPLES_PER_CALL", 4)
    code, out, _ = run_cli(capsys, "sample", str(out_dir), "-n", "10", "--seed", "5")
    assert code == 0 and len(out.splitlines()) == 10
    assert calls == [4, 4, 2]
    assert run_cli(capsys, "sample", str(out_dir), "-n", "10", "--seed", "5")[1] == out


def test_sample_also_takes_the_model_file_itself(trained, capsys):
    out_dir, _ = trained
    by_directory = run_cli(capsys, "sample", str(out_dir), "-n", "5", "--seed", "1")
    by_file = run_cli(capsys, "sample", str(out_dir / "model.npz"), "-n", "5", "--seed", "1")
    assert by_file == by_directory and by_file[0] == 0


def test_sample_errors_exit_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", str(tmp_path))
    assert code == 2 and "no checkpoint at" in err and "ninjagrad train -o" in err
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 truncated")
    code, _, err = run_cli(capsys, "sample", str(tmp_path))
    assert code == 2 and "not a readable checkpoint" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "sample", str(tmp_path), "-n", "0")
    assert code == 2 and "argument -n/--num: must be >= 1, got 0" in err


# --- interruptions, in a real subprocess ----------------------------------------------------------------

RUN = TrainConfig(steps=8000, n_embd=4, n_hidden=24, save_every=100, seed=3)
RUN_FLAGS = ["--steps", "8000", "--embd", "4", "--hidden", "24", "--save-every", "100", "--seed", "3"]


@pytest.fixture(scope="module")
def uninterrupted():
    return train(RUN, load_dataset())


def wait_for_step(path, above, process, timeout=60.0):
    """Poll the checkpoint until it holds a step beyond ``above``; returns that step (or None if the
    process ended first). Reading while the trainer writes is safe: the file is replaced atomically."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            step = load_checkpoint(path).step
            if step > above:
                return step
        if process.poll() is not None:
            return None
        time.sleep(0.005)
    raise TimeoutError(f"no checkpoint beyond step {above} in {timeout} s")


def assert_same_params(a, b):
    for name in PARAM_NAMES:
        assert np.array_equal(a[name], b[name]), name


def test_ctrl_c_saves_prints_the_resume_command_and_exits_130(tmp_path, uninterrupted):
    out_dir = tmp_path / "run"
    process = spawn("train", "-o", str(out_dir), *RUN_FLAGS, cwd=tmp_path)
    wait_for_step(out_dir / "model.npz", 0, process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    stopped = load_checkpoint(out_dir / "model.npz")
    assert 0 < stopped.step < RUN.steps and not stopped.finished
    assert f"interrupted at step {stopped.step:,} of 8,000" in out

    command = out.splitlines()[-1].strip()
    argv = shlex.split(command)
    assert argv[:2] == ["ninjagrad", "train"] and "--resume" in argv
    resumed = subprocess.run(
        [sys.executable, "-m", "ninjagrad", *argv[1:]], cwd=tmp_path, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr
    final = load_checkpoint(out_dir / "model.npz")
    assert final.finished and final.step == RUN.steps
    assert_same_params(final.params, uninterrupted.params)


def test_kill_9_at_random_moments_never_corrupts_and_resume_is_exact(tmp_path, uninterrupted):
    out_dir = tmp_path / "run"
    path = out_dir / "model.npz"
    rng = random.Random(0)
    kills, step = 0, 0
    for _attempt in range(3):
        resume = ["--resume"] if path.exists() else []
        process = spawn("train", "-o", str(out_dir), *RUN_FLAGS, *resume, cwd=tmp_path)
        reached = wait_for_step(path, step, process)
        if reached is None:  # it finished before we could kill it
            break
        time.sleep(rng.uniform(0, 0.05))  # checkpoints every 100 steps: often mid-write
        process.send_signal(signal.SIGKILL)
        process.communicate()
        step = load_checkpoint(path).step  # never a half-written file
        kills += process.returncode == -signal.SIGKILL
        if step == RUN.steps:
            break
    assert kills >= 1, "the trainer was never killed: make the run longer"

    finished = subprocess.run(
        [sys.executable, "-m", "ninjagrad", "train", "-o", str(out_dir), *RUN_FLAGS, "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr
    final = load_checkpoint(path)
    assert final.finished and final.step == RUN.steps
    assert_same_params(final.params, uninterrupted.params)
    np.testing.assert_array_equal(final.loss_history, uninterrupted.loss_history)
