"""Trust, but verify: compare gradients with a reference, and check them against finite differences.

``compare`` is the backprop-ninja lecture's ``cmp`` as a function that returns a record: did a hand-written
gradient match autograd bit for bit, or within PyTorch's ``allclose`` tolerances, and how far off is it? It
is strict about shapes on purpose: a gradient of shape (64,) where (1, 64) is right would *broadcast* to the
right values and pass a value-only check, and then break the next line of the backward pass.

``gradcheck`` checks an autograd implementation itself, against central differences in float64.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ninjagrad.tensors.tensor import Tensor

# PyTorch's torch.allclose defaults, so "approximate" means what it means in the lecture.
ALLCLOSE_RTOL = 1e-5
ALLCLOSE_ATOL = 1e-8


@dataclass(frozen=True)
class Comparison:
    """One gradient compared with its reference."""

    name: str
    exact: bool  # shapes equal and every element bit-for-bit equal
    approximate: bool  # shapes equal and np.allclose(rtol=1e-5, atol=1e-8), PyTorch's defaults
    maxdiff: float  # largest |manual - reference| (broadcast if the shapes differ; NaN if they cannot)
    shape_ok: bool  # shapes equal
    manual_shape: tuple[int, ...]
    reference_shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (shapes as lists, a NaN maxdiff as None)."""
        record = asdict(self)
        record["manual_shape"] = list(self.manual_shape)
        record["reference_shape"] = list(self.reference_shape)
        record["maxdiff"] = None if math.isnan(self.maxdiff) else self.maxdiff
        return record

    @property
    def shape_text(self) -> str:
        if self.shape_ok:
            return str(self.manual_shape)
        return f"{self.manual_shape} != reference {self.reference_shape}"

    def __str__(self) -> str:
        """The lecture's ``cmp`` line, each value labelled: it is read on its own, without a header."""
        return (
            f"{self.name:<15} | exact: {str(self.exact):<5} | approximate: {str(self.approximate):<5} | "
            f"maxdiff: {self.maxdiff:.2e} | shape: {self.shape_text}"
        )


