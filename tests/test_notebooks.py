"""The teaching notebooks run top to bottom in a fresh kernel and still show what their text claims.

Each notebook in ``notebooks/`` is executed once per test module with nbclient, in a fresh kernel whose
working directory is an empty temporary folder (so a notebook that wrote a file would write it there, and a
test checks that it wrote nothing). A cell that raises fails the test with the cell's source and the error.
The other tests read the fresh outputs for facts that a broken library would change: the micrograd README
numbers, 26 exact gradients, a kata diagnosis followed by a pass. Every fact is checked to be absent from the
notebook's code, so it was computed, not typed in.

The committed notebooks carry their outputs so that they read well on GitHub;
``test_committed_notebook_is_clean`` checks that those come from one top-to-bottom run and hold no
machine-specific paths or progress bars.

Only the graphviz drawings need the ``dot`` program. Without it a drawing cell shows ninjagrad's install hint
instead of a picture; that one error is tolerated and the drawing tests are skipped.

To refresh the committed outputs after changing a notebook or the library::

    .venv/bin/python tests/test_notebooks.py            # every notebook
    .venv/bin/python tests/test_notebooks.py 04_kata    # one
"""

from __future__ import annotations

import base64
import html
import math
import re
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from nbclient.exceptions import CellExecutionError  # noqa: E402  (after the skip: nbclient is a test extra)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_scalar_autograd", "02_tensor_autograd", "03_backprop_ninja", "04_kata")
CELL_TIMEOUT = 120  # seconds for one cell; the slowest (a 10,000-step training run) takes a few
HAVE_DOT = shutil.which("dot") is not None
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Absolute paths that would tie a committed output to one machine.
MACHINE_PATHS = re.compile(r"/tmp/|/work/|/home/|/Users/|/private/var/|site-packages|[A-Z]:\\\\")
# The memory address in a default repr, e.g. "<ninjagrad.viz.dot.Drawing at 0x7f01...>": new on every run.
OBJECT_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


