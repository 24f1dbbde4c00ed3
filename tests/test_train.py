"""The training loop: the lecture's recipe, exact resume, checkpoints, refusals, outputs (short runs)."""

import json
import math
import os
import signal
import tracemalloc
import warnings
from contextlib import nullcontext

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore import data as data_module
from ninjagrad.makemore import train as train_module
from ninjagrad.makemore.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from ninjagrad.makemore.data import load_dataset
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import PARAM_NAMES, init_params, num_parameters
from ninjagrad.makemore.train import TrainConfig, train
from ninjagrad.viz.loss import averaged_log10_loss, steps_per_point

SMALL = TrainConfig(steps=1200, batch_size=32, n_embd=4, n_hidden=16, save_every=500, seed=7)


@pytest.fixture(scope="module")
def names():
    return load_dataset()


def assert_same_params(a, b):
    for name in PARAM_NAMES:
        assert np.array_equal(a[name], b[name]), name


# --- the config -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("steps", 0, "steps must be an integer >= 1, got 0"),
        ("steps", 2.5, "steps must be an integer >= 1, got 2.5"),
        ("batch_size", 1, "batch_size must be an integer >= 2, got 1"),
        ("n_hidden", True, "n_hidden must be an integer >= 1, got True"),
        ("n_hidden", np.int64(8), r"n_hidden must be an integer >= 1, got np.int64\(8\)"),
        ("seed", -1, "seed must be an integer >= 0, got -1"),
        ("save_every", 0, "save_every must be an integer >= 1"),
        ("lr", 0.0, "lr must be a positive finite number, got 0.0"),
        ("lr", float("nan"), "lr must be a positive finite number, got nan"),
        ("lr", float("inf"), "lr must be a positive finite number, got inf"),
    ],
)
def test_config_rejects_bad_values_with_a_clear_message(field, value, message):
    with pytest.raises(UserError, match=message):
        TrainConfig(**{field: value})


def test_defaults_are_the_lecture_run():
    config = TrainConfig()
    assert (config.steps, config.batch_size, config.lr) == (200_000, 32, 0.1)
    assert (config.n_embd, config.n_hidden, config.block_size) == (10, 200, 3)


def test_learning_rate_drops_tenfold_at_half_the_steps():
    config = TrainConfig()
    assert [config.learning_rate(s) for s in (0, 99_999)] == [0.1, 0.1]
    assert config.learning_rate(100_000) == pytest.approx(0.01)
    assert config.learning_rate(199_999) == pytest.approx(0.01)
    assert TrainConfig(steps=1).learning_rate(0) == pytest.approx(0.01)  # half of 1 step is 0 steps


# --- the loop -------------------------------------------------------------------------------------------


def reference_run(config, data):
    """The documented recipe, written out step by step: init from (seed, 0), batches of chunk c from
    (seed, 1, c), `lr` then `lr / 10`. The loop under test must land on exactly these parameters."""
    model_config = config.model_config(data.vocab.size)
    step_fn = TrainStep(model_config, init_params(model_config, np.random.default_rng((config.seed, 0))), 32)
    losses = []
    for step in range(config.steps):
        chunk, offset = divmod(step, 1000)
        if offset == 0:
            ix = np.random.default_rng((config.seed, 1, chunk)).integers(0, len(data.train), (1000, 32))
        Xb, Yb = data.train.X[ix[offset]], data.train.Y[ix[offset]]
        lr = config.lr if step < config.steps // 2 else config.lr / 10
        losses.append(step_fn(Xb.astype(np.intp), Yb.astype(np.intp), lr))
    return step_fn.params, np.array(losses, dtype=np.float32)


def test_the_loop_is_exactly_the_documented_recipe(names):
    result = train(SMALL, names)
    params, losses = reference_run(SMALL, names)
    assert_same_params(result.params, params)
    np.testing.assert_array_equal(result.loss_history, losses)


