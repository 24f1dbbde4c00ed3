"""The grader: one source for every exercise, a second data set, arrays only, and the two new exercises."""

import dataclasses

import numpy as np
import pytest

import ninjagrad.kata.exercises as exercises
from ninjagrad.kata import check_workbook
from ninjagrad.kata.checker import build_reference, check_solution
from ninjagrad.kata.data import SIZES
from ninjagrad.kata.exercises import EXERCISES, get_exercise
from ninjagrad.kata.workbook import render_workbook


def planted(tmp_path, name, old, new):
    text = render_workbook(get_exercise(name), solved=True)
    assert text.count(old) == 1, old
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(old, new))
    return path


def first_wrong(path):
    result = check_workbook(path)
    assert result.status == "fail", result.broken
    return result.first_wrong


@pytest.mark.parametrize(
    ("name", "old", "new", "gradient"),
    [
        (
            "atomic",
            "dlogprobs[np.arange(n), Yb] = -1.0 / n",
            "dlogprobs[np.arange(n), Yb] = -1.0 / 32",
            "logprobs",
        ),
        ("atomic", "demb = dembcat.reshape(emb.shape)", "demb = dembcat.reshape(32, 3, 10)", "emb"),
        ("cross_entropy", "dlogits /= n", "dlogits /= 32", "logits"),
        ("layernorm", "dmu = (-dxdiff).sum(1, keepdims=True)", "dmu = (-dxdiff).sum(1).reshape(32, 1)", "mu"),
    ],
)
def test_a_hard_coded_size_passes_the_lecture_data_and_fails_the_second(tmp_path, name, old, new, gradient):
    row = first_wrong(planted(tmp_path, name, old, new))
    assert row.gradient.name == gradient and row.comparison.approximate  # right on the lecture's numbers
    assert row.diagnosis.kind == "second_dataset" and f"n = {SIZES[1][0]}" in row.diagnosis.message


def test_pasted_numbers_fail_the_second_data_set(tmp_path):
    right = build_reference(get_exercise("atomic")).gradients["b2"]
    pasted = "db2 = np.array([" + ", ".join(repr(float(x)) for x in right) + "], dtype=np.float32)"
    row = first_wrong(planted(tmp_path, "atomic", "db2 = dlogits.sum(0)", pasted))
    assert row.gradient.name == "b2" and row.comparison.approximate and not row.second.approximate
    assert row.diagnosis.kind == "second_dataset"


def test_a_gradient_must_be_an_array_not_a_list(tmp_path):
    row = first_wrong(planted(tmp_path, "atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.sum(0).tolist()"))
    assert (
        row.gradient.name == "b2"
        and row.diagnosis.kind == "not_an_array"
        and "a list" in row.diagnosis.message
    )


def test_a_correct_rewrite_the_reference_did_not_think_of_passes(tmp_path):
    path = planted(
        tmp_path,
        "atomic",
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
        "dbndiff2 = np.ones_like(bndiff2) * dbnvar / (len(hprebn) - 1)",
    )
    assert check_workbook(path).status == "pass"


def test_every_row_is_listed_and_the_wrong_ones_below_the_first_are_judged(tmp_path):
    text = render_workbook(get_exercise("atomic"), solved=True)
    text = text.replace("dprobs = dlogprobs / probs", "dprobs = dlogprobs * probs")
    text = text.replace("dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - h)")
    path = tmp_path / "two.py"
    path.write_text(text)
    result = check_workbook(path)
    assert [row.gradient.name for row in result.rows] == [g.name for g in get_exercise("atomic").gradients]
    wrong = [row.gradient.name for row in result.rows if row.status == "wrong"]
    assert wrong == ["probs", "hpreact"] and result.first_wrong.gradient.name == "probs"
    assert result.rows[11].diagnosis.kind == "exponent"


def test_the_fused_layernorm_line_may_not_read_the_atomic_gradients(tmp_path):
    text = render_workbook(get_exercise("layernorm"), solved=True)
    start, end = text.index("dx_fused = "), text.index("# ---- end of the backward pass")
    row = first_wrong(planted(tmp_path, "layernorm", text[start:end], "dx_fused = dx.copy()\n"))
    assert row.gradient.name == "x_fused" and row.comparison.exact and row.diagnosis.kind == "not_fused"


def test_a_torch_spelling_gets_numpys(tmp_path):
    result = check_workbook(
        planted(tmp_path, "atomic", "dlogits = dnorm_logits.copy()", "dlogits = dnorm_logits.clone()")
    )
    assert result.status == "broken" and "NumPy's .copy()" in result.broken.message


def test_the_reference_is_computed_from_the_one_forward_text(monkeypatch):
    """Change the exercise's forward line and the autograd reference changes with it: nothing is retyped."""
    atomic = get_exercise("atomic")
    line = "h = np.tanh(hpreact)  # (32, 64)  the non-linearity"
    assert atomic.source.count(line) == 1
    relu = dataclasses.replace(atomic, source=atomic.source.replace(line, "h = hpreact * (hpreact > 0)"))
    before = build_reference(atomic).gradients["hpreact"]
    after = build_reference(relu).gradients["hpreact"]
    assert not np.allclose(before, after)
    namespace = build_reference(relu).namespace()
    np.testing.assert_allclose(after, namespace["dh"] * (namespace["hpreact"] > 0), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["layernorm", "attention", "batchnorm", "cross_entropy"])
