"""`ninjagrad check`: the lecture's table of 26 atomic and 2 fused gradients against autograd."""

import dataclasses
import json
import re
import sys

import pytest

import ninjagrad.kata.exercises as exercises
from ninjagrad.cli import main


def run_cli(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def table_rows(out):
    return [line for line in out.splitlines() if re.match(r"^\S.* \| (True |False) \| ", line)]


def test_default_check_is_bit_exact_against_ninjagrad(capsys):
    code, out, err = run_cli(capsys)
    assert code == 0, out + err
    rows = table_rows(out)
    assert len(rows) == 28
    assert [row.split()[0] for row in rows[:3]] == ["logprobs", "probs", "counts_sum_inv"]
    assert all(" | True  | True        | 0.00e+00  | " in row for row in rows[:26])
    assert rows[26].startswith("logits (fused)") and rows[27].startswith("hprebn (fused)")
    assert "| (1, 64)" in next(row for row in rows if row.startswith("bnmeani"))
    assert "28/28 gradients pass" in out


def test_json_records(capsys):
    code, out, _ = run_cli(capsys, "--json")
    assert code == 0
    records = json.loads(out)
    assert len(records) == 28
    for record in records:
        assert {"name", "exact", "approximate", "maxdiff", "shape_ok"} <= set(record)
        assert record["passed"] is True
    assert all(record["exact"] and record["maxdiff"] == 0.0 for record in records[:26])
    fused = {record["name"]: record for record in records[26:]}
    assert fused["logits (fused)"]["approximate"] and 0 < fused["logits (fused)"]["maxdiff"] < 5e-8
    assert fused["hprebn (fused)"]["approximate"] and 0 < fused["hprebn (fused)"]["maxdiff"] < 1e-8


def test_seed_and_dtype_change_the_batch_not_the_verdict(capsys):
    _, first, _ = run_cli(capsys, "--json", "--seed", "1")
    _, second, _ = run_cli(capsys, "--json", "--seed", "2", "--dtype", "float64")
    a, b = json.loads(first), json.loads(second)
    assert all(record["exact"] for record in a[:26] + b[:26])
    assert a[26]["maxdiff"] != b[26]["maxdiff"]
    assert b[26]["maxdiff"] < 1e-15  # the fused formulas agree to float64 rounding


def test_against_torch(capsys):
    pytest.importorskip("torch")
    code, out, _ = run_cli(capsys, "--against", "torch")
    assert code == 0, out
    assert "vs torch" in out and "float64" in out
    assert len(table_rows(out)) == 28 and "28/28 gradients pass" in out


def test_against_torch_without_torch_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    code, out, err = run_cli(capsys, "--against", "torch")
    assert code == 2
    assert "needs PyTorch" in err and "Traceback" not in err


def test_a_wrong_gradient_fails_the_check(capsys, monkeypatch):
    # The classic mistake: dbnmeani of shape (64,) where (1, 64) is right. The values broadcast to the
    # right numbers, so only the shape check catches it, and every row must be held to it.
    atomic = exercises.get_exercise("atomic")
    line = "dbnmeani = (-dbndiff).sum(0, keepdims=True)"
    assert atomic.source.count(line) == 1
    sloppy = dataclasses.replace(atomic, source=atomic.source.replace(line, "dbnmeani = (-dbndiff).sum(0)"))
    monkeypatch.setitem(exercises.EXERCISES, "atomic", sloppy)
    code, out, _ = run_cli(capsys)
    assert code == 1
    row = next(row for row in table_rows(out) if row.startswith("bnmeani"))
    assert "False | False" in row and "(64,) != reference (1, 64)" in row
    assert "27/28 gradients pass; FAILED: bnmeani" in out
