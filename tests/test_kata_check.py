"""`ninjagrad kata check` end to end: every check here runs the learner's file in its own process.

Each catalogued mistake is planted in a workbook made from the reference solution by replacing one line,
and the checker must name the gradient and the mistake. Broken workbooks must give exit code 2 and the
learner's line, never a traceback of ninjagrad's internals.
"""

import json
import subprocess
import sys

import pytest

from ninjagrad.cli import main
from ninjagrad.kata.checker import MAX_OUTPUT_BYTES, check
from ninjagrad.kata.exercises import EXERCISES, get_exercise
from ninjagrad.kata.report import _wrapped, format_report
from ninjagrad.kata.workbook import BACKWARD_BEGIN, BACKWARD_END, render_workbook


def solved(name):
    return render_workbook(get_exercise(name), solved=True)


def planted(tmp_path, name, old, new):
    """The reference solution of exercise ``name`` with one line replaced."""
    text = solved(name)
    assert text.count(old) == 1, f"{old!r} must occur exactly once in the {name} solution"
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(old, new))
    return path


def with_backward(tmp_path, name, backward):
    """Exercise ``name``'s workbook with its backward section replaced by ``backward``."""
    lines = solved(name).splitlines(keepends=True)
    begin = lines.index(BACKWARD_BEGIN + "\n")
    end = lines.index(BACKWARD_END + "\n")
    path = tmp_path / f"{name}.py"
    path.write_text("".join(lines[: begin + 1]) + backward + "".join(lines[end:]))
    return path


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_shipped_solutions_pass(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(solved(name))
    result = check(path)
    assert result.status == "pass", result.first_wrong
    assert len(result.rows) == len(EXERCISES[name].gradients)
    if name in ("scalar", "atomic", "embedding"):
        assert all(row.comparison.exact for row in result.rows)  # written in the engine's own forms
    if len(result.rows) == 1:
        assert format_report(result).endswith(f"{result.rows[0].gradient.variable} is right (to rounding, "
                                              "not bit for bit). Well done.")  # fmt: skip


# The lecture's style, not the shipped solution's: other operand orders, a one-hot built in a helper, the
# first part of a gradient written before a line it does not need, a Python loop for the scatter-add.
LECTURE_STYLE = """\
dlogprobs = np.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1.0 / n
dprobs = (1.0 / probs) * dlogprobs
dcounts_sum_inv = (counts * dprobs).sum(1, keepdims=True)
dcounts = counts_sum_inv * dprobs
dcounts_sum = (-(counts_sum**-2)) * dcounts_sum_inv
dcounts += np.ones_like(counts) * dcounts_sum
dnorm_logits = counts * dcounts
dlogits = dnorm_logits.copy()
dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)
onehot = np.zeros_like(logits)
onehot[range(n), logits.argmax(1)] = 1.0
dlogits += onehot * dlogit_maxes
dh = dlogits @ W2.T
dW2 = h.T @ dlogits
db2 = dlogits.sum(0)
dhpreact = (1.0 - h**2) * dh
dbngain = (bnraw * dhpreact).sum(0, keepdims=True)
dbnbias = dhpreact.sum(0, keepdims=True)
dbnraw = bngain * dhpreact
dbndiff = bnvar_inv * dbnraw
dbnvar_inv = (bndiff * dbnraw).sum(0, keepdims=True)
dbnvar = (-0.5 * (bnvar + 1e-5) ** -1.5) * dbnvar_inv
dbndiff2 = (1.0 / (n - 1)) * np.ones_like(bndiff2) * dbnvar
dbndiff += (2 * bndiff) * dbndiff2
dhprebn = dbndiff.copy()
dbnmeani = (-dbndiff).sum(0, keepdims=True)
dhprebn += 1.0 / n * (np.ones_like(hprebn) * dbnmeani)
dembcat = dhprebn @ W1.T
dW1 = embcat.T @ dhprebn
db1 = dhprebn.sum(0)
demb = dembcat.reshape(emb.shape)
dC = np.zeros_like(C)
for k in range(Xb.shape[0]):
    for j in range(Xb.shape[1]):
        dC[Xb[k, j]] += demb[k, j]
"""


def test_a_fully_correct_workbook_in_another_style_passes_every_row(tmp_path):
    result = check(with_backward(tmp_path, "atomic", LECTURE_STYLE))
    assert result.status == "pass", result.first_wrong
    assert [row.gradient.name for row in result.rows] == [g.name for g in get_exercise("atomic").gradients]
    assert all(row.probe is None or row.probe.approximate for row in result.rows)


def test_the_scalar_kata_accepts_numbers_worked_out_by_hand(tmp_path):
    by_hand = "dL = 1.0\ndd = -2.0\ndf = 4.0\nde = -2.0\ndc = -2.0\nda = 6.0\ndb = -4.0\ndo = 1.0\n"
    by_hand += "dn = 0.5\ndbias = 0.5\ndx1w1x2w2 = 0.5\ndx1w1 = 0.5\ndx2w2 = 0.5\n"
    by_hand += "dx1 = -1.5\ndw1 = 1.0\ndx2 = 0.5\ndw2 = 0.0\n"
    assert check(with_backward(tmp_path, "scalar", by_hand)).status == "pass"


# One workbook per catalogued mistake: (exercise, line of the solution, the mistake, gradient, kind, words).
MISTAKES = [
    (
        "atomic",
        "dbnbias = dhpreact.sum(0, keepdims=True)",
        "dbnbias = dhpreact.sum(0)",
        "bnbias",
        "keepdim",
        "(64,) but bnbias has shape (1, 64)",
    ),
    ("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits", "b2", "missing_sum", "dimension 0"),
    (
        "embedding",
        "demb = dembcat.reshape(emb.shape)",
        "demb = dembcat",
        "emb",
        "reshape",
        "(32, 3, 10)",
    ),
    (
        "atomic",
        "dcounts += np.broadcast_to(dcounts_sum, counts.shape)",
        "dcounts = np.broadcast_to(dcounts_sum, counts.shape)",
        "counts",
        "missing_accumulation",
        "through probs",
    ),
    (
        "atomic",
        "dbnmeani = (-dbndiff).sum(0, keepdims=True)",
        "dbnmeani = dbndiff.sum(0, keepdims=True)",
        "bnmeani",
        "sign",
        "wrong sign",
    ),
    (
        "atomic",
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / n), bndiff2.shape).copy()",
        "bndiff2",
        "n_minus_1",
        "n - 1",
    ),
    ("cross_entropy", "dlogits /= n", "pass", "logits", "factor", "n times the right value"),
    ("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.sum(0, keepdims=True)", "b2", "keepdim", "without"),
    (
        "atomic",
        "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
        "dbndiff2 = dbnvar * (1 / (n - 1))",
        "bndiff2",
        "missing_broadcast",
        "stretch it to (32, 64)",
    ),
    (
        "atomic",
        "dcounts += np.broadcast_to(dcounts_sum, counts.shape)",
        "dcounts = dcounts_sum",
        "counts",
        "missing_accumulation",
        "through counts_sum alone",
    ),
    (
        "atomic",
        "dbndiff += dbndiff2 * (2 * bndiff**1)",
        "dbndiff += dbndiff2 * bndiff",
        "bndiff",
        "missing_factor",
        "through bndiff2 is 1/2",
    ),
    (
        "batchnorm",
        "- n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)",
        "- bnraw * (dhpreact * bnraw).sum(0)",
        "hprebn",
        "n_minus_1",
        "through bnvar is (n-1)/n",
    ),
    (
        "batchnorm",
        "n * dhpreact - dhpreact.sum(0) -",
        "n * dhpreact -",
        "hprebn",
        "missing_accumulation",
        "lacks the contribution through bnmean",
    ),
    ("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = 1 - h**2", "hpreact", "missing_upstream", "dh"),
    ("scalar", "da = b * de  #", "da = b  #", "a", "missing_upstream", "de"),
    ("scalar", "dc = dd\n", "dc = print(dd)\n", "c", "not_an_array", "dc is None, not a number"),
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "dprobs = dlogprobs / probs + 0j",
        "probs",
        "not_an_array",
        "complex",
    ),
    ("scalar", "dx1 = w1 * dx1w1  #", "dx1 = x1 * dx1w1  #", "x1", "own_factor", "x1 itself"),
    (
        "atomic",
        "dW2 = h.T @ dlogits",
        "dW2 = dlogits.T @ h",
        "W2",
        "transposed",
        "(27, 64) where W2 is (64, 27)",
    ),
    (
        "atomic",
        "dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes",
        "dlogits += (logits == logit_maxes) * dlogit_maxes",
        "logits",
        "ties",
        "every tied maximum",
    ),
    (
        "embedding",
        "np.add.at(dC, Xb, demb)",
        "for i in range(Xb.shape[0]):\n    for j in range(Xb.shape[1]):\n        dC[Xb[i, j]] = demb[i, j]",
        "C",
        "scatter_add",
        "scatter-add",
    ),
    ("atomic", "np.add.at(dC, Xb, demb)", "dC[Xb] = demb", "C", "scatter_add", "occurs several times"),
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "dprobs = dlogprobs / (probs - probs)",
        "probs",
        "nan_inf",
        "NaN",
    ),
    ("scalar", "dd = f * dL  #", "dd = -f * dL  #", "d", "sign", "wrong sign"),
    (
        "batchnorm",
        "dhprebn = (bngain * bnvar_inv / n) *",
        "dhprebn = (bngain * bnvar_inv) *",
        "hprebn",
        "factor",
        "n times the right value",
    ),
]


