"""Tensor behaviour that is not a gradient formula: dtypes, graph bookkeeping, PyTorch's backward semantics,
indexing's scatter-add, max's tie rules, and errors that say what to do. Where PyTorch defines the behaviour,
the test runs the same code on torch and compares."""

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import ninjagrad.functional as ninja_F
from ninjagrad.graph import topological_order
from ninjagrad.tensors import MaxResult, Tensor, is_grad_enabled, no_grad

# ---- dtypes ------------------------------------------------------------------------------------------------


def test_tensor_types_its_data_like_torch_tensor():
    cases = [
        [1.0, 2.0],
        3.5,
        [1, 2],
        7,
        True,
        [[True, False]],
        np.zeros(3),
        np.zeros(3, dtype=np.float32),
        np.arange(3, dtype=np.int32),
        np.float64(1.5),
        np.int32(3),
    ]
    for data in cases:
        assert Tensor(data).dtype == torch.tensor(data).numpy().dtype, data  # a float64 array stays float64
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor(np.zeros(3), dtype="float32").dtype == np.float32
    assert Tensor(Tensor(np.zeros(2))).dtype == np.float64


def test_integer_data_stays_integer_and_cannot_require_grad():
    Xb = Tensor([[1, 2, 3]])
    assert Xb.dtype.kind == "i"
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients.*int64"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        Xb.requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        Xb.requires_grad = True


def test_python_and_numpy_scalars_do_not_upcast_float32():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 0.1, 0.1 * x, x + 1e-5, 1 - x, x / 3, 2.0 / x, x**-0.5, 2.0**x, x * np.float64(0.1), x + 1):
        assert y.dtype == np.float32
    (x * np.float64(0.1)).sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_promotes_like_torch_and_grads_keep_each_leaf_dtype():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    assert (torch.ones(2) * torch.ones(2, dtype=torch.float64)).dtype == torch.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_reflected_ops_with_numbers_and_arrays():
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    array = np.array([10.0, 20.0])
    for ours, expected in [
        (array + x, array + x.data),
        (array - x, array - x.data),
        (array * x, array * x.data),
        (array / x, array / x.data),
        (np.eye(2) @ x, np.eye(2) @ x.data),
        (3 - x, 3 - x.data),
    ]:
        assert isinstance(ours, Tensor) and ours.requires_grad
        np.testing.assert_allclose(ours.data, expected, rtol=1e-6)
    (array * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[10.0, 20.0], [10.0, 20.0]])


# ---- the node protocol -------------------------------------------------------------------------------------


def test_node_protocol_parents_in_argument_order_op_names_and_labels():
    a = Tensor([1.0], requires_grad=True, label="a")
    b = Tensor([2.0], requires_grad=True)
    c = b * a
    assert c._prev == (b, a) and c._op == "mul" and c.label == ""
    c.label = "c"
    assert a._prev == () and a._op == "" and a.label == "a" and a.is_leaf and not c.is_leaf
    d = (c + 1.0).tanh()
    assert d._op == "tanh" and d._prev[0]._op == "add"
    assert [n._op for n in topological_order(d)] == ["", "", "mul", "", "add", "tanh"]
    assert isinstance(d.data, np.ndarray) and d.grad is None and d.shape == (1,)


def test_no_graph_is_recorded_when_nothing_requires_grad_or_under_no_grad():
    x = Tensor([1.0, 2.0])
    y = x * 2
    assert not y.requires_grad and y._prev == () and y._op == ""
    w = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        z = (w * 2).tanh()
    assert is_grad_enabled()
    assert not z.requires_grad and z._prev == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.sum().backward()


def test_zero_dimensional_results_still_hold_arrays():
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    for y in (x.sum(), x.mean(), x.max(), x.sum().tanh(), x.sum() * 2):
        assert type(y.data) is np.ndarray and y.shape == ()


# ---- backward semantics, against PyTorch -------------------------------------------------------------------


def both(data):
    return Tensor(data, requires_grad=True), torch.tensor(data, dtype=torch.float32, requires_grad=True)


def test_leaf_grads_accumulate_across_backward_calls_like_torch():
    (x, tx) = both([1.0, -2.0, 3.0])
    for _ in range(3):
        (x * x).sum().backward()
        (tx * tx).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(x.grad, 3 * 2 * x.data)


