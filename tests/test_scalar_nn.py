"""nn: micrograd's API and parameter order, width-1 layers, seeding, SGD and the losses (vs PyTorch)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from ninjagrad.nn import MLP, SGD, Layer, Neuron, Value
from ninjagrad.scalar.nn import binary_cross_entropy, l2_penalty, max_margin_loss, mse_loss


@pytest.fixture
def micrograd_nn():
    """micrograd's nn module (a bench/test reference only). It initialises from the global `random`
    module, so the global state is given back after the test."""
    module = pytest.importorskip("micrograd.nn")
    state = random.getstate()
    yield module
    random.setstate(state)


def test_moons_network_has_337_parameters():
    assert len(MLP(2, [16, 16, 1], seed=0).parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1 == 337


def test_initial_weights_and_parameter_order_match_micrograd(micrograd_nn):
    """Same generator state, same draws in the same order: micrograd's parameters, one for one."""
    random.seed(7)
    theirs = micrograd_nn.MLP(3, [4, 2, 1])
    ours = MLP(3, [4, 2, 1], rng=random.Random(7))
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    neuron = ours.layers[0].neurons[0]
    assert ours.parameters()[:4] == [*neuron.w, neuron.b]  # per neuron: weights, then bias


def test_forward_and_gradients_match_micrograd(micrograd_nn):
    random.seed(3)
    theirs = micrograd_nn.MLP(3, [5, 4, 1])
    ours = MLP(3, [5, 4, 1], seed=0)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data = q.data
    x = [0.5, -1.25, 2.0]
    out_theirs = theirs([micrograd_nn.Value(v) for v in x])
    out_ours = ours(x)
    assert out_ours.data == out_theirs.data  # the same summation order: bit for bit
    out_ours.backward()
    out_theirs.backward()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.grad == pytest.approx(q.grad, rel=1e-12, abs=1e-15)


def test_call_convention_value_out_for_one_output_list_otherwise():
    single = MLP(2, [3, 1], seed=0)([1.0, 2.0])
    assert isinstance(single, Value)
    several = MLP(2, [3, 2], seed=0)([Value(1.0), 2.0])
    assert isinstance(several, list) and len(several) == 2 and all(isinstance(v, Value) for v in several)


def test_width_one_hidden_layers_work_and_backpropagate():
    model = MLP(2, [1, 1], seed=1)
    model.layers[0].neurons[0].w[0].data = 0.5  # make sure the hidden ReLU is active for this input
    model.layers[0].neurons[0].w[1].data = 0.25
    out = model([1.0, 2.0])
    assert isinstance(out, Value)
    out.backward()
    hidden = model.layers[0].neurons[0]
    top = model.layers[1].neurons[0]
    assert out.data == top.b.data + top.w[0].data * (0.5 + 0.25 * 2.0)
    assert hidden.w[1].grad == top.w[0].data * 2.0
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), list)  # a one-neuron layer still returns a list


def test_last_layer_is_linear_and_hidden_layers_are_relu():
    model = MLP(2, [3, 3, 1], seed=0)
    assert [n.nonlin for layer in model.layers for n in layer.neurons] == [True] * 6 + [False]
    neuron = Neuron(2, nonlin=True, seed=0)
    neuron.w[0].data, neuron.w[1].data = -1.0, -1.0
    assert neuron([1.0, 1.0]).data == 0.0
    linear = Neuron(2, nonlin=False, seed=0)
    linear.w[0].data, linear.w[1].data = -1.0, -1.0
    assert linear([1.0, 1.0]).data == -2.0


def test_seeding_is_reproducible_and_explicit():
    def weights(model):
        return [p.data for p in model.parameters()]

    assert weights(MLP(2, [4, 1], seed=5)) == weights(MLP(2, [4, 1], seed=5))
    assert weights(MLP(2, [4, 1], seed=5)) != weights(MLP(2, [4, 1], seed=6))
    assert weights(MLP(2, [4, 1], rng=random.Random(5))) == weights(MLP(2, [4, 1], seed=5))
    assert all(-1.0 <= w <= 1.0 for w in weights(MLP(2, [50], seed=0)))
    assert all(n.b.data == 0.0 for n in MLP(2, [50], seed=0).layers[0].neurons)
    with pytest.raises(ValueError, match="not both"):
        MLP(2, [1], seed=1, rng=random.Random(1))


