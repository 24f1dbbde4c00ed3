"""TrainStep (exercise 4's loop step) against the atomic chain plus SGD, and its determinism."""

import warnings

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


EPS32 = float(np.finfo(np.float32).eps)
# TrainStep (float32) against the atomic chain in float64, norm-wise per parameter: |step - exact| <= TOL *
# max|exact|. Why 64 eps: a gradient passes through about eight stages that each round (two products, the
# BatchNorm sums and scale, tanh, the softmax and its sum, the SGD update), and each stage's rounding in
# float32 is a few eps norm-wise; 8 x 8 eps covers them with room (measured: at most 5 eps over 40 seeds and
# both configs below). A wrong formula is far outside: n instead of n - 1 in the variance alone moves
# dhprebn by 1/32 = 3%, 2.6e5 eps.
TOL = 64 * EPS32


def atomic_sgd_step(params, Xb, Yb, lr):
    """The reference in float64: the textbook chain's gradients, then p -= lr * dp."""
    params = {name: p.astype(np.float64) for name, p in params.items()}
    forward = forward_atomic(params, Xb, Yb)
    grads = backward_atomic(params, Xb, Yb, forward)
    return float(forward["loss"]), grads, {name: params[name] - lr * grads[name] for name in PARAM_NAMES}


def assert_close(actual, exact, bound, name):
    scale = np.abs(exact).max()
    error = np.abs(actual - exact).max()
    assert actual.shape == exact.shape, name
    assert error <= bound * scale, f"{name}: max error {error:.3g} > {bound / EPS32:.0f} eps x {scale:.3g}"


# Both ways of computing tanh (NumPy's loop, chosen where it is fast, and the exp formula), on any CPU.
TANH_PATHS = pytest.mark.parametrize("numpy_tanh", [True, False], ids=["np.tanh", "exp formula"])


