"""Kata workbooks: what `kata new` writes, how a workbook is read, and the exercises' data. No subprocess."""

import ast
import re

import numpy as np
import pytest

from ninjagrad.cli import main
from ninjagrad.kata import exercise_data
from ninjagrad.kata.checker import build_reference
from ninjagrad.kata.exercises import EXERCISES, get_exercise
from ninjagrad.kata.workbook import (
    BACKWARD_BEGIN,
    BACKWARD_END,
    WorkbookError,
    parse_workbook,
    read_kata_name,
    render_workbook,
)

ATOMIC = get_exercise("atomic")


def test_the_atomic_exercise_asks_for_the_26_lecture_gradients_in_backward_order():
    names = [g.name for g in ATOMIC.gradients]
    assert len(names) == 26
    assert names[:8] == [
        "logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes", "logits",
    ]  # fmt: skip
    assert names[-5:] == ["embcat", "W1", "b1", "emb", "C"]


@pytest.mark.parametrize("name", list(EXERCISES))
def test_a_new_workbook_has_one_todo_line_per_gradient_in_backward_order(name):
    exercise = EXERCISES[name]
    text = render_workbook(exercise)
    lines = text.splitlines()
    begin, end = lines.index(BACKWARD_BEGIN), lines.index(BACKWARD_END)
    todo = [
        re.fullmatch(r"(\w+) = \.\.\.  # TODO -> (\(.*\)|a number)", line) for line in lines[begin + 1 : end]
    ]
    assert [match.group(1) for match in todo] == [g.variable for g in exercise.gradients]
    forward = build_reference(exercise).forward
    for match, gradient in zip(todo, exercise.gradients, strict=True):  # the target shape, as computed
        value = forward[gradient.target]
        assert match.group(2) == (str(value.shape) if isinstance(value, np.ndarray) else "a number")
    solved = exercise.solution_source().splitlines()
    assert lines[:begin] == solved[: solved.index(BACKWARD_BEGIN)]  # the set-up and forward pass, verbatim
    assert read_kata_name(text, "w.py") == name
    workbook = parse_workbook(text, "w.py", exercise)
    assert not any(workbook.is_written(g.name) for g in exercise.gradients)


@pytest.mark.parametrize("name", [n for n in EXERCISES if n != "scalar"])
def test_every_forward_line_carries_its_variables_true_shape(name):
    """The shape comments are hand-written in the solution file: check them against the arrays."""
    exercise = EXERCISES[name]
    source = exercise.solution_source()
    lines = source.splitlines()
    forward = build_reference(exercise).forward
    start = lines.index("# ---- forward pass (given) ----")
    checked = 0
    for node in ast.parse(source).body:
        if node.lineno > lines.index(BACKWARD_BEGIN):
            break
        if (
            node.lineno <= start
            or not isinstance(node, ast.Assign)
            or lines[node.lineno - 1] == BACKWARD_BEGIN
            or not isinstance(node.targets[0], ast.Name)  # n, D = x.shape: sizes
            or not isinstance(forward[node.targets[0].id], np.ndarray)  # n = Xb.shape[0]: a size
        ):
            continue
        if node.lineno > lines.index(BACKWARD_BEGIN):
            break
        (target,) = node.targets
        comment = re.search(r"#\s*\(([\d, ]*)\)", lines[node.lineno - 1])
        assert comment, f"line {node.lineno} of {name} has no shape comment"
        shape = tuple(int(size) for size in comment.group(1).replace(" ", "").split(",") if size)
        assert np.shape(forward[target.id]) == shape, (target.id, shape)
        checked += 1
    assert checked >= 2


def test_the_scalar_forward_values_in_the_comments_are_right():
    exercise = get_exercise("scalar")
    forward = build_reference(exercise).forward
    for line in exercise.solution_source().splitlines():
        match = re.fullmatch(r"(\w+) = .*#\s*(-?\d+\.\d+)(\.\.\.)?", line)
        if match and not line.startswith("d"):
            assert forward[match.group(1)] == pytest.approx(float(match.group(2)), abs=1e-4)
    assert forward["o"] == pytest.approx(0.7071, abs=1e-4)  # the lecture neuron's output


