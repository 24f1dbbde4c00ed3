"""The atomic manual backward (exercise 1): 26 gradients, bit for bit against ninjagrad's autograd."""

import numpy as np
import pytest

from ninjagrad.makemore.atomic import GRADIENT_NAMES, backward_atomic, forward_atomic, reference_gradients
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

CONFIG = ModelConfig(n_hidden=64)  # the lecture's gradient-check model


def batch(seed, dtype=np.float32, n=32):
    rng = np.random.default_rng(seed)
    params = {name: p.astype(dtype) for name, p in init_params(CONFIG, rng).items()}
    Xb = rng.integers(0, CONFIG.vocab_size, (n, CONFIG.block_size))
    Yb = rng.integers(0, CONFIG.vocab_size, n)
    return params, Xb, Yb


def manual_gradients(params, Xb, Yb):
    return backward_atomic(params, Xb, Yb, forward_atomic(params, Xb, Yb))


def torch_backend():
    pytest.importorskip("torch")
    from ninjagrad.commands.check import torch_backend

    return torch_backend()


def test_there_are_26_gradients_and_each_has_its_variables_shape():
    params, Xb, Yb = batch(0)
    forward = forward_atomic(params, Xb, Yb)
    grads = backward_atomic(params, Xb, Yb, forward)
    assert len(GRADIENT_NAMES) == 26 and tuple(grads) == GRADIENT_NAMES
    for name in GRADIENT_NAMES:
        value = params[name] if name in PARAM_NAMES else forward[name]
        assert grads[name].shape == value.shape, name
        assert grads[name].dtype == np.float32, name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_all_26_are_bit_exact_against_ninjagrad_autograd_in_float32(seed):
    params, Xb, Yb = batch(seed)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb)
    for name in GRADIENT_NAMES:
        assert manual[name].shape == reference[name].shape, name
        assert manual[name].dtype == reference[name].dtype == np.float32, name
        assert np.array_equal(manual[name], reference[name]), f"d{name} differs from autograd"


def test_all_26_are_bit_exact_in_float64_too():
    params, Xb, Yb = batch(10, np.float64)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb)
    for name in GRADIENT_NAMES:
        assert manual[name].dtype == np.float64
        assert np.array_equal(manual[name], reference[name]), name


def test_bit_exact_with_another_batch_size():
    params, Xb, Yb = batch(11, n=7)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb)
    assert all(np.array_equal(manual[name], reference[name]) for name in GRADIENT_NAMES)


def test_the_comparison_can_fail():
    # Guard against a vacuous test: a gradient off in one element is no longer exact.
    params, Xb, Yb = batch(0)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb)
    nudged = manual["bnvar"].copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], np.float32(np.inf))
    assert not np.array_equal(nudged, reference["bnvar"])


def test_matches_pytorch_float64():
    params, Xb, Yb = batch(20, np.float64)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb, backend=torch_backend())
    for name in GRADIENT_NAMES:
        assert manual[name].shape == reference[name].shape, name
        np.testing.assert_allclose(manual[name], reference[name], rtol=1e-10, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("seed", [21, 22])
def test_matches_pytorch_float32(seed):
    # PyTorch's float32 kernels (matmul, exp, tanh) round differently from NumPy's, so only closeness is
    # expected. Measured over 30 seeds: maxdiff at most 9.5e-7 (dprobs, whose entries reach ~100) and about
    # 1e-8 elsewhere; the tolerance below leaves a margin of 10x on both.
    params, Xb, Yb = batch(seed)
    manual = manual_gradients(params, Xb, Yb)
    reference = reference_gradients(params, Xb, Yb, backend=torch_backend())
    for name in GRADIENT_NAMES:
        assert manual[name].shape == reference[name].shape, name
        np.testing.assert_allclose(manual[name], reference[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_parameter_gradients_match_finite_differences():
    # Central differences of the float64 loss, on a few random elements of each parameter.
    params, Xb, Yb = batch(30, np.float64)
    grads = manual_gradients(params, Xb, Yb)
    rng = np.random.default_rng(0)
    step = 1e-6
    for name in PARAM_NAMES:
        for flat in rng.choice(params[name].size, size=4, replace=False):
            index = np.unravel_index(flat, params[name].shape)
            original = params[name][index]
            params[name][index] = original + step
            up = forward_atomic(params, Xb, Yb)["loss"]
            params[name][index] = original - step
            down = forward_atomic(params, Xb, Yb)["loss"]
            params[name][index] = original
            numeric = (up - down) / (2 * step)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-9), (name, index)


def test_repeated_characters_add_up_in_dC():
    # Every context is the same character three times: its row of dC is the sum of all 96 embedding grads.
    params, _, Yb = batch(40)
    Xb = np.full((32, 3), 5)
    Xb[0] = [5, 5, 9]
    forward = forward_atomic(params, Xb, Yb)
    grads = backward_atomic(params, Xb, Yb, forward)
    demb = grads["emb"]  # (32, 3, 10)
    np.testing.assert_allclose(grads["C"][5], demb[Xb == 5].sum(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(grads["C"][9], demb[0, 2])
    assert not np.any(np.delete(grads["C"], [5, 9], axis=0)), "characters not in the batch get no gradient"
    assert np.array_equal(grads["C"], reference_gradients(params, Xb, Yb)["C"])


def test_tied_maxima_send_the_gradient_to_one_index():
    # With W2 = 0 every row of logits equals b2; give b2 two equal maxima. The max's gradient goes to the
    # first of them only (as PyTorch and ninjagrad's engine do), never split or duplicated.
    params, Xb, Yb = batch(50)
    params["W2"][...] = 0
    params["b2"][...] = np.linspace(-1, 1, 27, dtype=np.float32)
    params["b2"][[3, 17]] = 2.0
    forward = forward_atomic(params, Xb, Yb)
    grads = backward_atomic(params, Xb, Yb, forward)
    reference = reference_gradients(params, Xb, Yb)
    assert np.array_equal(grads["logits"], reference["logits"])
    assert np.array_equal(grads["logit_maxes"], reference["logit_maxes"])
    np.testing.assert_array_equal(grads["logits"][:, 17], grads["norm_logits"][:, 17])  # nothing added
    np.testing.assert_array_equal(
        grads["logits"][:, 3], grads["norm_logits"][:, 3] + grads["logit_maxes"][:, 0]
    )
    assert np.any(grads["logits"][:, 3] != grads["norm_logits"][:, 3]), "the max's gradient is not all zeros"