def test_a_short_run_learns_and_reports_everything(names):
    result = train(SMALL, names, num_samples=7)
    assert result.step == result.steps_run == SMALL.steps and not result.interrupted
    assert result.loss_history.shape == (SMALL.steps,) and result.loss_history.dtype == np.float32
    # The first batch is close to a uniform guess (ln 27 = 3.30); 1,200 steps bring it well below.
    assert 3.0 < result.loss_history[0] < 4.5
    assert result.loss_history[-200:].mean() < 2.8
    assert set(result.losses) == {"train", "val", "test"}
    assert all(2.0 < loss < 2.9 for loss in result.losses.values())
    assert result.bnmean.shape == result.bnvar.shape == (1, SMALL.n_hidden)
    assert len(result.samples) == 7 and all(set(s) <= set(names.vocab.chars[1:]) for s in result.samples)
    assert result.seconds > 0 and result.us_per_step > 0


def test_same_config_same_parameters_other_seed_other_parameters(names):
    config = TrainConfig(steps=300, n_embd=3, n_hidden=8, seed=1)
    first, again = train(config, names), train(config, names)
    assert_same_params(first.params, again.params)
    other = train(TrainConfig(steps=300, n_embd=3, n_hidden=8, seed=2), names)
    assert not np.array_equal(first.params["W1"], other.params["W1"])


def test_block_size_must_match_the_data(names):
    with pytest.raises(UserError, match="block_size 3 but the config has 4"):
        train(TrainConfig(block_size=4, steps=10), names)


# --- checkpoints, interruption and resume ---------------------------------------------------------------


def test_checkpoints_are_written_every_save_every_steps_and_at_the_end(names, tmp_path, monkeypatch):
    saved = []
    real_save = train_module.save_checkpoint

    def spy(path, checkpoint):
        saved.append((checkpoint.step, checkpoint.finished))
        real_save(path, checkpoint)

    monkeypatch.setattr(train_module, "save_checkpoint", spy)
    train(SMALL, names, tmp_path)
    # step 0 when the run starts, every 500 steps, the last step, and the finished model
    assert saved == [(0, False), (500, False), (1000, False), (1200, False), (1200, True)]


class InterruptAt(TrainStep):
    """A TrainStep that presses Ctrl-C (a real SIGINT to this process) in the call that runs a given step."""

    calls_before_interrupt = 0  # steps, counted over calls of run()

    def run(self, X, Y, lr):
        losses = super().run(X, Y, lr)
        before = InterruptAt.calls_before_interrupt
        InterruptAt.calls_before_interrupt -= len(X)
        if before > 0 >= InterruptAt.calls_before_interrupt:
            os.kill(os.getpid(), signal.SIGINT)
        return losses


@pytest.fixture(scope="module")
def uninterrupted(names):
    return train(SMALL, names)


@pytest.mark.parametrize("interrupt_after", [1, 333, 640, 1199])
def test_ctrl_c_saves_a_checkpoint_and_resume_ends_exactly_where_an_uninterrupted_run_ends(
    names, tmp_path, monkeypatch, interrupt_after, uninterrupted
):

    InterruptAt.calls_before_interrupt = interrupt_after
    monkeypatch.setattr(train_module, "TrainStep", InterruptAt)
    stopped = train(SMALL, names, tmp_path)
    monkeypatch.undo()
    assert (
        stopped.interrupted and interrupt_after <= stopped.step <= SMALL.steps
    )  # <= : the last segment ends
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # our handler is gone again
    checkpoint = load_checkpoint(checkpoint_path(tmp_path))
    assert checkpoint.step == stopped.step and not checkpoint.finished
    assert_same_params(checkpoint.params, stopped.params)

    resumed = train(SMALL, names, tmp_path, resume=True)
    assert resumed.steps_run == SMALL.steps - stopped.step
    assert_same_params(resumed.params, uninterrupted.params)
    np.testing.assert_array_equal(resumed.loss_history, uninterrupted.loss_history)
    assert resumed.losses == uninterrupted.losses
    assert resumed.samples == uninterrupted.samples