def test_the_solutions_match_torch_in_float64(name):
    """The hand-written lines against PyTorch's autograd on the same forward text, float64."""
    pytest.importorskip("torch")
    from ninjagrad.commands.check import torch_backend

    exercise = get_exercise(name)
    given = {k: v.astype(np.float64) if getattr(v, "dtype", None) == np.float32 else v
             for k, v in exercise.given(1).items()}  # fmt: skip
    _, comparisons = check_solution(exercise, given, torch_backend())
    for comparison in comparisons:
        assert comparison.approximate and comparison.maxdiff < 1e-10, comparison


def test_layernorm_matches_finite_differences():
    """dx of the forward text's loss sum(out * dout), by central differences in float64."""
    exercise = get_exercise("layernorm")
    given = {k: v.astype(np.float64) for k, v in exercise.given(1).items()}
    namespace, _ = check_solution(exercise, given)

    def loss(x):
        ns = {"np": np, **given, "x": x, "eps": 1e-5}
        exec(exercise.sections.forward_code, ns)
        return float((ns["out"] * given["dout"]).sum())

    x = given["x"]
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (loss(x + step) - loss(x - step)) / 2e-6
    np.testing.assert_allclose(namespace["dx"], numeric, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(namespace["dx_fused"], numeric, rtol=1e-5, atol=1e-8)


def test_kata_list_shows_the_new_exercises():
    assert {"layernorm", "attention"} <= set(EXERCISES)
    assert [e.order for e in EXERCISES.values()] == sorted(e.order for e in EXERCISES.values())


def test_an_exercise_is_one_file():
    """Every backward statement of an exercise is code in exactly one file of src/ (a mention in a comment
    or a docstring is not a copy), and so is the atomic forward chain. The Tensor engine's own rules
    (tensors/: F.cross_entropy's fused backward) are the autograd side, not an exercise."""
    import ast
    from pathlib import Path

    src = Path(exercises.__file__).parents[2]
    statements = {
        path: {
            ast.unparse(node) for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.stmt)
        }
        for path in src.rglob("*.py")
        if "tensors" not in path.parts
    }
    for exercise in EXERCISES.values():
        sections = exercise.sections
        for node in sections.backward:
            code = ast.unparse(node)
            if exercise.name == "scalar" and len(code) < 20:
                continue  # `dc = dd`: too short to be a copy of anything
            holders = [path.name for path, found in statements.items() if code in found]
            # (the embedding exercise borrows the atomic exercise's lines: Exercise.backward_from)
            assert holders == [f"{exercise.backward_from or exercise.name}.py"], (code, holders)
    # the atomic forward chain's BatchNorm and softmax steps (the embedding exercise shares its first two)
    for code in (
        "bnvar_inv = (bnvar + eps) ** (-0.5)",
        "counts_sum_inv = counts_sum ** (-1)",
        "logprobs = np.log(probs)",
    ):
        holders = [path.name for path, found in statements.items() if code in found]
        assert holders == ["atomic.py"], (code, holders)


def test_every_kata_action_has_a_description_and_o_means_an_output_file(tmp_path, capsys):
    from ninjagrad.cli import main

    for action in ("list", "new", "check"):
        with pytest.raises(SystemExit):
            main(["kata", action, "--help"])
        out = capsys.readouterr().out
        assert "-o FILE, --output FILE" in out and len(out.split("\n\n")[1]) > 40, action
    workbook = tmp_path / "w.py"
    assert main(["kata", "new", "cross_entropy", "-o", str(workbook), "--solved"]) == 0
    report = tmp_path / "report.json"
    assert main(["kata", "check", str(workbook), "--json", "-o", str(report)]) == 0
    assert '"status": "pass"' in report.read_text()
    assert main(["kata", "list", "-o", str(tmp_path / "list.txt")]) == 0
    assert "layernorm" in (tmp_path / "list.txt").read_text()


def test_check_help_names_no_seeds_that_pass(capsys):
    from ninjagrad.cli import main

    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "seeds 2" not in capsys.readouterr().out


def test_check_workbook_marks_each_row_for_the_studio(tmp_path):
    """right, wrong, not written yet, not reached: one status per gradient, in backward order."""
    text = render_workbook(get_exercise("atomic"), solved=True)
    text = text.replace("dprobs = dlogprobs / probs", "dprobs = dlogprobs * probs")
    text = text.replace("dh = dlogits @ W2.T", "dh = ...")
    text = text.replace("dbnraw = dhpreact * bngain", "dbnraw = dhpreact @ bngain")  # raises: shapes
    path = tmp_path / "w.py"
    path.write_text(text)
    result = check_workbook(path, timeout=30)
    statuses = {row.gradient.name: row.status for row in result.rows}
    assert result.status == "broken" and result.broken.gradient == "bnraw"
    assert statuses["logprobs"] == "right" and statuses["probs"] == "wrong" and statuses["h"] == "not_written"
    assert statuses["bnbias"] == "right" and statuses["bnraw"] == statuses["C"] == "not_reached"
    assert len(result.rows) == 26 and len(result.as_dict()["table"]) == 26
