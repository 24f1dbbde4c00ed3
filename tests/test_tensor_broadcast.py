"""``unbroadcast``: the one function that sums gradients back to an operand's shape.

Its defining property: it is the adjoint of broadcasting. For any x of shape s broadcast to shape t and any
g of shape t, sum(unbroadcast(g, s) * x) == sum(g * broadcast_to(x, t)), which is what "each broadcast copy
passes its gradient back" means.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from ninjagrad.tensors.broadcast import unbroadcast


@settings(max_examples=200, deadline=None)
@given(
    mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4), st.integers(0, 2**32 - 1)
)
def test_unbroadcast_is_the_adjoint_of_broadcasting(shapes, seed):
    (operand_shape, _), result_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(operand_shape)
    g = rng.standard_normal(result_shape)
    reduced = unbroadcast(g, operand_shape)
    assert np.shape(reduced) == operand_shape
    np.testing.assert_allclose(
        np.sum(reduced * x), np.sum(g * np.broadcast_to(x, result_shape)), rtol=1e-10, atol=1e-10
    )


def test_the_lectures_cases():
    dhpreact = np.ones((32, 64))
    assert unbroadcast(dhpreact, (1, 64)).shape == (1, 64)  # dbngain keeps its row axis
    assert unbroadcast(dhpreact, (64,)).shape == (64,)  # db1
    assert unbroadcast(dhpreact, ()).shape == ()  # a scalar
    np.testing.assert_array_equal(unbroadcast(dhpreact, (32, 1)), np.full((32, 1), 64.0))  # dcounts_sum_inv
    np.testing.assert_array_equal(unbroadcast(dhpreact, (1, 64)), np.full((1, 64), 32.0))


def test_matching_shapes_are_returned_untouched():
    g = np.ones((3, 4))
    assert unbroadcast(g, (3, 4)) is g