def test_interior_grads_only_with_retain_grad_and_they_accumulate_like_torch():
    x, tx = both([1.0, 2.0])
    results = []
    for lib_x in (x, tx):
        b = lib_x * 2
        c = b * 3
        b.retain_grad()
        loss = (c * c).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        results.append((b, c))
    (b_ours, c_ours), (b_torch, _) = results
    assert c_ours.grad is None
    np.testing.assert_allclose(b_ours.grad, b_torch.grad.numpy())
    np.testing.assert_allclose(b_ours.grad, 2 * 18 * b_ours.data)  # twice d(9 b^2)/db


def test_backward_twice_without_retain_graph_is_a_clear_error_and_with_it_doubles():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert y._prev == ()  # freed
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x.grad = None
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.data)


def test_graph_is_freed_after_backward_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    loss = h.sum()
    loss.backward(retain_graph=True)
    assert h._prev == (x,) and h._saved is not None
    loss.backward()
    assert h._prev == () and h._saved is None and h._op == "tanh"


def test_backward_needs_a_grad_for_non_scalars_and_checks_its_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*gradient= of shape \(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient shape \(3,\) != tensor shape \(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_a_variable_used_twice_gets_both_contributions():
    x, tx = both([0.5, -1.5])
    for lib_x in (x, tx):
        y = lib_x * lib_x.tanh() + lib_x
        y.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6)


def test_detach_cuts_the_graph_and_shares_data():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d._prev == ()
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_a_deep_chain_needs_no_recursion():
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**5000, rtol=1e-3)


def test_leaf_grad_arrays_are_owned_so_in_place_edits_do_not_leak():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # the same upstream gradient reaches both leaves
    a.grad *= 0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_item_numpy_float_and_len():
    t = Tensor([[2.5]])
    assert t.item() == 2.5 and float(t) == 2.5 and isinstance(t.numpy(), np.ndarray) and len(t) == 1
    with pytest.raises(ValueError, match=r"one element.*\(3,\)"):
        Tensor([1.0, 2.0, 3.0]).item()
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    assert "grad_fn='mul'" in repr(Tensor([1.0], requires_grad=True) * 2)


# ---- NaN and errors ----------------------------------------------------------------------------------------


def test_nan_propagates_forward_and_backward():
    x = Tensor([1.0, np.nan, 3.0], requires_grad=True)
    y = (x * 2).tanh().sum()
    assert np.isnan(y.item())
    y.backward()
    assert np.isnan(x.grad[1]) and np.isfinite(x.grad[[0, 2]]).all()
    with np.errstate(invalid="ignore"):
        z = Tensor([-1.0], requires_grad=True)
        w = z**0.5  # as torch: nan, not an exception
    assert np.isnan(w.item())


def test_shape_mismatch_errors_print_both_shapes_and_the_fix():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) @ \(4, 5\).*\(3\).*\(4\).*transpose"):
        a @ b
    for op in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: a / b):
        with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 5\) cannot be broadcast.*reshape"):
            op()
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) as \(4, -1\)"):
        a.view(4, -1)
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dims"):
        a.sum(2)


def test_requires_grad_can_only_change_on_leaves():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).retain_grad()


# ---- indexing ----------------------------------------------------------------------------------------------


def test_embedding_lookup_shape_and_scatter_add_with_repeats():
    rng = np.random.default_rng(0)
    C = Tensor(rng.standard_normal((27, 10)), requires_grad=True)
    Xb = Tensor(rng.integers(0, 27, (32, 3)))
    Xb.data[0] = [5, 5, 5]  # the same row three times in one example
    Xb.data[1, 0] = 5
    emb = C[Xb]
    assert emb.shape == (32, 3, 10)
    emb.backward(np.ones((32, 3, 10), dtype=np.float32))
    counts = np.bincount(Xb.data.ravel(), minlength=27)
    np.testing.assert_array_equal(C.grad, np.repeat(counts[:, None], 10, axis=1))
    assert counts[5] >= 4


def test_index_pairs_pick_one_element_per_row_and_match_torch_with_repeats():
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows, cols = [0, 1, 1, 3, 0], [2, 0, 0, 1, 2]  # (0, 2) and (1, 0) picked twice
    x, tx = both(data)
    for lib_x, lib_cols in ((x, Tensor(cols)), (tx, torch.tensor(cols))):
        picked = lib_x[rows, lib_cols]
        (picked * picked).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    assert x.grad[0, 2] == 2 * 2 * data[0, 2]
    y = Tensor(data, requires_grad=True)
    n = 4
    logprobs = y[range(n), Tensor([2, 0, 0, 1])]
    assert logprobs.shape == (4,)
    np.testing.assert_array_equal(logprobs.data, data[range(4), [2, 0, 0, 1]])


