"""The tensor page's graph views (engine -> JSON), without a browser."""

import ast
import json

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.makemore.atomic import GRADIENT_NAMES
from ninjagrad.studio.tensor_graph import build_chain, graph_json, heatmap, node_json, op_label, summary

# The backprop-ninja lecture's shapes at batch 32, n_hidden 64: the spec, written out on purpose.
LECTURE_SHAPES = {
    "emb": (32, 3, 10),
    "embcat": (32, 30),
    "hprebn": (32, 64),
    "bnmeani": (1, 64),
    "bndiff": (32, 64),
    "bndiff2": (32, 64),
    "bnvar": (1, 64),
    "bnvar_inv": (1, 64),
    "bnraw": (32, 64),
    "hpreact": (32, 64),
    "h": (32, 64),
    "logits": (32, 27),
    "logit_maxes": (32, 1),
    "norm_logits": (32, 27),
    "counts": (32, 27),
    "counts_sum": (32, 1),
    "counts_sum_inv": (32, 1),
    "probs": (32, 27),
    "logprobs": (32, 27),
    "C": (27, 10),
    "W1": (30, 64),
    "b1": (64,),
    "W2": (64, 27),
    "b2": (27,),
    "bngain": (1, 64),
    "bnbias": (1, 64),
}


@pytest.fixture(scope="module")
def chain():
    return build_chain()


@pytest.fixture(scope="module")
def graph(chain):
    return graph_json(chain)


def test_the_graph_has_every_gradient_with_the_lecture_shapes(graph):
    by_name = {node["name"]: node for node in graph["nodes"]}
    with_gradient = [node["name"] for node in graph["nodes"] if node["gradient"]]
    assert sorted(with_gradient) == sorted(GRADIENT_NAMES) and len(with_gradient) == 26
    for name, shape in LECTURE_SHAPES.items():
        assert by_name[name]["shape"] == str(shape), name
        assert by_name[name]["gradient"]["name"] == "d" + name
        assert by_name[name]["gradient"]["shape"] == str(shape), name  # a gradient has its variable's shape
    assert by_name["loss"]["shape"] == "()" and by_name["loss"]["kind"] == "loss"
    assert by_name["Xb"]["shape"] == "(32, 3)" and by_name["Xb"]["gradient"] is None


def test_the_chain_runs_top_to_bottom_in_forward_order(graph):
    rows = {node["name"]: node["row"] for node in graph["nodes"]}
    chain_order = [
        node["name"] for node in sorted(graph["nodes"], key=lambda n: n["row"]) if node["column"] == 0
    ]
    assert chain_order[0] == "emb" and chain_order[-1] == "loss"
    assert chain_order == list(reversed([n for n in GRADIENT_NAMES if n in chain_order])) + ["loss"]
    cells = [(node["row"], node["column"]) for node in graph["nodes"]]
    assert len(cells) == len(set(cells))  # no two nodes on one spot
    for edge in graph["edges"]:
        assert rows[edge["from"]] <= rows[edge["to"]], (
            edge
        )  # every edge points down (or sideways into a line)
    assert {"from": "h", "to": "logits"} in graph["edges"]
    assert {"from": "counts", "to": "probs"} in graph["edges"]  # counts is used twice
    assert {"from": "counts", "to": "counts_sum"} in graph["edges"]
    assert max(node["column"] for node in graph["nodes"]) <= 2  # narrow: fits 1280 px without scrolling


def test_a_node_shows_its_forward_line_with_every_shape(chain):
    detail = node_json(chain, "hprebn")
    assert detail["line"] == "hprebn = embcat @ W1 + b1"
    assert detail["shapes"] == [
        {"name": "hprebn", "shape": "(32, 64)"},
        {"name": "embcat", "shape": "(32, 30)"},
        {"name": "W1", "shape": "(30, 64)"},
        {"name": "b1", "shape": "(64,)"},
    ]
    assert detail["op"] == "@ +"
    loss = node_json(chain, "loss")
    assert loss["line"] == "loss = -logprobs[np.arange(n), Yb].mean()"
    assert {"name": "n", "shape": "()", "value": 32} in loss["shapes"]
    assert loss["gradient"] is None


def test_the_lines_are_those_of_the_kata_solution(chain):
    from ninjagrad.kata.exercises import get_exercise

    source = get_exercise("atomic").solution_source()
    for node in chain.nodes:
        if node.line:
            assert node.line in source
            ast.parse(node.line)  # a whole statement
    for name in GRADIENT_NAMES:
        answer = node_json(chain, name)["gradient"]["backward"]
        assert any(line.startswith(f"d{name} ") or f"(d{name}," in line for line in answer), (name, answer)
        for line in answer:
            assert line in source
    assert "dprobs = dlogprobs / probs" in node_json(chain, "probs")["gradient"]["backward"]


def test_every_hand_written_gradient_matches_autograd_exactly(chain):
    """The lecture's result: all 26 bit-for-bit equal (the atomic lines mirror the engine's rules)."""
    for name in GRADIENT_NAMES:
        check = node_json(chain, name)["gradient"]["check"]
        assert check["shape_ok"] and check["approximate"], (name, check)
        assert check["exact"], (name, check)
        assert check["maxdiff"] == 0.0


def test_heatmaps_and_summaries_are_the_arrays(chain):
    detail = node_json(chain, "logits")
    grid = np.array(detail["gradient"]["heatmap"]["values"], dtype=np.float64)
    np.testing.assert_allclose(grid, chain.gradients["logits"], rtol=1e-3, atol=1e-12)  # 4 digits
    stats = detail["gradient"]["summary"]
    assert stats["shape"] == [32, 27]
    assert stats["min"] == pytest.approx(float(chain.gradients["logits"].min()))
    assert stats["std"] == pytest.approx(float(chain.gradients["logits"].astype(np.float64).std()))
    emb = node_json(chain, "emb")["data"]["heatmap"]
    assert (emb["rows"], emb["columns"]) == (32, 30)  # (n, 3, 10) drawn as its flattened rows
    json.dumps(detail, allow_nan=False)


def test_heatmap_of_a_large_array_is_bounded_and_keeps_the_mean():
    array = np.random.default_rng(0).standard_normal((200, 130))
    picture = heatmap(array, cells=64)
    assert picture["rows"] <= 64 and picture["columns"] <= 64
    assert picture["block"] == [4, 3]
    grid = np.array(picture["values"], dtype=np.float64)
    assert grid[0, 0] == pytest.approx(array[:4, :3].mean(), rel=1e-3)
    assert heatmap(np.float32(2.5))["values"] == [[2.5]]
    assert heatmap(np.array([1.0, np.nan]))["values"] == [[1.0, None]]


def test_summary_of_nothing_finite():
    assert summary(np.array([np.inf]))["mean"] is None


def test_op_labels():
    def label(text):
        return op_label(ast.parse(text).body[0].value, {"x", "W", "b"})

    assert label("x @ W + b") == "@ +"
    assert label("1 / n * x.sum(0, keepdims=True)") == "sum *"
    assert label("(x + 1e-5) ** -0.5") == "+ **"
    assert label("x.reshape(n, -1)") == "reshape"


def test_an_unknown_node_is_a_user_error(chain):
    with pytest.raises(UserError, match="no node 'nope'"):
        node_json(chain, "nope")
