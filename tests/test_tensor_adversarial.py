"""Adversarial cases found by fuzzing the Tensor against PyTorch: each test pins one disagreement that was
fixed (a wrong value, dtype or gradient, or a misleading error), so it cannot come back.

Values and dtypes are compared with torch where torch is the reference (skipped when torch is missing);
gradients with central finite differences in float64 (``ninjagrad.check.gradcheck``), which know nothing
of either engine. Where ninjagrad refuses what it does not support, the test reads the message.
"""

from __future__ import annotations

import numpy as np
import pytest

import ninjagrad
from ninjagrad.check import gradcheck
from ninjagrad.tensors import Tensor

try:
    import torch
except ImportError:  # the reference is optional: the finite-difference tests still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")


def both(fn, *arrays):
    """``fn(lib, *tensors)`` run on ninjagrad and on torch with the same float64 data: (ours, theirs)."""
    ours = fn(ninjagrad, *[Tensor(a) for a in arrays])
    theirs = fn(torch, *[torch.tensor(a) for a in arrays])
    return ours, theirs


def assert_same(ours, theirs):
    """Same shape, dtype and values (NaN equal to NaN)."""
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours.data, theirs, rtol=1e-12, equal_nan=True)


X3 = np.random.default_rng(0).standard_normal((2, 3, 4))


# ---- reductions ------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_an_empty_dim_tuple_reduces_over_every_dim_like_torch(op, keepdim):
    # NumPy's axis=() reduces over no axis: the tensor came back unreduced
    assert_same(*both(lambda lib, x: getattr(x, op)((), keepdim=keepdim), X3))
    assert gradcheck(lambda x: getattr(x, op)((), keepdim=keepdim), [X3])


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std"])
def test_a_dim_named_twice_is_refused_with_both_spellings(op):
    x = Tensor(X3)
    for dims in [(0, 0), (1, -2)]:
        with pytest.raises(ValueError, match=r"names a dim more than once .* positions \((0, 0|1, 1)\)"):
            getattr(x, op)(dims)
    with pytest.raises(ValueError, match="more than once"):  # a 0-d tensor has one dim to name, as 0 or -1
        getattr(Tensor(np.array(1.5)), op)((0, -1))


@needs_torch
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_of_an_empty_tensor_along_a_nonempty_dim_has_a_value_per_row(op):
    for shape, dim in [((0, 3), 1), ((0, 3), -1), ((2, 0), 0)]:
        data = np.zeros(shape)
        assert_same(*both(lambda lib, x, dim=dim: getattr(x, op)(dim), data))
    with pytest.raises(ValueError, match=r"empty tensor \(shape \(0, 3\)\)"):
        getattr(Tensor(np.zeros((0, 3))), op)(0)


# ---- shape functions -------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, -3])
def test_unbind_counts_a_negative_dim_from_the_end(dim):
    # unbind(x, -1) sliced along dim 0: (slice(None),) * -1 is ()
    ours = ninjagrad.unbind(Tensor(X3), dim)
    theirs = torch.unbind(torch.tensor(X3), dim)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_same(a, b)
    assert gradcheck(lambda x: ninjagrad.unbind(x, dim)[-1] * 2, [X3])


# ---- indexing --------------------------------------------------------------------------------------------


@needs_torch
def test_an_empty_list_index_picks_no_rows():
    ours, theirs = both(lambda lib, x: x[[]], X3)
    assert_same(ours, theirs)
    x = Tensor(X3, requires_grad=True)
    x[[]].sum().backward()
    assert np.array_equal(x.grad.data, np.zeros_like(X3))


def test_a_list_of_lists_as_an_index_is_refused_as_ambiguous():
    # PyTorch 2.13 reads x[[[0, 1], [1, 0]]] as x[[0, 1], [1, 0]] (shape (2, 4)), NumPy as one 2-D index
    # (shape (2, 2, 3, 4)); ninjagrad gave NumPy's answer where torch gives the other one
    x = Tensor(X3)
    for index in ([[0, 1], [1, 0]], [slice(None), [0, 2]], [None, 0]):
        with pytest.raises(IndexError, match=r"ambiguous .* x\[tuple\(seq\)\] .* x\[torch.tensor\(seq\)\]"):
            x[index]
    assert x[tuple([[0, 1], [1, 0]])].shape == (2, 4)
    assert x[Tensor([[0, 1], [1, 0]])].shape == (2, 2, 3, 4)
    assert x[[0, 1, 1]].shape == (3, 3, 4)  # a flat list stays one index array
