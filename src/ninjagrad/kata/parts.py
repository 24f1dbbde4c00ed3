"""Diagnosis from the learner's own line: which factor, term or operand of it is wrong.

Used when no one-step edit of the reference (``kata.edits``) explains a wrong gradient. The learner's lines
for it and the reference's are folded into one expression each (or, when they index, aligned statement by
statement), split into factors or terms, and the parts matched by value on every data set. When all but
one match, that one is named, and searched again inside (its own parts, or a one-step edit of the
reference's part). If anything is unclear, it names nothing.

The learner's line is evaluated here, in the checker's process, but never run as Python: :func:`evaluate`
is a small interpreter that applies only the operations in its own tables (arithmetic, some NumPy functions
and methods, ``.T``, ``.shape``) to the names the line may use, and refuses anything else (a function of
the learner's, another attribute, an array over MAX_ELEMENTS). That is simpler and safer than having the
runner evaluate the parts: it would have to do so for every line on every check, since it cannot know
which line is wrong, and evaluating a part a second time there would repeat its side effects. The names
hold the reference's values, the numbers the runner gave the line, and the interpreter's result must equal
the value the runner recorded, or nothing is named.
"""

from __future__ import annotations

import ast
import copy
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ninjagrad.kata.edits import explain, same

MAX_ELEMENTS = 1 << 22  # no array the interpreter makes may be larger (the exercises' are ~2,000)
MAX_PRODUCT = 1 << 26  # multiply-adds a matrix product may take (the exercises' take ~100,000)
MAX_NODES = 2_000  # a gradient's lines with more syntax nodes are not read
MAX_DEPTH = 8  # how deep the search descends into a part


class Refused(Exception):
    """The line uses something outside the interpreter's tables: no diagnosis from it."""


# ---- the interpreter -------------------------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.MatMult: lambda a, b: _matmul(a, b),
}
_ELEMENTWISE = ("exp", "log", "tanh", "sqrt", "abs", "square", "sign", "log1p", "expm1", "negative")


def _sized(value: Any) -> Any:
    if np.size(value) > MAX_ELEMENTS:
        raise Refused("too large")
    return value


def _shape_arg(shape: Any) -> tuple[int, ...]:
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if math.prod(shape) > MAX_ELEMENTS:
        raise Refused("too large")
    return shape


def _numeric(value: Any) -> Any:
    """An array or a number (a tuple, a slice or None cannot take part in arithmetic)."""
    if not isinstance(value, (np.ndarray, np.number)):
        raise Refused("not a number")
    return value


