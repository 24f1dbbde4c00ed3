"""The five exercises: which gradients each asks for, in which order, the nudges, and the autograd reference.

An exercise's *text* (the forward pass, the shape comments, the reference lines) lives in one place, its
solution file ``kata/solutions/<name>.py``: a complete, solved workbook. ``kata new`` copies it with the
backward lines blanked out, and the checker runs its forward lines to get the reference forward values. This
module holds everything else about an exercise.

The reference gradients come from autograd, never from the reference solution: the scalar exercise from the
``Value`` engine, the others from the ``Tensor`` engine, run on the exercise's own numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ninjagrad.errors import UserError


@dataclass(frozen=True)
class Gradient:
    """One row of an exercise: the gradient of one forward variable."""

    name: str  # the forward variable; the learner's line assigns d<name>
    hint: str  # which local derivative applies, without the answer (`kata check --hint`)
    ties_in: str | None = None  # the variable whose row maxima route this gradient (the max's tie rule)
    scatter: tuple[str, str] | None = None  # (indices, upstream gradient) when this is an embedding table's
    hidden: str | None = None  # why the real data hides mistakes in this line: then the probe runs it again
    # For a gradient whose solution is one formula: the paths it sums, each (the variable it comes through,
    # an expression of the workbook's variables), so that one wrong path can be named. A gradient written
    # as `dX = ...` then `dX += ...` gets its paths from those lines instead.
    paths: tuple[tuple[str, str], ...] = ()

    @property
    def variable(self) -> str:
        """The learner's variable: ``dprobs`` for ``probs``."""
        return "d" + self.name


@dataclass(frozen=True)
class Probe:
    """A second run of the lines whose real upstream gradient would hide a mistake (``Gradient.hidden``).

    ``build(namespace, rng)`` gets the reference namespace in float64 and returns the values to put in place
    of some of its entries (random upstream gradients, forward values with ties). The probed lines then run
    in that namespace, in backward order, each seeing the reference solution's values for those above it.
    """

    build: Callable[[Mapping[str, Any], np.random.Generator], dict[str, np.ndarray]]
    description: str  # what is different in the second run, for the report
    seed: int = 0  # the random upstream values are the same on every check


@dataclass(frozen=True)
class Exercise:
    """A kata: a forward pass given, a backward pass to write, an autograd reference to check it against."""

    name: str  # what `kata new NAME` takes; also the workbook's KATA value
    title: str  # one line for `kata list`
    engine: str  # which autograd computes the reference, for the report
    gradients: tuple[Gradient, ...]  # backward order: the TODO lines, the table and "first wrong" follow it
    autograd: Callable[[Mapping[str, Any]], dict[str, np.ndarray]]  # forward namespace -> gradient by name
    batch_size: str | None = None  # the variable holding n, so a factor of 1/n or n/(n-1) can be named
    probe: Probe | None = None  # see Probe; None when the real upstream gradients show every mistake

    @property
    def probed(self) -> tuple[Gradient, ...]:
        """The gradients the probe runs again, in backward order."""
        return tuple(g for g in self.gradients if g.hidden) if self.probe else ()

    def gradient(self, name: str) -> Gradient:
        """The row for ``name``, given as the forward variable (``probs``) or the learner's (``dprobs``)."""
        for gradient in self.gradients:
            if name in (gradient.name, gradient.variable):
                return gradient
        names = ", ".join(g.variable for g in self.gradients)
        raise UserError(f"exercise {self.name!r} has no gradient {name!r}; its gradients are: {names}")

    def solution_source(self) -> str:
        """The reference solution: a complete workbook with every backward line written."""
        return resources.files("ninjagrad.kata").joinpath("solutions", f"{self.name}.py").read_text("utf-8")


# ---------------------------------------------------------------------------------------------------------
# The autograd references. Each takes the namespace of the solution's forward lines (the given numbers and
# every forward variable) and recomputes the forward pass with the engine, from the given numbers only.