def test_basic_indexing_gradients():
    x, tx = both(np.arange(24, dtype=np.float32).reshape(4, 3, 2))
    for lib_x in (x, tx):
        (lib_x[1:, 0, ::2] * 2 + lib_x[-1]).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())


# ---- max ---------------------------------------------------------------------------------------------------


def test_max_with_dim_returns_values_and_indices_first_index_on_ties_like_torch():
    data = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 0.0, 5.0], [7.0, 7.0, 7.0, 7.0]], dtype=np.float32)
    x, tx = both(data)
    ours, theirs = x.max(1), tx.max(1)
    assert isinstance(ours, MaxResult)
    values, indices = ours  # unpacks like torch.return_types.max
    np.testing.assert_array_equal(indices.data, theirs.indices.numpy())
    np.testing.assert_array_equal(indices.data, [1, 0, 0])
    values.sum().backward()
    theirs.values.sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    assert x.grad.sum(1).tolist() == [1.0, 1.0, 1.0]  # one index per row
    kept = Tensor(data).max(0, keepdim=True)
    assert kept.values.shape == (1, 4) and kept.indices.shape == (1, 4)


def test_max_ties_on_many_random_rows_match_torch():
    rng = np.random.default_rng(5)
    data = rng.integers(0, 3, (40, 9)).astype(np.float32)  # many ties
    for dim in (0, 1):
        x, tx = both(data)
        x.max(dim).values.sum().backward()
        tx.max(dim).values.sum().backward()
        np.testing.assert_array_equal(x.grad, tx.grad.numpy())


def test_max_without_dim_shares_the_gradient_among_ties_like_torch():
    data = np.array([[1.0, 5.0], [5.0, 0.0], [2.0, 5.0]], dtype=np.float32)
    x, tx = both(data)
    x.max().backward()
    tx.max().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(x.grad.sum(), 1.0)
    assert x.max().shape == ()


def test_max_with_nan_picks_the_nan_like_torch():
    data = np.array([[1.0, np.nan, 3.0, np.nan]], dtype=np.float32)
    x, tx = both(data)
    r, tr = x.max(1), tx.max(1)
    assert np.isnan(r.values.item()) and r.indices.item() == tr.indices.item() == 1
    x.max().backward()
    tx.max().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())


# ---- shapes ------------------------------------------------------------------------------------------------


def test_view_reshape_T_transpose_permute_shapes():
    x = Tensor(np.arange(24.0).reshape(4, 3, 2))
    assert x.view(x.shape[0], -1).shape == (4, 6)
    assert x.reshape(-1).shape == (24,) and x.view((2, 12)).shape == (2, 12)
    assert x.transpose(0, 2).shape == (2, 3, 4) and x.permute(1, 2, 0).shape == (3, 2, 4)
    assert x.T.shape == (2, 3, 4) and x[0].T.shape == (2, 3)
    np.testing.assert_array_equal(x.permute((2, 0, 1)).data, np.transpose(x.data, (2, 0, 1)))
    with pytest.raises(ValueError, match="permute"):
        x.permute(0, 0, 1)


def test_float_and_double_casts_are_differentiable():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert Tensor([1, 2]).float().dtype == np.float32


# ---- lecture code that ports line for line -----------------------------------------------------------------


def test_makemore_part1_lines_run_on_both_engines():
    """The bigram network of makemore part 1, written once with PyTorch's names, on both engines."""
    rng = np.random.default_rng(7)
    xs, ys = rng.integers(0, 27, 50), rng.integers(0, 27, 50)
    W0 = rng.standard_normal((27, 27)).astype(np.float32)

    def step(W, xs, ys, F):
        xenc = F.one_hot(xs, num_classes=27).float()
        counts = (xenc @ W).exp()
        probs = counts / counts.sum(1, keepdims=True)  # numpy's spelling, as in the lecture
        loss = -probs[np.arange(50), ys].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        return loss.item(), W.grad

    ours = step(Tensor(W0, requires_grad=True), Tensor(xs), Tensor(ys), ninja_F)
    theirs = step(torch.tensor(W0, requires_grad=True), torch.tensor(xs), torch.tensor(ys), torch_F)
    assert abs(ours[0] - theirs[0]) < 1e-5
    np.testing.assert_allclose(ours[1], theirs[1].numpy(), rtol=1e-5, atol=1e-7)