@pytest.mark.parametrize(("exercise", "old", "new", "gradient", "kind", "words"), MISTAKES)
def test_each_planted_mistake_is_found_and_named(tmp_path, exercise, old, new, gradient, kind, words):
    result = check(planted(tmp_path, exercise, old, new))
    assert result.status == "fail" and result.exit_code == 1
    first = result.first_wrong
    assert first.gradient.name == gradient
    assert first.diagnosis.kind == kind
    assert words in first.diagnosis.message
    assert sum(not row.ok for row in result.rows) == 1  # each line is judged on its own: no knock-on failures


def test_mistakes_hidden_by_the_real_data_are_found_by_the_probe(tmp_path):
    """dlogit_maxes and db1 are ~0 on the real batch: a flipped sign there, or a dlogits without the max
    path, pass the real comparison and fail the probe (random upstream gradients, tied maxima)."""
    path = planted(
        tmp_path,
        "atomic",
        "dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)",
        "dlogit_maxes = dnorm_logits.sum(1, keepdims=True)",
    )
    first = check(path).first_wrong
    # (on the real batch both are rounding noise around 0, which a flipped sign may or may not push past atol)
    assert first.gradient.name == "logit_maxes" and not first.probe.approximate
    assert first.diagnosis.kind == "sign"

    old = "dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes"
    first = check(planted(tmp_path, "atomic", old, "pass")).first_wrong
    assert first.gradient.name == "logits" and first.comparison.approximate
    assert first.diagnosis.kind == "missing_accumulation" and "through logit_maxes" in first.diagnosis.message

    first = check(planted(tmp_path, "atomic", "db1 = dhprebn.sum(0)", "db1 = np.zeros_like(b1)")).first_wrong
    assert first.gradient.name == "b1" and first.comparison.approximate and not first.probe.approximate
    assert "BatchNorm subtracts the batch mean" in first.diagnosis.message


