"""The rules' cheaper forms give the numbers of their textbook forms, to the bit.

`tests/test_makemore_atomic.py` compares the atomic chain with the engine bit for bit, so a faster rule may
not move a single bit. Each test here computes the textbook form with plain NumPy beside the rule, on
random inputs with repeats, negative indices and zeros of both signs.
"""

import numpy as np
import pytest

from ninjagrad.tensors import Tensor, ops
from ninjagrad.tensors.broadcast import unbroadcast


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def signed_noise(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Normal numbers with about a fifth of them zeros of either sign (where sums are sign-sensitive)."""
    x = rng.standard_normal(shape).astype(dtype)
    x[rng.random(shape) < 0.2] = -0.0
    x[rng.random(shape) < 0.1] = 0.0
    return x


@pytest.mark.parametrize("table_shape", [(7,), (7, 3), (7, 3, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_picking_rows_matches_fancy_indexing_and_add_at(table_shape, dtype, index_dtype):
    rng = np.random.default_rng(sum(table_shape) + len(table_shape))
    for index_shape in [(5,), (4, 3), (2, 2, 2)]:
        x = signed_noise(rng, table_shape, dtype)
        index = rng.integers(-7, 7, index_shape).astype(index_dtype)  # repeats and negative rows
        y, saved = ops.FORWARD["getitem"](x, index, True)
        assert same_bits(y, x[index])
        dout = signed_noise(rng, y.shape, dtype)
        expected = np.zeros(table_shape, dtype=dtype)
        np.add.at(expected, index, dout)  # the textbook scatter-add
        (dx,) = ops.BACKWARD["getitem"](saved, dout)
        assert same_bits(dx, expected)


def test_picking_a_row_out_of_range_says_which():
    C = Tensor(np.zeros((5, 2), dtype=np.float32), requires_grad=True)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        C[np.array([0, 5])]
    with pytest.raises(IndexError, match="index -6 is out of bounds for axis 0 with size 5"):
        C[np.array([-6])]


def test_cross_entropy_matches_its_textbook_form():
    rng = np.random.default_rng(0)
    for n, classes in [(1, 1), (5, 3), (32, 27)]:
        logits = signed_noise(rng, (n, classes), np.float32)
        targets = rng.integers(0, classes, n)
        loss, saved = ops.FORWARD["cross_entropy"](logits, targets, "mean")
        shifted = logits - logits.max(axis=1, keepdims=True)
        counts = np.exp(shifted)
        counts_sum = counts.sum(axis=1, keepdims=True)
        losses = np.log(counts_sum[:, 0]) - shifted[np.arange(n), targets]
        assert same_bits(loss, losses.sum() / n)
        dloss = np.float32(rng.standard_normal())
        expected = counts / counts_sum
        expected[np.arange(n), targets] -= 1
        expected *= dloss / n
        (dlogits,) = ops.BACKWARD["cross_entropy"](saved, np.asarray(dloss))
        assert same_bits(dlogits, expected)


@pytest.mark.parametrize("dout_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (3,), (4, 5)])
def test_tanh_backward_matches_its_textbook_form(dout_dtype, shape):
    rng = np.random.default_rng(len(shape))
    y = np.asarray(np.tanh(signed_noise(rng, shape, np.float32)))
    dout = np.asarray(signed_noise(rng, shape, dout_dtype))
    (dx,) = ops.BACKWARD["tanh"]((y,), dout)
    assert same_bits(dx, dout * (1 - y**2))  # a float64 dout gives a float64 gradient, as the formula does


def test_unbroadcast_sums_the_same_axes_as_written_out():
    rng = np.random.default_rng(1)
    cases = [
        ((32, 200), (200,)),
        ((32, 200), (1, 200)),
        ((1, 200), ()),
        ((4, 3, 2), (3, 1)),
        ((2, 3), (2, 1)),
    ]
    for grad_shape, shape in cases * 2:  # twice: the second time the summed axes come from the cache
        g = signed_noise(rng, grad_shape, np.float32)
        leading = len(grad_shape) - len(shape)
        expected = np.add.reduce(g, axis=tuple(range(leading))) if leading else g
        stretched = tuple(a for a, size in enumerate(shape) if size == 1 and expected.shape[a] != 1)
        if stretched:
            expected = np.add.reduce(expected, axis=stretched, keepdims=True)
        assert same_bits(unbroadcast(g, shape), expected)


def test_scaling_a_gradient_is_the_mul_op():
    rng = np.random.default_rng(2)
    for shape in [(), (3,), (30, 200)]:
        grad = Tensor(signed_noise(rng, shape, np.float32))
        for lr in (0.1, 1e-4, -3.0):
            expected, _ = ops.FORWARD["mul"](np.asarray(lr, dtype=np.float32), grad.data)
            for scaled in (lr * grad, grad * lr):
                assert type(scaled.data) is np.ndarray and not scaled.requires_grad
                assert same_bits(scaled.data, expected)