def test_a_gradient_owns_its_statements_even_when_interleaved_as_in_the_lecture():
    written = {"logprobs", "probs", "counts_sum_inv", "counts", "counts_sum", "C"}
    lines = [
        'KATA = "atomic"',
        "x = 1",
        "dlogprobs = 1",
        "dprobs = 2",
        "dcounts_sum_inv = 3",
        "dcounts = 4",  # the lecture writes dcounts's first part here...
        "dcounts_sum = 5",
        "dcounts += 6",  # ...and the second after dcounts_sum
        *(f"{g.variable} = 0" for g in ATOMIC.gradients if g.name not in written),
        "helper = 7",  # assigns no gradient: it belongs to the next gradient line (dC), which uses it
        "dC = 8",
        "np.add.at(dC, 1, 2)",  # changes dC in place: it belongs to dC
        "print('done')",  # after the last gradient line: it belongs to the last gradient
    ]
    workbook = parse_workbook("\n".join(lines), "w.py", ATOMIC)

    def owned(name):
        return [ast.unparse(s.node) for s in workbook.statements_of(name)]

    assert workbook.statements[1].gradients == ()  # x = 1 is the forward pass
    assert owned("counts") == ["dcounts = 4", "dcounts += 6"]
    assert owned("counts_sum") == ["dcounts_sum = 5"]
    assert owned("C") == ["helper = 7", "dC = 8", "np.add.at(dC, 1, 2)", "print('done')"]
    assert workbook.names_used("C") == ["helper", "dC", "np", "print"]


def test_only_a_bare_ellipsis_marks_a_line_as_not_written():
    exercise = get_exercise("embedding")
    source = 'KATA = "embedding"\ndemb = ...  # TODO\ndC = x[..., 0]\n'
    workbook = parse_workbook(source, "w.py", exercise)
    assert not workbook.is_written("emb")
    assert workbook.is_written("C")  # Ellipsis *inside* an index is ordinary NumPy


def test_a_gradient_never_assigned_is_a_missing_variable():
    text = render_workbook(get_exercise("atomic"), solved=True).replace("dbnraw = dhpreact * bngain\n", "")
    with pytest.raises(WorkbookError) as error:
        parse_workbook(text, "w.py", ATOMIC)
    assert error.value.kind == "missing_variable"
    assert "dbnraw" in error.value.message and "after dbnbias's line" in error.value.message


def test_a_syntax_error_points_at_its_line():
    with pytest.raises(WorkbookError) as error:
        read_kata_name('KATA = "scalar"\n\ndL = (1.0\n', "w.py")
    assert error.value.kind == "syntax" and error.value.line == 3


@pytest.mark.parametrize("line", ["dbnraw = (yield)", "return dhpreact * bngain", "await dhpreact"])
def test_what_only_the_compiler_refuses_is_a_syntax_error_at_its_line(line):
    text = render_workbook(get_exercise("atomic"), solved=True)
    number = text.splitlines().index("dbnraw = dhpreact * bngain") + 1
    with pytest.raises(WorkbookError) as error:
        parse_workbook(text.replace("dbnraw = dhpreact * bngain", line), "w.py", ATOMIC)
    assert error.value.kind == "syntax" and error.value.line == number
    assert "outside function" in error.value.message and error.value.text == line


def test_a_file_without_a_kata_line_is_not_a_workbook():
    with pytest.raises(WorkbookError) as error:
        read_kata_name("x = 1\n", "w.py")
    assert error.value.kind == "not_a_workbook"


def test_exercise_data_is_the_same_on_every_call_and_has_what_the_kata_needs():
    first, second = exercise_data("atomic"), exercise_data("atomic")
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    Xb = first[0]
    assert Xb.shape == (32, 3) and np.bincount(Xb.ravel()).max() > 1  # repeated characters: dC must add them
    for value in first[2:]:
        assert value.dtype == np.float32 and np.all(value != 0)  # nothing zero by accident
    logits, _ = exercise_data("cross_entropy")
    assert ((logits == logits.max(1, keepdims=True)).sum(1) == 1).all()  # no ties in the real data...


