"""The fused backward formulas (exercises 2-3), each tested against the atomic chain it replaces."""

import numpy as np
import pytest

from ninjagrad.makemore.atomic import backward_atomic, forward_atomic
from ninjagrad.makemore.fused import dC_scatter_add, dhprebn_fused, dlogits_fused
from ninjagrad.makemore.model import ModelConfig, init_params

CONFIG = ModelConfig(n_hidden=64)


def chain(seed, dtype=np.float32, n=32):
    rng = np.random.default_rng(seed)
    params = {name: p.astype(dtype) for name, p in init_params(CONFIG, rng).items()}
    Xb = rng.integers(0, CONFIG.vocab_size, (n, CONFIG.block_size))
    Yb = rng.integers(0, CONFIG.vocab_size, n)
    forward = forward_atomic(params, Xb, Yb)
    return params, Xb, Yb, forward, backward_atomic(params, Xb, Yb, forward)


def fused_dhprebn(params, forward, grads):
    return dhprebn_fused(grads["hpreact"], params["bngain"], forward["bnvar_inv"], forward["bnraw"])


@pytest.mark.parametrize("seed", range(5))
def test_dlogits_fused_matches_the_atomic_chain(seed):
    # Tolerance: the lecture saw maxdiff ~5e-9 (float32); over 100 seeds ours is at most 1.1e-8 with
    # entries up to 1/32, well inside allclose's rtol=1e-5, atol=1e-8 (PyTorch's defaults), asserted here.
    _, _, Yb, forward, grads = chain(seed)
    dlogits = dlogits_fused(forward["logits"], Yb)
    assert dlogits.shape == grads["logits"].shape and dlogits.dtype == np.float32
    assert np.abs(dlogits - grads["logits"]).max() < 5e-8
    np.testing.assert_allclose(dlogits, grads["logits"], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("seed", range(5))
def test_dhprebn_fused_matches_the_atomic_chain(seed):
    # Tolerance: the lecture saw maxdiff ~9e-10 (float32); over 100 seeds ours is at most 1.9e-9.
    params, _, _, forward, grads = chain(seed)
    dhprebn = fused_dhprebn(params, forward, grads)
    assert dhprebn.shape == grads["hprebn"].shape and dhprebn.dtype == np.float32
    assert np.abs(dhprebn - grads["hprebn"]).max() < 1e-8
    np.testing.assert_allclose(dhprebn, grads["hprebn"], rtol=1e-5, atol=1e-8)


def test_fused_formulas_are_the_same_function_in_float64():
    # In float64 the difference shrinks to float64 rounding: the formulas are right, not just close.
    params, _, Yb, forward, grads = chain(7, np.float64)
    np.testing.assert_allclose(dlogits_fused(forward["logits"], Yb), grads["logits"], rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(fused_dhprebn(params, forward, grads), grads["hprebn"], rtol=1e-10, atol=1e-17)


def test_fused_formulas_with_another_batch_size():
    params, _, Yb, forward, grads = chain(8, np.float64, n=5)
    np.testing.assert_allclose(dlogits_fused(forward["logits"], Yb), grads["logits"], rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(fused_dhprebn(params, forward, grads), grads["hprebn"], rtol=1e-10, atol=1e-17)


def test_dlogits_rows_sum_to_zero_and_push_down_everything_but_the_target():
    # Each row is softmax minus a one-hot, over n: its entries sum to 0, only the target's is negative.
    _, _, Yb, forward, _ = chain(9, np.float64)
    dlogits = dlogits_fused(forward["logits"], Yb)
    np.testing.assert_allclose(dlogits.sum(1), 0, atol=1e-15)
    negative = dlogits < 0
    assert np.array_equal(np.argwhere(negative)[:, 1], Yb) and negative.sum() == len(Yb)


def test_dlogits_is_finite_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]], dtype=np.float32)
    dlogits = dlogits_fused(logits, np.array([2, 0]))
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits, [[0.5, 0, -0.5], [-1 / 3, 1 / 6, 1 / 6]], atol=1e-7)


def test_dhprebn_is_blind_to_shifting_and_scaling_a_column():
    # Without eps, BatchNorm's output does not change when a column of its input is shifted or scaled, so
    # the input gradient is orthogonal to both directions: column sums 0, and sum(dhprebn * bnraw) = 0.
    rng = np.random.default_rng(10)
    params = {name: p.astype(np.float64) for name, p in init_params(CONFIG, rng).items()}
    Xb, Yb = rng.integers(0, 27, (32, 3)), rng.integers(0, 27, 32)
    forward = forward_atomic(params, Xb, Yb, eps=0.0)
    grads = backward_atomic(params, Xb, Yb, forward, eps=0.0)
    dhprebn = fused_dhprebn(params, forward, grads)
    np.testing.assert_allclose(dhprebn.sum(0), 0, atol=1e-15)
    np.testing.assert_allclose((dhprebn * forward["bnraw"]).sum(0), 0, atol=1e-14)


def test_scatter_add_sums_repeated_indices():
    rng = np.random.default_rng(0)
    Xb = np.array([[1, 1, 2], [2, 1, 0]])  # character 1 three times, 2 twice, 0 once, 3 never
    demb = rng.standard_normal((2, 3, 4))
    dC = dC_scatter_add(demb, Xb, vocab_size=4)
    expected = np.zeros((4, 4))
    for i in range(2):
        for j in range(3):
            expected[Xb[i, j]] += demb[i, j]
    np.testing.assert_allclose(dC, expected, rtol=1e-15)
    assert not dC[3].any()
    # The tempting indexed += keeps only the last write for a repeated index: a different (wrong) answer.
    naive = np.zeros((4, 4))
    naive[Xb] += demb
    assert not np.allclose(naive, expected)