def test_a_resumed_run_keeps_the_diagnostics_of_the_steps_before_it(names, tmp_path, monkeypatch):
    whole = train(SMALL, names, tmp_path / "whole")
    InterruptAt.calls_before_interrupt = 640  # after the record at step 500
    monkeypatch.setattr(train_module, "TrainStep", InterruptAt)
    stopped = train(SMALL, names, tmp_path / "resumed")
    monkeypatch.undo()
    assert load_checkpoint(checkpoint_path(tmp_path / "resumed")).diagnostics["steps"][0] == 500
    resumed = train(SMALL, names, tmp_path / "resumed", resume=True)
    assert stopped.interrupted and resumed.steps_run == SMALL.steps - stopped.step
    expected = load_checkpoint(whole.checkpoint).diagnostics
    assert expected["steps"] == [500, 1000]
    assert load_checkpoint(resumed.checkpoint).diagnostics == expected  # the plots show the whole run


def test_save_every_may_change_on_resume_because_it_does_not_change_the_result(names, tmp_path):
    train(SMALL, names, tmp_path)
    other = TrainConfig(**{**SMALL.__dict__, "save_every": 100})
    assert train(other, names, tmp_path, resume=True).steps_run == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_hidden": 17}, "n_hidden differs from the run in .*: it was 16, this command has 17"),
        ({"lr": 0.2}, "lr differs .*: it was 0.1, this command has 0.2"),
        ({"steps": 2000}, "steps differs .*: it was 1200, this command has 2000"),
        ({"seed": 8}, "seed differs .*: it was 7, this command has 8"),
    ],
)
def test_resume_with_other_arguments_names_both_values(names, tmp_path, change, message):
    train(TrainConfig(**{**SMALL.__dict__, "steps": 1200}), names, tmp_path)
    with pytest.raises(UserError, match=message):
        train(TrainConfig(**{**SMALL.__dict__, **change}), names, tmp_path, resume=True)


