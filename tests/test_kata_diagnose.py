"""The catalogue of mistakes, detector by detector, on small arrays built for each case. No subprocess.

(tests/test_kata_check.py plants each mistake in a real workbook and checks it end to end.)
"""

import numpy as np
import pytest

from ninjagrad.kata.diagnose import Context, Contribution, diagnose
from ninjagrad.kata.exercises import Gradient

rng = np.random.default_rng(0)


def context(name="x", **kwargs):
    gradient = Gradient(
        name, "hint", ties_in=kwargs.pop("ties_in", None), scatter=kwargs.pop("scatter", None)
    )
    return Context(gradient, kwargs.pop("namespace", {}), constants={"n": 32}, **kwargs)


def kind(mine, ref, ctx=None):
    return diagnose(np.asarray(mine), np.asarray(ref), ctx or context()).kind


def test_a_dropped_keepdim_is_named_even_though_the_shapes_broadcast():
    ref = rng.standard_normal((1, 64))
    assert kind(ref.reshape(64), ref) == "keepdim"
    ref = rng.standard_normal((32, 1))
    assert kind(ref.reshape(32), ref) == "keepdim"


def test_a_kept_dimension_the_variable_lacks_is_told_to_go_not_to_stay():
    ref = rng.standard_normal(27)  # db2: b2 is (27,)
    found = diagnose(ref.reshape(1, 27), ref, context("b2"))
    assert found.kind == "keepdim" and "sum without `keepdims=True`" in found.message
    assert "Keep it" not in found.message
    found = diagnose(ref.reshape(27), ref.reshape(1, 27), context("bnbias"))
    assert "Keep it (`.sum(..., keepdims=True)`)" in found.message
    assert kind(ref.reshape(27, 1), ref.reshape(1, 27)) == "reshape"  # no dimension dropped or kept


def test_a_sums_gradient_left_unstretched_is_a_missing_broadcast():
    column = rng.standard_normal((1, 64))  # dbndiff2 = 1/(n-1) * dbnvar, without the (32, 64) stretch
    found = diagnose(column, np.broadcast_to(column, (32, 64)), context("bndiff2"))
    assert found.kind == "missing_broadcast" and "stretch it to (32, 64)" in found.message


def test_right_numbers_in_another_shape_need_a_reshape():
    ref = rng.standard_normal((32, 3, 10))
    assert kind(ref.reshape(32, 30), ref) == "reshape"


def test_a_missing_sum_over_a_broadcast_dimension():
    upstream = rng.standard_normal((32, 27))
    assert kind(upstream, upstream.sum(0)) == "missing_sum"  # db2 = dlogits
    assert kind(upstream, upstream.sum(0, keepdims=True)) == "missing_sum"  # dbnbias = dhpreact
    message = diagnose(upstream, upstream.sum(0), context("b2")).message
    assert "dimension 0" in message and "32 times" in message


def test_a_transposed_matrix_gradient():
    ref = rng.standard_normal((64, 27))
    assert kind(ref.T, ref) == "transposed"
    square = rng.standard_normal((5, 5))
    assert kind(square.T, square) == "transposed"


def test_any_other_shape_is_a_wrong_shape():
    assert kind(rng.standard_normal((1, 27)), rng.standard_normal((32, 1))) == "wrong_shape"
    assert kind(rng.standard_normal((3,)), rng.standard_normal((4,))) == "wrong_shape"


def test_one_path_alone_is_a_missing_accumulation():
    a, b = rng.standard_normal((32, 27)), rng.standard_normal((32, 1))
    ctx = context("counts", contributions=(Contribution("probs", a), Contribution("counts_sum", b)))
    assert kind(a, a + b, ctx) == "missing_accumulation"
    found = diagnose(np.broadcast_to(b, (32, 27)), a + b, ctx)  # the second `=` overwrote the first
    assert found.kind == "missing_accumulation" and "add the one through probs" in found.message


def test_one_path_written_with_a_second_equals_before_it_was_stretched():
    a, b = rng.standard_normal((32, 27)), rng.standard_normal((32, 1))
    ctx = context("counts", contributions=(Contribution("probs", a), Contribution("counts_sum", b)))
    found = diagnose(b, a + b, ctx)  # dcounts = dcounts_sum: (32, 1), and the probs path lost
    assert found.kind == "missing_accumulation" and "through counts_sum alone" in found.message


