"""draw_dot: deterministic DOT source, scalar and tensor records, saving, a clear error without `dot`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import graphviz
import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.scalar import Value, sum_values
from ninjagrad.viz import draw_dot, save


def lecture_neuron():
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    n = x1 * w1 + x2 * w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def records(source: str) -> dict[str, str]:
    """node name -> label, for the record nodes of a DOT source."""
    return dict(re.findall(r'^\s*(n\d+) \[label="(.*)" shape=record\]$', source, flags=re.MULTILINE))


def test_records_show_label_data_and_grad():
    source = draw_dot(lecture_neuron()).source
    labels = set(records(source).values())
    assert "{x1 | data 2.0000 | grad -1.5000}" in labels
    assert "{w1 | data -3.0000 | grad 1.0000}" in labels
    assert "{x2 | data 0.0000 | grad 0.5000}" in labels
    assert "{w2 | data 1.0000 | grad 0.0000}" in labels
    assert "{o | data 0.7071 | grad 1.0000}" in labels
    assert "{data -6.0000 | grad 0.5000}" in labels  # x1*w1: no label, no empty field


def test_one_op_node_per_computed_value_and_an_edge_per_parent():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a * b
    d = c + c  # c twice: two edges into the + op
    source = draw_dot(d).source
    assert len(records(source)) == 4
    assert re.findall(r"(n\d+_op) \[label=\"?([^\" ]+)\"? ", source) == [("n2_op", "*"), ("n3_op", "+")]
    assert source.count("n2 -> n3_op") == 2
    assert "n0 -> n2_op" in source and "n1 -> n2_op" in source


def test_the_same_graph_gives_the_same_source_byte_for_byte():
    first = draw_dot(lecture_neuron()).source
    second = draw_dot(lecture_neuron()).source  # separately built: other objects, other id()s
    assert first == second
    assert "0x" not in first and not re.search(r"\b\d{9,}\b", first)  # no addresses or id()s


def test_rankdir_and_format():
    top_down = draw_dot(lecture_neuron(), format="png", rankdir="TB")
    assert top_down.format == "png"
    assert "rankdir=TB" in top_down.source
    assert "x1 | data 2.0000 | grad -1.5000" in top_down.source  # a row without braces in TB
    with pytest.raises(ValueError, match="rankdir must be one of"):
        draw_dot(lecture_neuron(), rankdir="sideways")


def test_record_characters_in_labels_are_escaped():
    v = Value(1.0, "w{0}|<b>")
    source = draw_dot(v).source
    assert r"w\{0\}\|\<b\>" in source


def test_draw_dot_is_a_graphviz_digraph():
    assert isinstance(draw_dot(lecture_neuron()), graphviz.Digraph)


@pytest.mark.needs_dot
def test_jupyter_display_hook_renders_svg():
    bundle = draw_dot(lecture_neuron())._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "<svg" in bundle["image/svg+xml"]


# ---- tensors (any node with array data) ----------------------------------------------------------------


class FakeTensorNode:
    """The node protocol with NumPy data, as the tensor engine has it."""

    def __init__(self, data, grad=None, label="", op="", prev=()):
        self.data, self.grad, self.label, self._op, self._prev = np.asarray(data), grad, label, op, prev

    @property
    def shape(self):
        return self.data.shape


def test_tensor_nodes_show_shape_and_a_summary():
    W = FakeTensorNode(np.arange(12.0).reshape(3, 4), grad=np.full((3, 4), 0.5), label="W")
    b = FakeTensorNode([1.0, -2.0], label="b")
    out = FakeTensorNode(np.zeros((2, 4)), label="out", op="matmul", prev=(b, W))
    labels = list(records(draw_dot(out).source).values())
    assert labels[0] == "{b (2,) | data [1.0000, -2.0000] | grad None}"
    assert labels[1] == (
        "{W (3, 4) | data mean 5.5000 std 3.4521 min 0.0000 max 11.0000 "
        "| grad mean 0.5000 std 0.0000 min 0.5000 max 0.5000}"
    )
    assert labels[2].startswith("{out (2, 4) | data mean 0.0000")


def test_a_real_tensor_graph_draws():
    tensor = pytest.importorskip("ninjagrad.tensors")
    W = tensor.Tensor(np.arange(6.0).reshape(2, 3) / 10, requires_grad=True, label="W")
    x = tensor.Tensor(np.ones((4, 2)), label="x")
    loss = (x @ W).tanh().sum()
    loss.label = "loss"
    loss.backward(retain_graph=True)  # the default frees the graph, as PyTorch does: nothing left to draw
    labels = list(records(draw_dot(loss).source).values())
    assert labels[0].startswith("{x (4, 2) | data mean 1.0000")
    assert labels[1].startswith("{W (2, 3) | data mean 0.2500") and "grad mean" in labels[1]
    assert labels[-1].startswith("{loss () | data [")


def test_a_tensor_graph_freed_by_backward_is_drawn_with_a_note_and_a_warning():
    tensor = pytest.importorskip("ninjagrad.tensors")
    W = tensor.Tensor(np.ones((2, 3)), requires_grad=True, label="W")
    hidden = (tensor.Tensor(np.ones((4, 2))) @ W).tanh()
    loss = hidden.sum()
    loss.label = "loss"
    loss.backward()  # frees the graph, as PyTorch does
    with pytest.warns(UserWarning, match=r"freed the graph .*'loss'.*retain_graph=True"):
        source = draw_dot(loss).source
    assert len(records(source)) == 1  # only the root is left ...
    assert "inputs freed by backward()" in source and "n0_freed -> n0_op" in source  # ... and says why
    with pytest.warns(UserWarning, match="first: a 'tanh' result"):
        draw_dot(hidden * 2.0)  # a new graph on top of a freed one: the new part draws, the rest is marked


def test_an_intact_graph_draws_without_a_warning(recwarn):
    empty_sum = sum_values([])  # an op node without inputs, but nothing was freed
    for root in (lecture_neuron(), empty_sum, empty_sum * 2.0):
        assert "freed" not in draw_dot(root).source
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize("root", [5, 2.5, None, [Value(1.0)], np.ones(3)])
def test_draw_dot_of_something_that_is_not_a_graph_node_is_a_type_error(root):
    with pytest.raises(TypeError, match=f"draw_dot draws a Value or a Tensor.*got {type(root).__name__}"):
        draw_dot(root)


# ---- saving ---------------------------------------------------------------------------------------------


def test_save_dot_source_needs_no_dot_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    path = save(draw_dot(lecture_neuron()), tmp_path / "sub" / "neuron.dot")
    assert path.read_text() == draw_dot(lecture_neuron()).source


def test_missing_dot_gives_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    drawing = draw_dot(lecture_neuron())
    for attempt in (
        lambda: save(drawing, tmp_path / "neuron.svg"),
        lambda: drawing.pipe(format="svg"),
        lambda: drawing.render(tmp_path / "neuron"),
        lambda: drawing._repr_mimebundle_(),  # what Jupyter calls to display it
    ):
        with pytest.raises(UserError, match="apt-get install graphviz") as error:
            attempt()
        assert "brew install graphviz" in str(error.value) and "conda" in str(error.value)


def test_save_to_an_unwritable_place_is_a_user_error_naming_the_path(tmp_path):
    drawing = draw_dot(lecture_neuron())
    (tmp_path / "a_file").write_text("in the way")
    (tmp_path / "a_dir.dot").mkdir()
    for target, reason in (
        (tmp_path / "a_file" / "sub" / "neuron.dot", "a_file' is a file, not a directory"),
        (tmp_path / "a_dir.dot", "Is a directory"),
    ):
        with pytest.raises(UserError, match=reason) as error:
            save(drawing, target)
        assert str(target) in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_dir.dot", "a_file"]  # no temporary left


@pytest.mark.parametrize("failure", [PermissionError(13, "Permission denied"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_save_leaves_the_old_file_and_no_half_written_one(
    tmp_path, monkeypatch, failure
):
    path = tmp_path / "neuron.dot"
    path.write_text("the previous drawing")

    def fail(source, destination):
        assert Path(source).read_bytes().startswith(b"digraph")  # the new bytes were all written ...
        raise failure  # ... but never took the old file's place

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(UserError if isinstance(failure, OSError) else KeyboardInterrupt):
        save(draw_dot(lecture_neuron()), path)
    assert path.read_text() == "the previous drawing"
    assert [p.name for p in tmp_path.iterdir()] == ["neuron.dot"]


def test_save_refuses_an_unknown_suffix(tmp_path):
    with pytest.raises(UserError, match=r"'\.txt' is not one of \.svg, \.png, \.pdf, \.dot"):
        save(draw_dot(lecture_neuron()), tmp_path / "neuron.txt")


@pytest.mark.needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_save_renders_each_format(tmp_path, suffix, magic):
    path = save(draw_dot(lecture_neuron()), tmp_path / f"neuron{suffix}")
    assert path.read_bytes().startswith(magic)


@pytest.mark.needs_dot
def test_a_two_thousand_node_graph_renders_to_svg(tmp_path):
    x = Value(0.5, "x")
    out = x
    for i in range(1000):  # 1,000 Values and 1,000 op nodes: about 2,000 drawn nodes
        out = out.tanh() if i % 2 else out * 1.0001
    out.backward()
    drawing = draw_dot(out)
    assert drawing.source.count("shape=record") + drawing.source.count("shape=ellipse") >= 2000
    svg = save(drawing, tmp_path / "big.svg").read_text()
    assert svg.count('class="node"') >= 2000


# ---- Drawing.save: graphviz's method, by suffix -----------------------------------------------------------


@pytest.mark.needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_drawing_save_with_a_picture_suffix_renders_the_picture(tmp_path, suffix, magic):
    drawing = draw_dot(lecture_neuron())
    written = drawing.save(str(tmp_path / f"neuron{suffix}"))
    assert written == str(tmp_path / f"neuron{suffix}")
    assert Path(written).read_bytes().startswith(magic)
    assert drawing.save(f"again{suffix}", directory=str(tmp_path)) == str(tmp_path / f"again{suffix}")
    assert (tmp_path / f"again{suffix}").read_bytes().startswith(magic)


def test_drawing_save_as_png_without_dot_is_the_install_hint_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UserError, match="apt-get install graphviz"):
        draw_dot(lecture_neuron()).save(str(tmp_path / "neuron.png"))
    assert list(tmp_path.iterdir()) == []


def test_drawing_save_refuses_other_picture_suffixes_and_keeps_source_for_the_rest(tmp_path):
    drawing = draw_dot(lecture_neuron())
    with pytest.raises(UserError, match=r"'\.jpg' is not a format ninjagrad renders; use one of \.svg"):
        drawing.save(str(tmp_path / "neuron.jpg"))
    assert list(tmp_path.iterdir()) == []
    for name in ("neuron.gv", "neuron.dot", "neuron"):  # DOT source, as graphviz writes it
        assert Path(drawing.save(str(tmp_path / name))).read_text().startswith("digraph")


@pytest.mark.needs_dot
def test_render_still_writes_its_source_file_and_the_picture(tmp_path):
    rendered = draw_dot(lecture_neuron(), format="svg").render(tmp_path / "neuron")
    assert Path(rendered).read_bytes().startswith(b"<?xml")
    assert (tmp_path / "neuron").read_text().startswith("digraph")


def test_an_unwritable_target_is_reported_before_a_missing_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` either
    (tmp_path / "a_file").write_text("in the way")
    with pytest.raises(UserError, match="a_file' is a file, not a directory"):
        save(draw_dot(lecture_neuron()), tmp_path / "a_file" / "neuron.svg")