def _scalar_autograd(ns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    from ninjagrad.scalar import Value

    a, b, c, f = (Value(ns[key]) for key in ("a", "b", "c", "f"))
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    x1, x2, w1, w2, bias = (Value(ns[key]) for key in ("x1", "x2", "w1", "w2", "bias"))
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + bias
    o = n.tanh()
    o.backward()
    nodes = {"L": L, "d": d, "f": f, "e": e, "c": c, "a": a, "b": b}
    nodes |= {"o": o, "n": n, "bias": bias, "x1w1x2w2": x1w1x2w2, "x1w1": x1w1, "x2w2": x2w2}
    nodes |= {"x1": x1, "w1": w1, "x2": x2, "w2": w2}
    return {name: np.float64(node.grad) for name, node in nodes.items()}


def _atomic_autograd(ns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    from ninjagrad.makemore.atomic import reference_gradients

    params = {key: ns[key] for key in ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")}
    return reference_gradients(params, ns["Xb"], ns["Yb"])


def _cross_entropy_autograd(ns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Through the engine's primitives, not F.cross_entropy (whose fused rule is what the learner writes)."""
    from ninjagrad.tensors import Tensor

    logits = Tensor(ns["logits"], requires_grad=True)
    n = logits.shape[0]
    norm_logits = logits - logits.max(1, keepdim=True).values
    counts = norm_logits.exp()
    probs = counts * counts.sum(1, keepdim=True) ** -1
    loss = -probs.log()[range(n), ns["Yb"]].mean()
    loss.backward()
    return {"logits": logits.grad}


def _batchnorm_autograd(ns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """BatchNorm's training forward through the engine's primitives, fed the given upstream dhpreact."""
    from ninjagrad.tensors import Tensor

    hprebn = Tensor(ns["hprebn"], requires_grad=True)
    bnmean = hprebn.mean(0, keepdim=True)
    bnvar = hprebn.var(0, keepdim=True, unbiased=True)
    hpreact = ns["bngain"] * ((hprebn - bnmean) * (bnvar + 1e-5) ** -0.5) + ns["bnbias"]
    hpreact.backward(ns["dhpreact"])
    return {"hprebn": hprebn.grad}


def _embedding_autograd(ns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    from ninjagrad.tensors import Tensor

    C = Tensor(ns["C"], requires_grad=True)
    emb = C[ns["Xb"]]
    emb.retain_grad()
    embcat = emb.view(emb.shape[0], -1)
    embcat.backward(ns["dembcat"])
    return {"emb": emb.grad, "C": C.grad}


# ---------------------------------------------------------------------------------------------------------
# The probe of the atomic exercise. Two reference gradients are ~0 on the real batch, because the loss does
# not depend on their variables: logit_maxes (shifting a row of logits changes no probability) and b1
# (BatchNorm subtracts the batch mean, bias included). Any line that gives ~0 there passes, and so does a
# dlogits that ignores the max path or routes it to the wrong place. So those lines run again, with random
# upstream gradients (dnorm_logits, dhprebn) and with logits that have two equal maxima in about every
# other row, where "one index per row" and "every tied maximum" differ.


def _atomic_probe(ns: Mapping[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each tie goes to a column right of its row's maximum, so the first maximum (autograd's pick, and any
    one-hot a learner built from the real logits) stays where it was."""
    logits = np.array(ns["logits"], dtype=np.float64)  # (n, 27)
    rows = np.arange(0, logits.shape[0], 2)
    top = logits[rows].argmax(1)
    rows, top = rows[top < logits.shape[1] - 1], top[top < logits.shape[1] - 1]
    other = rng.integers(top + 1, logits.shape[1])  # a column after the maximum
    logits[rows, other] = logits[rows, top]
    logit_maxes = logits.max(1, keepdims=True)  # (n, 1)
    return {
        "logits": logits,
        "logit_maxes": logit_maxes,
        "norm_logits": logits - logit_maxes,
        "dnorm_logits": rng.standard_normal(logits.shape),
        "dhprebn": rng.standard_normal(np.shape(ns["hprebn"])),
    }


# ---------------------------------------------------------------------------------------------------------

_PRODUCT = "the local derivative of a product with respect to one factor is the other factor"
_SUM = "a sum passes its gradient unchanged to each of its terms"

SCALAR = Exercise(
    name="scalar",
    title="the lecture's L = (a*b + c)*f and the tanh neuron, by hand with plain floats",
    engine="the Value engine's autograd",
    gradients=(
        Gradient("L", "The derivative of L with respect to L itself: the start of every backward pass."),
        Gradient("d", f"L = d * f: {_PRODUCT}; multiply it by the gradient arriving from above, dL."),
        Gradient("f", f"L = d * f: {_PRODUCT}; multiply it by dL."),
        Gradient("e", f"d = e + c: {_SUM}."),
        Gradient("c", f"d = e + c: {_SUM}."),
        Gradient("a", f"e = a * b: {_PRODUCT}; multiply it by de."),
        Gradient("b", f"e = a * b: {_PRODUCT}; multiply it by de."),
        Gradient("o", "The derivative of o with respect to o itself."),
        Gradient(
            "n", "o = tanh(n): the derivative of tanh(x) is 1 - tanh(x)**2, and tanh(n) is already known."
        ),
        Gradient("bias", f"n = x1w1x2w2 + bias: {_SUM}."),
        Gradient("x1w1x2w2", f"n = x1w1x2w2 + bias: {_SUM}."),
        Gradient("x1w1", f"x1w1x2w2 = x1w1 + x2w2: {_SUM}."),
        Gradient("x2w2", f"x1w1x2w2 = x1w1 + x2w2: {_SUM}."),
        Gradient("x1", f"x1w1 = x1 * w1: {_PRODUCT}; multiply it by dx1w1."),
        Gradient("w1", f"x1w1 = x1 * w1: {_PRODUCT}; multiply it by dx1w1."),
        Gradient("x2", f"x2w2 = x2 * w2: {_PRODUCT}; multiply it by dx2w2."),
        Gradient("w2", f"x2w2 = x2 * w2: {_PRODUCT}; multiply it by dx2w2."),
    ),
    autograd=_scalar_autograd,
)

_MATMUL = (
    "for a matrix product, the gradient of one factor is the upstream gradient multiplied by the other "
    "factor transposed; the shapes decide the order"
)
_LOOKUP = (
    "emb = C[Xb] copies row Xb[i, j] of C to position (i, j): each copy sends its gradient back to that row, "
    "and a character used several times collects all of them (indexed += keeps only one)."
)
_BROADCAST = "a (1, 64) input used by every row collects the gradient of every row: sum over the batch"

ATOMIC = Exercise(
    name="atomic",
    title="the makemore MLP's backward, one operation per line: 26 gradients (n_hidden 64, batch 32)",
    engine="the Tensor engine's autograd",
    batch_size="n",
    gradients=(
        Gradient(
            "logprobs",
            "loss is minus the mean of n entries of logprobs, one per row (column Yb[i]). A mean of n "
            "numbers passes 1/n back to each of them; the entries that were not picked do not move the loss.",
        ),
        Gradient("probs", "logprobs = log(probs), element by element: the derivative of log(x) is 1/x."),
        Gradient(
            "counts_sum_inv",
            "probs = counts * counts_sum_inv, and counts_sum_inv (n, 1) is stretched across each row's 27 "
            f"columns: {_PRODUCT}, and a stretched input collects the gradient of every column (keep its "
            "shape).",
        ),
        Gradient(
            "counts_sum", "counts_sum_inv = counts_sum**-1: the power rule, d(x**k)/dx = k * x**(k - 1)."
        ),
        Gradient(
            "counts",
            "counts is used twice: in probs = counts * counts_sum_inv and in counts_sum = counts.sum(1). Its "
            f"gradient adds both contributions; {_SUM}.",
        ),
        Gradient(
            "norm_logits",
            "counts = exp(norm_logits): exp is its own derivative, and exp(norm_logits) has a name.",
        ),
        Gradient(
            "logit_maxes",
            "norm_logits = logits - logit_maxes, with logit_maxes (n, 1) stretched across the row: the local "
            "derivative is -1, summed over the row. (It comes out ~0: the shift changes no probability.)",
            hidden=(
                "dlogit_maxes is ~0 there (shifting a row by its maximum changes no probability), so any "
                "line that gives ~0 would pass"
            ),
        ),
        Gradient(
            "logits",
            "logits is used twice: in norm_logits (local derivative 1) and in logit_maxes = logits.max(1), "
            "which passes its gradient to one position per row, where the maximum was.",
            ties_in="logits",
            hidden=(
                "the max path carries dlogit_maxes, ~0 there, so a line that drops it or sends it to the "
                "wrong place would pass"
            ),
        ),
        Gradient("h", f"logits = h @ W2 + b2: {_MATMUL}."),
        Gradient("W2", f"logits = h @ W2 + b2: {_MATMUL}; dW2 has W2's shape (64, 27)."),
        Gradient("b2", "b2 (27,) is added to every row: a broadcast input sums the gradient over the batch."),
        Gradient(
            "hpreact",
            "h = tanh(hpreact): the derivative of tanh(x) is 1 - tanh(x)**2, and tanh(hpreact) is h.",
        ),
        Gradient(
            "bngain",
            f"hpreact = bngain * bnraw + bnbias: {_PRODUCT}; and {_BROADCAST}, keeping the dimension.",
        ),
        Gradient(
            "bnbias", f"hpreact = bngain * bnraw + bnbias: {_SUM}; and {_BROADCAST}, keeping the dimension."
        ),
        Gradient("bnraw", f"hpreact = bngain * bnraw + bnbias: {_PRODUCT}."),
        Gradient(
            "bnvar_inv", f"bnraw = bndiff * bnvar_inv: {_PRODUCT}; and {_BROADCAST}, keeping the dimension."
        ),
        Gradient("bnvar", "bnvar_inv = (bnvar + 1e-5)**-0.5: the power rule, d(x**k)/dx = k * x**(k - 1)."),
        Gradient(
            "bndiff2",
            "bnvar = 1/(n-1) * bndiff2.sum(0): each entry of a column receives the column's gradient, times "
            "the constant in front (1/(n-1) there: Bessel's correction, not 1/n).",
        ),
        Gradient(
            "bndiff",
            "bndiff is used twice: in bnraw = bndiff * bnvar_inv and in bndiff2 = bndiff**2 "
            "(d(x**2)/dx = 2x). Add both contributions.",
        ),
        Gradient(
            "bnmeani", f"bndiff = hprebn - bnmeani: the local derivative is -1; and {_BROADCAST}, keeping it."
        ),
        Gradient(
            "hprebn",
            "hprebn is used twice: in bndiff (local derivative 1) and in bnmeani = 1/n * hprebn.sum(0), "
            "which gives each entry its column's gradient times 1/n.",
        ),
        Gradient("embcat", f"hprebn = embcat @ W1 + b1: {_MATMUL}."),
        Gradient("W1", f"hprebn = embcat @ W1 + b1: {_MATMUL}; dW1 has W1's shape (30, 64)."),
        Gradient(
            "b1",
            "b1 (64,) is added to every row: a broadcast input sums the gradient over the batch.",
            hidden=(
                "db1 is ~0 there (BatchNorm subtracts the batch mean, so b1 cannot change the loss), so any "
                "line that gives ~0 would pass"
            ),
        ),
        Gradient(
            "emb", "embcat = emb.reshape(n, -1) only rearranges the numbers: rearrange the gradient back."
        ),
        Gradient(
            "C",
            _LOOKUP,
            scatter=("Xb", "demb"),
        ),
    ),
    autograd=_atomic_autograd,
    probe=Probe(
        build=_atomic_probe,
        description="random upstream gradients, and logits with two equal maxima in about every other row",
    ),
)

CROSS_ENTROPY = Exercise(
    name="cross_entropy",
    title="the cross-entropy's gradient in one formula: dlogits (batch 32, 27 classes)",
    engine="the Tensor engine's autograd",
    batch_size="n",
    gradients=(
        Gradient(
            "logits",
            "Differentiate one row's -log(softmax(logits)[y]) by hand, for a column j != y and for j == y "
            "(the quotient rule on exp(l_j) / sum_k exp(l_k)); then remember the loss is a mean over n rows.",
        ),
    ),
    autograd=_cross_entropy_autograd,
)

BATCHNORM = Exercise(
    name="batchnorm",
    title="batch normalisation's gradient in one formula: dhprebn (n_hidden 64, batch 32)",
    engine="the Tensor engine's autograd",
    batch_size="n",
    gradients=(
        Gradient(
            "hprebn",
            "Each hprebn entry reaches the output three ways: directly, through the batch mean, and through "
            "the variance (which divides by n - 1). Add the three; the result needs only dhpreact.sum(0) and "
            "(dhpreact * bnraw).sum(0) besides bngain, bnvar_inv and bnraw.",
            paths=(
                ("hprebn - bnmean", "bngain * bnvar_inv * dhpreact"),
                ("bnmean", "-bngain * bnvar_inv / n * dhpreact.sum(0)"),
                ("bnvar", "-bngain * bnvar_inv / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)"),
            ),
        ),
    ),
    autograd=_batchnorm_autograd,
)

EMBEDDING = Exercise(
    name="embedding",
    title="the embedding lookup's gradient: demb, then dC, a scatter-add over repeated characters",
    engine="the Tensor engine's autograd",
    batch_size="n",
    gradients=(
        Gradient(
            "emb", "embcat = emb.reshape(n, -1) only rearranges the numbers: rearrange the gradient back."
        ),
        Gradient(
            "C",
            _LOOKUP,
            scatter=("Xb", "demb"),
        ),
    ),
    autograd=_embedding_autograd,
)

EXERCISES: dict[str, Exercise] = {ex.name: ex for ex in (SCALAR, ATOMIC, CROSS_ENTROPY, BATCHNORM, EMBEDDING)}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``, or a UserError listing the ones there are."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise UserError(
            f"there is no exercise {name!r}; the exercises are {', '.join(EXERCISES)} (`ninjagrad kata list`)"
        ) from None
