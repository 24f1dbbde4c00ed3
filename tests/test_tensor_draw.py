"""A Tensor graph through ``draw_dot``: the makemore MLP's forward pass, drawn after its backward pass."""

import re

import numpy as np
import pytest

import ninjagrad.functional as F
from ninjagrad.graph import topological_order
from ninjagrad.tensors import Tensor

viz = pytest.importorskip("ninjagrad.viz")


def mlp_graph():
    rng = np.random.default_rng(0)
    C = Tensor(rng.standard_normal((27, 10)), requires_grad=True, label="C")
    W1 = Tensor(rng.standard_normal((30, 64)) * 0.3, requires_grad=True, label="W1")
    bngain = Tensor(np.ones((1, 64)), requires_grad=True, label="bngain")
    bnbias = Tensor(np.zeros((1, 64)), requires_grad=True, label="bnbias")
    W2 = Tensor(rng.standard_normal((64, 27)) * 0.1, requires_grad=True, label="W2")
    Xb = Tensor(rng.integers(0, 27, (32, 3)), label="Xb")
    emb = C[Xb]  # the index Xb is part of the op, not a parent: it gets no gradient and no node
    hpreact = F.batch_norm(emb.view(32, -1) @ W1, None, None, bngain, bnbias, training=True)
    h = hpreact.tanh()
    h.label = "h"
    h.retain_grad()
    loss = F.cross_entropy(h @ W2, rng.integers(0, 27, 32))
    loss.label = "loss"
    loss.backward(retain_graph=True)  # keep the graph to draw it (backward frees it by default)
    return loss, h


def test_the_mlp_graph_draws_every_node_with_its_op_shape_and_grad():
    loss, h = mlp_graph()
    source = viz.draw_dot(loss).source
    order = topological_order(loss)
    assert source.count("shape=record") == len(order) == 12
    ops = re.findall(r"label=(\w+) .*shape=ellipse", source)
    assert ops == ["getitem", "reshape", "matmul", "batch_norm", "tanh", "matmul", "cross_entropy"]
    assert "C (27, 10)" in source and "h (32, 64)" in source and "loss ()" in source
    # Interior tensors keep no grad unless retained: emb, embcat, hprebn, hpreact, logits and loss itself.
    assert source.count("grad None") == 6 and "Xb" not in source  # indices are not graph inputs
    assert viz.draw_dot(loss).source == source  # the same picture on every run


@pytest.mark.needs_dot
def test_the_mlp_graph_renders_to_svg(tmp_path):
    loss, _ = mlp_graph()
    path = viz.save(viz.draw_dot(loss), tmp_path / "mlp.svg")
    svg = path.read_text()
    assert svg.startswith("<?xml") and "cross_entropy" in svg and "batch_norm" in svg