@TANH_PATHS
@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(n_hidden=64, n_embd=4, block_size=5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_step_matches_the_atomic_chain_in_float64(config, seed, numpy_tanh):
    config, params, Xs, Ys = setup(seed, config)
    step = TrainStep(config, params, batch_size=32)
    step._numpy_tanh = numpy_tanh
    loss = step(Xs[0], Ys[0], lr=0.1)
    expected_loss, grads, updated = atomic_sgd_step(params, Xs[0], Ys[0], 0.1)
    assert abs(loss - expected_loss) <= TOL * expected_loss
    for name in PARAM_NAMES:
        if name == "b1":
            # BatchNorm subtracts the mean that b1 adds: its exact gradient is 0 (float64 gives ~1e-16 of
            # dW1's size), which the step uses: it never moves b1.
            assert np.abs(grads["b1"]).max() <= 1e3 * np.finfo(np.float64).eps * np.abs(grads["W1"]).max()
            assert np.array_equal(step.updates["b1"], np.zeros_like(grads["b1"], dtype=np.float32))
            continue
        # The step keeps lr * gradient (the SGD update) per parameter.
        assert_close(step.updates[name] / np.float32(0.1), grads[name], TOL, name)
        assert_close(step.params[name], updated[name], TOL, name)


def test_several_steps_track_the_atomic_chain():
    config, params, Xs, Ys = setup(1, steps=5)
    step = TrainStep(config, params, batch_size=32)
    reference = params
    lrs = [0.1, 0.1, 0.05, 0.01, 0.2]
    for i, lr in enumerate(lrs):
        loss = step(Xs[i], Ys[i], lr)
        expected_loss, _, reference = atomic_sgd_step(reference, Xs[i], Ys[i], lr)
        assert abs(loss - expected_loss) <= (i + 1) * TOL * expected_loss
    for name in PARAM_NAMES:  # each step adds its own rounding: the bound grows with the steps taken
        assert_close(step.params[name], reference[name], len(lrs) * TOL, name)


def test_small_batch_with_repeated_characters():
    config, params, _, Ys = setup(2, n=3)
    Xb = np.array([[4, 4, 4], [4, 0, 4], [0, 0, 0]])  # repeated characters must add up in dC
    step = TrainStep(config, params, batch_size=3)
    step(Xb, Ys[0], lr=0.5)
    _, grads, updated = atomic_sgd_step(params, Xb, Ys[0], 0.5)
    assert_close(step.updates["C"] / np.float32(0.5), grads["C"], TOL, "C")
    for name in PARAM_NAMES:
        assert_close(step.params[name], updated[name], TOL, name)


@TANH_PATHS
def test_saturated_tanh_is_exact_and_silent(numpy_tanh):
    # With the formula 1 - 2 / (exp(x)**2 + 1), exp(x)**2 overflows to inf for |x| > 44; either way tanh must
    # be exactly +-1 with a zero derivative, and no warning escapes.
    config, params, Xs, Ys = setup(9)
    params["bngain"] = np.full_like(params["bngain"], 300.0)  # hpreact far beyond +-44
    step = TrainStep(config, params, batch_size=32)
    step._numpy_tanh = numpy_tanh
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = step(Xs[0], Ys[0], lr=0.1)
    expected_loss, grads, _ = atomic_sgd_step(params, Xs[0], Ys[0], 0.1)
    # hpreact = bngain * bnraw: bnraw's rounding (eps) reaches tanh as an absolute error of bngain * eps, so
    # the bound grows with bngain (the atomic chain in float32 is off by as much: ~100-200 eps here).
    bound = TOL * 300
    assert abs(loss - expected_loss) <= bound * expected_loss
    assert ((step._h1 == 1) | (step._h1 == -1)).mean() > 0.9  # most units saturated, exactly
    for name in PARAM_NAMES:
        assert np.isfinite(step.updates[name]).all(), name
        if name != "b1":
            assert_close(step.updates[name] / np.float32(0.1), grads[name], bound, name)


@TANH_PATHS
def test_steps_give_the_same_bits_however_they_are_split_into_calls(numpy_tanh):
    # What exact resume relies on: run() prepares its batches in chunks, and a resumed run starts anywhere.
    config, params, Xs, Ys = setup(10, steps=150)
    one_call, pieces, singles = (TrainStep(config, params, batch_size=32) for _ in range(3))
    for step in (one_call, pieces, singles):
        step._numpy_tanh = numpy_tanh
    losses = one_call.run(Xs, Ys, 0.1)
    piece_losses = []
    for first, last in [(0, 7), (7, 8), (8, 100), (100, 150)]:
        piece_losses.append(pieces.run(Xs[first:last], Ys[first:last], 0.1))
    single_losses = [singles(Xs[i], Ys[i], 0.1) for i in range(150)]
    assert losses.dtype == np.float32 and losses.shape == (150,)
    assert np.array_equal(losses, np.concatenate(piece_losses))
    assert np.array_equal(losses, np.array(single_losses, dtype=np.float32))
    for name in PARAM_NAMES:
        assert np.array_equal(one_call.params[name], pieces.params[name]), name
        assert np.array_equal(one_call.params[name], singles.params[name]), name


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
    step = TrainStep(config, params, batch_size=32)
    with pytest.raises(UserError, match="normal float32"):
        step(np.zeros((32, 3), dtype=int), np.zeros(32, dtype=int), lr=1e-45)


def test_the_tanh_paths_agree_to_float32_rounding():
    # The two ways differ only in rounding: a few float32 eps of tanh, absolute.
    config, params, Xs, Ys = setup(11, steps=3)
    steps = [TrainStep(config, params, batch_size=32) for _ in range(2)]
    steps[0]._numpy_tanh, steps[1]._numpy_tanh = True, False
    losses = [step.run(Xs, Ys, 0.1) for step in steps]
    assert np.abs(losses[0] - losses[1]).max() <= TOL * losses[0].max()
    for name in PARAM_NAMES:
        assert_close(steps[0].params[name], steps[1].params[name], 3 * TOL, name)