def test_one_path_off_by_a_named_factor_a_sign_or_missing():
    a, b = rng.standard_normal((32, 64)), rng.standard_normal((32, 64))
    ctx = context("bndiff", contributions=(Contribution("bnraw", a), Contribution("bndiff2", b)))
    found = diagnose(a + b / 2, a + b, ctx)  # the 2 of d(x**2)/dx forgotten on one path
    assert found.kind == "factor" and "through bndiff2 is 1/2 = 0.5 times" in found.message
    assert "the other is right" in found.message
    assert kind(a - b, a + b, ctx) == "sign"
    c = rng.standard_normal((32, 64))
    three = context(
        "hprebn", contributions=(Contribution("x", a), Contribution("bnmean", b), Contribution("bnvar", c))
    )
    found = diagnose(a + b + 31 / 32 * c, a + b + c, three)  # the variance with 1/n, not 1/(n-1)
    assert found.kind == "factor" and "through bnvar is (n-1)/n" in found.message
    found = diagnose(a + c, a + b + c, three)
    assert found.kind == "missing_accumulation" and "lacks the contribution through bnmean" in found.message


def test_the_local_derivative_alone_misses_the_upstream_gradient():
    h, dh = rng.uniform(-1, 1, (32, 64)), rng.standard_normal((32, 64))
    ctx = context("hpreact", namespace={"dh": dh, "h": h}, upstream=("dh",))
    found = diagnose(1 - h**2, (1 - h**2) * dh, ctx)  # dhpreact = 1 - h**2
    assert found.kind == "missing_upstream" and "dh" in found.message
    ctx = context("a", namespace={"de": np.float64(-2.0)}, upstream=("de",))
    assert kind(-3.0, 6.0, ctx) == "missing_upstream"  # the scalar kata: da = b, de forgotten


def test_the_variables_own_value_where_the_other_factor_belongs():
    ctx = context("x1", namespace={"x1": 2.0, "w1": -3.0, "dx1w1": np.float64(0.5)}, upstream=("dx1w1",))
    found = diagnose(np.float64(1.0), np.float64(-1.5), ctx)  # dx1 = x1 * dx1w1
    assert found.kind == "own_factor" and "x1 itself times dx1w1" in found.message


def test_the_own_value_is_not_tried_against_an_upstream_of_another_shape():
    W2, dlogits = rng.standard_normal((64, 27)), rng.standard_normal((32, 27))
    ctx = context("W2", namespace={"W2": W2, "dlogits": dlogits}, upstream=("dlogits",))
    assert kind(rng.standard_normal((64, 27)), W2, ctx) == "wrong_values"  # and no broadcasting error


def test_a_single_number_gets_no_factor_it_would_be_a_coincidence_and_the_answer():
    found = diagnose(np.float64(4.0), np.float64(-2.0), context("d"))  # dd = d where f * dL = -2
    assert found.kind == "wrong_values" and "-2" not in found.message


def test_a_flipped_sign():
    ref = rng.standard_normal((32, 27))
    assert kind(-ref, ref) == "sign"
    assert kind(-2.0, 2.0) == "sign"


@pytest.mark.parametrize(
    ("factor", "label"),
    [
        (32.0, "n = 32"),
        (1 / 32, "1/n"),
        (31 / 32, "(n-1)/n"),
        (32 / 31, "n/(n-1)"),
        (2.0, "is 2 times"),
        (-0.5, "-1/2"),
    ],
)
def test_a_named_constant_factor(factor, label):
    ref = rng.standard_normal((32, 64)).astype(np.float32)
    found = diagnose((factor * ref).astype(np.float32), ref, context())
    assert found.kind == "factor" and label in found.message


def test_an_unnamed_constant_factor_is_still_a_factor_but_not_for_a_single_number():
    ref = rng.standard_normal((4, 4))
    found = diagnose(1.7 * ref, ref, context())
    assert found.kind == "factor" and "1.7" in found.message
    assert kind(1.7 * 3.0, 3.0) == "wrong_values"  # any two numbers differ by some factor