def test_makemore_part3_helpers_match_torch():
    """numel/nelement, std, log10, sqrt, abs, comparisons and keepdims, as part 3's diagnostics use them."""
    data = np.array([[0.5, -2.0, 1.5], [0.995, -0.2, 3.0]], dtype=np.float32)
    x, tx = both(data)
    assert x.numel() == x.nelement() == tx.nelement() == 6
    pairs = [
        (x.std(0, keepdim=True), tx.std(0, keepdim=True)),
        (x.std(), tx.std()),
        (x.abs().sqrt(), tx.abs().sqrt()),
        (x.abs().log10(), tx.abs().log10()),
        (x.mean(1, keepdims=True), tx.mean(1, keepdims=True)),
        (x.var(0, keepdims=True), tx.var(0, keepdims=True)),
        (x.max(1, keepdims=True).values, tx.max(1, keepdims=True).values),
        ((x.abs() > 0.99).float().mean(), (tx.abs() > 0.99).float().mean()),
    ]
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6)
    for ours, theirs in [
        (x < 0.5, tx < 0.5),
        (x <= 0.5, tx <= 0.5),
        (x >= 0.5, tx >= 0.5),
        (0.5 < x, 0.5 < tx),
    ]:
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert (x == x).all() and (x != x * 2).all() and not (x == x * 2).any()
    assert {x: 1}[x] == 1 and len({x, x * 1}) == 2  # == is elementwise; hashing stays by identity


def test_no_grad_also_decorates_a_function():
    w = Tensor([1.0, 2.0], requires_grad=True)

    @no_grad()
    def evaluate(scale):
        """Evaluation code."""
        assert not is_grad_enabled()
        return (w * scale).sum()

    loss = evaluate(3.0)
    assert not loss.requires_grad and loss.item() == 9.0
    assert is_grad_enabled() and evaluate.__doc__ == "Evaluation code."


def test_one_element_tensors_have_a_truth_value_and_larger_ones_raise():
    loss = Tensor(2.5)
    assert (loss > 2.0) and not (loss > 3.0) and bool(Tensor([[1.0]]))
    assert not Tensor(0.0)
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\).*ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):  # torch agrees
        bool(torch.tensor([1.0, 2.0]))


def test_numpy_integer_constants_keep_a_float32_tensor_float32_like_torch():
    x, tx = both([1.0, 2.0])
    for constant in (np.int64(2), np.array([1, 2]), np.array([True, False])):
        assert (x * constant).dtype == np.float32
        assert (tx * torch.as_tensor(constant)).dtype == torch.float32


def test_pow_gradients_at_zero_are_taken_as_torch_takes_them():
    """x**0 is constant (dx = 0 even at x = 0) and 0**p does not move with p >= 0 (dp = 0): the plain
    formulas give 0 * inf = NaN there."""
    base = [0.0, 0.0, 2.0, 0.0]
    exponent = [0.0, 2.0, 0.0, 0.5]
    (x, tx), (p, tp) = both(base), both(exponent)
    for lib_x, lib_p in ((x, p), (tx, tp)):
        ((lib_x**lib_p).sum() + (lib_x**0).sum() + (lib_x**2.0).sum()).backward()
    x_ours, p_ours, x_torch, p_torch = x.grad, p.grad, tx.grad, tp.grad
    np.testing.assert_array_equal(p_ours, p_torch.numpy())
    np.testing.assert_array_equal(np.isinf(x_ours), np.isinf(x_torch.numpy()))  # 0**0.5 is inf, as torch
    np.testing.assert_array_equal(x_ours, x_torch.numpy())
    assert not np.isnan(x_ours).any() and not np.isnan(p_ours).any()


def test_bad_dims_in_transpose_permute_and_softmax_name_the_rank():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="dim 5 is out of range for a tensor with 2 dims"):
        x.transpose(0, 5)
    with pytest.raises(IndexError, match="dim 5 is out of range for a tensor with 3 dims"):
        Tensor(np.zeros((2, 3, 4))).permute(0, 1, 5)
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dims"):
        ninja_F.softmax(x, dim=2)
    assert x.transpose(-1, 0).shape == (3, 2) and Tensor(1.0).transpose(0, -1).shape == ()


def test_data_that_is_not_numbers_is_refused_with_what_to_pass():
    for bad in ("abc", None, 1j):
        with pytest.raises(TypeError, match="Tensor holds numbers.*pass a number"):
            Tensor(bad)


def test_iteration_gives_rows_in_the_graph_and_a_0d_tensor_refuses_like_torch():
    x, tx = both([[1.0, 2.0], [3.0, 4.0]])
    for lib_x in (x, tx):
        sum(row * row for row in lib_x).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(Tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(torch.tensor(1.0))