def test_a_new_workbook_is_not_written_yet(tmp_path, capsys):
    path = tmp_path / "w.py"
    path.write_text(render_workbook(get_exercise("embedding")))
    assert main(["kata", "check", str(path)]) == 1
    out = capsys.readouterr().out
    line = path.read_text().splitlines().index("demb = ...  # TODO -> (32, 3, 10)") + 1
    assert f"demb is not written yet ({path}, line {line})" in out and "0 of 2 gradients right so far" in out


def test_the_report_shows_the_line_its_shapes_and_the_mistake(tmp_path, capsys):
    path = planted(tmp_path, "atomic", "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)", "x = 0\n"
                   "dcounts_sum_inv = (dprobs * counts).sum(1)")  # fmt: skip
    assert main(["kata", "check", str(path)]) == 1
    out = capsys.readouterr().out
    table, _, diagnosis = out.partition("dcounts_sum_inv is the first wrong gradient")
    assert "dprobs " in table and "dcounts " in table  # every row, in backward order
    assert "| wrong   <- first wrong" in next(
        line for line in table.splitlines() if "dcounts_sum_inv" in line
    )
    assert "| dcounts_sum_inv = (dprobs * counts).sum(1)" in diagnosis
    assert "dcounts_sum_inv  (32,) float32   <- yours" in diagnosis
    assert "dprobs           (32, 27) float32" in diagnosis
    assert "likely mistake (keepdim)" in diagnosis
    assert "25 of 26 gradients right" in diagnosis