# ---- running a notebook ----------------------------------------------------------------------------------


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` in a fresh kernel started in ``cwd``; return it executed.

    Execution stops at the first cell that raises; its error is left in that cell's outputs, where
    :func:`cell_errors` finds it.
    """
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        record_timing=False,  # no timestamps in the cells' metadata
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        pass  # reported by cell_errors, with the cell's source
    return notebook


def is_missing_dot(output: dict) -> bool:
    """The error a drawing shows without graphviz's ``dot``: ninjagrad's UserError with the install hint."""
    return output.get("ename") == "UserError" and "`dot` program was not found" in output.get("evalue", "")


def cell_errors(notebook: nbformat.NotebookNode) -> list[str]:
    """A readable report (cell number, source, error) for every cell whose outputs hold an error."""
    reports = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type != "error" or (not HAVE_DOT and is_missing_dot(output)):
                continue
            traceback = ANSI.sub("", "\n".join(output.get("traceback", [])))
            reports.append(
                f"cell {number} (In [{cell.execution_count}]) raised {output.ename}: {output.evalue}\n"
                f"--- source ---\n{cell.source}\n--- traceback ---\n{traceback}"
            )
    return reports


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def output_text(cell: nbformat.NotebookNode) -> str:
    """What a reader sees of a cell's outputs as text: printed streams and plain-text results."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts)


def cell_output(notebook: nbformat.NotebookNode, fragment: str) -> str:
    """The output text of the one code cell whose source contains ``fragment``."""
    matches = [cell for cell in code_cells(notebook) if fragment in cell.source]
    assert len(matches) == 1, f"{len(matches)} code cells contain {fragment!r}; expected exactly one"
    return output_text(matches[0])


def assert_shown(notebook: nbformat.NotebookNode, *facts: str) -> None:
    """Each fact appears in the outputs and nowhere in the code: the notebook computed it."""
    outputs = "".join(output_text(cell) for cell in code_cells(notebook))
    sources = "\n".join(cell.source for cell in code_cells(notebook))
    for fact in facts:
        assert fact in outputs, f"{fact!r} is not in the notebook's outputs:\n{outputs}"
        assert fact not in sources, (
            f"{fact!r} is typed into the notebook's code, so showing it proves nothing"
        )


def rich_outputs(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    return [
        output.data[mime]
        for cell in code_cells(notebook)
        for output in cell.get("outputs", [])
        if output.output_type in ("execute_result", "display_data") and mime in output.data
    ]


def svg_texts(svg: str) -> list[str]:
    """The text labels of a graphviz SVG, unescaped (graphviz writes a minus sign as &#45;)."""
    return [html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def png_size(encoded: str) -> tuple[int, int]:
    """(width, height) of a base64 PNG, from its header."""
    data = base64.b64decode(encoded)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def table_rows(text: str) -> dict[str, tuple[bool, bool, float, str]]:
    """Rows of ``format_table`` tables and ``compare`` lines: name -> (exact, approximate, maxdiff, shape)."""
    rows = {}
    for line in text.splitlines():
        match = re.match(  # a table row, or compare's own labelled line ("exact: True | ...")
            r"^(.+?)\s+\| (?:exact: )?(True|False)\s+\| (?:approximate: )?(True|False)\s+\| "
            r"(?:maxdiff: )?(\S+)\s+\| (?:shape: )?(.+)$",
            line,
        )
        if match:
            name, exact, approximate, maxdiff, shape = match.groups()
            rows[name] = (exact == "True", approximate == "True", float(maxdiff), shape)
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """run(name) -> the executed notebook; each notebook runs once per module, in its own empty folder."""
    executed = {}

    def run_notebook(name: str) -> nbformat.NotebookNode:
        if name not in executed:
            cwd = tmp_path_factory.mktemp(name)
            notebook = execute(NOTEBOOKS / f"{name}.ipynb", cwd)
            errors = cell_errors(notebook)
            if errors:
                pytest.fail(f"{name}.ipynb: " + "\n\n".join(errors), pytrace=False)
            left_behind = sorted(p.name for p in cwd.iterdir())
            assert not left_behind, f"{name}.ipynb wrote into its working directory: {left_behind}"
            executed[name] = notebook
        return executed[name]

    return run_notebook


# ---- the notebooks, run afresh ---------------------------------------------------------------------------


def test_every_notebook_in_the_folder_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


def test_scalar_notebook_reproduces_micrograd_and_the_lecture(run):
    notebook = run("01_scalar_autograd")
    assert_shown(
        notebook,
        "dL/da = +6.0",
        "dL/db = -4.0",
        "g     = 24.7041",
        "dg/da = 138.8338",
        "dg/db = 645.5773",
        "o = 0.7071",
        "do/dx1 = -1.5000",
        "do/dw1 = +1.0000",
        "do/dx2 = +0.5000",
        "do/dw2 = +0.0000",
    )
    # The finite differences agree with backward() to about 1e-10.
    nudged = re.findall(
        r"backward (\S+), nudging (\S+), relative difference (\S+)", cell_output(notebook, "g_at")
    )
    assert [(a, n) for a, n, _ in nudged] == [("138.8338", "138.8338"), ("645.5773", "645.5773")]
    assert all(float(relative) < 1e-7 for *_, relative in nudged)


def test_scalar_notebook_trains_the_moons_to_full_accuracy(run):
    notebook = run("01_scalar_autograd")
    assert_shown(
        notebook, "MLP(2, [16, 16, 1]): 337 parameters", "after 100 steps: loss 0.0113, accuracy 100%"
    )
    losses = [float(x) for x in re.findall(r"step +\d+: loss (\S+),", cell_output(notebook, "train_moons("))]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True)  # it learns
    (picture,) = rich_outputs(notebook, "image/png")  # the decision boundary
    assert min(png_size(picture)) >= 200


@pytest.mark.needs_dot
def test_scalar_notebook_draws_the_neuron_inline(run):
    (svg,) = rich_outputs(run("01_scalar_autograd"), "image/svg+xml")
    texts = svg_texts(svg)
    for label, data, grad in (
        ("x1", "2.0000", "-1.5000"),
        ("w1", "-3.0000", "1.0000"),
        ("o", "0.7071", "1.0000"),
    ):
        at = texts.index(label)
        assert texts[at + 1 : at + 3] == [f"data {data}", f"grad {grad}"], label
    assert "tanh" in texts


def test_tensor_notebook_shows_unbroadcast_compare_gradcheck_and_fused_cross_entropy(run):
    notebook = run("02_tensor_autograd")
    assert_shown(
        notebook,
        "bias.grad, shape (1, 3): [[4. 2. 8.]]",
        "np.allclose(dbngain_flat, bngain.grad) = True",
        "(64,) != reference (1, 64)",
        "(32, 1) * (32,)   -> (32, 32)",
        "passed: True",
        "FAILED; worst element (1,): analytic 0, numeric 0.5",  # relu's kink
        "graph nodes: fused 2, composite 10",
    )
    rows = table_rows(cell_output(notebook, 'compare("bngain (flat)"'))
    assert rows["bngain (flat)"][:2] == (False, False) and rows["bngain"][:2] == (True, True)
    assert cell_output(notebook, "small_net").count(": ok;") == 3  # x, W, b; the targets are integers
    fused = table_rows(cell_output(notebook, "loss_fused ="))
    assert set(fused) == {"vs composite", "vs formula"}
    assert all(approximate and maxdiff < 1e-15 for _, approximate, maxdiff, _ in fused.values())
    losses = re.search(r"loss: fused (\S+), composite (\S+)", cell_output(notebook, "loss_fused ="))
    assert losses[1] == losses[2]


@pytest.mark.needs_dot
def test_tensor_notebook_draws_a_tensor_graph_inline(run):
    texts = svg_texts(*rich_outputs(run("02_tensor_autograd"), "image/svg+xml"))
    assert [t for t in texts if t in ("matmul", "add", "tanh", "sum")] == ["matmul", "add", "tanh", "sum"]
    for label in ("x (4, 3)", "W (3, 2)", "b (2,)", "h (4, 2)", "loss ()"):
        assert label in texts
    at = texts.index("b (2,)")
    assert texts[at + 1] == "data [0.5000, -0.5000]" and texts[at + 2].startswith("grad [")  # a leaf's grad
    assert texts.count("grad None") == 5  # x (no grad needed) and the four interior tensors


def test_backprop_ninja_notebook_checks_26_exact_gradients_and_the_fused_formulas(run):
    from ninjagrad.makemore.atomic import GRADIENT_NAMES

    notebook = run("03_backprop_ninja")
    assert_shown(
        notebook,
        "examples per split: {'train': 182625, 'val': 22655, 'test': 22866}",
        "4,137 parameters",
        "26 of 26 gradients are bit-for-bit equal to autograd's",
    )
    atomic = table_rows(cell_output(notebook, "in GRADIENT_NAMES]"))
    assert list(atomic) == list(GRADIENT_NAMES)
    assert all(exact and maxdiff == 0.0 for exact, _, maxdiff, _ in atomic.values())
    fused = table_rows(cell_output(notebook, "fused_rows(params, "))
    assert set(fused) == {
        f"{name} ({dtype})" for name in ("logits", "hprebn") for dtype in ("float32", "float64")
    }
    for name, (_, approximate, maxdiff, _) in fused.items():
        assert approximate and maxdiff < (1e-7 if "float32" in name else 1e-15), name


def test_backprop_ninja_notebook_trains_and_samples_names(run):
    notebook = run("03_backprop_ninja")
    assert_shown(notebook, "10,000 steps of batch 32, 12,297 parameters")
    text = cell_output(notebook, "train(train_config")
    first = float(re.search(r"first batch loss (\S+);", text)[1])
    losses = {split: float(loss) for split, loss in re.findall(r"^(train|val|test) +loss (\S+)$", text, re.M)}
    assert set(losses) == {"train", "val", "test"}
    assert max(losses.values()) < 2.4 < math.log(27) < first  # it learned far beyond a uniform guess
    (curve,) = rich_outputs(notebook, "image/png")
    assert min(png_size(curve)) >= 200
    samples = cell_output(notebook, "result.samples").split()
    assert len(samples) == 20 and all(re.fullmatch("[a-z]+", name) for name in samples)


def test_kata_notebook_diagnoses_each_planted_mistake_then_passes(run):
    notebook = run("04_kata")
    outputs = "".join(output_text(cell) for cell in code_cells(notebook))
    assert_shown(
        notebook,
        "demb is not written yet",
        "likely mistake (scatter_add)",
        "status: fail; first wrong: dC; mistake: scatter_add",
        "All 2 gradients right (2 of 2 bit for bit)",
        "dbnmeani is the first wrong gradient",
        "likely mistake (keepdim)",
        "status: pass; 26 of 26 gradients right, 26 bit for bit",
    )
    # Each round is diagnosed before it passes.
    assert outputs.index("likely mistake (scatter_add)") < outputs.index("All 2 gradients right")
    assert outputs.index("likely mistake (keepdim)") < outputs.index("status: pass")
    # check_file's return value is the exit code of `ninjagrad kata check`: 1 while wrong, 0 once right.
    results = [
        output.data["text/plain"]
        for cell in code_cells(notebook)
        if "check_file(" in cell.source
        for output in cell.outputs
        if output.output_type == "execute_result"
    ]
    assert results == ["1", "1", "0", "1"]


# ---- the notebooks as committed --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_clean(name):
    """Committed outputs come from one top-to-bottom run, with nothing tied to the machine or the clock."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    cells = code_cells(notebook)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), "not run top to bottom"
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}
    for cell in notebook.cells:
        assert set(cell.metadata) <= {"tags"}, f"cell metadata to strip: {dict(cell.metadata)}"
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"a committed error in:\n{cell.source}"
            if output.output_type == "stream":
                assert output.name == "stdout", (
                    f"stderr output (a warning, a progress bar) in:\n{cell.source}"
                )
                assert "\r" not in output.text, f"a progress bar in:\n{cell.source}"
        text = output_text(cell)
        assert not MACHINE_PATHS.search(text), f"a machine-specific path in the output of:\n{cell.source}"
        assert not OBJECT_ADDRESS.search(text), f"a memory address in the output of:\n{cell.source}"


# ---- refreshing the committed outputs ----------------------------------------------------------------------


def refresh(name: str) -> None:
    """Execute a notebook in the notebooks folder and save it with its outputs and minimal metadata."""
    if not HAVE_DOT:
        raise SystemExit("refreshing the notebooks needs graphviz's dot program for the drawings")
    path = NOTEBOOKS / f"{name}.ipynb"
    notebook = execute(path, NOTEBOOKS)
    errors = cell_errors(notebook)
    if errors:
        raise SystemExit(f"{path.name}: not saved\n" + "\n\n".join(errors))
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},  # no version: it would change with every machine
    }
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    for cell in code_cells(notebook):
        for output in cell.outputs:
            plain = output.get("data", {}).get("text/plain")
            if plain:  # a drawing's plain-text fallback names its address: drop it, to keep diffs quiet
                output.data["text/plain"] = OBJECT_ADDRESS.sub(">", plain)
    nbformat.write(notebook, path)
    print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")


if __name__ == "__main__":
    for name in sys.argv[1:] or NAMES:
        refresh(Path(name).stem)