def test_the_atomic_probe_has_real_ties_and_a_non_degenerate_upstream():
    reference = build_reference(ATOMIC)
    assert np.abs(reference.gradients["logit_maxes"]).max() < 1e-6  # ~0: why the probe exists
    case = reference.probes["logits"]
    logits = case.namespace["logits"]
    tied = (logits == logits.max(1, keepdims=True)).sum(1) == 2
    assert tied.sum() >= 10  # ...but in the probe there are
    first = np.asarray(reference.forward["logits"]).argmax(1)
    assert np.array_equal(logits.argmax(1), first)  # and the first maximum has not moved
    assert np.abs(case.namespace["dlogit_maxes"]).min() > 1e-6  # and the max path carries real gradient


def test_the_reference_gradients_have_their_variables_shapes():
    for exercise in EXERCISES.values():
        reference = build_reference(exercise)
        for gradient in exercise.gradients:
            assert np.shape(reference.gradients[gradient.name]) == np.shape(
                reference.forward[gradient.target]
            )


@pytest.mark.parametrize("name", [n for n in EXERCISES if any(g.paths for g in EXERCISES[n].gradients)])
def test_the_paths_of_a_one_formula_gradient_add_up_to_autograds(name):
    """The paths name a wrong term (n - 1 in the variance's); they must be the true terms of the gradient."""
    reference = build_reference(EXERCISES[name])
    for gradient in (g for g in EXERCISES[name].gradients if g.paths):
        terms = reference.contributions[gradient.name]
        assert [term.path for term in terms] == [path for path, _ in gradient.paths]
        total = sum(np.asarray(term.value, np.float64) for term in terms)
        assert np.allclose(total, reference.gradients[gradient.name], rtol=1e-4, atol=1e-6)


def test_new_writes_a_workbook_and_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "mine.py"
    assert main(["kata", "new", "scalar", "-o", str(path)]) == 0
    assert path.read_text() == render_workbook(get_exercise("scalar"))
    path.write_text("my work")
    assert main(["kata", "new", "scalar", "-o", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_text() == "my work"
    assert main(["kata", "new", "scalar", "-o", str(path), "--force"]) == 0
    assert "dL = ...  # TODO" in path.read_text()


def test_new_writes_to_name_py_by_default_and_solved_on_request(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["kata", "new", "embedding"]) == 0
    assert "dC = ...  # TODO" in (tmp_path / "embedding.py").read_text()
    assert main(["kata", "new", "embedding", "-o", "solved.py", "--solved"]) == 0
    assert "np.add.at(dC, Xb, demb)" in (tmp_path / "solved.py").read_text()  # the atomic exercise's line


def test_new_with_a_bad_name_or_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["kata", "new", "nope"]) == 2
    assert "kata list" in capsys.readouterr().err
    assert main(["kata", "new", "scalar", "-o", str(tmp_path / "missing" / "w.py")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_new_into_a_directory_or_a_full_disk_is_a_clear_error_and_keeps_the_old_file(
    tmp_path, capsys, monkeypatch
):
    assert main(["kata", "new", "scalar", "-o", str(tmp_path), "--force"]) == 2
    assert f"e.g. -o {tmp_path / 'scalar.py'}" in capsys.readouterr().err
    path = tmp_path / "mine.py"
    path.write_text("my work")

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ninjagrad.files.os.replace", full_disk)
    assert main(["kata", "new", "scalar", "-o", str(path), "--force"]) == 2
    assert f"cannot write {path}: No space left on device" in capsys.readouterr().err
    assert path.read_text() == "my work" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.py"]


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "1e12"])
def test_a_time_limit_must_be_positive_and_not_endless(tmp_path, capsys, seconds):
    """inf and 1e12 once reached the runner, whose alarm cannot count that far: a traceback."""
    assert main(["kata", "check", str(tmp_path / "w.py"), "--timeout", seconds]) == 2
    err = capsys.readouterr().err
    assert "the time limit (--timeout) must be more than 0 and at most 3600 seconds, got" in err
    assert "Traceback" not in err


def test_list_shows_every_exercise(capsys):
    assert main(["kata", "list"]) == 0
    out = capsys.readouterr().out
    for name, exercise in EXERCISES.items():
        assert re.search(rf"^{name}\s+{len(exercise.gradients)}\s", out, re.MULTILINE)
