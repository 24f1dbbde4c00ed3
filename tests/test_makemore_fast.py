"""TrainStep (exercise 4's loop step) against the atomic chain plus SGD, and its determinism."""

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.atomic import backward_atomic, forward_atomic
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params


def setup(seed, config=None, n=32, steps=1):
    config = config or ModelConfig()
    rng = np.random.default_rng(seed)
    params = init_params(config, rng)
    Xs = rng.integers(0, config.vocab_size, (steps, n, config.block_size))
    Ys = rng.integers(0, config.vocab_size, (steps, n))
    return config, params, Xs, Ys


def atomic_sgd_step(params, Xb, Yb, lr):
    """The reference: the textbook chain's gradients, then p -= lr * dp."""
    forward = forward_atomic(params, Xb, Yb)
    grads = backward_atomic(params, Xb, Yb, forward)
    return float(forward["loss"]), grads, {name: params[name] - lr * grads[name] for name in PARAM_NAMES}


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(n_hidden=64, n_embd=4, block_size=5)])
def test_one_step_matches_the_atomic_chain(config):
    config, params, Xs, Ys = setup(0, config)
    step = TrainStep(config, params, batch_size=32)
    loss = step(Xs[0], Ys[0], lr=0.1)
    expected_loss, grads, updated = atomic_sgd_step(params, Xs[0], Ys[0], 0.1)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    for name in PARAM_NAMES:
        # The step keeps lr * gradient (the SGD update) per parameter. float32 and different but equivalent
        # float operations (fused formulas, sums as BLAS products), so close, not equal. atol covers db1:
        # zero in exact arithmetic (BatchNorm removes the mean b1 adds), which the step uses, and rounding
        # noise of ~1e-9 in the atomic chain.
        assert step.updates[name].shape == grads[name].shape
        np.testing.assert_allclose(step.updates[name] / 0.1, grads[name], rtol=1e-4, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(step.params[name], updated[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_several_steps_track_the_atomic_chain():
    config, params, Xs, Ys = setup(1, steps=5)
    step = TrainStep(config, params, batch_size=32)
    reference = params
    for i, lr in enumerate([0.1, 0.1, 0.05, 0.01, 0.2]):
        loss = step(Xs[i], Ys[i], lr)
        expected_loss, _, reference = atomic_sgd_step(reference, Xs[i], Ys[i], lr)
        assert loss == pytest.approx(expected_loss, rel=1e-5)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(step.params[name], reference[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_small_batch_with_repeated_characters():
    config, params, _, Ys = setup(2, n=3)
    Xb = np.array([[4, 4, 4], [4, 0, 4], [0, 0, 0]])  # repeated characters must add up in dC
    step = TrainStep(config, params, batch_size=3)
    step(Xb, Ys[0], lr=0.5)
    _, grads, updated = atomic_sgd_step(params, Xb, Ys[0], 0.5)
    np.testing.assert_allclose(step.updates["C"] / 0.5, grads["C"], rtol=1e-4, atol=1e-7)
    for name in PARAM_NAMES:
        np.testing.assert_allclose(step.params[name], updated[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_training_drives_the_loss_down_on_a_fixed_batch():
    config, params, Xs, Ys = setup(3)
    step = TrainStep(config, params, batch_size=32)
    first = step(Xs[0], Ys[0], lr=0.1)
    for _ in range(300):
        last = step(Xs[0], Ys[0], lr=0.1)
    assert last < 0.5 * first  # a 12k-parameter model memorises 32 examples


def test_same_inputs_give_bit_identical_parameters():
    config, params, Xs, Ys = setup(4, steps=6)
    runs = []
    for _ in range(2):
        step = TrainStep(config, params, batch_size=32)
        losses = [step(Xs[i], Ys[i], 0.1) for i in range(6)]
        runs.append((losses, {name: p.copy() for name, p in step.params.items()}))
    assert runs[0][0] == runs[1][0]
    for name in PARAM_NAMES:
        assert np.array_equal(runs[0][1][name], runs[1][1][name])


def test_restoring_params_mid_run_continues_exactly():
    # What resume does: restore saved parameters into a fresh TrainStep and carry on.
    config, params, Xs, Ys = setup(5, steps=6)
    straight = TrainStep(config, params, batch_size=32)
    for i in range(6):
        straight(Xs[i], Ys[i], 0.1)
    first = TrainStep(config, params, batch_size=32)
    for i in range(3):
        first(Xs[i], Ys[i], 0.1)
    saved = {name: p.copy() for name, p in first.params.items()}
    resumed = TrainStep(config, init_params(config, np.random.default_rng(99)), batch_size=32)
    for name in PARAM_NAMES:
        resumed.params[name][...] = saved[name]
    for i in range(3, 6):
        resumed(Xs[i], Ys[i], 0.1)
    for name in PARAM_NAMES:
        assert np.array_equal(resumed.params[name], straight.params[name]), name


def test_params_are_copied_in_and_live_views_out():
    config, params, Xs, Ys = setup(6)
    before = {name: p.copy() for name, p in params.items()}
    step = TrainStep(config, params, batch_size=32)
    step(Xs[0], Ys[0], 0.1)
    for name in PARAM_NAMES:
        assert np.array_equal(params[name], before[name]), "the caller's arrays must not change"
        assert step.params[name].dtype == np.float32
        if name == "b1":  # BatchNorm cancels b1: its exact gradient is zero, and the step leaves it alone
            assert np.array_equal(step.params[name], before[name])
        else:
            assert not np.array_equal(step.params[name], before[name]), f"{name} was not updated"


def test_any_integer_dtype_for_the_batch():
    config, params, Xs, Ys = setup(7)
    results = []
    for dtype in (np.intp, np.int32, np.uint8):
        step = TrainStep(config, params, batch_size=32)
        results.append((step(Xs[0].astype(dtype), Ys[0].astype(dtype), 0.1), step.params["C"].copy()))
    assert results[0][0] == results[1][0] == results[2][0]
    assert np.array_equal(results[0][1], results[2][1])


def test_bad_arguments_are_user_errors():
    config, params, _, _ = setup(8)
    with pytest.raises(UserError, match="at least 2"):
        TrainStep(config, params, batch_size=1)
    with pytest.raises(UserError, match=r"W1 has shape \(30, 200\) but the model config needs \(30, 64\)"):
        TrainStep(ModelConfig(n_hidden=64), params, batch_size=32)
    with pytest.raises(UserError, match="missing"):
        TrainStep(config, {name: p for name, p in params.items() if name != "b2"}, batch_size=32)
