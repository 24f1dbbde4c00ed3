"""The torch-compatible surface, checked against PyTorch itself: adversarial inputs (zeros, ties, inf, NaN,
NaN arriving from upstream, empty tensors) through every op, dtype promotion, in-place ops, the top-level
functions (``import ninjagrad as torch``), generators, and what differs on purpose."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import ninjagrad
import ninjagrad.functional as ninja_F
from ninjagrad.tensors import Tensor, no_grad


def top(x):
    """The module (``ninjagrad`` or ``torch``) whose tensor ``x`` is."""
    return ninjagrad if isinstance(x, Tensor) else torch


# ---- adversarial values through every op, gradients included ----------------------------------------------

ADVERSARIAL = [0.0, -0.0, 1.0, -1.0, 2.0, 2.0, np.inf, -np.inf, np.nan, 1e-30, 0.5, -3.0]
INPUTS = {
    "adversarial": ADVERSARIAL,
    "finite": [v for v in ADVERSARIAL if np.isfinite(v)],
    "constant": [2.0, 2.0, 2.0],
    "one": [3.0],
    "zeros": [0.0, 0.0],
    "empty": [],
}
OPS = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "log10": lambda x: x.log10(),
    "abs": lambda x: x.abs(),
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "square": lambda x: x**2,
    "cube": lambda x: x**3,
    "sqrt": lambda x: x.sqrt(),
    "reciprocal": lambda x: x**-1,
    "pow0": lambda x: x**0,
    "two_to_the_x": lambda x: 2.0**x,
    "x_to_the_x": lambda x: x**x,
    "number_over": lambda x: 1.0 / x,
    "x_over_x": lambda x: x / x,
    "x_times_x": lambda x: x * x,
    "clamp": lambda x: x.clamp(-1, 1),
    "sum": lambda x: x.sum(),
    "mean": lambda x: x.mean(),
    "var": lambda x: x.var(),
    "var_biased": lambda x: x.var(unbiased=False),
    "std": lambda x: x.std(),
    "std_biased": lambda x: x.std(unbiased=False),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "max_dim": lambda x: x.max(0).values,
    "min_dim": lambda x: x.min(0).values,
    "softmax": lambda x: x.softmax(0),
    "log_softmax": lambda x: x.log_softmax(0),
    "masked_fill": lambda x: x.masked_fill(x > 0, 0.0),
    "where": lambda x: top(x).where(x > 0, x, x * 2),
    "tril": lambda x: x.view(1, -1).tril(),
    "clone": lambda x: x.clone(),
    "expand": lambda x: x.expand(2, -1),
    "repeat": lambda x: x.repeat(2),
    "cat": lambda x: top(x).cat([x, x * 2]),
}
# NumPy's x ** -0.5 at -0 and -inf gives inf and 0; PyTorch computes 1 / sqrt(x): -inf and NaN. The values
# agree everywhere else (see README §2, "Where it differs").


def run(lib, op, values, upstream):
    x = (Tensor if lib == "ninjagrad" else torch.tensor)(np.array(values), requires_grad=True)
    y = OPS[op](x)
    fill = 1.0 if upstream == "ones" else np.nan
    dy = np.full(tuple(y.shape), fill)
    y.backward(dy if lib == "ninjagrad" else torch.tensor(dy))
    grad = x.grad.numpy() if x.grad is not None else np.zeros(len(values))
    return np.asarray(y.detach().numpy()), grad


@pytest.mark.parametrize("upstream", ["ones", "nan"])
@pytest.mark.parametrize("inputs", list(INPUTS))
@pytest.mark.parametrize("op", list(OPS))
def test_adversarial_values_and_gradients_match_torch(op, inputs, upstream):
    values = INPUTS[inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both engines warn about 0/0 and friends
        try:
            theirs = run("torch", op, values, upstream)
        except (RuntimeError, IndexError):  # e.g. max() of an empty tensor: ninjagrad must refuse too
            with pytest.raises((ValueError, RuntimeError, IndexError)):
                run("ninjagrad", op, values, upstream)
            return
        with np.errstate(all="ignore"):
            ours = run("ninjagrad", op, values, upstream)
    assert ours[0].shape == theirs[0].shape
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-15, equal_nan=True, err_msg="value")
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-15, equal_nan=True, err_msg="grad")


def test_the_bugs_of_the_issue_are_fixed():
    W = np.arange(6.0).reshape(2, 3)
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    (x.permute(-1, 0) * W).sum().backward()
    np.testing.assert_array_equal(x.grad, W.T)  # was W
    y = Tensor(np.ones((2, 3, 4)), requires_grad=True)
    (y.permute(-1, 0, -2) * np.arange(24.0).reshape(4, 2, 3)).sum().backward()  # was an internal error
    ty = torch.ones((2, 3, 4), dtype=torch.float64, requires_grad=True)
    (ty.permute(-1, 0, -2) * torch.arange(24.0, dtype=torch.float64).reshape(4, 2, 3)).sum().backward()
    np.testing.assert_array_equal(y.grad, ty.grad.numpy())
    c = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    c.std().backward()
    np.testing.assert_array_equal(c.grad, [0.0, 0.0, 0.0])  # was NaN
    with np.errstate(all="ignore"):
        assert np.isnan(Tensor([]).var().item()) and np.isnan(Tensor([]).std().item())  # was -0.0


# ---- dtypes ----------------------------------------------------------------------------------------

DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def operand(kind: str, lib):
    """A tensor of a dtype (and 1 or 0 dims), or a Python number."""
    if kind in ("int", "float", "True"):
        return {"int": 3, "float": 0.5, "True": True}[kind]
    dtype, ndim = kind.split("/")
    data = np.array([1, 2], dtype=dtype) if ndim == "1" else np.array(1, dtype=dtype)
    return Tensor(data) if lib is ninjagrad else torch.tensor(data)


KINDS = [f"{d}/{n}" for d in DTYPES for n in ("1", "0")]
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "floordiv": lambda a, b: a // b,
    "pow": lambda a, b: a**b,
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
}


@pytest.mark.parametrize("op", list(BINARY))
def test_type_promotion_matches_torch_for_every_pair_of_operands(op):
    checked = 0
    for left, right in itertools.product(KINDS, KINDS + ["int", "float", "True"]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = BINARY[op](operand(left, torch), operand(right, torch))
        except RuntimeError:  # torch refuses (bool - bool, ...): not a promotion rule to copy
            continue
        with np.errstate(all="ignore"):
            ours = BINARY[op](operand(left, ninjagrad), operand(right, ninjagrad))
        assert ours.dtype == theirs.numpy().dtype, (left, right)
        assert ours.shape == tuple(theirs.shape), (left, right)
        checked += 1
    assert checked > 40


def test_reflected_numbers_and_unary_ops_on_integers_promote_like_torch():
    for ours, theirs in [
        (1.5 * Tensor([1, 2]), 1.5 * torch.tensor([1, 2])),
        (2 - Tensor([1, 2], dtype=np.int32), 2 - torch.tensor([1, 2], dtype=torch.int32)),
        (10 ** Tensor([1.0, 2.0]), 10 ** torch.tensor([1.0, 2.0])),
        (Tensor([1, 4]).sqrt(), torch.tensor([1, 4]).sqrt()),
        (Tensor([1, 4]).exp(), torch.tensor([1, 4]).exp()),
        (Tensor([1, 4]).tanh(), torch.tensor([1, 4]).tanh()),
        (Tensor([1, 4]).abs(), torch.tensor([1, 4]).abs()),
        (Tensor([1, 4]) ** 0.5, torch.tensor([1, 4]) ** 0.5),
        (Tensor(np.array([1, 2], np.int32)).sum(), torch.tensor([1, 2], dtype=torch.int32).sum()),
        (Tensor([True, False]).sum(), torch.tensor([True, False]).sum()),
        (Tensor([3, 1]).max(), torch.tensor([3, 1]).max()),
        (Tensor([3, 1]).argmax(), torch.tensor([3, 1]).argmax()),
    ]:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)
    for reduction in ("mean", "var", "std"):
        with pytest.raises(TypeError, match="floating-point"):
            getattr(Tensor([1, 2]), reduction)()
    with pytest.raises(TypeError, match="one dtype"):
        Tensor([[1, 2]]) @ Tensor([[1.0], [2.0]])  # torch: "expected m1 and m2 to have the same dtype"


def test_mixed_precision_keeps_each_tensors_grad_dtype():
    a = Tensor([1.0, 2.0], requires_grad=True)  # float32
    b = Tensor(np.array(3.0), requires_grad=True)  # a 0-d float64 tensor does not promote a float32 one
    y = a * b
    assert y.dtype == np.float32 == (torch.ones(2) * torch.tensor(3.0, dtype=torch.float64)).numpy().dtype
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64 and b.grad.item() == 3.0


# ---- graph semantics PyTorch defines -------------------------------------------------------------------


def test_backward_takes_torchs_gradient_keyword():
    for lib in (ninjagrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).backward(gradient=lib.tensor([1.0, 0.5]))
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.5])


def test_grad_is_a_tensor_and_can_be_reset_or_assigned():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, Tensor) and not w.grad.requires_grad and w.grad.dtype == np.float32
    assert w.grad.std().item() == pytest.approx(torch.tensor([2.0, 4.0]).std().item())  # torch's std
    w.grad = None
    assert w.grad is None
    w.grad = np.zeros(2)
    assert isinstance(w.grad, Tensor)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        w.grad = np.zeros(3)


def test_a_generator_decorated_with_no_grad_records_no_graph():
    w = Tensor([1.0, 2.0], requires_grad=True)

    @no_grad()
    def steps(n):
        for k in range(n):
            assert not ninjagrad.is_grad_enabled()
            received = yield w * k
            assert received is None or not (received * w).requires_grad

    outputs = []
    generator = steps(3)
    for out in generator:
        assert ninjagrad.is_grad_enabled()  # the caller's code between steps records as usual
        outputs.append(out)
    assert [o.requires_grad for o in outputs] == [False, False, False]
    assert (w * 2).requires_grad
    g = steps(2)
    next(g)
    assert not g.send(Tensor([1.0])).requires_grad


def test_in_place_ops_follow_torch():
    # under no_grad, on a leaf: the same tensor changes (every list holding it sees the new values)
    w = Tensor([1.0, 2.0], requires_grad=True)
    parameters = [w]
    with no_grad():
        w *= 5 / 3
    assert parameters[0] is w and w.requires_grad and w.dtype == np.float32
    np.testing.assert_allclose(w.data, [5 / 3, 10 / 3], rtol=1e-6)
    # a leaf that requires grad, while recording: refused, as torch refuses
    with pytest.raises(RuntimeError, match="leaf"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf"):
        torch.ones(2, requires_grad=True).add_(1)
    # .data and .grad: the lecture's update
    (w * w).sum().backward()
    w.data += -0.1 * w.grad
    assert w.is_leaf and w.requires_grad
    # integer tensors: += 1 is fine, += 0.5 is not (torch: "result type Float can't be cast to Int")
    N = Tensor(np.zeros((3, 3), dtype=np.int32))
    N[1, 2] += 1
    N[1, 2] += 1
    assert N.dtype == np.int32 and N[1, 2].item() == 2 and N.sum().item() == 2
    with pytest.raises(TypeError, match="can't be cast"):
        N += 0.5
    with pytest.raises(RuntimeError):
        torch.zeros(2, dtype=torch.int32).add_(0.5)


def test_in_place_on_a_non_leaf_is_recorded_in_the_graph_like_torch():
    rng = np.random.default_rng(0)
    x0, W0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    grads = []
    for lib in (ninjagrad, torch):
        x, W, b = lib.tensor(x0), lib.tensor(W0, requires_grad=True), lib.tensor(b0, requires_grad=True)
        out = x @ W
        out += b  # the lecture's Linear: self.out += self.bias
        out *= 2.0
        out.retain_grad()
        out.tanh().sum().backward()
        grads.append((W.grad.numpy(), b.grad.numpy(), out.grad.numpy()))
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)  # tanh differs in the last bits


def test_assigning_into_a_graph_tensor_is_refused_with_the_alternative():
    h = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="where"):
        h[0] = 0.0
    with no_grad():
        h[0] = 0.0
    assert h[0].item() == 0.0


def test_comparisons_are_elementwise_and_tensors_hash_by_identity():
    logits = Tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1]])
    Yb = Tensor([1, 2])
    assert (logits.argmax(1) == Yb).float().mean().item() == 0.5  # the accuracy idiom
    assert (logits == logits).all() and not (logits != logits).any()
    assert (Yb == None) is False and (Yb != None) is True  # noqa: E711 (as torch)
    table = {Yb: "targets", logits: "logits"}
    assert table[Yb] == "targets" and len({Yb, Yb + 0}) == 2


# ---- the top-level functions ------------------------------------------------------------------------------


def test_import_ninjagrad_as_torch_names_what_the_lectures_call():
    names = """tensor zeros ones zeros_like ones_like randn rand randint arange linspace cat stack unbind tril
    multinomial softmax tanh exp log sqrt histogram manual_seed Generator no_grad float32 float64 int32 int64
    long bool float int double""".split()
    for name in names:
        assert hasattr(ninjagrad, name) and hasattr(torch, name), name
    for name in ("float32", "float64", "int32", "int64", "long", "bool", "float", "int", "double"):
        theirs = torch.empty(0, dtype=getattr(torch, name)).numpy().dtype
        assert np.dtype(getattr(ninjagrad, name)) == theirs, name
    assert callable(ninjagrad.tensor)  # the function, not the subpackage (ninjagrad.tensors)
    methods = """squeeze unsqueeze flatten view reshape clamp min max argmax argmin masked_fill where float
    long int bool tolist size dim clone detach expand repeat retain_grad requires_grad_ numel nelement
    item""".split()
    for name in methods:
        assert hasattr(Tensor, name), name
    for name in "tanh relu sigmoid mse_loss nll_loss linear embedding one_hot cross_entropy softmax".split():
        assert hasattr(ninja_F, name), name


def test_creation_functions_give_torchs_dtypes_and_shapes():
    for make in [
        lambda t: t.zeros((27, 27), dtype=t.int32),
        lambda t: t.zeros(2, 3),
        lambda t: t.ones(4),
        lambda t: t.zeros_like(t.ones(2, dtype=t.int64)),
        lambda t: t.ones_like(t.zeros(3)),
        lambda t: t.arange(5),
        lambda t: t.arange(0, 1, 0.25),
        lambda t: t.arange(2, 11, 3),
        lambda t: t.linspace(-3, 0, 1000),
        lambda t: 10 ** t.linspace(-3, 0, 7),
        lambda t: t.tensor([[1, 2], [3, 4]]),
        lambda t: t.tensor([0.5, 1.5]),
        lambda t: t.full((2, 2), 7),
        lambda t: t.tril(t.ones(4, 4)),
        lambda t: t.stack([t.ones(2), t.zeros(2)], 1),
        lambda t: t.cat([t.ones(2, dtype=t.int64), t.zeros(3)]),
        lambda t: t.cat(t.unbind(t.arange(24.0).view(2, 3, 4), 1), 1),
        lambda t: t.softmax(t.tensor([[1.0, 2.0, 3.0]]), 1),
        lambda t: t.randn((3, 2)),
        lambda t: t.rand(2, 5),
        lambda t: t.randint(0, 10, (32,)),
        lambda t: t.randint(5, (2, 3)),
    ]:
        ours, theirs = make(ninjagrad), make(torch)
        assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(
        ninjagrad.linspace(-3, 0, 1000).data, torch.linspace(-3, 0, 1000).numpy(), atol=1e-6
    )
    np.testing.assert_array_equal(ninjagrad.arange(2, 11, 3).data, [2, 5, 8])
    assert ninjagrad.randn(2, 2, requires_grad=True).requires_grad


def test_shape_methods_match_torch():
    data = np.arange(24.0).reshape(2, 1, 3, 4)
    x, tx = Tensor(data), torch.tensor(data)
    for f in [
        lambda t: t.squeeze(),
        lambda t: t.squeeze(1),
        lambda t: t.squeeze(0),  # a dim of size 2: unchanged, as torch
        lambda t: t.unsqueeze(-1),
        lambda t: t.unsqueeze(0),
        lambda t: t.flatten(),
        lambda t: t.flatten(1),
        lambda t: t.flatten(1, 2),
        lambda t: t.view(2, -1),
        lambda t: t.view(-1, 3, 4).expand(2, 2, 3, 4),
        lambda t: t.repeat(1, 2, 1, 1),
        lambda t: t.max(3).indices,
        lambda t: t.min(2, keepdim=True).values,
        lambda t: t.argmin(3),
        lambda t: t.argmax(),
        lambda t: t.clamp(min=3.0),
    ]:
        ours, theirs = f(x), f(tx)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert x.size() == tuple(tx.size()) and x.size(2) == tx.size(2) and x.dim() == tx.dim() == 4
    assert x.tolist() == tx.tolist() and Tensor(2.5).tolist() == 2.5
    assert f"{Tensor(2.45678):.3f}" == "2.457"
    assert "%.2f" % Tensor([1.234]) == "1.23"  # noqa: UP031 (the lectures' print formatting)
    assert ["a", "b", "c"][Tensor(2)] == "c"


def test_histogram_matches_torch():
    data = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    for kwargs in ({}, {"density": True}, {"bins": 7, "range": (-1.0, 1.0)}):
        ours = ninjagrad.histogram(Tensor(data), **kwargs)
        theirs = torch.histogram(torch.tensor(data), **kwargs)
        assert ours.hist.dtype == np.float32 and ours.bin_edges.shape == tuple(theirs.bin_edges.shape)
        np.testing.assert_allclose(ours.bin_edges.data, theirs.bin_edges.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.hist.data, theirs.hist.numpy(), rtol=1e-4, atol=1e-5)
        hy, hx = ours  # the lecture unpacks it
        assert hy is ours.hist


def test_generators_are_reproducible_and_independent():
    g = ninjagrad.Generator().manual_seed(2147483647)
    first = ninjagrad.randn((27, 27), generator=g)
    again = ninjagrad.randn((27, 27), generator=ninjagrad.Generator().manual_seed(2147483647))
    np.testing.assert_array_equal(first.data, again.data)
    ninjagrad.manual_seed(42)
    a = ninjagrad.randint(0, 100, (50,))
    ninjagrad.manual_seed(42)
    ninjagrad.randn(3, generator=ninjagrad.Generator().manual_seed(1))  # another generator: no effect
    np.testing.assert_array_equal(a.data, ninjagrad.randint(0, 100, (50,)).data)
    assert 0 <= a.data.min() and a.data.max() < 100 and a.dtype == np.int64
    u = ninjagrad.rand(10000, generator=g)
    assert 0 <= u.data.min() and u.data.max() < 1 and abs(u.data.mean() - 0.5) < 0.02


def test_multinomial_draws_by_the_weights_and_checks_them():
    g = ninjagrad.Generator().manual_seed(0)
    weights = Tensor([1.0, 0.0, 3.0])  # need not sum to 1
    draws = ninjagrad.multinomial(weights, num_samples=20000, replacement=True, generator=g)
    assert draws.dtype == np.int64 and draws.shape == (20000,)
    share = np.bincount(draws.data, minlength=3) / 20000
    sigma = (0.75 * 0.25 / 20000) ** 0.5
    assert share[1] == 0 and abs(share[2] - 0.75) < 6 * sigma  # 6 sigma: a false alarm is ~1e-9
    rows = ninjagrad.multinomial(Tensor([[0.0, 1.0], [1.0, 0.0]]), 1, generator=g)
    assert rows.tolist() == [[1], [0]]
    assert sorted(ninjagrad.multinomial(Tensor([1.0, 1.0, 1.0]), 3, generator=g).tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        ninjagrad.multinomial(weights, 3)
    with pytest.raises(ValueError, match="negative"):
        ninjagrad.multinomial(Tensor([1.0, -1.0]), 1)
    with pytest.raises(ValueError, match="sums to 0"):
        ninjagrad.multinomial(Tensor([0.0, 0.0]), 1)


def test_functional_losses_match_torch():
    rng = np.random.default_rng(3)
    x, y, t = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), np.array([0, 3, 3, 1, 2])
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            ninja_F.mse_loss(Tensor(x), Tensor(y), reduction=reduction).data,
            torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor(y), reduction=reduction).numpy(),
        )
        np.testing.assert_allclose(
            ninja_F.nll_loss(Tensor(x), Tensor(t), reduction=reduction).data,
            torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t), reduction=reduction).numpy(),
        )
    logp = ninja_F.log_softmax(Tensor(x), 1)
    np.testing.assert_allclose(ninja_F.nll_loss(logp, t).data, ninja_F.cross_entropy(Tensor(x), t).data)


def test_import_is_light_and_never_imports_torch():
    code = "import sys, time; t = time.perf_counter(); import ninjagrad; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