def _broadcast(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` of arrays, refused before it runs if their broadcast shape is too large."""

    def checked(*args, **options):
        _shape_arg(np.broadcast_shapes(*(np.shape(_numeric(a)) for a in args)))
        return function(*args, **options)

    return checked


def _matmul(a: Any, b: Any) -> Any:
    """``a @ b``, refused before it runs if it is too large or would take too long."""
    a, b = _numeric(a), _numeric(b)
    if np.ndim(a) < 2 or np.ndim(b) < 2:
        return np.matmul(a, b)
    batch = np.broadcast_shapes(np.shape(a)[:-2], np.shape(b)[:-2])
    result = _shape_arg((*batch, np.shape(a)[-2], np.shape(b)[-1]))
    if math.prod(result) * np.shape(a)[-1] > MAX_PRODUCT:
        raise Refused("too long")
    return np.matmul(a, b)


def _count(k: Any, power: int = 1) -> int:
    """``k`` as a size, for a result of ``k**power`` elements."""
    if int(k) < 0 or int(k) ** power > MAX_ELEMENTS:
        raise Refused("too large")
    return int(k)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{name: _broadcast(getattr(np, name)) for name in _ELEMENTWISE},
    "ones_like": _broadcast(np.ones_like),
    "zeros_like": _broadcast(np.zeros_like),
    "broadcast_to": lambda x, shape: np.broadcast_to(_numeric(x), _shape_arg(shape)),
    "where": _broadcast(np.where),
    "maximum": _broadcast(np.maximum),
    "minimum": _broadcast(np.minimum),
    "swapaxes": np.swapaxes,
    "transpose": np.transpose,
    "expand_dims": np.expand_dims,
    "reshape": lambda x, *shape: np.reshape(x, *shape),
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "matmul": _matmul,
    "array": lambda x: np.array(_numeric(x)),
    "asarray": lambda x: np.array(_numeric(x)),
    "eye": lambda k, **options: np.eye(_count(k, 2), **options),
    "arange": lambda k: np.arange(_count(k)),
}
_MATH = {name: _FUNCTIONS[name] for name in ("tanh", "exp", "log", "sqrt")}
_BUILTINS = {"range": _FUNCTIONS["arange"], "abs": _FUNCTIONS["abs"], "float": np.float64, "len": len}
_METHODS = {
    "sum",
    "mean",
    "max",
    "min",
    "reshape",
    "copy",
    "swapaxes",
    "transpose",
    "argmax",
    "astype",
}
_ATTRIBUTES = {"T", "shape", "dtype", "ndim", "size"}
_KEYWORDS = {"axis", "keepdims", "dtype", "ddof"}
_DTYPES = {"float32": np.float32, "float64": np.float64}


def evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    """The value of expression ``node`` with ``names`` (see the module doc); Refused outside the tables."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            return value
        if isinstance(value, int):
            return np.int64(value)
        if isinstance(value, float):
            return np.float64(value)
        raise Refused("constant")
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise Refused(node.id)
        value = names[node.id]
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return np.float64(value) if isinstance(value, float) else np.int64(value)
        if not isinstance(value, (np.ndarray, np.number)):
            raise Refused(node.id)
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _numeric(evaluate(node.left, names)), _numeric(evaluate(node.right, names))
        if not isinstance(node.op, ast.MatMult):
            _shape_arg(np.broadcast_shapes(np.shape(left), np.shape(right)))
        with np.errstate(all="ignore"):
            return _sized(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _numeric(evaluate(node.operand, names))
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple):
        return tuple(evaluate(item, names) for item in node.elts)
    if isinstance(node, ast.Slice):
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if part is None else int(evaluate(part, names)) for part in parts))
    if isinstance(node, ast.Subscript):
        value = evaluate(node.value, names)
        if not isinstance(value, np.ndarray):
            raise Refused("index")
        return _sized(value[_index(evaluate(node.slice, names))])
    if isinstance(node, ast.Attribute):
        if node.attr in _DTYPES and _is_module(node.value, "np"):
            return _DTYPES[node.attr]
        value = evaluate(node.value, names)
        if node.attr not in _ATTRIBUTES or not isinstance(value, (np.ndarray, np.number)):
            raise Refused(node.attr)
        return getattr(value, node.attr)
    if isinstance(node, ast.Call):
        return _call(node, names)
    raise Refused(type(node).__name__)


def _index(index: Any) -> Any:
    """An index of slices, integers and integer arrays, whose arrays pick at most MAX_ELEMENTS entries."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        ok = item is None or item is Ellipsis or isinstance(item, (slice, np.integer, np.ndarray))
        if not ok or (isinstance(item, np.ndarray) and item.dtype.kind not in "biu"):
            raise Refused("index")
    _shape_arg(np.broadcast_shapes(*(np.shape(item) for item in items if isinstance(item, np.ndarray))))
    return index


def _is_module(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _call(node: ast.Call, names: Mapping[str, Any]) -> Any:
    keywords = {}
    for keyword in node.keywords:
        if keyword.arg not in _KEYWORDS:
            raise Refused("keyword")
        keywords[keyword.arg] = evaluate(keyword.value, names)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise Refused("starred")
    args = [evaluate(arg, names) for arg in node.args]
    func = node.func
    if isinstance(func, ast.Attribute) and _is_module(func.value, "np") and func.attr in _FUNCTIONS:
        function = _FUNCTIONS[func.attr]
    elif isinstance(func, ast.Attribute) and _is_module(func.value, "math") and func.attr in _MATH:
        function = _MATH[func.attr]
    elif isinstance(func, ast.Name) and func.id in _BUILTINS and func.id not in names:
        function = _BUILTINS[func.id]
    elif isinstance(func, ast.Attribute) and func.attr in _METHODS:
        receiver = evaluate(func.value, names)
        if not isinstance(receiver, (np.ndarray, np.number)):
            raise Refused(func.attr)
        function = getattr(receiver, func.attr)
    else:
        raise Refused("call")
    with np.errstate(all="ignore"):
        try:
            return _sized(function(*args, **keywords))
        except Refused:
            raise
        except Exception as error:  # a line that does not run here is no diagnosis
            raise Refused(str(error)) from None


def execute(statements: list[ast.stmt], names: Mapping[str, Any]) -> dict[str, Any]:
    """Run assignments (``x = e``, ``x += e``, ``x[i] -= e``, ``np.add.at(x, i, e)``) with the interpreter;
    the names they bound. ``names`` is not changed (what they read is copied first)."""
    local: dict[str, Any] = {}
    for statement in statements:
        step(statement, names, local)
    return local


def step(statement: ast.stmt, names: Mapping[str, Any], local: dict[str, Any]) -> None:
    """One statement of :func:`execute`, binding into ``local``."""
    scope = _Scope(names, local)
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        _store(statement.targets[0], evaluate(statement.value, scope), scope, local)
    elif isinstance(statement, ast.AugAssign) and type(statement.op) in _BINARY:
        target = statement.target
        old = _numeric(evaluate(_loaded(target), scope))
        value = _numeric(evaluate(statement.value, scope))
        if not isinstance(statement.op, ast.MatMult):
            _shape_arg(np.broadcast_shapes(np.shape(old), np.shape(value)))
        with np.errstate(all="ignore"):
            new = _BINARY[type(statement.op)](old, value)
        _store(target, _sized(new), scope, local)
    elif _is_add_at(statement):
        target, index, value = statement.value.args
        if not isinstance(target, ast.Name):
            raise Refused("add.at")
        array = _own(target.id, scope, local)
        np.add.at(array, _index(evaluate(index, scope)), evaluate(value, scope))
    elif _is_print(statement):
        pass
    else:
        raise Refused(type(statement).__name__)


def _is_add_at(statement: ast.stmt) -> bool:
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    call = statement.value
    return ast.unparse(call.func) == "np.add.at" and len(call.args) == 3 and not call.keywords


def _is_print(statement: ast.stmt) -> bool:
    value = getattr(statement, "value", None)
    return isinstance(statement, ast.Expr) and isinstance(value, ast.Call) and _is_module(value.func, "print")


class _Scope(Mapping):
    """The statements' own names first, then the given ones."""

    def __init__(self, names: Mapping[str, Any], local: dict[str, Any]):
        self.names, self.local = names, local

    def __getitem__(self, key):
        return self.local[key] if key in self.local else self.names[key]

    def __contains__(self, key):
        return key in self.local or key in self.names

    def __iter__(self):
        return iter({**self.names, **self.local})

    def __len__(self):
        return len({**self.names, **self.local})


def _own(name: str, scope: _Scope, local: dict[str, Any]) -> np.ndarray:
    """``name``'s array, copied into ``local`` first if it is a given one (given arrays never change)."""
    if name not in local:
        if name not in scope or not isinstance(scope[name], np.ndarray):
            raise Refused(name)
        local[name] = scope[name].copy()
    return local[name]


def _loaded(target: ast.expr) -> ast.expr:
    loaded = copy.deepcopy(target)
    for node in ast.walk(loaded):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
    return loaded


def _store(target: ast.expr, value: Any, scope: _Scope, local: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        local[target.id] = value.copy() if isinstance(value, np.ndarray) else value
    elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        array = _own(target.value.id, scope, local)
        array[_index(evaluate(target.slice, scope))] = value
    else:
        raise Refused("target")


# ---- folding a gradient's lines into one expression --------------------------------------------------------


def fold(statements: list[ast.stmt], variable: str) -> ast.expr | None:
    """``dX = a`` then ``dX += b`` (and helpers ``t = ...`` used below) as one expression, ``a + b``; None
    if a statement indexes or calls (those are aligned statement by statement instead)."""
    bound: dict[str, ast.expr] = {}
    for statement in statements:
        if _is_print(statement):
            continue
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], _inlined(statement.value, bound)
        elif isinstance(statement, ast.AugAssign) and type(statement.op) in _BINARY:
            target = statement.target
            if not isinstance(target, ast.Name) or target.id not in bound:
                return None
            value = ast.BinOp(bound[target.id], statement.op, _inlined(statement.value, bound))
        else:
            return None
        if not isinstance(target, ast.Name):
            return None
        bound[target.id] = value
    return bound.get(variable)


def _inlined(node: ast.expr, bound: Mapping[str, ast.expr]) -> ast.expr:
    class Inline(ast.NodeTransformer):
        def visit_Name(self, name):
            return copy.deepcopy(bound[name.id]) if name.id in bound else name

    return Inline().visit(copy.deepcopy(node))


# ---- the search -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Part:
    """A factor of a product (``inverse``: a divisor) or a term of a sum (``inverse``: subtracted)."""

    node: ast.expr
    inverse: bool
    values: list[Any] | None  # on each data set, the part as it enters (1/x for a divisor, -x if subtracted)


@dataclass(frozen=True)
class Found:
    kind: str
    words: str


_WRAPPERS = ("copy", "array", "asarray", "broadcast_to")  # calls that change no value (a shape, at most)


class Search:
    """The parts of a learner's line against the reference's, on the namespaces of every data set."""

    def __init__(self, namespaces: list[Mapping[str, Any]], definitions: Mapping[str, ast.expr], context):
        self.namespaces = namespaces
        self.definitions = definitions  # forward variable -> its forward expression
        self.context = context  # (variable, own, scope names) for the edit search inside a part
        self._values: dict[int, tuple[ast.AST, list[Any] | None]] = {}

    # values
    def values(self, node: ast.AST) -> list[Any] | None:
        if id(node) not in self._values:
            try:
                found = [np.asarray(evaluate(node, names)) for names in self.namespaces]
            except Exception:  # Refused, or NumPy's error: a part that does not evaluate tells nothing
                found = None
            self._values[id(node)] = (node, found)
        return self._values[id(node)][1]

    def equal(self, a: list[Any] | None, b: list[Any] | None) -> bool:
        return a is not None and b is not None and all(_equal(x, y) for x, y in zip(a, b, strict=True))

    # parts
    def factors(self, node: ast.expr, inverse: bool = False) -> list[Part]:
        node = _unwrapped(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            right_inverse = inverse != isinstance(node.op, ast.Div)
            return self.factors(node.left, inverse) + self.factors(node.right, right_inverse)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _number(node) is None:
            return [self._part(_minus(), inverse), *self.factors(node.operand, inverse)]
        reduction = _reduction(node) if isinstance(node, ast.Call) else None
        if reduction is not None and node.func.attr in ("sum", "mean"):  # (-x).sum() is -(x.sum()): linear
            inner = self.factors(reduction[0])
            numbers = [f for f in inner if _number(f.node) is not None]
            if numbers and len(numbers) < len(inner):
                rest = [f for f in inner if _number(f.node) is None]
                product = (
                    rest[0].node
                    if not rest[0].inverse
                    else ast.BinOp(ast.Constant(1.0), ast.Div(), rest[0].node)
                )
                for factor in rest[1:]:
                    product = ast.BinOp(product, ast.Div() if factor.inverse else ast.Mult(), factor.node)
                call = copy.copy(node)
                if _is_module(node.func.value, "np"):
                    call.args = [product, *node.args[1:]]
                else:
                    call.func = ast.Attribute(product, node.func.attr, ast.Load())
                pulled = [self._part(f.node, f.inverse != inverse) for f in numbers]
                return [*pulled, self._part(call, inverse)]
        return [self._part(node, inverse)]

    def terms(self, node: ast.expr, inverse: bool = False) -> list[Part]:
        node = _unwrapped(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            right_inverse = inverse != isinstance(node.op, ast.Sub)
            return self.terms(node.left, inverse) + self.terms(node.right, right_inverse)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.terms(node.operand, not inverse)
        return [self._part(node, inverse, factor=False)]

    def distributed(self, node: ast.expr) -> list[Part]:
        """``a * (b - c)`` as the terms ``a * b`` and ``-(a * c)``: the product over its one sum factor."""
        factors = self.factors(node)
        sums = [i for i, f in enumerate(factors) if not f.inverse and len(self.terms(f.node)) > 1]
        if len(sums) != 1:
            return [self._part(node, False, factor=False)]
        rest = [f for i, f in enumerate(factors) if i != sums[0]]
        terms = []
        for term in self.terms(factors[sums[0]].node):
            product = term.node
            for factor in rest:
                product = ast.BinOp(product, ast.Div() if factor.inverse else ast.Mult(), factor.node)
            terms.append(self._part(product, term.inverse, factor=False))
        return terms

    def _part(self, node: ast.expr, inverse: bool, factor: bool = True) -> Part:
        values = self.values(node)
        if values is not None and inverse:
            with np.errstate(all="ignore"):
                values = [1.0 / v if factor else -v for v in values]
        return Part(node, inverse, values)

    def neutral(self, part: Part, factor: bool) -> bool:
        unit = 1.0 if factor else 0.0
        return part.values is not None and all(np.all(v == unit) for v in part.values)

    def expanded(self, parts: list[Part], split) -> list[Part]:
        """Each forward variable among ``parts`` replaced by the parts of its forward expression."""
        out = []
        for part in parts:
            node = part.node
            if isinstance(node, ast.Name) and node.id in self.definitions:
                out += split(copy.deepcopy(self.definitions[node.id]), part.inverse)
            else:
                out.append(part)
        return out

    # the search
    def locate(self, mine: ast.expr, right: ast.expr, depth: int = 0) -> Found | None:
        """Why part ``mine`` of the learner's line differs from the reference's ``right``."""
        if depth > MAX_DEPTH:
            return None
        for split, factor in ((self.factors, True), (self.terms, False)):
            found = self._by_parts(split(mine), split(right), split, factor, depth)
            if found is not None:
                return found
        ours, theirs = self.terms(mine), self.terms(right)
        if len(ours) > 1 and len(theirs) == 1:
            found = self._by_parts(ours, self.distributed(right), self.terms, False, depth)
        elif len(theirs) > 1 and len(ours) == 1:
            found = self._by_parts(self.distributed(mine), theirs, self.terms, False, depth)
        return found or self._same_head(mine, right, depth)

    def _by_parts(
        self, ours: list[Part], theirs: list[Part], split, factor: bool, depth: int
    ) -> Found | None:
        if len(ours) == 1 and len(theirs) == 1:
            return None
        if any(p.values is None for p in ours + theirs):
            return None
        ours = [p for p in ours if not self.neutral(p, factor)]
        theirs = [p for p in theirs if not self.neutral(p, factor)]
        pairs = self._matched(ours, theirs)
        if not pairs:
            wider = self.expanded(theirs, split)
            if len(wider) > len(theirs):
                theirs = [p for p in wider if p.values is not None and not self.neutral(p, factor)]
                if len(theirs) != len(wider):
                    return None
                pairs = self._matched(ours, theirs)
        if not pairs:
            return None
        matched = {id(ours[i]) for i, _ in pairs}
        mine = [p for p in ours if id(p) not in matched]
        rest = [p for j, p in enumerate(theirs) if j not in {j for _, j in pairs}]
        if not mine and not rest:
            return None
        noun = "factor" if factor else "term"
        twins = [p for p in ours if id(p) in matched and any(self.equal(p.values, q.values) for q in mine)]
        if twins:  # a right part and a wrong one of the same value: which is which cannot be told
            alike = _described(twins + mine, factor)
            what = "should not be there" if not rest else "is not right"
            return Found(f"extra_{noun}" if not rest else f"wrong_{noun}", f"{alike} have the same value "
                         f"here, and one of them {what}")  # fmt: skip
        right = _described([ours[i] for i, _ in pairs], factor)
        are = "are" if len(pairs) > 1 else "is"
        if not mine:
            if len(ours) == len(pairs) == 1:
                return Found(f"missing_{noun}", f"it lacks a {noun}")
            return Found(f"missing_{noun}", f"{right} {are} right, but a {noun} is missing")
        wrong = _described(mine, factor)
        if not rest:
            return Found(f"extra_{noun}", f"{right} {are} right, and {wrong} should not be there")
        words = f"{right} {are} right, and {wrong} {'is' if len(mine) == 1 else 'are'} not"
        if len(mine) == 1 and len(rest) == 1:
            inner = self._inside(mine[0], rest[0], factor, depth)
            if inner is not None:
                return Found(inner.kind, f"{words}: {inner.words}")
        return Found(f"wrong_{noun}", words)

    def _matched(self, ours: list[Part], theirs: list[Part]) -> list[tuple[int, int]]:
        """A largest one-to-one matching of equal parts, as (index in ours, index in theirs) pairs."""
        equal = [[self.equal(a.values, b.values) for b in theirs] for a in ours]
        owner: dict[int, int] = {}  # theirs -> ours

        def augment(i: int, seen: set[int]) -> bool:
            for j in range(len(theirs)):
                if equal[i][j] and j not in seen:
                    seen.add(j)
                    if j not in owner or augment(owner[j], seen):
                        owner[j] = i
                        return True
            return False

        for i in range(len(ours)):
            augment(i, set())
        return sorted((i, j) for j, i in owner.items())

    def _inside(self, mine: Part, right: Part, factor: bool, depth: int) -> Found | None:
        if mine.inverse != right.inverse:
            if self.equal(self.values(mine.node), self.values(right.node)):
                if factor:
                    return Found("inverted", "it multiplies where it should divide, or the reverse")
                return Found("sign", "it has the wrong sign")
            return None
        return self.locate(mine.node, right.node, depth + 1) or self._edited(mine.node, right.node)

    def _edited(self, mine: ast.expr, right: ast.expr) -> Found | None:
        """A one-step edit of the reference's part that gives the learner's."""
        ours, theirs = self.values(mine), self.values(right)
        if (
            ours is None
            or theirs is None
            or any(np.shape(a) != np.shape(b) for a, b in zip(ours, theirs, strict=True))
        ):
            return None
        variable, own, scope = self.context
        statement = ast.Assign([ast.Name("__part", ast.Store())], copy.deepcopy(right))
        runs = [(a, b, names) for a, b, names in zip(ours, theirs, self.namespaces, strict=True)]
        written = {n.id for n in ast.walk(mine) if isinstance(n, ast.Name)} | {"np", "math"}
        found = [
            edit
            for edit in explain(runs, [statement], "__part", own, scope, self.definitions)
            if not edit.whole and _names(edit.changed) <= written  # said in the names the learner wrote
        ]
        if not found:
            return None
        return Found(found[0].kind, f"it is one change away from the right one: {found[0].words}")

    def _same_head(self, mine: ast.expr, right: ast.expr, depth: int) -> Found | None:
        """Two parts of the same form (one method, function or operator) that differ in one argument."""
        mine, right = _unwrapped(mine), _unwrapped(right)
        if isinstance(mine, ast.Call) and isinstance(right, ast.Call):
            if ast.unparse(mine.func) != ast.unparse(right.func) and not (
                isinstance(mine.func, ast.Attribute)
                and isinstance(right.func, ast.Attribute)
                and mine.func.attr == right.func.attr
            ):
                return None
            reduction = _reduction(mine)
            if reduction is not None and _reduction(right) is not None:
                return self._reductions(mine, right, reduction, _reduction(right), depth)
            method = isinstance(mine.func, ast.Attribute) and not _is_module(mine.func.value, "np")
            ours = ([mine.func.value] if method else []) + list(mine.args)
            theirs = ([right.func.value] if method else []) + list(right.args)
            static_ours = {k.arg: self.values(k.value) for k in mine.keywords}
            static_theirs = {k.arg: self.values(k.value) for k in right.keywords}
            return self._operands(ours, theirs, ast.unparse(mine), static_ours, static_theirs, depth)
        if isinstance(mine, ast.BinOp) and isinstance(right, ast.BinOp) and type(mine.op) is type(right.op):
            if isinstance(mine.op, ast.Pow) and self.equal(self.values(mine.left), self.values(right.left)):
                if not self.equal(self.values(mine.right), self.values(right.right)):
                    return Found("exponent", f"in {ast.unparse(mine)}, the exponent is not the right one")
            if isinstance(mine.op, ast.MatMult):
                return self._operands([mine.left, mine.right], [right.left, right.right], "@", {}, {}, depth)
        return None

    def _operands(self, ours, theirs, shown, keywords_ours, keywords_theirs, depth) -> Found | None:
        """Two calls (or matrix products) alike but in one operand: that operand, searched inside."""
        if len(ours) != len(theirs) or any(self.values(a) is None for a in ours + theirs):
            return None
        for keyword in set(keywords_ours) | set(keywords_theirs):
            if not _same_static(
                keywords_ours.get(keyword), keywords_theirs.get(keyword), keyword == "keepdims"
            ):
                return None
        differ = [
            i
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            if not self.equal(self.values(a), self.values(b))
        ]
        if len(differ) != 1:
            return None
        i = differ[0]
        wrong = ast.unparse(ours[i])
        if shown == "@":
            sides = ("left", "right")
            words = (
                f"the {sides[1 - i]} operand {ast.unparse(ours[1 - i])} is right, and the {sides[i]} operand "
                f"{wrong} is not"
            )
        else:
            words = f"in {shown}, {wrong} is not the right one"
        inner = self.locate(ours[i], theirs[i], depth + 1) or self._edited(ours[i], theirs[i])
        if inner is not None:
            return Found(inner.kind, f"{words}: {inner.words}")
        return Found("wrong_operand", words)

    def _reductions(self, mine: ast.Call, right: ast.Call, ours, theirs, depth: int) -> Found | None:
        """``x.sum(axis, keepdims=...)`` against the reference's: what it sums, the axis, the kept shape."""
        (receiver, axis, keep), (receiver_right, axis_right, keep_right) = ours, theirs
        dims = self.values(receiver_right)
        axes = [self._axes(a, dims) for a in (axis, axis_right)]
        if any(a is False for a in axes):
            return None
        name = mine.func.attr
        how = []
        if axes[0] != axes[1]:
            how.append(f"its {name} runs over another axis than the right one")
        if bool(keep) != bool(keep_right):
            how.append(
                f"its {name} {'keeps' if keep else 'drops'} the dimension it reduces, and the right one "
                f"{'drops' if keep else 'keeps'} it"
            )
        inner = None
        if not self.equal(self.values(receiver), self.values(receiver_right)):
            inner = self.locate(receiver, receiver_right, depth + 1) or self._edited(receiver, receiver_right)
            if inner is None:
                return None
            how.append(f"in what it sums, {inner.words}")
        if not how:
            return None
        kind = "axis" if how[0].startswith(f"its {name} runs") else "keepdim" if inner is None else inner.kind
        return Found(kind, "; ".join(how))

    def _axes(self, axis: ast.expr | None, values: list[Any] | None):
        """The axes reduced, as non-negative numbers per data set (None: all), or False if unclear."""
        if axis is None:
            return None
        found = self.values(axis)
        if found is None or values is None:
            return False
        try:
            return [
                tuple(sorted(int(a) % max(np.ndim(v), 1) for a in np.atleast_1d(x)))
                for x, v in zip(found, values, strict=True)
            ]
        except (TypeError, ValueError):
            return False


def _minus() -> ast.Constant:
    """The factor -1 of ``-x``, marked so that it is shown as the minus sign it was written as."""
    node = ast.Constant(-1.0)
    node.minus = True
    return node


def _described(parts: list[Part], factor: bool) -> str:
    """``the factors a and b and the divisor c``, as the learner wrote them."""
    signs = [p for p in parts if getattr(p.node, "minus", False)]
    parts = [p for p in parts if not getattr(p.node, "minus", False)]
    plain = [ast.unparse(p.node) for p in parts if not p.inverse]
    inverse = [ast.unparse(p.node) for p in parts if p.inverse]
    pieces = ["the minus sign"] if signs else []
    for codes, label in (
        (plain, "factor" if factor else "term"),
        (inverse, "divisor" if factor else "subtracted term"),
    ):
        if codes:
            pieces.append(f"the {label}{'s' if len(codes) > 1 else ''} {_listed(codes)}")
    return " and ".join(pieces)


def _reduction(node: ast.Call):
    """(what it reduces, its axis or None, keepdims) for ``x.sum(...)``/``np.sum(x, ...)``, else None."""
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in ("sum", "mean", "max", "min"):
        return None
    args = list(node.args)
    if _is_module(func.value, "np"):
        if not args:
            return None
        receiver = args.pop(0)
    else:
        receiver = func.value
    keywords = {k.arg: k.value for k in node.keywords}
    if set(keywords) - {"axis", "keepdims"} or len(args) > 1:
        return None
    axis = args[0] if args else keywords.get("axis")
    keep = keywords.get("keepdims")
    keep = isinstance(keep, ast.Constant) and keep.value is True
    return receiver, axis, keep


def _number(node: ast.AST) -> float | None:
    """The value of a number written in the line (``2``, ``-0.5``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    ok = (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )
    return node.value if ok else None


def _same_static(a, b, keepdims: bool) -> bool:
    if keepdims:
        return bool(a and a[0]) == bool(b and b[0])
    if a is None or b is None:
        return a is None and b is None
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _unwrapped(node: ast.expr) -> ast.expr:
    """``x.copy()``, ``np.array(x)``, ``np.broadcast_to(x, shape)``, ``+x``: x (parts compare broadcast)."""
    while True:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _WRAPPERS
        ):
            if node.func.attr == "copy" and not node.args and not _is_module(node.func.value, "np"):
                node = node.func.value
                continue
            if _is_module(node.func.value, "np") and node.args:
                node = node.args[0]
                continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            node = node.operand
            continue
        return node


def _equal(a: Any, b: Any) -> bool:
    """Equal values, up to broadcasting: a (1, 64) part equals a (32, 64) one made of its rows."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            return False
        if math.prod(shape) > MAX_ELEMENTS:
            return False
        a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    return same(a, b)


def _names(code: str) -> set[str]:
    return (
        {n.id for n in ast.walk(ast.parse(code, mode="eval")) if isinstance(n, ast.Name)} if code else set()
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---- the entry point --------------------------------------------------------------------------------------


def parsed_diagnosis(
    mine_statements: list[ast.stmt],
    right_statements: list[ast.stmt],
    alternatives: list[ast.expr],
    runs: list[tuple[np.ndarray, np.ndarray, Mapping[str, Any]]],
    variable: str,
    own: str,
    scope: set[str],
    definitions: Mapping[str, ast.expr],
) -> tuple[str, str] | None:
    """(kind, message) naming the wrong part of the learner's lines, or None if unsure.

    ``runs`` are ``(mine, right, namespace)`` per data set; ``alternatives`` other reference expressions of
    the same gradient (its paths, summed); ``scope`` the names a line may use."""
    if sum(1 for statement in mine_statements for _ in ast.walk(statement)) > MAX_NODES:
        return None
    namespaces = [{k: v for k, v in names.items() if k in scope} for _, _, names in runs]
    search = Search(namespaces, definitions, (variable, own, scope))
    ours = fold(mine_statements, variable)
    theirs = fold(right_statements, variable)
    if ours is not None:
        # the learner's lines, as the interpreter reads them, must give the learner's value
        if not search.equal(search.values(ours), [mine for mine, _, _ in runs]):
            return None
        for right in ([theirs] if theirs is not None else []) + alternatives:
            if not search.equal(search.values(right), [r for _, r, _ in runs]):
                continue
            found = search.locate(ours, right)
            if found is not None:
                shown = ast.unparse(ours)
                where = (
                    f"your {variable} = {shown}"
                    if len(mine_statements) == 1
                    else (f"your lines for {variable}, which compute {variable} = {shown}")
                )
                return found.kind, f"in {where}, {found.words}"
        return None
    return _aligned(mine_statements, right_statements, runs, namespaces, definitions, (variable, own, scope))


def _aligned(mine, right, runs, namespaces, definitions, context) -> tuple[str, str] | None:
    """Lines that index (``dX[i] -= 1``), side by side with the reference's: the one step that differs."""
    mine = [s for s in mine if not _is_print(s)]
    if len(mine) != len(right) or not all(_same_form(a, b) for a, b in zip(mine, right, strict=True)):
        return None
    variable = context[0]
    try:  # the learner's lines, as the interpreter runs them, must give the learner's value
        got = [execute(mine, names).get(variable) for names in namespaces]
    except Exception:  # Refused, or NumPy's error
        return None
    if not all(
        g is not None and _equal(g, m) and np.shape(g) == np.shape(m)
        for g, (m, _, _) in zip(got, runs, strict=True)
    ):
        return None
    states: list[dict[str, Any]] = [{} for _ in namespaces]
    differing = []
    for ours, theirs in zip(mine, right, strict=True):
        scopes = [_Scope(names, state) for names, state in zip(namespaces, states, strict=True)]
        search = Search(scopes, definitions, context)
        (value_ours, index_ours), (value_theirs, index_theirs) = _step_parts(ours), _step_parts(theirs)
        if not search.equal(search.values(value_ours), search.values(value_theirs)):
            differing.append((ours, 0, value_ours, value_theirs, [dict(s) for s in states]))
        if index_ours is not None or index_theirs is not None:
            picked = [_picked(ours, scope) for scope in scopes], [_picked(theirs, scope) for scope in scopes]
            if any(p is None for p in picked[0] + picked[1]):
                return None
            if not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(*picked, strict=True)):
                differing.append((ours, 1, index_ours, index_theirs, None))
        try:
            for names, state in zip(namespaces, states, strict=True):
                step(theirs, names, state)
        except Exception:  # Refused, or NumPy's error
            return None
    if len(differing) != 1:
        return None
    statement, k, a, b, before = differing[0]
    line = ast.unparse(statement)
    if k == 1:  # the index
        return "wrong_index", (
            f"in your {line}, the index picks other entries than the right ones: the rest of "
            f"{variable}'s lines is right"
        )
    scopes = [_Scope(names, state) for names, state in zip(namespaces, before, strict=True)]
    found = Search(scopes, definitions, context).locate(a, b)
    if found is None:
        return None
    return found.kind, f"in your {line}, {found.words} (the rest of {variable}'s lines is right)"


def _same_form(a: ast.stmt, b: ast.stmt) -> bool:
    """The same kind of statement on the same variable (the index may differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, ast.AugAssign) and type(a.op) is not type(b.op):
        return False
    if isinstance(a, ast.Expr):
        return _is_add_at(a) and _is_add_at(b)
    ta = a.targets[0] if isinstance(a, ast.Assign) else getattr(a, "target", None)
    tb = b.targets[0] if isinstance(b, ast.Assign) else getattr(b, "target", None)
    if type(ta) is not type(tb):
        return False
    return _root(ta) == _root(tb) and _root(ta) is not None


def _root(target: ast.expr) -> str | None:
    """The variable a statement stores into: ``dX`` for ``dX`` and ``dX[i]``."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return target.value.id
    return target.id if isinstance(target, ast.Name) else None


def _step_parts(statement: ast.stmt) -> tuple[ast.expr, ast.expr | None]:
    """(what a statement stores, the index it stores at, or None) as expressions."""
    if isinstance(statement, ast.Expr):
        _, index, value = statement.value.args
        return value, index
    target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
    return statement.value, target.slice if isinstance(target, ast.Subscript) else None


def _picked(statement: ast.stmt, scope: Mapping[str, Any]) -> np.ndarray | None:
    """Which entries of its array a statement stores at, in order (the flat positions), or None."""
    if isinstance(statement, ast.Expr):
        target, index = statement.value.args[:2]
    else:
        subscript = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
        if not isinstance(subscript, ast.Subscript):
            return np.arange(0)
        target, index = subscript.value, subscript.slice
    try:
        array = evaluate(target, scope)
        positions = np.arange(np.size(array)).reshape(np.shape(array))
        return np.asarray(positions[_index(evaluate(index, scope))])
    except (Refused, ValueError, TypeError, IndexError):
        return None