def test_code_in_a_message_is_never_broken_across_lines():
    for shift in range(40):  # the span lands on every position around the line's end
        text = "ab " * 20 + "x" * shift + " then `dC[Xb] += demb` and `np.add.at(dC, Xb, demb)` here"
        wrapped = _wrapped(text, indent="  ")
        assert all(line.count("`") % 2 == 0 for line in wrapped.splitlines()), wrapped
        assert wrapped.replace("\n    ", " ").strip() == text


def test_hint_nudges_and_solution_shows_one_line(tmp_path, capsys):
    path = planted(tmp_path, "atomic", "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)",
                   "dcounts_sum = dcounts_sum_inv * counts_sum**-2")  # fmt: skip
    assert main(["kata", "check", str(path), "--hint"]) == 1
    out = capsys.readouterr().out
    assert "hint for dcounts_sum: counts_sum_inv = counts_sum**-1: the power rule" in out
    assert "-1 * counts_sum**-2" not in out  # a nudge, never the answer
    assert main(["kata", "check", str(path), "--solution", "dcounts_sum"]) == 1
    out = capsys.readouterr().out
    answer = out.split("solution for dcounts_sum (the reference solution's lines):\n")[1]
    assert answer.strip() == "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)"
    assert main(["kata", "check", str(path), "--solution", "nonsense"]) == 2
    assert "has no gradient 'nonsense'" in capsys.readouterr().err


def test_json_has_every_row_judged_on_its_own(tmp_path, capsys):
    path = planted(tmp_path, "atomic", "dprobs = dlogprobs / probs", "dprobs = 2 * dlogprobs / probs")
    assert main(["kata", "check", str(path), "--json", "--hint"]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "fail" and record["first_wrong"] == "dprobs"
    assert record["passed"] == 25 and record["total"] == 26 and len(record["rows"]) == 26
    row = record["rows"][1]
    assert row["name"] == "dprobs" and row["approximate"] is False and row["shape_ok"] is True
    assert row["diagnosis"]["kind"] == "factor" and row["maxdiff"] > 0
    assert row["lines"] == [path.read_text().splitlines().index("dprobs = 2 * dlogprobs / probs") + 1]
    assert record["rows"][2]["status"] == "right"  # dcounts_sum_inv was given the right dprobs
    assert {"name", "exact", "approximate", "maxdiff", "shape_ok", "probe", "shapes"} <= set(row)
    assert record["hint"].startswith("logprobs = log(probs)")


# Broken workbooks: (exercise, line of the solution, replacement, kind, the line to point at, words).
BROKEN = [
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "dprobs = dlogprobs / probs)",
        "syntax",
        "dprobs =",
        "SyntaxError",
    ),
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "dprobs = dlogprobs / probs[:, :3]",
        "exception",
        "dprobs =",
        "could not be broadcast together with shapes (32,27) (32,3)",
    ),
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "def f(x):\n    return x / probs[:2]\n\n\ndprobs = f(dlogprobs)",
        "exception",
        "    return x / probs[:2]",  # the innermost of the learner's lines, inside the learner's function
        "ValueError",
    ),
    (
        "atomic",
        "dprobs = dlogprobs / probs",
        "dprobs = dlogprobs / dcounts",
        "exception",
        "dprobs =",
        "dcounts is computed further down",
    ),
    ("atomic", "dprobs = dlogprobs / probs", "pass", "missing_variable", None, "never assigns dprobs"),
    (
        "atomic",
        "loss = -logprobs[np.arange(n), Yb].mean()  # ()  the cross-entropy",
        "",
        "missing_variable",
        None,
        "loss is not defined",
    ),
    ("atomic", "bndiff2 = bndiff**2  #", "bndiff2 = bndiff**3  #", "changed_forward", "bndiff2 =", "bndiff2"),
    ("scalar", "dd = f * dL  #", "import sys\nsys.exit(0)\ndd = f * dL  #", "exit", "sys.exit(0)", "exit()"),
    ("scalar", 'KATA = "scalar"', 'KATA = "nope"', "not_a_workbook", None, "no exercise 'nope'"),
    (
        "atomic",
        "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
        "dcounts_sum_inv = (dprobs * counts).sum(1, keepdim=True)",
        "exception",
        "dcounts_sum_inv =",
        "PyTorch's keepdim= is NumPy's keepdims=",
    ),
    ("scalar", "dd = f * dL  #", "raise KeyboardInterrupt\ndd = f * dL  #", "exception", "raise", "Keyboard"),
    ("scalar", "dd = f * dL  #", "import os\nos._exit(3)\ndd = f * dL  #", "crashed", None, "exit code 3"),
]


