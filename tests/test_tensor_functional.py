"""``ninjagrad.functional``: each fused rule against the composite of primitives it replaces (DESIGN §4.8),
with the tolerance written down, and against PyTorch.

Tolerances (max |fused - composite|, measured with these tests' inputs over seeds 0-49, then given room):

=============================  =========  ==========
quantity                       float64    float32
=============================  =========  ==========
cross_entropy loss             1e-14      1e-6   (measured 8.9e-16 / 4.8e-7: the loss is ~3.3)
cross_entropy dlogits          1e-15      5e-8   (measured 1.6e-17 / 1.1e-8; the lecture saw ~5e-9)
batch_norm output              1e-14      3e-6   (measured 8.9e-16 / 4.8e-7)
batch_norm dx, dgain, dbias    3e-14      3e-5   (measured 5.3e-15 / 2.9e-6; dgain sums 32 terms of size ~1)
=============================  =========  ==========
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import ninjagrad.functional as F
from ninjagrad.tensors import Tensor, ops

TOLERANCE = {
    np.float64: {"ce_loss": 1e-14, "ce_grad": 1e-15, "bn_out": 1e-14, "bn_grad": 3e-14},
    np.float32: {"ce_loss": 1e-6, "ce_grad": 5e-8, "bn_out": 3e-6, "bn_grad": 3e-5},
}


def composite_cross_entropy(logits, Yb):
    """The lecture's exercise-1 chain from logits to loss, one primitive op per line."""
    n = logits.shape[0]
    norm_logits = logits - logits.max(1, keepdim=True).values
    counts = norm_logits.exp()
    counts_sum_inv = counts.sum(1, keepdim=True) ** -1
    probs = counts * counts_sum_inv
    return -probs.log()[range(n), Yb].mean()


def composite_batch_norm(hprebn, bngain, bnbias):
    """The lecture's batch norm, one primitive op per line (unbiased variance)."""
    n = hprebn.shape[0]
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bnvar = 1 / (n - 1) * (bndiff**2).sum(0, keepdim=True)
    bnraw = bndiff * (bnvar + 1e-5) ** -0.5
    return bngain * bnraw + bnbias


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(5))
def test_fused_cross_entropy_matches_the_composite(dtype, seed):
    rng = np.random.default_rng(seed)
    logits, Yb = rng.standard_normal((32, 27)) * 2, rng.integers(0, 27, 32)
    fused_in = Tensor(logits, dtype=dtype, requires_grad=True)
    composite_in = Tensor(logits, dtype=dtype, requires_grad=True)
    fused, composite = F.cross_entropy(fused_in, Yb), composite_cross_entropy(composite_in, Tensor(Yb))
    assert fused._op == "cross_entropy" and fused.dtype == dtype
    fused.backward()
    composite.backward()
    tol = TOLERANCE[dtype]
    assert abs(fused.item() - composite.item()) <= tol["ce_loss"]
    assert np.abs(fused_in.grad - composite_in.grad).max() <= tol["ce_grad"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(5))
def test_fused_batch_norm_matches_the_composite(dtype, seed):
    rng = np.random.default_rng(seed)
    arrays = [
        rng.standard_normal((32, 64)) * 3 + 1,
        1 + 0.1 * rng.standard_normal((1, 64)),
        0.1 * rng.standard_normal((1, 64)),
    ]
    fused_in = [Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    composite_in = [Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    fused = F.batch_norm(fused_in[0], None, None, fused_in[1], fused_in[2], training=True)
    composite = composite_batch_norm(*composite_in)
    assert fused._op == "batch_norm"
    dout = rng.standard_normal((32, 64))
    fused.backward(dout)
    composite.backward(dout)
    tol = TOLERANCE[dtype]
    assert np.abs(fused.data - composite.data).max() <= tol["bn_out"]
    for a, b in zip(fused_in, composite_in, strict=True):
        assert a.grad.shape == b.grad.shape
        assert np.abs(a.grad - b.grad).max() <= tol["bn_grad"]


def test_fused_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    """Independent of both implementations: the closed form, computed here with NumPy."""
    rng = np.random.default_rng(0)
    logits, Yb = rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    x = Tensor(logits, dtype=np.float64, requires_grad=True)
    F.cross_entropy(x, Yb).backward()
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad, (softmax - np.eye(5)[Yb]) / 8, rtol=1e-12, atol=1e-15)


def test_cross_entropy_matches_torch_in_float32_for_every_reduction():
    rng = np.random.default_rng(1)
    logits, Yb = rng.standard_normal((32, 27)).astype(np.float32), rng.integers(0, 27, 32)
    for reduction in ("mean", "sum", "none"):
        x = Tensor(logits, requires_grad=True)
        tx = torch.tensor(logits, requires_grad=True)
        ours, theirs = (
            F.cross_entropy(x, Tensor(Yb), reduction=reduction),
            torch_F.cross_entropy(tx, torch.tensor(Yb), reduction=reduction),
        )
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-6)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits():
    x = Tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, [1, 1])
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), 1000.0 / 2, rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad).all()