def test_bad_network_shapes_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="nouts=\\[\\]"):
        MLP(2, [])
    with pytest.raises(ValueError, match="nouts=\\[3, 0\\]"):
        MLP(2, [3, 0])
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        MLP(2, [1], seed=0)([1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: MLP(2, 3), TypeError, "nouts must be a list of layer widths .*got 3"),
        (lambda: MLP(2, [16.0, 1]), TypeError, r"got \[16.0, 1\]"),
        (lambda: MLP(2.5, [3]), TypeError, "nin must be an int .*got float 2.5"),
        (lambda: MLP(True, [3]), TypeError, "got bool True"),
        (lambda: MLP(0, [3]), ValueError, "nin must be at least 1, got 0"),
        (lambda: Neuron(-1), ValueError, "nin must be at least 1, got -1"),
        (lambda: Layer(2, 0), ValueError, "nout must be at least 1, got 0"),
        (lambda: MLP(2, [1], seed=0)(5.0), TypeError, "expects a list of 2 numbers or Values, got float 5.0"),
    ],
)
def test_wrong_types_and_empty_layers_are_refused_with_the_value(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -2.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_sgd_steps_against_the_gradient_with_a_changeable_learning_rate():
    w = Value(3.0)
    opt = SGD([w], lr=0.1)
    for lr in (0.1, 0.05):
        opt.zero_grad()
        (w * w).backward()  # gradient 2w
        before = w.data
        opt.lr = lr
        opt.step()
        assert w.data == before - lr * 2 * before
    opt.zero_grad()
    assert w.grad == 0.0


# ---- losses, against PyTorch's own implementations -------------------------------------------------------


def leaves(values):
    return [Value(v) for v in values], torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_max_margin_loss_matches_pytorch():
    scores, t_scores = leaves([0.3, -2.0, 1.5, 0.99])
    labels = [1.0, -1.0, -1.0, 1.0]
    loss = max_margin_loss(scores, labels)
    loss.backward()
    t_loss = torch.relu(1 - torch.tensor(labels, dtype=torch.float64) * t_scores).mean()
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-14)
    assert [s.grad for s in scores] == pytest.approx(t_scores.grad.tolist(), rel=1e-14)


def test_mse_loss_matches_pytorch():
    preds, t_preds = leaves([0.3, -2.0, 1.5])
    targets = [1.0, 0.5, 1.5]
    loss = mse_loss(preds, targets)
    loss.backward()
    t_loss = torch.nn.functional.mse_loss(t_preds, torch.tensor(targets, dtype=torch.float64))
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-14)
    assert [p.grad for p in preds] == pytest.approx(t_preds.grad.tolist(), rel=1e-14)


def test_binary_cross_entropy_from_logits_matches_pytorch_even_at_extreme_logits():
    logits, t_logits = leaves([0.3, -2.0, 40.0, -800.0, 800.0, 0.0])
    labels = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    loss = binary_cross_entropy(logits, labels)
    loss.backward()
    t_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        t_logits, torch.tensor(labels, dtype=torch.float64)
    )
    t_loss.backward()
    assert math.isfinite(loss.data)
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    assert [z.grad for z in logits] == pytest.approx(t_logits.grad.tolist(), rel=1e-12, abs=1e-15)


def test_binary_cross_entropy_wants_zero_one_labels():
    with pytest.raises(ValueError, match="labels 0 or 1, got -1"):
        binary_cross_entropy([Value(0.5)], [-1])


def test_l2_penalty_and_its_gradient():
    params = [Value(0.5), Value(-2.0)]
    penalty = l2_penalty(params, alpha=1e-4)
    penalty.backward()
    assert penalty.data == pytest.approx(1e-4 * (0.25 + 4.0), rel=1e-15)
    assert [p.grad for p in params] == pytest.approx([2e-4 * 0.5, 2e-4 * -2.0], rel=1e-15)


def test_losses_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match="2 predictions and 1 targets"):
        mse_loss([Value(1.0), Value(2.0)], [1.0])
    with pytest.raises(ValueError, match="empty"):
        max_margin_loss([], [])
