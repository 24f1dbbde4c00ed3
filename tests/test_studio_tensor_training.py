"""The tensor page's live training and kata adapter, without a browser."""

import json
import time

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.data import load_dataset
from ninjagrad.studio.tensor_kata import AllowedFiles, check_workbook, hint, solution
from ninjagrad.studio.tensor_training import LiveConfig, LiveRun, training_json


@pytest.fixture(scope="module")
def data():
    return load_dataset()


def test_the_live_run_is_the_run_of_ninjagrad_train(data):
    """Same seed, same steps: the page trains bit for bit what `ninjagrad train` trains."""
    from ninjagrad.makemore.train import TrainConfig, train

    steps = 1200
    result = train(TrainConfig(steps=steps, n_hidden=32, save_every=10_000), data, num_samples=1)
    run = LiveRun(LiveConfig(steps=steps, decay_step=steps // 2, n_hidden=32), data)
    while not run.done:
        assert run.advance(250) <= 250
    np.testing.assert_array_equal(run.losses, result.loss_history)
    for name, value in result.params.items():
        np.testing.assert_array_equal(run.train_step.params[name], value)


def test_training_makes_the_loss_fall_and_diagnostics_appear(data):
    run = LiveRun(LiveConfig(steps=3000, decay_step=2000, n_hidden=64), data)
    while not run.done:
        run.advance(500)
    view = training_json(run)
    json.dumps(view, allow_nan=False)
    train_loss = view["train_loss"]["loss"]
    assert len(train_loss) == 300 and train_loss[-1] < train_loss[0] - 0.5  # from ~3.3 to below 2.8
    assert view["val_loss"]["steps"] == [1000, 2000, 3000]
    assert view["val_loss"]["loss"][-1] < np.log(27)  # better than a uniform guess
    diagnostics = view["diagnostics"]
    assert diagnostics["records"] == 30 and diagnostics["steps"][-1] == 3000
    assert 0 <= diagnostics["latest"]["saturation"] <= 1
    assert set(diagnostics["latest"]["gradient_histograms"]) == {"hprebn", "hpreact", "h", "logits"}
    assert all(-6 < r < 0 for r in diagnostics["update_ratio"]["W1"])
    assert len(diagnostics["bn_running_mean"]) == 64
    assert view["lr"] == pytest.approx(0.01)  # after the decay step
    calibrated = np.array(view["bn_calibrated"]["mean"])  # the whole training split's, beside the running
    running = np.array(diagnostics["bn_running_mean"])
    assert calibrated.shape == (64,) and np.corrcoef(calibrated, running)[0, 1] > 0.9


def test_the_snapshot_stays_small_however_long_the_run(data):
    config = LiveConfig(steps=200_000)
    assert config.window == 667 and config.diagnose_every == 1000 and config.val_every == 4000
    assert config.steps / config.window <= 300 and config.steps / config.diagnose_every <= 200


def test_a_diverging_run_stops_with_a_message(data):
    run = LiveRun(LiveConfig(steps=2000, lr=1e6, n_hidden=16), data)
    while not run.done:
        run.advance(500)
    assert "diverged" in run.error and run.step < 2000
    json.dumps(training_json(run), allow_nan=False)


@pytest.mark.parametrize(
    "field, value",
    [("steps", 0), ("batch_size", 1), ("n_hidden", 10**6), ("lr", 0.0), ("lr", float("nan")), ("seed", -1)],
)
def test_bad_controls_are_refused(field, value):
    with pytest.raises(UserError, match=field):
        LiveConfig(**{field: value})


# ---- the kata adapter ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.kata.workbook import render_workbook

    folder = tmp_path_factory.mktemp("kata")
    solved = render_workbook(get_exercise("atomic"), solved=True)
    (folder / "solved.py").write_text(solved)
    wrong = "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)"
    assert wrong in solved
    (folder / "planted.py").write_text(solved.replace(wrong, wrong.replace("-0.5", "0.5")))
    (folder / "new.py").write_text(render_workbook(get_exercise("atomic")))
    return folder


def test_a_planted_mistake_marks_exactly_that_gradient(workbooks):
    verdict = check_workbook(workbooks / "planted.py")
    statuses = {g["name"]: g["status"] for g in verdict["gradients"]}
    assert len(statuses) == 26
    assert [name for name, status in statuses.items() if status != "right"] == ["bnvar"]
    assert verdict["first_wrong"] == "bnvar" and verdict["status"] == "fail"
    wrong = next(g for g in verdict["gradients"] if g["name"] == "bnvar")
    assert wrong["diagnosis"]["kind"] == "sign"
    solved = check_workbook(workbooks / "solved.py")
    assert solved["status"] == "pass" and {g["status"] for g in solved["gradients"]} == {"right"}


def test_an_empty_workbook_is_not_written_yet(workbooks):
    verdict = check_workbook(workbooks / "new.py")
    assert {g["status"] for g in verdict["gradients"]} == {"not_written"}


def test_an_endless_loop_is_reported(workbooks):
    source = (
        (workbooks / "solved.py")
        .read_text()
        .replace("dh = dlogits @ W2.T", "while True:\n    pass\ndh = dlogits @ W2.T")
    )
    (workbooks / "loop.py").write_text(source)
    started = time.monotonic()
    verdict = check_workbook(workbooks / "loop.py", timeout=1.0)
    assert time.monotonic() - started < 30
    assert verdict["status"] == "broken" and verdict["broken"]["kind"] == "timeout"
    assert "within 1 s" in verdict["broken"]["message"]
    assert verdict["broken"]["text"].strip() in ("while True:", "pass")  # the line it was stuck on


def test_hint_and_solution_come_from_the_exercise():
    assert "1/x" in hint("atomic", "probs")
    assert solution("atomic", "dprobs") == ["dprobs = dlogprobs / probs"]
    assert solution("atomic", "C") == ["dC = np.zeros_like(C)", "np.add.at(dC, Xb, demb)"]


def test_only_allowed_files_are_read(tmp_path, workbooks):
    root = tmp_path / "start"
    (root / "sub").mkdir(parents=True)
    (root / "mine.py").write_text("x = 1\n")
    (root / "sub" / "deep.py").write_text("x = 1\n")
    (root / "notes.txt").write_text("x")
    allowed = AllowedFiles.start([workbooks / "planted.py"], root=root)
    assert allowed.resolve("mine.py") == (root / "mine.py").resolve()
    assert allowed.resolve(str(workbooks / "planted.py")) == (workbooks / "planted.py").resolve()
    for outside in (str(workbooks / "solved.py"), "../outside.py", "/etc/passwd", "sub/../../x.py"):
        with pytest.raises(UserError, match="outside"):
            allowed.resolve(outside)
    with pytest.raises(UserError, match=r"\.py"):
        allowed.resolve("notes.txt")
    (root / "link.py").symlink_to(workbooks / "solved.py")
    with pytest.raises(UserError, match="outside"):
        allowed.resolve("link.py")  # a link out of the directory is outside it
    assert {"mine.py", "sub/deep.py"} <= set(allowed.candidates())
    with pytest.raises(UserError, match="no such file"):
        AllowedFiles.start([tmp_path / "missing.py"], root=root)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kata", "missing.py"], "--kata missing.py: no such file"),
        (["--kata", "."], "--kata . is a directory; name a workbook file in it"),
        (["-i", "missing.txt"], "no such file"),
    ],
)
def test_studio_refuses_a_missing_kata_or_input_file_at_once(tmp_path, args, message):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ninjagrad", "studio", "--no-browser", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_a_session_with_workbooks_to_pick_from_has_a_runner_ready_before_the_first_check(tmp_path):
    from types import SimpleNamespace

    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.kata.workbook import render_workbook
    from ninjagrad.studio.tensor_sessions import TensorSession

    empty, listed = tmp_path / "empty", tmp_path / "listed"
    empty.mkdir()
    listed.mkdir()
    (listed / "mine.py").write_text(render_workbook(get_exercise("atomic")))
    for root, ready in ((empty, False), (listed, True)):
        session = TensorSession(SimpleNamespace(options={"kata": [], "root": str(root)}))
        try:
            spare = session._checker._spare
            assert (spare is not None and spare.process.poll() is None) == ready, root
        finally:
            session.close()
        assert session._checker._spare is None  # closing the session stops it