def test_cross_entropy_input_errors_say_what_was_expected():
    logits = Tensor(np.zeros((4, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"targets must lie in 0..2.*from 0 to 3"):
        F.cross_entropy(logits, [0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"from -1"):
        F.cross_entropy(logits, [0, 1, 2, -1])
    with pytest.raises(ValueError, match=r"integer class indices of shape \(4,\).*float"):
        F.cross_entropy(logits, [0.0, 1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(4,\).*got int64 of shape \(3,\)"):
        F.cross_entropy(logits, [0, 1, 2])
    with pytest.raises(ValueError, match=r"logits of shape \(n, classes\), got \(12,\)"):
        F.cross_entropy(logits.view(-1), [0])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, [0, 1, 2, 0], reduction="avg")


def test_softmax_and_log_softmax_match_torch_and_do_not_overflow():
    data = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, -1000.0]], dtype=np.float32)
    for dim in (0, 1):
        x, tx = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        weights = np.arange(6, dtype=np.float32).reshape(2, 3)
        (F.softmax(x, dim) * weights).sum().backward()
        (torch_F.softmax(tx, dim) * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            F.log_softmax(x, dim).data, torch_F.log_softmax(tx, dim).detach().numpy(), rtol=1e-6
        )
        assert np.isfinite(F.log_softmax(x, dim).data).all()


def test_batch_norm_uses_the_unbiased_variance_unlike_torch():
    """The documented difference: ours divides by sqrt(var_unbiased + eps), torch by sqrt(var_biased + eps)
    (torch uses the unbiased one only for running_var)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 5))
    ours = F.batch_norm(Tensor(x, dtype=np.float64), None, None, training=True).data
    expected = (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + 1e-5)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    theirs = torch_F.batch_norm(torch.tensor(x), None, None, training=True).numpy()
    ratio = theirs / ours  # sqrt(n / (n - 1)) up to eps: about 1.6% for n = 32
    np.testing.assert_allclose(ratio, np.sqrt(32 / 31), rtol=1e-4)


def test_batch_norm_updates_running_stats_like_torch_and_eval_mode_uses_them():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(np.float32) * 2 + 3
    running_mean, running_var = np.zeros(4, np.float32), np.ones(4, np.float32)
    t_mean, t_var = torch.zeros(4), torch.ones(4)
    F.batch_norm(Tensor(x), running_mean, running_var, training=True, momentum=0.1)
    torch_F.batch_norm(torch.tensor(x), t_mean, t_var, training=True, momentum=0.1)
    np.testing.assert_allclose(running_mean, t_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(running_var, t_var.numpy(), rtol=1e-6)  # torch also tracks the unbiased var
    weight = Tensor(rng.standard_normal(4), dtype=np.float32, requires_grad=True)
    bias = Tensor(rng.standard_normal(4), dtype=np.float32)
    y = F.batch_norm(Tensor(x), running_mean, running_var, weight, bias, training=False)
    ty = torch_F.batch_norm(
        torch.tensor(x), t_mean, t_var, torch.tensor(weight.data), torch.tensor(bias.data), training=False
    )
    np.testing.assert_allclose(y.data, ty.numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert weight.grad.shape == (4,)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"\(n, features\), got \(2, 3, 4\)"):
        F.batch_norm(Tensor(np.zeros((2, 3, 4))), None, None, training=True)
    with pytest.raises(ValueError, match="at least 2 rows"):
        F.batch_norm(Tensor(np.zeros((1, 3))), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(Tensor(np.zeros((4, 3))), None, None)


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 2]])
    ours = F.one_hot(Tensor(labels), num_classes=5)
    theirs = torch_F.one_hot(torch.tensor(labels), num_classes=5)
    assert ours.dtype == np.int64 and ours.shape == (2, 2, 5)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(labels).data, torch_F.one_hot(torch.tensor(labels)).numpy())
    with pytest.raises(ValueError, match="0..2"):
        F.one_hot(labels, num_classes=3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(np.array([0.5]))


def test_embedding_is_indexing_with_scatter_add():
    weight = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    idx = np.array([[1, 1], [3, 1]])
    out = F.embedding(Tensor(idx), weight)
    np.testing.assert_array_equal(out.data, weight.data[idx])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad[:, 0], [0, 3, 0, 1])


def test_every_fused_rule_is_registered_with_both_halves():
    for name in ("cross_entropy", "batch_norm", "softmax", "log_softmax"):
        assert name in ops.FORWARD and name in ops.BACKWARD


def test_arrays_where_a_tensor_is_needed_are_refused_with_the_fix():
    logits = np.zeros((4, 3))
    calls = [
        lambda: F.cross_entropy(logits, [0, 1, 2, 0]),
        lambda: F.softmax(logits, dim=1),
        lambda: F.log_softmax(logits, dim=1),
        lambda: F.batch_norm(logits, None, None, training=True),
        lambda: F.embedding([0, 1], logits),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=r"expects a Tensor as input, got numpy.ndarray.*Tensor\(data\)"):
            call()


def test_batch_norm_checks_its_parameters_and_statistics_before_touching_anything():
    x = Tensor(np.random.default_rng(4).standard_normal((4, 3)), requires_grad=True)
    running_mean, bad_var = np.zeros(3, np.float32), np.ones(5, np.float32)
    with pytest.raises(
        ValueError, match=r"running_var must hold one value per feature \(3\), got shape \(5,\)"
    ):
        F.batch_norm(x, running_mean, bad_var, training=True)
    np.testing.assert_array_equal(running_mean, np.zeros(3))  # not half-updated
    with pytest.raises(TypeError, match="running_mean must be an array or a tensor.*got list"):
        F.batch_norm(x, [0.0, 0.0, 0.0], None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm \(its weight\) expects a Tensor.*numpy.ndarray"):
        F.batch_norm(x, None, None, np.ones(3), None, training=True)  # forward ran, backward crashed
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) or \(1, 3\).*got \(5,\)"):
        F.batch_norm(x, None, None, None, Tensor(np.zeros(5)), training=True)
