"""Why a gradient is wrong: the edit search (``kata.edits``), a catalogue of detectors, the parsed line.

:func:`diagnose` names the one-step edit of the reference lines that reproduces the learner's value on every
data set; the catalogue's detectors (a shape kept or dropped, the scatter-add, tied maxima, a path of a sum)
say more where they apply, and each must hold on every data set too. When neither names it, the learner's
own line is taken apart (``kata.parts``) to name its wrong factor or term. The README's kata section explains.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ninjagrad.check import ALLCLOSE_ATOL, ALLCLOSE_RTOL
from ninjagrad.kata.exercise import Gradient


@dataclass(frozen=True)
class Diagnosis:
    """The likely mistake behind a wrong gradient, and what to do about it."""

    kind: str  # a stable name: "keepdim", "sign", "factor", ... (see CATALOGUE)
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class Contribution:
    """One term of a gradient that sums several paths (``dcounts = a`` then ``dcounts += b``)."""

    path: str  # the variable the contribution comes through ("probs")
    value: np.ndarray


@dataclass(frozen=True)
class Context:
    """What a detector may look at besides the two arrays."""

    gradient: Gradient
    namespace: Mapping[str, Any]  # forward variables and the upstream gradients the line was given
    contributions: tuple[Contribution, ...] = ()  # the reference solution's terms, when there are several
    constants: Mapping[str, float] = field(default_factory=dict)  # {"n": 32} where a batch size applies
    upstream: tuple[str, ...] = ()  # the gradients from above that the reference line multiplies ("dh")
    solution: Any = None  # the reference solution (a Workbook), whose lines the edit search mutates
    scope: frozenset[str] | None = None  # the names a line for this gradient may use
    # the learner's workbook (parsed, never run here), whose lines the parsed search reads
    learner: Any = None


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """``check.compare``'s "approximate" criterion (PyTorch's allclose defaults), for same-shaped arrays."""
    return bool(np.allclose(a, b, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL))


def _shape(array: np.ndarray) -> str:
    return str(tuple(array.shape))


# ---- values that are not numbers -------------------------------------------------------------------------


def nan_or_inf(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    bad = ~np.isfinite(mine)
    if not bad.any() or not np.isfinite(ref).all():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    nans, infs = int(np.isnan(mine).sum()), int(np.isinf(mine).sum())
    return Diagnosis(
        "nan_inf",
        f"{ctx.gradient.variable} has {nans} NaN and {infs} infinite entries (the first at index {where}), "
        "where the right gradient is finite everywhere: look for a division by something that can be 0, or "
        "an overflow, on this line.",
    )


# ---- wrong shape ------------------------------------------------------------------------------------------


def missing_keepdim(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if mine.ndim == ref.ndim or mine.size != ref.size or _squeezed(mine.shape) != _squeezed(ref.shape):
        return None  # (the same number of dimensions in another order: a reshape or a transpose)
    if not _close(mine.reshape(ref.shape), ref):
        return None
    g = ctx.gradient
    if mine.ndim > ref.ndim:  # the sum kept a dimension the variable does not have (db2 from a (27,) b2)
        fix = f"{g.name} has no such dimension: sum without `keepdims=True` (or reshape to {_shape(ref)})"
    else:
        fix = "a summed dimension was dropped. Keep it (`.sum(..., keepdims=True)`)"
    return Diagnosis(
        "keepdim",
        f"{g.variable} has shape {_shape(mine)} but {g.name} has shape {_shape(ref)}: the values are right, "
        f"but {fix}. Broadcasting hides this: {_shape(mine)} and {_shape(ref)} combine without an error, "
        "into the wrong shape, further down.",
    )


def needs_reshape(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if mine.shape == ref.shape or mine.size != ref.size or not _close(mine.reshape(ref.shape), ref):
        return None
    g = ctx.gradient
    return Diagnosis(
        "reshape",
        f"{g.variable} holds the right numbers in the wrong shape {_shape(mine)}: give it {g.name}'s shape "
        f"{_shape(ref)} (a reshape of the gradient undoes a reshape of the forward pass).",
    )


def transposed(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """The right gradient with its last two axes swapped (a matrix, or a batch of them)."""
    if mine.ndim < 2 or mine.shape != ref.shape[:-2] + ref.shape[-1:-3:-1]:
        return None
    if not _close(mine.swapaxes(-1, -2), ref):
        return None
    if mine.shape == ref.shape and _close(mine, ref):
        return None
    g = ctx.gradient
    return Diagnosis(
        "transposed",
        f"{g.variable} is the transpose of the right gradient ({_shape(mine)} where {g.name} is "
        f"{_shape(ref)}). In a matrix product's backward the shapes fix the order: the result must have "
        f"{g.name}'s shape, so swap the two factors (and which of them is transposed).",
    )


def missing_broadcast(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """The gradient of a sum (or of a stretched value) left unstretched: right numbers, too few of them."""
    if mine.shape == ref.shape or not _broadcasts_to(mine.shape, ref.shape):
        return None
    if not _close(np.broadcast_to(mine, ref.shape), ref):
        return None
    g = ctx.gradient
    return Diagnosis(
        "missing_broadcast",
        f"{g.variable} has shape {_shape(mine)} but {g.name} has shape {_shape(ref)}: the numbers are right, "
        f"but a gradient has its variable's full shape. Where the forward pass summed {g.name}, every entry "
        f"of the sum gets the sum's gradient: stretch it to {_shape(ref)} (`np.broadcast_to`, or a product "
        f"with `np.ones_like({g.name})`).",
    )


def missing_sum(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if mine.shape == ref.shape or not _broadcasts_to(ref.shape, mine.shape):
        return None
    from ninjagrad.tensors.broadcast import unbroadcast  # on first use: kata check starts its runner sooner

    if not _close(np.reshape(unbroadcast(mine, ref.shape), ref.shape), ref):
        return None
    g = ctx.gradient
    leading = mine.ndim - ref.ndim
    axes = list(range(leading)) + [
        leading + i for i, size in enumerate(ref.shape) if size == 1 != mine.shape[leading + i]
    ]
    return Diagnosis(
        "missing_sum",
        f"{g.variable} has shape {_shape(mine)} but {g.name} has shape {_shape(ref)}: {g.name} was broadcast "
        f"along dimension {_listed(axes)} in the forward pass, so each of its entries was used "
        f"{int(mine.size // ref.size)} times, and its gradient sums over that dimension "
        "(keeping the dimensions the variable has).",
    )


def wrong_shape(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if mine.shape == ref.shape:
        return None
    g = ctx.gradient
    hidden = (
        " (broadcasting lets the two combine without an error, so it goes unnoticed)"
        if _compatible(mine, ref)
        else ""
    )
    return Diagnosis(
        "wrong_shape",
        f"{g.variable} has shape {_shape(mine)} but {g.name} has shape {_shape(ref)}{hidden}: a gradient "
        "always has exactly the shape of its variable. Check which dimension each sum runs over.",
    )


# ---- right shape, wrong values ---------------------------------------------------------------------------


def missing_accumulation(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """One path's contribution alone, even one that has not been stretched to the variable's shape yet
    (``dcounts = dcounts_sum``, the (n, 1) second term, written with `=`)."""
    if not _broadcasts_to(mine.shape, ref.shape):
        return None
    mine = np.broadcast_to(mine, ref.shape)
    paths = [c.path for c in ctx.contributions]
    for contribution in ctx.contributions:
        term = np.broadcast_to(contribution.value, ref.shape)
        if _close(mine, term) and not _close(term, ref):
            g = ctx.gradient
            others = [p for p in paths if p != contribution.path]
            ones = "the one" if len(others) == 1 else "the ones"
            how = (
                ""
                if g.paths
                else f" (`{g.variable} += ...`; a second `=` throws the first contribution away)"
            )
            return Diagnosis(
                "missing_accumulation",
                f"{g.variable} equals the contribution through {contribution.path} alone. {g.name} is used "
                f"in {len(paths)} places ({_listed(paths)}), so its gradient is the sum of the contributions "
                f"of all of them: add {ones} through {_listed(others)}{how}.",
            )
    return None


def sign_flipped(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if not _close(mine, -ref) or _close(mine, ref):
        return None
    return Diagnosis(
        "sign",
        f"{ctx.gradient.variable} has the right size but the wrong sign everywhere: look for a minus sign "
        "in the forward line (a subtraction, a negative power, the loss's leading minus) that the backward "
        "lost or doubled.",
    )


def tied_maxima(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if ctx.gradient.ties_in is None or mine.ndim != 2:
        return None
    x = np.asarray(ctx.namespace[ctx.gradient.ties_in])
    maxima = x == x.max(1, keepdims=True)  # every position holding its row's maximum
    tied_rows = maxima.sum(1) > 1
    wrong = ~np.isclose(mine, ref, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL)
    if not wrong.any() or (wrong & ~(maxima & tied_rows[:, None])).any():
        return None
    name = ctx.gradient.ties_in
    return Diagnosis(
        "ties",
        f"{ctx.gradient.variable} is wrong only where a row of {name} has two equal maxima "
        f"({int(tied_rows.sum())} such rows): the max's gradient went to every tied maximum (or to another "
        f"one). Autograd, like PyTorch's max(dim), picks one position per row, the first maximum (argmax), "
        "and sends the whole gradient there.",
    )


def lost_repeated_indices(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    if ctx.gradient.scatter is None or mine.ndim < 1:
        return None
    index_name, _ = ctx.gradient.scatter
    indices = np.asarray(ctx.namespace[index_name]).ravel()
    uses = np.bincount(indices, minlength=ref.shape[0])
    wrong_rows = ~np.isclose(mine, ref, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL).reshape(ref.shape[0], -1).all(
        1
    )
    if not wrong_rows.any() or (uses[wrong_rows] < 2).any():
        return None
    row = int(np.flatnonzero(wrong_rows)[0])
    g = ctx.gradient
    return Diagnosis(
        "scatter_add",
        f"{g.variable} is wrong only in rows whose index occurs several times in {index_name} (row {row} "
        f"is used {int(uses[row])} times): the repeated indices' gradients were not added up. Both an "
        f"indexed `{g.variable}[{index_name}] += ...` (NumPy applies only one of the repeats) and `=` in a "
        "loop keep just one of them; the gradient of a lookup is a scatter-add, where every occurrence "
        "adds its share.",
    )


def missing_one_hot(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """Right at one entry of each row and off by one same amount everywhere else: what belongs at one
    position per row (the cross-entropy's ``-1`` at each target) was done to every entry."""
    if mine.ndim != 2 or mine.shape[1] < 3:
        return None
    diff = mine - ref  # (rows, columns)
    right = np.isclose(diff, 0, rtol=0, atol=ALLCLOSE_ATOL + ALLCLOSE_RTOL * np.abs(ref))
    if not (right.sum(1) == 1).all():
        return None
    off = diff[~right]
    shift = float(np.median(off))
    if shift == 0 or not np.allclose(off, shift, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL):
        return None
    columns = right.argmax(1)  # (rows,)  the one right entry of each row
    named = [
        name
        for name, value in ctx.namespace.items()
        if isinstance(value, np.ndarray) and value.shape == columns.shape and (value == columns).all()
    ]
    where = f"at each row's {named[0]}" if named else "at one entry of each row"
    label = _named_factor(shift, ctx.constants)
    amount = label[0] if label is not None else f"{shift:.6g}"
    g = ctx.gradient
    return Diagnosis(
        "missing_one_hot",
        f"{g.variable} is right {where} and off by the same amount ({amount}) at every other entry: "
        "what belongs only at that one position per row (a one-hot) was done to every entry.",
    )


def constant_factor(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """The right gradient times a constant. Not for a single number: any two numbers differ by some factor,
    so a named one (2, 1/n) would be a coincidence passed off as a diagnosis, and it would give the answer."""
    if mine.size == 1:
        return None
    k = _factor(mine, ref)
    if k is None:
        return None
    g = ctx.gradient
    named = _named_factor(k, ctx.constants)
    if named is not None:
        label, value, reason = named
        return Diagnosis("factor", f"{g.variable} is {_times(label, value)} the right gradient: {reason}.")
    return Diagnosis(
        "factor",
        f"{g.variable} is the right gradient times a constant, about {k:.6g}: a constant in the forward line "
        "(a 1/n, an exponent, a 2) is missing, extra or wrong.",
    )


def wrong_path(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """A gradient that sums several paths, right on all but one, and that one missing, or off by its sign
    or a named factor (``dbndiff += bndiff * dbndiff2`` without the 2; the fused BatchNorm with 1/n where
    the variance has 1/(n-1))."""
    if mine.size == 1:
        return None
    paths = [c.path for c in ctx.contributions]
    g = ctx.gradient
    for contribution in ctx.contributions:
        term = np.broadcast_to(contribution.value, ref.shape)
        if _close(term, np.zeros_like(term)):
            continue
        k = _factor(mine - (ref - term), term, allow_zero=True)  # what this path contributes in `mine`
        if k is None:
            continue
        where = f"{g.name} is used in {len(paths)} places ({_listed(paths)})"
        others_right = "the other is right" if len(paths) == 2 else "the others are right"
        if abs(k) < 1e-4:
            return Diagnosis(
                "missing_accumulation",
                f"{g.variable} lacks the contribution through {contribution.path}: {where}, and its gradient "
                "is the sum of the contributions of all of them.",
            )
        if abs(k + 1) < 1e-3:
            return Diagnosis(
                "sign",
                f"{g.variable}'s contribution through {contribution.path} has the wrong sign ({where}; "
                f"{others_right}): look for a minus sign on that path that was lost or doubled.",
            )
        named = _named_factor(k, ctx.constants)
        if named is not None:
            label, value, reason = named
            return Diagnosis(
                "factor",
                f"{g.variable}'s contribution through {contribution.path} is {_times(label, value)} what it "
                f"should be ({where}; {others_right}): {reason}.",
            )
    return None


def missing_upstream(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """The local derivative alone: the chain rule's product with the gradient from above was forgotten."""
    g = ctx.gradient
    for name in ctx.upstream:
        upstream = np.asarray(ctx.namespace[name])
        if not _broadcasts_to(upstream.shape, ref.shape):
            continue
        if _close(mine * upstream, ref):  # and mine alone is not: it is wrong
            return Diagnosis(
                "missing_upstream",
                f"{g.variable} is the local derivative alone. The chain rule multiplies it by the gradient "
                f"that has already reached the line's output from above, {name}.",
            )
    return None


def own_factor(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis | None:
    """The variable's own value where the other factor of a product belongs (``dx1 = x1 * dx1w1``)."""
    g = ctx.gradient
    own = ctx.namespace.get(g.name)
    if own is None:
        return None
    for name in ctx.upstream:
        upstream = np.asarray(ctx.namespace[name])
        if not (_broadcasts_to(np.shape(own), ref.shape) and _broadcasts_to(upstream.shape, ref.shape)):
            continue
        guess = np.asarray(own) * upstream
        if _close(mine, guess) and not _close(guess, ref):
            return Diagnosis(
                "own_factor",
                f"{g.variable} is {g.name} itself times {name}. If {g.name} is one factor of a product, the "
                "product's local derivative with respect to it is the other factor, not itself.",
            )
    return None


def wrong_values(mine: np.ndarray, ref: np.ndarray, ctx: Context) -> Diagnosis:
    """The catch-all: say how much is wrong and where, without giving the answer away."""
    wrong = ~np.isclose(mine, ref, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL)
    g = ctx.gradient
    if mine.ndim == 0:
        return Diagnosis(
            "wrong_values",
            f"{g.variable} = {mine.item():.6g} is not the derivative: check the local derivative of the line "
            f"that uses {g.name}, and that you multiplied it by the gradient arriving from above.",
        )
    if not mine.any():
        return Diagnosis(
            "wrong_values",
            f"{g.variable} is zero everywhere, and the right gradient is not: some gradient flows back to "
            f"{g.name} from each line that uses it.",
        )
    where = tuple(int(i) for i in np.argwhere(wrong)[0])
    return Diagnosis(
        "wrong_values",
        f"{g.variable} has the right shape but {int(wrong.sum())} of its {mine.size} entries are wrong (the "
        f"first at index {where}). None of the usual mistakes fits exactly: recheck the local derivative of "
        f"every forward line that uses {g.name}.",
    )


# The detectors, most specific first. Those about shape run only when the shapes differ, the others only when
# they agree; `wrong_shape` and `wrong_values` always answer.
Detector = Callable[[np.ndarray, np.ndarray, Context], "Diagnosis | None"]
SHAPE_DETECTORS: tuple[Detector, ...] = (
    missing_keepdim,
    needs_reshape,
    transposed,
    missing_accumulation,
    missing_broadcast,
    missing_sum,
    wrong_shape,
)
VALUE_DETECTORS: tuple[Detector, ...] = (
    missing_accumulation,
    sign_flipped,
    transposed,
    tied_maxima,
    lost_repeated_indices,
    missing_one_hot,
    constant_factor,
    wrong_path,
    missing_upstream,
    own_factor,
    wrong_values,
)


# Catalogue detectors, and the edit kinds each of them can say more about
RICHER = (
    (missing_keepdim, {"keepdim"}),
    (missing_sum, {"missing_sum"}),
    (missing_broadcast, {"missing_broadcast"}),
    (transposed, {"transposed"}),
    (missing_accumulation, {"missing_accumulation", "missing_term"}),
    (wrong_path, {"missing_accumulation", "missing_term", "sign", "n_minus_1", "missing_factor", "factor"}),
    (own_factor, {"swap"}),
    (sign_flipped, {"sign"}),
)


def diagnose(mine: np.ndarray, ref: np.ndarray, ctx: Context, others=()) -> Diagnosis:
    """The most likely mistake behind ``mine`` (which fails against ``ref``).

    ``others`` are ``(mine, ref, ctx)`` on the further data sets: a named mistake must explain them too,
    so a coincidence on one data set (a constant that equals another factor's value) names nothing.
    """
    runs = [(mine, ref, ctx), *others]
    found = nan_or_inf(mine, ref, ctx)
    if found is not None:
        return found
    for detector in (tied_maxima, lost_repeated_indices):
        found = detector(mine, ref, ctx) if mine.shape == ref.shape else None
        if found is not None:
            return found
    searched, in_your_terms = _searched(runs)
    if searched is not None and in_your_terms:
        return _richer(searched, runs) or searched
    parsed = _parsed(runs)  # the learner's own line, parsed: which part of it is wrong
    if searched is not None:  # an edit that fits the value, though not the names the learner wrote
        return parsed or _richer(searched, runs) or searched
    detectors = SHAPE_DETECTORS if mine.shape != ref.shape else VALUE_DETECTORS
    for detector in detectors:
        found = detector(mine, ref, ctx)
        if found is not None and _holds(detector, found, runs[1:]):
            return parsed if parsed is not None and _says_less(detector, mine, ref, ctx) else found
    return parsed or wrong_values(mine, ref, ctx)


def _says_less(detector: Detector, mine: np.ndarray, ref: np.ndarray, ctx: Context) -> bool:
    """A catch-all, or a constant factor without a name: the parsed line says more (which part)."""
    if detector in (wrong_values, wrong_shape):
        return True
    return detector is constant_factor and _named_factor(_factor(mine, ref), ctx.constants) is None


def _richer(found: Diagnosis, runs) -> Diagnosis | None:
    """A catalogue detector that names the same mistake with more to say (the shapes, the path it came
    through), if one holds on every data set."""
    mine, ref, ctx = runs[0]
    for detector, kinds in RICHER:
        if found.kind in kinds:
            richer = detector(mine, ref, ctx)
            if richer is not None and _holds(detector, richer, runs[1:]):
                # the catalogue's words; its kind unless that is the plain "factor" where the edit is finer
                kind = found.kind if richer.kind == "factor" else richer.kind
                return Diagnosis(kind, richer.message)
    return None


def _holds(detector: Detector, found: Diagnosis, others) -> bool:
    """The catch-alls always hold; a named detector must name the same on every other data set."""
    if found.kind in ("wrong_values", "wrong_shape"):
        return True
    for mine, ref, ctx in others:
        if mine.shape != ref.shape and found.kind not in (
            "keepdim",
            "reshape",
            "transposed",
            "missing_sum",
            "missing_broadcast",
            "missing_accumulation",
        ):
            return False
        again = detector(mine, ref, ctx)
        if again is None or again.kind != found.kind:
            return False
    return True


def _definitions(solution) -> dict[str, ast.expr]:
    """Each variable the set-up and forward lines assign alone, with its expression."""
    return {
        s.node.targets[0].id: s.node.value
        for s in solution.statements
        if not s.gradients
        and isinstance(s.node, ast.Assign)
        and len(s.node.targets) == 1
        and isinstance(s.node.targets[0], ast.Name)
    }


def _checked(runs) -> str:
    if len(runs) == 1:
        return ""
    return f" This holds on all {len(runs)} data sets the line ran on, so it is no coincidence."


def _parsed(runs) -> Diagnosis | None:
    """The part of the learner's line that is wrong (``kata.parts``), or None if that is not clear."""
    mine, ref, ctx = runs[0]
    if ctx.learner is None or ctx.solution is None or ctx.scope is None:
        return None
    g = ctx.gradient
    alternatives = []
    if g.paths:
        alternatives.append(ast.parse(" + ".join(f"({e})" for _, e in g.paths), mode="eval").body)
    from ninjagrad.kata.parts import parsed_diagnosis  # with the first wrong row: a right workbook needs none

    try:
        found = parsed_diagnosis(
            [s.node for s in ctx.learner.statements_of(g.name)],
            [s.node for s in ctx.solution.statements_of(g.name)],
            alternatives,
            [(m, r, c.namespace) for m, r, c in runs],
            g.variable,
            g.target,
            set(ctx.scope),
            _definitions(ctx.solution),
        )
    except RecursionError:  # a line nested too deep to take apart
        return None
    if found is None:
        return None
    kind, message = found
    return Diagnosis(kind, message[0].upper() + message[1:] + "." + _checked(runs))


def _in_your_terms(edit, ctx: Context) -> bool:
    """Does the edit speak of names the learner's line uses? (``x2w2`` where the line has ``x2 * w2``
    fits the value, but it is not what was written.)"""
    if ctx.learner is None or not edit.changed:
        return True
    used = set(ctx.learner.names_used(ctx.gradient.name)) | {"np", "math"}
    introduced = {n.id for n in ast.walk(ast.parse(edit.changed, mode="eval")) if isinstance(n, ast.Name)}
    return introduced <= used


def _searched(runs) -> tuple[Diagnosis | None, bool]:
    """The one-step edit of the reference lines that reproduces the learner's value on every data set, and
    whether it is said in the names the learner wrote."""
    mine, ref, ctx = runs[0]
    if ctx.solution is None or ctx.scope is None:
        return None, False
    g = ctx.gradient
    statements = [s.node for s in ctx.solution.statements_of(g.name)]
    if not statements:
        return None, False
    definitions = _definitions(ctx.solution)
    from ninjagrad.kata.edits import explain  # with the first wrong row: a right workbook needs none

    found = explain(
        [(m, r, c.namespace) for m, r, c in runs],
        statements,
        g.variable,
        g.target,
        set(ctx.scope),
        definitions,
    )
    if not found:
        return None, False
    ours = [edit for edit in found if _in_your_terms(edit, ctx)]
    best = (ours or found)[0]
    others = list(dict.fromkeys(edit.words for edit in found if edit.kind != best.kind))
    also = f" (another reading fits as well: {'; or '.join(others[:2])})" if others else ""
    message = f"{g.variable} equals the right gradient with one change: {best.words}{also}.{_checked(runs)}"
    return Diagnosis(best.kind, message), bool(ours)


def not_written(gradient: Gradient, line: int | None) -> Diagnosis:
    where = f" (line {line} still reads `{gradient.variable} = ...`)" if line else ""
    return Diagnosis("not_written", f"{gradient.variable} is not written yet{where}: replace the `...`.")


def not_an_array(gradient: Gradient, what: str) -> Diagnosis:
    """``what`` it is instead: ``None``, ``a str``, ``a complex128 array``."""
    return Diagnosis(
        "not_an_array",
        f"{gradient.variable} is {what}, not a number or an array of real numbers: assign it the gradient.",
    )


def not_assigned(gradient: Gradient) -> Diagnosis:
    return Diagnosis(
        "not_written",
        f"{gradient.variable}'s lines ran but did not assign {gradient.variable} (a branch not taken?).",
    )


# ---- helpers ---------------------------------------------------------------------------------------------


def _factor(mine: np.ndarray, ref: np.ndarray, *, allow_zero: bool = False) -> float | None:
    """k if ``mine`` is k times ``ref`` (k != 1; k = 0 only if ``allow_zero``), else None."""
    energy = float(np.sum(ref.astype(np.float64) ** 2))
    if energy == 0.0:
        return None
    k = float(np.sum(mine.astype(np.float64) * ref)) / energy  # the least-squares factor: mine ≈ k * ref
    scale = float(np.abs(ref).max()) * max(abs(k), 1.0)
    if not np.isfinite(k) or abs(k - 1) < 1e-4 or (abs(k) < 1e-4 and not allow_zero):
        return None  # all zeros is not "a factor of 0": it says nothing about a constant
    if not np.allclose(mine, k * ref, rtol=1e-4, atol=1e-4 * scale):
        return None
    return k


def _named_factor(k: float, constants: Mapping[str, float]) -> tuple[str, float, str] | None:
    """The factor among the usual suspects (2, 1/n, n/(n-1), ...) that ``k`` is, with its usual cause."""
    return next(
        (named for named in _named_factors(constants) if abs(k - named[1]) <= 1e-3 * abs(named[1])), None
    )


def _times(label: str, value: float) -> str:
    """``n = 32 times``, but ``2 times`` rather than ``2 = 2 times``."""
    number = f"{value:.6g}"
    return f"{label} times" if label == number else f"{label} = {number} times"


def _named_factors(constants: Mapping[str, float]) -> list[tuple[str, float, str]]:
    """Factors worth a name, each with the mistake that usually produces it."""
    square = "the derivative of x**2 is 2*x, and of x**-0.5 is -0.5 * x**-1.5; a constant from the power rule"
    named = [("2", 2.0, square), ("1/2", 0.5, square)]
    if "n" in constants:
        n = float(constants["n"])
        mean = f"a mean over the batch divides by n = {n:g}: a 1/n is missing or extra on this line"
        bessel = "n versus n - 1: the variance divides by n - 1 (Bessel's correction), the mean by n"
        named += [("n", n, mean), ("1/n", 1 / n, mean)]
        named += [("n/(n-1)", n / (n - 1), bessel), ("(n-1)/n", (n - 1) / n, bessel)]
        named += [("n-1", n - 1, bessel), ("1/(n-1)", 1 / (n - 1), bessel)]
    flipped = [(f"-{label}", -value, reason + ", and the sign is flipped") for label, value, reason in named]
    return named + flipped


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(size for size in shape if size != 1)


def _compatible(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    return True


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Can an array of ``shape`` be stretched to ``target`` (without ``target`` growing)?"""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _listed(items: list[Any]) -> str:
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