def test_a_gradient_sent_to_every_tied_maximum():
    x = rng.standard_normal((6, 5))
    x[::2, 3] = x[::2].max(1)  # ties in rows 0, 2, 4
    upstream = rng.standard_normal((6, 1))
    maxima = (x == x.max(1, keepdims=True)).astype(float)
    first = np.eye(5)[x.argmax(1)]
    ctx = context("logits", ties_in="x", namespace={"x": x})
    assert kind(maxima * upstream, first * upstream, ctx) == "ties"
    wrong_elsewhere = maxima * upstream
    wrong_elsewhere[1, 0] += 1.0  # a row without a tie is wrong too: not (only) a tie mistake
    assert kind(wrong_elsewhere, first * upstream, ctx) != "ties"


def test_an_embedding_gradient_that_loses_repeated_indices():
    Xb = np.array([[0, 1, 1], [2, 0, 3]])
    demb = rng.standard_normal((2, 3, 4))
    right = np.zeros((5, 4))
    np.add.at(right, Xb, demb)
    lost = np.zeros((5, 4))
    lost[Xb] += demb  # buffered: the last of each repeated index wins
    ctx = context("C", scatter=("Xb", "demb"), namespace={"Xb": Xb})
    found = diagnose(lost, right, ctx)
    assert found.kind == "scatter_add" and "row 0" in found.message and "2 times" in found.message


def test_nan_and_inf_are_named_first():
    ref = rng.standard_normal((3, 3))
    mine = ref.copy()
    mine[1, 2] = np.inf
    mine[0, 0] = np.nan
    found = diagnose(mine, ref, context())
    assert found.kind == "nan_inf" and "1 NaN and 1 infinite" in found.message and "(0, 0)" in found.message


def test_anything_else_is_wrong_values_and_does_not_reveal_the_answer():
    ref = np.array([0.25, -1.5, 3.0])
    mine = np.array([0.25, 7.0, 3.0])
    found = diagnose(mine, ref, context())
    assert found.kind == "wrong_values" and "1 of its 3 entries" in found.message and "(1,)" in found.message
    assert "-1.5" not in found.message
    assert "0.25" in diagnose(np.float64(0.25), np.float64(-1.5), context()).message  # yours, not the answer


def test_an_all_zero_gradient_is_called_that_not_a_factor_of_zero():
    found = diagnose(np.zeros((2, 3)), rng.standard_normal((2, 3)), context())
    assert found.kind == "wrong_values" and "zero everywhere" in found.message


def test_detectors_do_not_fire_on_unrelated_mistakes():
    ref = rng.standard_normal((32, 27))
    noise = ref + rng.standard_normal((32, 27))
    ctx = context(
        "logits",
        ties_in="x",
        scatter=None,
        namespace={"x": rng.standard_normal((32, 27))},
        contributions=(Contribution("a", ref / 2), Contribution("b", ref / 2)),
    )
    assert kind(noise, ref, ctx) == "wrong_values"


def test_a_correction_meant_for_each_rows_target_done_to_every_entry():
    n, vocab = 32, 27
    probs = rng.dirichlet(np.ones(vocab), size=n)  # (n, vocab)
    Yb = rng.integers(0, vocab, n)
    dlogits = probs.copy()
    dlogits[np.arange(n), Yb] -= 1
    dlogits /= n  # the reference
    ctx = context("logits", namespace={"probs": probs, "Yb": Yb})
    for mine in ((probs - 1) / n, probs / n - 1 / n):  # the one-hot left out, in two spellings
        found = diagnose(mine, dlogits, ctx)
        assert found.kind == "missing_one_hot", found
        assert "each row's Yb" in found.message and "(-1/n)" in found.message
    found = diagnose(probs - 1, dlogits * n, context("logits", namespace={}))  # no name for the columns
    assert found.kind == "missing_one_hot" and "one entry of each row" in found.message
    # not for a mistake that is right at one entry per row but off by varying amounts elsewhere
    wrong = dlogits + rng.uniform(0.1, 1, (n, vocab)) * (np.arange(vocab) != Yb[:, None])
    assert diagnose(wrong, dlogits, ctx).kind != "missing_one_hot"
    # nor for a right value at two entries of a row
    shifted = dlogits - 0.5
    shifted[0, (Yb[0] + 1) % vocab] = dlogits[0, (Yb[0] + 1) % vocab]
    shifted[np.arange(n), Yb] = dlogits[np.arange(n), Yb]
    assert diagnose(shifted, dlogits, ctx).kind != "missing_one_hot"