def _numeric_array(name: str, which: str, value: Any) -> np.ndarray:
    """``value`` as an array of numbers, or a TypeError that names the gradient (a gradient not computed
    yet is often still ``None``)."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"compare({name!r}): the {which} gradient must be an array of numbers, got {type(value).__name__}"
            f"{'' if value is None else f' of dtype {array.dtype}'}; compute it first"
        )
    return array


def _manual_array(name: str, manual: Any) -> np.ndarray:
    return _numeric_array(name, "manual", manual.data if _is_tensor(manual) else manual)


def _is_tensor(value: Any) -> bool:
    """A ninjagrad Tensor? Asked without importing the Tensor engine (``kata check`` compares arrays and
    imports it later, while its runner starts): if it was never imported, nothing is one."""
    module = sys.modules.get("ninjagrad.tensors.tensor")
    return module is not None and isinstance(value, module.Tensor)


def _reference_array(name: str, reference: Any) -> np.ndarray:
    """An ndarray is the reference itself; a tensor (ninjagrad's, or PyTorch's) gives its ``.grad``."""
    if isinstance(reference, np.ndarray):
        return reference
    if hasattr(reference, "grad"):
        if reference.grad is None:
            raise ValueError(
                f"compare({name!r}): the reference tensor has no .grad; call backward() first, and "
                f"retain_grad() on interior tensors before it"
            )
        return _numeric_array(name, "reference", reference.grad)
    return _numeric_array(name, "reference", reference)


def compare(name: str, manual: Any, reference: Any, *, show: bool = True) -> Comparison:
    """Compare a hand-computed gradient ``manual`` with ``reference`` (an array, or a tensor's ``.grad``).

    With ``show`` it prints the comparison as the lecture's ``cmp`` did, one labelled line (``print`` of the
    record); ``format_table`` lays several out under one header.
    """
    mine = _manual_array(name, manual)
    theirs = _reference_array(name, reference)
    shape_ok = mine.shape == theirs.shape
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            difference = np.abs(mine.astype(np.float64) - theirs.astype(np.float64))
            difference = np.where(mine == theirs, 0.0, difference)  # equal infinities: inf - inf is NaN
        maxdiff = float(difference.max()) if difference.size else 0.0
    except ValueError:  # shapes that cannot even broadcast
        maxdiff = math.nan
    exact = shape_ok and bool(np.array_equal(mine, theirs))
    approximate = shape_ok and bool(np.allclose(mine, theirs, rtol=ALLCLOSE_RTOL, atol=ALLCLOSE_ATOL))
    result = Comparison(name, exact, approximate, maxdiff, shape_ok, mine.shape, theirs.shape)
    if show:
        print(result)
    return result


def format_row(comparison: Comparison, name_width: int = 15) -> str:
    """``name | exact | approximate | maxdiff | shape``, in fixed-width columns."""
    return (
        f"{comparison.name:<{name_width}} | {str(comparison.exact):<5} | {str(comparison.approximate):<11} | "
        f"{comparison.maxdiff:<9.2e} | {comparison.shape_text}"
    )


def format_table(comparisons: Sequence[Comparison], name_width: int = 0) -> str:
    """The comparisons as an aligned table under a header, one row each."""
    name_width = max([15, name_width, *(len(c.name) for c in comparisons)])
    header = f"{'name':<{name_width}} | {'exact':<5} | {'approximate':<11} | {'maxdiff':<9} | shape"
    rule = "-" * len(header)
    return "\n".join([header, rule, *(format_row(c, name_width) for c in comparisons)])


# ---------------------------------------------------------------------------------------------------------
# gradcheck


@dataclass(frozen=True)
class InputCheck:
    """The worst disagreement found for one input of ``gradcheck``."""

    input: int  # position in ``inputs``
    name: str  # the parameter of ``f`` it was passed to ('' if ``f`` does not name it, as ``*args``)
    shape: tuple[int, ...]
    mode: str  # "elements" (every element perturbed) or "directions" (random unit directions)
    index: tuple[int, ...] | int  # the worst element (or, in "directions" mode, direction number)
    analytic: float  # autograd's derivative there
    numeric: float  # central difference there
    allowed: float  # the tolerance there, atol + rtol * |numeric|
    ok: bool  # |analytic - numeric| <= atol + rtol * |numeric| everywhere checked


@dataclass(frozen=True)
class GradcheckReport:
    """Truthy when every input passed. ``str()`` names the failing input and its worst element."""

    ok: bool
    inputs: tuple[InputCheck, ...]

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if not self.inputs:
            return "gradcheck: no floating-point input to check"
        lines = []
        for c in self.inputs:
            which = f"input {c.input} {c.name!r}" if c.name else f"input {c.input}"
            where = f"direction {c.index}" if c.mode == "directions" else f"element {c.index}"
            verdict = "ok" if c.ok else "FAILED"
            error = abs(c.analytic - c.numeric)
            judged = ">" if not error <= c.allowed else "<="  # a NaN error is never within tolerance
            lines.append(
                f"gradcheck {which} {c.shape}: {verdict}; worst {where}: analytic {c.analytic:.8g}, "
                f"numeric {c.numeric:.8g}, |difference| {error:.2g} {judged} allowed {c.allowed:.2g}"
            )
        return "\n".join(lines)


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_elements: int = 64,
    directions: int = 8,
    seed: int = 0,
) -> GradcheckReport:
    """Check autograd's gradients of ``f(*inputs)`` against central differences, in float64.

    Floating-point inputs are copied to float64 leaves that require grad; integer inputs (indices, targets)
    are passed through unchanged. The derivative with respect to each element is estimated as
    (f(x + eps) - f(x - eps)) / (2 eps), with error O(eps^2), and compared with autograd's: it passes when
    |analytic - numeric| <= atol + rtol * |numeric| (PyTorch's gradcheck criterion).

    An input with at most ``max_elements`` elements is checked element by element. A larger one is checked
    along ``directions`` random unit directions u (seeded by ``seed``): the directional derivative
    (f(x + eps u) - f(x - eps u)) / (2 eps) against grad . u, which tests every element at once at the cost
    of two evaluations per direction.

    If ``f`` returns a tensor with more than one element, it is reduced to a scalar by a fixed random
    projection, sum(f(x) * R) with R ~ N(0, 1) seeded by ``seed``: a wrong gradient for any output element
    then shows up (with probability one), where a plain sum could let errors cancel.

    The report is truthy when every input passes; printed, it gives one line per input, named by position
    and by ``f``'s parameter, with the worst element (or direction), both derivatives there, their
    difference and the tolerance it was held to.
    """
    if not eps > 0 or directions < 1 or max_elements < 0:
        raise ValueError(
            f"gradcheck needs eps > 0, directions >= 1 and max_elements >= 0; got eps={eps}, "
            f"directions={directions}, max_elements={max_elements}"
        )
    from ninjagrad.tensors.tensor import Tensor

    rng = np.random.default_rng(seed)
    leaves = []
    for value in inputs:
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.kind == "f":
            leaves.append(Tensor(array, dtype=np.float64, requires_grad=True))
        else:
            leaves.append(value if isinstance(value, Tensor) else Tensor(array))
    if not any(leaf.requires_grad for leaf in leaves):
        dtypes = ", ".join(str(leaf.dtype) for leaf in leaves) or "no inputs"
        raise ValueError(
            f"gradcheck needs at least one floating-point input to differentiate, got {dtypes}; pass float "
            f"data (integer inputs are indices and targets, passed through unchanged), e.g. [1.0, 2.0]"
        )
    out = f(*leaves)
    _check_output(out)
    projection = rng.standard_normal(out.shape) if out.data.size != 1 else np.ones(out.shape)

    def evaluate() -> float:
        from ninjagrad.tensors.tensor import no_grad

        with no_grad():
            return float(np.sum(f(*leaves).data * projection))

    out.backward(projection)
    names = _parameter_names(f, len(leaves))
    checks = []
    for position, leaf in enumerate(leaves):
        if not leaf.requires_grad or leaf.data.size == 0:
            continue
        analytic_grad = leaf.grad.data if leaf.grad is not None else np.zeros_like(leaf.data)
        if leaf.data.size <= max_elements:
            probes = [(index, _unit(leaf.shape, index)) for index in np.ndindex(leaf.shape)]
            mode = "elements"
        else:
            probes = [(k, _random_unit(leaf.shape, rng)) for k in range(directions)]
            mode = "directions"
        worst = None
        all_ok = True
        for index, direction in probes:
            original = leaf.data.copy()
            leaf.data += eps * direction
            plus = evaluate()
            leaf.data[...] = original - eps * direction
            minus = evaluate()
            leaf.data[...] = original
            numeric = (plus - minus) / (2 * eps)
            if mode == "elements":
                analytic = float(analytic_grad[index])
            else:
                analytic = float(np.sum(analytic_grad * direction))
            error = abs(analytic - numeric)
            ok = error <= atol + rtol * abs(numeric)  # False for NaN, which must not pass silently
            all_ok = all_ok and ok
            allowed = atol + rtol * abs(numeric)
            excess = math.inf if math.isnan(error) else error - allowed
            if worst is None or excess > worst[0]:
                worst = (excess, index, analytic, numeric, allowed)
        _, index, analytic, numeric, allowed = worst
        checks.append(
            InputCheck(position, names[position], leaf.shape, mode, index, analytic, numeric, allowed, all_ok)
        )
    return GradcheckReport(all(c.ok for c in checks), tuple(checks))


def _check_output(out: Any) -> None:
    """What ``f`` returned must be a float64 tensor that depends on the inputs, or no verdict is possible."""
    if not _is_tensor(out):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    if not out.requires_grad:
        raise ValueError(
            "gradcheck: f's result does not depend on any floating-point input (it does not require grad): "
            "nothing to differentiate. Compute it from the inputs f receives, outside no_grad()"
        )
    if out.dtype != np.float64:
        raise ValueError(
            f"gradcheck: f returned {out.dtype}; the check works in float64 because float32 rounding "
            f"(~1e-7 relative) swamps a central difference over eps. Remove the cast from f"
        )


def _parameter_names(f: Callable, count: int) -> list[str]:
    """The names of ``f``'s first ``count`` positional parameters, so a report can say which input failed
    by name; '' where there is none (``*args``, or a callable without a signature)."""
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in parameters if p.kind in positional]
    return (names + [""] * count)[:count]


def _unit(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    direction = np.zeros(shape)
    direction[index] = 1.0
    return direction


def _random_unit(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    direction = rng.standard_normal(shape)
    return direction / np.linalg.norm(direction)