@pytest.mark.parametrize(("exercise", "old", "new", "kind", "start", "words"), BROKEN)
def test_a_broken_workbook_gives_exit_2_and_the_learners_line(
    tmp_path, exercise, old, new, kind, start, words
):
    path = planted(tmp_path, exercise, old, new)
    result = check(path)
    out = format_report(result)
    assert result.exit_code == 2
    assert result.broken.kind == kind and words in result.broken.message
    if start is None:
        assert result.broken.line is None
    else:
        lines = path.read_text().splitlines()
        line = next(i + 1 for i, text in enumerate(lines) if text.startswith(start))
        assert result.broken.line == line
        assert f"{path}, line {line}: the workbook cannot be checked" in out
        assert f"{line:>6} | {lines[line - 1]}" in out
    assert "Traceback" not in out and "ninjagrad/kata" not in out
    assert json.loads(json.dumps(result.as_dict()))["broken"]["kind"] == kind
    if kind in ("changed_forward", "missing_variable"):
        assert result.rows == ()  # gradients of other numbers are neither right nor wrong


def test_a_forward_pass_run_in_float64_is_still_the_exercises(tmp_path):
    """Only rounding differs (float32 vs float64); a changed line is caught by the BROKEN cases above."""
    path = planted(tmp_path, "atomic", "emb = C[Xb]  #", "C = C.astype(np.float64)\nemb = C[Xb]  #")
    result = check(path)
    assert result.status == "pass", result.broken


def test_an_endless_loop_is_stopped_at_its_line_and_what_it_printed_is_shown(tmp_path, capsys):
    # The loop on one line: the time limit finds it there, whichever instruction it is in.
    loop = "dbnraw = dhpreact * bngain\nprint('before the loop')\nwhile True: pass"
    folder = tmp_path / "my kata ü (1)"  # faulthandler writes the ü as \xfc: the line must still be found
    folder.mkdir()
    path = planted(folder, "atomic", "dbnraw = dhpreact * bngain", loop)
    assert main(["kata", "check", str(path), "--timeout", "1.5"]) == 2
    out = capsys.readouterr().out
    line = path.read_text().splitlines().index("while True: pass") + 1
    assert f"line {line}: the workbook cannot be checked (timeout)" in out
    assert "did not finish within 1.5 s" in out and f"{line:>6} | while True: pass" in out
    assert out.startswith("your file printed:\nbefore the loop\n")
    assert "Traceback" not in out


def test_a_thread_the_file_leaves_running_does_not_hold_the_check(tmp_path):
    sleeper = "import threading, time\nthreading.Thread(target=time.sleep, args=(1000,)).start()\ndL = 1.0"
    result = check(planted(tmp_path, "scalar", "dL = 1.0", sleeper), timeout=1)
    assert result.status == "pass", result.broken


