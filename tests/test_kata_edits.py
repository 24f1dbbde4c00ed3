"""The edit search's shortcuts give what the edited code itself gives (kata/edits.py). No subprocess.

Each candidate edit is normally compiled and run; a swap of a name read once runs the reference's own code
with the name rebound, and a whole-gradient factor runs the reference's code then the scaling. These tests
run every edit of real reference lines both ways, and ``same`` against ``np.allclose``.
"""

import numpy as np
import pytest

from ninjagrad.kata.checker import build_reference
from ninjagrad.kata.edits import _compiled, edits, run_edit, same
from ninjagrad.kata.exercises import get_exercise


@pytest.fixture(scope="module")
def atomic():
    exercise = get_exercise("atomic")
    return exercise, build_reference(exercise, 0)


def _shapes(reference, gradient):
    namespace = reference.namespace()
    return {
        name: "int" if isinstance(value, (int, np.integer)) else np.shape(value)
        for name, value in namespace.items()
        if name in reference.scope(gradient) and isinstance(value, (np.ndarray, np.number, float, int))
    }


def _agree(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("name", ["dprobs", "dcounts", "dlogits", "dh", "dhpreact", "dbndiff", "dC"])
def test_every_shortcut_edit_gives_the_value_of_its_own_compiled_code(atomic, name):
    exercise, reference = atomic
    gradient = exercise.gradient(name)
    statements = [s.node for s in reference.solution.statements_of(gradient.name)]
    shapes = _shapes(reference, gradient)
    namespace = reference.namespace()
    before = {key: value.copy() for key, value in namespace.items() if isinstance(value, np.ndarray)}
    shortcuts = 0
    for edit in edits(statements, gradient.variable, shapes, gradient.target):
        edited = run_edit(edit, namespace, gradient.variable, _compiled(edit.statements))
        if edit.rebind is not None:
            shortcut = run_edit(edit, namespace, gradient.variable, _compiled(statements), rebound=True)
        elif edit.whole:
            code = (_compiled(statements), _compiled(edit.statements[-1:]))
            shortcut = run_edit(edit, namespace, gradient.variable, code)
        else:
            continue
        shortcuts += 1
        assert _agree(edited, shortcut), (edit.kind, edit.words, edit.changed)
    assert shortcuts >= 7  # the whole-gradient factors at least
    for key, value in before.items():  # no edit changed the reference's arrays
        assert np.array_equal(namespace[key], value), key


def test_a_swap_of_a_name_read_twice_is_compiled_not_rebound(atomic):
    exercise, reference = atomic
    gradient = exercise.gradient("dbnvar")  # dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5): bnvar once
    statements = [s.node for s in reference.solution.statements_of(gradient.name)]
    found = list(edits(statements, gradient.variable, _shapes(reference, gradient), gradient.target))
    assert any(edit.rebind and edit.rebind[0] == "bnvar" for edit in found)
    gradient = exercise.gradient("dcounts")  # dcounts = ...; dcounts += ...: dcounts is read and stored
    statements = [s.node for s in reference.solution.statements_of(gradient.name)]
    found = list(edits(statements, gradient.variable, _shapes(reference, gradient), gradient.target))
    assert not any(edit.rebind and gradient.variable in edit.rebind for edit in found)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_same_is_allclose_with_its_tolerances_on_finite_values(dtype):
    rng = np.random.default_rng(3)
    for _ in range(200):
        b = (rng.standard_normal((4, 5)) * 10.0 ** rng.integers(-3, 3)).astype(dtype)
        noise = rng.standard_normal((4, 5)) * 10.0 ** rng.integers(-9, -2)
        a = (b + noise).astype(dtype) if dtype not in (np.int64, np.bool_) else b.copy()
        if rng.random() < 0.3:
            a = a.astype(np.float64) * (1 + 1e-4 * rng.standard_normal())
        scale = max(float(np.abs(b).max()), 1e-30)
        assert same(a, b) == bool(np.allclose(a, b, rtol=1e-4, atol=1e-5 * scale))
    b = np.ones(3, np.float32)
    assert not same(np.array([1, np.nan, 1], np.float32), b)
    assert not same(b, np.array([1, np.inf, 1], np.float32))
    assert not same(np.ones(4, np.float32), b)
    assert same(np.zeros(0), np.zeros(0))
