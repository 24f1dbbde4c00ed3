"""Training diagnostics: the numbers from a real TrainStep, the recorder's cadence, the PNGs of `train`."""

import json

import numpy as np
import pytest

from ninjagrad.makemore.atomic import backward_atomic, forward_atomic
from ninjagrad.makemore.diagnostics import (
    BINS,
    LAYERS,
    PLOT_FILES,
    SATURATED,
    DiagnosticsRecorder,
    Histogram,
    snapshot,
    update_ratios,
)
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

CONFIG = ModelConfig(n_hidden=48)


def _stepped(lr=0.1, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    step = TrainStep(CONFIG, init_params(CONFIG, rng), batch_size=32)
    for _ in range(steps):
        Xb = rng.integers(0, 27, size=(32, 3))
        Yb = rng.integers(0, 27, size=32)
        step(Xb, Yb, lr)
    return step, Xb, Yb


def test_update_ratio_is_log10_of_update_std_over_data_std():
    step, _, _ = _stepped()
    ratios = update_ratios(step.params, step.updates)
    assert set(ratios) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        update = np.asarray(step.updates[name], dtype=np.float64)
        if not update.any():
            assert ratios[name] is None
            continue
        expected = np.log10(update.std() / np.asarray(step.params[name], dtype=np.float64).std())
        assert ratios[name] == pytest.approx(expected, rel=1e-9)
    assert ratios["b1"] is None  # the fast step never moves b1 (BatchNorm cancels it)
    assert ratios["W1"] is not None and -8 < ratios["W1"] < 0


def test_update_ratio_moves_with_the_learning_rate():
    """lr * grad: ten times the learning rate is one more in log10 (same parameters, same batch)."""
    slow, _, _ = _stepped(lr=0.01, steps=1)
    fast, _, _ = _stepped(lr=0.1, steps=1)
    for name in ("W1", "W2", "C"):
        slow_ratio = update_ratios(slow.params, slow.updates)[name]
        fast_ratio = update_ratios(fast.params, fast.updates)[name]
        assert fast_ratio - slow_ratio == pytest.approx(1, abs=0.01)  # data std moved by < 1% in one step


def test_snapshot_statistics_are_those_of_the_atomic_chain():
    step, Xb, Yb = _stepped()
    shot = snapshot(7, step.params, step.updates, Xb, Yb, 0.1)
    forward = forward_atomic(step.params, Xb, Yb)
    gradients = backward_atomic(step.params, Xb, Yb, forward)
    h = forward["h"].astype(np.float64)
    assert shot.step == 7
    assert shot.saturation == pytest.approx(np.mean(np.abs(h) > SATURATED))
    assert shot.tanh_mean == pytest.approx(h.mean())
    assert shot.tanh_std == pytest.approx(h.std())
    for _, var in LAYERS:
        assert shot.gradient_std[var] == pytest.approx(gradients[var].astype(np.float64).std())
    np.testing.assert_array_equal(shot.bn_mean, forward["bnmeani"])
    np.testing.assert_array_equal(shot.bn_var, forward["bnvar"])


def test_saturation_sees_a_saturated_layer():
    """Scaling W1 up saturates the tanh: the share of |h| > 0.97 rises (the lecture's bad initialisation)."""
    step, Xb, Yb = _stepped(steps=1)
    calm = snapshot(1, step.params, step.updates, Xb, Yb, 0.1)
    params = dict(step.params)
    params["bngain"] = step.params["bngain"] * 20
    hot = snapshot(1, params, step.updates, Xb, Yb, 0.1)
    assert hot.saturation > 0.5 > calm.saturation


@pytest.mark.parametrize("limit", [None, 1.0])
def test_histogram_is_a_density(limit):
    values = np.random.default_rng(1).standard_normal(500) * 0.3
    hist = Histogram.of(values, limit)
    assert hist.edges.shape == (BINS + 1,) and hist.density.shape == (BINS,)
    assert np.sum(hist.density * np.diff(hist.edges)) == pytest.approx(1.0)
    if limit is None:
        assert hist.edges[-1] == pytest.approx(np.abs(values).max())


def test_histogram_of_zeros_and_nans_does_not_fail():
    assert Histogram.of(np.zeros(10)).edges[-1] == 1.0
    assert np.isfinite(Histogram.of(np.array([np.nan, 1.0])).density).all()


def test_recorder_records_once_per_interval_of_steps():
    step, Xb, Yb = _stepped(steps=1)
    recorder = DiagnosticsRecorder(every=500)
    recorded = [s for s in (500, 700, 1000, 1000, 1400, 1500, 2600) if recorder.observe(s, step, Xb, Yb, 0.1)]
    assert recorded == [500, 1000, 1500, 2600]
    assert recorder.steps == recorded
    for history in (recorder.saturation, recorder.tanh_std, *recorder.update_ratio.values()):
        assert len(history) == 4
    data = recorder.to_json(since=2)
    assert data["steps"] == [1500, 2600] and data["records"] == 4
    assert len(data["update_ratio"]["W1"]) == 2 and data["update_ratio"]["b1"] == [None, None]
    assert len(data["latest"]["tanh_histogram"]["density"]) == BINS


def test_running_statistics_average_the_sampled_batches():
    step, Xb, Yb = _stepped(steps=1)
    shot = snapshot(500, step.params, step.updates, Xb, Yb, 0.1)
    recorder = DiagnosticsRecorder(every=500)
    recorder.record(shot)
    np.testing.assert_array_equal(recorder.running_mean, shot.bn_mean)
    # A later record moves the running mean a tenth of the way towards its batch's mean.
    later = snapshot(1000, step.params, step.updates, Xb, Yb, 0.1)
    shifted = type(later)(**{**later.__dict__, "bn_mean": shot.bn_mean + 1.0})
    recorder.record(shifted)
    expected = shot.bn_mean + 0.1
    np.testing.assert_allclose(recorder.running_mean, expected, rtol=1e-6)


def test_recorder_refuses_a_bad_interval():
    from ninjagrad.errors import UserError

    with pytest.raises(UserError, match="every"):
        DiagnosticsRecorder(every=0)


def test_train_writes_the_diagnostic_pngs_beside_loss_png(tmp_path):
    pytest.importorskip("matplotlib")
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.makemore.train import TrainConfig, train

    out = tmp_path / "run"
    config = TrainConfig(steps=1000, n_hidden=16, save_every=10_000)
    train(config, load_dataset(), out, num_samples=1)
    for name in ("loss.png", *PLOT_FILES):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    # --force replaces them; an interrupted replacement must not leave the old run's pictures behind
    (out / "activations.png").write_bytes(b"old")
    train(config, load_dataset(), out, force=True, num_samples=1)
    assert (out / "activations.png").read_bytes()[:4] == b"\x89PNG"


def test_a_recorder_goes_on_from_its_saved_state():
    step, Xb, Yb = _stepped(steps=1)
    recorder = DiagnosticsRecorder(every=500)
    for at in (500, 1000):
        recorder.observe(at, step, Xb, Yb, 0.1)
    state = json.loads(json.dumps(recorder.state()))  # as the checkpoint keeps it
    again = DiagnosticsRecorder.from_state(state, every=500)
    assert again.state() == recorder.state() and again.update_ratio["b1"] == [None, None]
    np.testing.assert_allclose(again.running_mean, recorder.running_mean)
    again.observe(1500, step, Xb, Yb, 0.1)
    assert again.steps == [500, 1000, 1500] and len(again.saturation) == 3
    with pytest.raises(ValueError, match="every"):
        DiagnosticsRecorder.from_state(state, every=100)
    with pytest.raises(ValueError, match="2 records"):
        DiagnosticsRecorder.from_state({**state, "saturation": [0.1]}, every=500)
    with pytest.raises(ValueError, match="not a diagnostics state"):
        DiagnosticsRecorder.from_state({"every": 500}, every=500)