def test_resume_with_other_data_names_both_files(names, tmp_path):
    other_file = tmp_path / "names_copy.txt"
    other_file.write_text(
        "\n".join(["bob", "alice", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"])
    )
    other = load_dataset(other_file)
    train(TrainConfig(steps=20, n_hidden=8), names, tmp_path / "run")
    with pytest.raises(
        UserError, match=r"trained on .*names\.txt \(sha256 0a30b5557f19...\), this command reads "
    ):
        train(TrainConfig(steps=20, n_hidden=8), other, tmp_path / "run", resume=True)


def test_resume_and_force_together_are_refused_before_anything_is_written(names, tmp_path):
    train(TrainConfig(steps=20, n_hidden=8), names, tmp_path)
    before = (tmp_path / "model.npz").read_bytes()
    with pytest.raises(UserError, match="--resume and --force contradict each other"):
        train(TrainConfig(steps=20, n_hidden=8), names, tmp_path, resume=True, force=True)
    assert (tmp_path / "model.npz").read_bytes() == before


def test_resume_needs_a_checkpoint(names, tmp_path):
    with pytest.raises(UserError, match="nothing to resume: there is no .*model.npz"):
        train(SMALL, names, tmp_path, resume=True)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_run_is_not_overwritten_without_force(names, tmp_path):
    config = TrainConfig(steps=50, n_hidden=8)
    train(config, names, tmp_path)
    before = (tmp_path / "model.npz").read_bytes()
    with pytest.raises(UserError, match="already exists; pass --resume .* --force"):
        train(config, names, tmp_path)
    assert (tmp_path / "model.npz").read_bytes() == before


def test_force_replaces_the_run(names, tmp_path):
    train(TrainConfig(steps=50, n_hidden=8), names, tmp_path)
    train(TrainConfig(steps=60, n_hidden=9), names, tmp_path, force=True)
    checkpoint = load_checkpoint(tmp_path / "model.npz")
    assert checkpoint.step == 60 and checkpoint.model_config.n_hidden == 9
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 60


def test_resuming_a_finished_run_re_evaluates_it_without_training(names, tmp_path):
    config = TrainConfig(steps=100, n_hidden=8)
    first = train(config, names, tmp_path)
    again = train(config, names, tmp_path, resume=True)
    assert again.steps_run == 0
    assert again.losses == first.losses
    assert_same_params(again.params, first.params)
    assert json.loads((tmp_path / "metrics.json").read_text())["us_per_step"] is None


def test_an_output_path_that_is_a_file_is_a_user_error(names, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(UserError, match="exists and is not a directory"):
        train(TrainConfig(steps=10), names, tmp_path / "taken")


# --- what a finished run writes -------------------------------------------------------------------------


def test_a_finished_run_writes_model_metrics_and_plot(names, tmp_path):
    result = train(SMALL, names, tmp_path / "run")
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    from ninjagrad.makemore.diagnostics import PLOT_FILES  # the training diagnostics, beside loss.png

    assert files == sorted(["loss.png", "metrics.json", "model.npz", *PLOT_FILES])

    checkpoint = load_checkpoint(tmp_path / "run" / "model.npz")
    assert checkpoint.finished and checkpoint.step == SMALL.steps
    assert checkpoint.vocab == names.vocab
    assert_same_params(checkpoint.params, result.params)
    np.testing.assert_array_equal(checkpoint.bnmean, result.bnmean)

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["losses"] == result.losses
    assert metrics["examples"] == {"train": 182_625, "val": 22_655, "test": 22_866}
    assert metrics["steps"] == SMALL.steps
    assert metrics["parameters"] == num_parameters(result.params) == 27 * 4 + 12 * 16 + 16 + 16 * 27 + 27 + 32
    assert metrics["config"]["n_hidden"] == 16 and metrics["model_config"]["vocab_size"] == 27
    # Timings are rounded for the file (ms, and 0.01 µs): compare the rounded values with the result's own,
    # never one rounded timing with another (on a 0.05 s run a millisecond is 2%).
    assert result.steps_run == SMALL.steps and result.seconds > 0
    assert result.us_per_step == 1e6 * result.seconds / SMALL.steps
    assert metrics["seconds"] == round(result.seconds, 3)
    assert metrics["us_per_step"] == round(result.us_per_step, 2)

    assert (tmp_path / "run" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the loss plot's averaging --------------------------------------------------------------------------


def test_plot_uses_1000_step_windows_for_long_runs_and_smaller_ones_for_short_runs():
    assert steps_per_point(200_000) == 1000
    assert steps_per_point(50_000) == 1000
    assert steps_per_point(10_000) == 200
    assert steps_per_point(30) == 1


def test_averaged_log10_loss_keeps_a_shorter_last_window():
    losses = np.array([10.0, 100.0, 1000.0, 1.0, 10.0])
    steps, log_loss = averaged_log10_loss(losses, 2)
    np.testing.assert_array_equal(steps, [2, 4, 5])
    np.testing.assert_allclose(log_loss, [1.5, (3 + 0) / 2, 1.0])
    assert math.isclose(averaged_log10_loss(losses, 5)[1][0], np.log10(losses).mean())


def test_a_checkpoint_without_training_state_cannot_be_resumed(names, tmp_path):
    train(TrainConfig(steps=20, n_hidden=8), names, tmp_path)
    checkpoint = load_checkpoint(tmp_path / "model.npz")
    checkpoint.train_state = {}  # e.g. a model saved by other code with save_checkpoint
    save_checkpoint(tmp_path / "model.npz", checkpoint)
    with pytest.raises(UserError, match="holds no training state, so it cannot be resumed"):
        train(TrainConfig(steps=20, n_hidden=8), names, tmp_path, resume=True)


def test_a_diverging_run_stops_with_a_clear_message_and_no_numpy_warnings(names, tmp_path):
    # lr 1e30 sends the loss to inf/nan within a few steps. The run must not go on to save, evaluate and
    # sample a model of nans; NumPy's overflow warnings (pointing into fast.py) must not leak out either.
    config = TrainConfig(steps=300, n_hidden=8, lr=1e30, save_every=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would now be raised instead of the UserError
        with pytest.raises(UserError, match=r"training diverged: the loss of step \d+ is (nan|inf).*--lr"):
            train(config, names, tmp_path)
    checkpoint = load_checkpoint(tmp_path / "model.npz")
    assert not checkpoint.finished and np.isfinite(checkpoint.loss_history).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


# --- memory ---------------------------------------------------------------------------------------------


def test_a_run_too_large_for_the_machine_is_refused_before_anything_is_allocated(
    names, tmp_path, monkeypatch
):
    # 10**12 steps of loss history alone are 4 TB: a MemoryError traceback before the check existed.
    with pytest.raises(UserError, match=r"needs about [\d,.]+ GiB of memory, more than the .* --steps"):
        train(TrainConfig(steps=10**12), names, tmp_path / "huge")
    # A machine with 4 MiB: the lecture's model (its evaluation chunks alone are ~10 MB) does not fit.
    monkeypatch.setattr(data_module, "physical_memory", lambda: 4 * 2**20)
    with pytest.raises(UserError, match=r"more than the 0.0 GiB this machine has; choose a smaller --hidden"):
        train(TrainConfig(steps=10), names, tmp_path / "small")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(steps=200, batch_size=32, n_hidden=400),  # evaluation's activations dominate
        TrainConfig(steps=200, batch_size=1000, n_hidden=10),  # a chunk of batches dominates
    ],
)
def test_the_memory_estimate_is_within_a_factor_of_two_of_what_the_run_allocates(names, config):
    tracemalloc.start()
    try:
        train(config, names)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = train_module.memory_needed(config, config.model_config(names.vocab.size))
    assert 0.5 < peak / estimate < 2, (peak, estimate)


def test_ctrl_c_while_the_plot_is_drawn_leaves_no_half_written_file(names, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def savefig_then_die(self, target, **kwargs):  # matplotlib writes to a path or to a file object
        with open(target, "wb") if isinstance(target, str | os.PathLike) else nullcontext(target) as file:
            file.write(b"\x89PNG\r\n\x1a\n half a picture")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", savefig_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(steps=50, n_hidden=8), names, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.npz"]
    assert load_checkpoint(tmp_path / "model.npz").finished
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 50


# --- force: the old run stays until the new one has finished ------------------------------------------


def test_an_interrupted_force_run_keeps_the_old_run_and_resume_finishes_the_replacement(
    names, tmp_path, monkeypatch, uninterrupted
):
    old = TrainConfig(steps=50, n_hidden=8)
    train(old, names, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    InterruptAt.calls_before_interrupt = 400
    monkeypatch.setattr(train_module, "TrainStep", InterruptAt)
    stopped = train(SMALL, names, tmp_path, force=True)
    monkeypatch.undo()
    assert stopped.interrupted and stopped.checkpoint == tmp_path / train_module.STAGING / "model.npz"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before  # untouched
    assert load_checkpoint(tmp_path / "model.npz").model_config.n_hidden == 8  # still samples

    resumed = train(SMALL, names, tmp_path, resume=True)  # continues the replacement, not the old run
    assert resumed.steps_run == SMALL.steps - stopped.step
    assert_same_params(resumed.params, uninterrupted.params)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(train_module.RUN_FILES)
    assert load_checkpoint(tmp_path / "model.npz").model_config.n_hidden == SMALL.n_hidden
    assert json.loads((tmp_path / "metrics.json").read_text())["config"] == resumed.config.__dict__


def test_resume_with_the_old_runs_arguments_still_finds_the_old_run_beside_a_replacement(
    names, tmp_path, monkeypatch
):
    old = TrainConfig(steps=50, n_hidden=8)
    first = train(old, names, tmp_path)
    InterruptAt.calls_before_interrupt = 100
    monkeypatch.setattr(train_module, "TrainStep", InterruptAt)
    assert train(SMALL, names, tmp_path, force=True).interrupted
    monkeypatch.undo()
    again = train(old, names, tmp_path, resume=True)  # the staged run is another run: the old one matches
    assert again.steps_run == 0 and again.losses == first.losses
    assert (tmp_path / train_module.STAGING / "model.npz").exists()  # the replacement is still there