def test_a_file_that_prints_a_lot_is_kept_to_a_few_kilobytes(tmp_path):
    """The output of a print in a loop must not pile up in the checker's memory (3.6 GB in 10 s, once)."""
    flood = "dL = 1.0\nfor _ in range(200):\n    print('x' * 100_000)"
    result = check(planted(tmp_path, "scalar", "dL = 1.0", flood))
    assert result.status == "pass"
    assert len(result.output) < 2 * MAX_OUTPUT_BYTES and "cut: only the first" in result.output
    report = format_report(result)
    assert len(report) < 5_000 and "characters)" in report  # the one long line shown, cut short


def test_what_the_learners_file_does_cannot_change_the_verdict(tmp_path):
    """The comparison happens in the checker's process: patching NumPy in the workbook changes nothing."""
    cheat = "np.allclose = np.array_equal = lambda *a, **k: True\nprint('patched')\n"
    cheat += "dprobs = 3 * dlogprobs / probs"
    path = planted(tmp_path, "atomic", "dprobs = dlogprobs / probs", cheat)
    result = check(path)
    assert result.first_wrong.gradient.name == "probs" and "patched" in result.output


def test_python_workbook_runs_the_check(tmp_path):
    path = tmp_path / "scalar.py"
    path.write_text(solved("scalar").replace("dc = dd\n", "dc = -dd\n"))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "dc is the first wrong gradient" in done.stdout and "likely mistake (sign)" in done.stdout


def test_an_unreadable_file_is_a_user_error(tmp_path, capsys):
    assert main(["kata", "check", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "latin1.py").write_bytes(b"KATA = '\xe9'\n")
    assert main(["kata", "check", str(tmp_path / "latin1.py")]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_a_kept_checker_reuses_a_spare_process_and_gives_the_same_verdicts(tmp_path):
    from ninjagrad.kata.checker import Checker

    right = tmp_path / "right.py"
    right.write_text(solved("atomic"))
    wrong = planted(tmp_path, "atomic", "dbnraw = dhpreact * bngain", "dbnraw = dhpreact")
    (tmp_path / "loop").mkdir()
    loop = planted(tmp_path / "loop", "atomic", "dbnraw = dhpreact * bngain", "dbnraw = 0\nwhile True: pass")
    checker = Checker()
    try:
        first = checker.check(right)
        spare = checker._spare
        assert spare is not None and spare.process.poll() is None  # waiting for the next request
        second = checker.check(wrong)
        assert spare.process.poll() is not None  # that spare ran the second check ...
        assert checker._spare is not spare  # ... and a new one waits
        timed_out = checker.check(loop, timeout=1.0)
        again = checker.check(right)  # a time-out leaves the checker usable
    finally:
        checker.close()
    assert spare.process.poll() is not None
    assert first.status == again.status == "pass"
    assert second.as_dict() == check(wrong).as_dict()
    assert second.first_wrong.gradient.name == "bnraw"
    assert timed_out.broken.kind == "timeout"
    assert checker._spare is None


def test_a_warmed_checker_runs_even_its_first_check_in_the_spare(tmp_path):
    from ninjagrad.kata.checker import Checker

    right = tmp_path / "right.py"
    right.write_text(solved("atomic"))
    checker = Checker()
    try:
        checker.warm()
        spare = checker._spare
        assert spare is not None and spare.process.poll() is None
        checker.warm()
        assert checker._spare is spare  # one spare at a time
        result = checker.check(right)
        assert spare.process.poll() is not None and checker._spare is not spare  # the first check used it
    finally:
        checker.close()
    assert result.status == "pass" and checker._spare is None


def test_a_workbook_saved_with_a_byte_order_mark_is_read_as_python_reads_it(tmp_path):
    # Windows Notepad saves UTF-8 with a BOM; `python FILE` ignores it, and so must the checker
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + solved("atomic").encode("utf-8"))
    result = check(path)
    assert result.broken is None and result.status == "pass"
    plain = planted(tmp_path, "atomic", "dbnraw = dhpreact * bngain", "dbnraw = dhpreact")
    marked = tmp_path / "marked.py"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    mine, theirs = check(marked).first_wrong, check(plain).first_wrong
    assert mine.gradient.name == theirs.gradient.name == "bnraw"
    assert mine.lines == theirs.lines and mine.diagnosis == theirs.diagnosis  # the same line numbers too
