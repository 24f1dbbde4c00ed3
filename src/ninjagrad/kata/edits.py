"""Diagnosis by search: the one-step edit of the reference lines that explains the learner's value.

:func:`edits` yields every plausible one-step mutation of a gradient's reference statements (swap a variable
for another of the same shape, drop a factor or a term, change an exponent by one, flip a sign, change a
reduction's axis or keepdims, transpose a matmul operand, drop a step, scale by a usual constant). Each is
an :class:`Edit`: the mutated statements, a kind, and the words to name it. :func:`explain` runs them on
every data set and keeps those that reproduce the learner's value on all of them.
"""

from __future__ import annotations

import ast
import collections
import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

REDUCTIONS = ("sum", "mean", "max")


@dataclass(frozen=True)
class Edit:
    kind: str  # "swap", "missing_factor", "exponent", "sign", "axis", "keepdim", ...
    words: str  # what the edit does, in the learner's terms (without giving the fix)
    statements: tuple[ast.stmt, ...]  # the mutated reference statements
    replacement: ast.AST | None = None  # the mutated sub-expression (what the learner's line computes)
    whole: bool = False  # the whole gradient scaled by a constant: says the least, used only alone
    # (a, b) when the edit reads b where the reference reads a, its one use of a: the same as the reference's
    # own code run with a bound to b's value (so it need not be compiled)
    rebind: tuple[str, str] | None = None

    @property
    def changed(self) -> str:
        """The mutated sub-expression as code ("" for a dropped step or a whole-gradient factor); written
        out only for the edits that fit, not for every candidate."""
        return "" if self.replacement is None else ast.unparse(self.replacement)


def edits(
    statements: list[ast.stmt],
    variable: str,
    shapes: Mapping[str, tuple[int, ...]],
    own: str,
    definitions: Mapping[str, ast.expr] = {},  # noqa: B006 (read only)
) -> Iterator[Edit]:
    """Every one-step edit of ``statements`` (which compute ``variable``). ``shapes`` are the names in
    scope with their shapes; ``own`` is the gradient's forward variable; ``definitions`` the function of
    each forward variable made by one call (``h = np.tanh(hpreact)`` gives ``np.tanh``)."""
    uses = collections.Counter(n.id for s in statements for n in ast.walk(s) if isinstance(n, ast.Name))
    for index, statement in enumerate(statements):
        arguments = {  # the numbers given to a call (an axis, a size), and what they are made of
            id(part)
            for call in ast.walk(statement)
            if isinstance(call, ast.Call)
            for arg in [*call.args, *(k.value for k in call.keywords)]
            if _number(arg) is not None
            for part in ast.walk(arg)
        }
        for position, (node, path) in enumerate(_expression_paths(statement)):
            if id(node) in arguments:
                continue  # an axis or a size: the reduction's own edits change it
            for kind, words, replacement in _node_edits(node, shapes, own, definitions, position == 0):
                mutated = _replace(statement, path, replacement)
                rebind = None
                if isinstance(node, ast.Name) and isinstance(replacement, ast.Name) and uses[node.id] == 1:
                    if variable not in (node.id, replacement.id):
                        rebind = (node.id, replacement.id)
                yield Edit(
                    kind,
                    words,
                    (*statements[:index], mutated, *statements[index + 1 :]),
                    replacement,
                    rebind=rebind,
                )
        if index > 0:  # a step left out
            yield Edit(*_dropped(statement, variable), (*statements[:index], *statements[index + 1 :]))
            if isinstance(statement, ast.AugAssign):
                flipped = copy.deepcopy(statement)
                flipped.op = ast.Sub() if isinstance(statement.op, ast.Add) else ast.Add()
                if isinstance(statement.op, (ast.Add, ast.Sub)):
                    yield Edit(
                        "sign", "one of its parts has the wrong sign", _swap(statements, index, flipped)
                    )
                if isinstance(statement.target, ast.Name) and isinstance(statement.op, ast.Add):
                    assign = ast.Assign([ast.Name(statement.target.id, ast.Store())], statement.value)
                    words = (
                        f"it is only the last contribution: a second `{variable} = ...` replaced the first"
                    )
                    yield Edit("missing_accumulation", words, _swap(statements, index, assign))
    for factor, kind, words in _FACTORS:
        scaled = _scaled(variable, factor)
        yield Edit(kind, words.format(factor=factor), (*statements, scaled), whole=True)


_FACTORS = (
    ("-1", "sign", "the sign is flipped everywhere"),
    ("2", "factor", "twice the right value: a term counted twice, or a stray factor 2"),
    ("0.5", "factor", "half the right value: a factor 2 is missing, or a stray 1/2"),
    ("n", "factor", "n times the right value: a 1/n (the mean over the batch) is missing"),
    ("1 / n", "factor", "1/n times the right value: a stray 1/n"),
    ("n / (n - 1)", "n_minus_1", "divided by n - 1 where the right one divides by n"),
    ("(n - 1) / n", "n_minus_1", "divided by n where the right one divides by n - 1"),
)


@functools.lru_cache(maxsize=256)
def _scaled(variable: str, factor: str) -> ast.stmt:
    """``variable = variable * (factor)``, parsed once (edits share it: nothing changes their nodes)."""
    return ast.parse(f"{variable} = {variable} * ({factor})").body[0]


def _swap(statements, index, replacement):
    return (*statements[:index], replacement, *statements[index + 1 :])


def _dropped(statement: ast.stmt, variable: str) -> tuple[str, str]:
    target = getattr(statement, "target", None) or (
        statement.targets[0] if isinstance(statement, ast.Assign) else None
    )
    if isinstance(target, ast.Subscript):
        where = ast.unparse(target.slice)
        return "missing_term", f"the part at [{where}] is missing"
    if isinstance(statement, ast.AugAssign) and isinstance(statement.op, ast.Add):
        return (
            "missing_accumulation",
            "a contribution is missing: a variable used in two places collects both",
        )
    if isinstance(statement, ast.AugAssign) and isinstance(statement.op, (ast.Div, ast.Mult)):
        return "missing_factor", "a factor is missing (a whole step that scales it)"
    return "missing_term", "one of the steps of the right gradient is missing"


Path = tuple[tuple[str, int | None], ...]  # from a statement to one of its nodes: (field, index in a list)


def _expression_paths(statement: ast.stmt) -> list[tuple[ast.AST, Path]]:
    """The statement's expression nodes that may be edited (not its target), in a fixed order (depth first,
    children in field order, through expressions only), each with its path from the statement."""
    roots: list[tuple[ast.AST, Path]] = []
    if isinstance(statement, ast.Expr):
        if isinstance(statement.value, ast.Call):
            roots = [(arg, (("value", None), ("args", i))) for i, arg in enumerate(statement.value.args)]
    elif getattr(statement, "value", None) is not None:
        roots = [(statement.value, (("value", None),))]
    nodes: list[tuple[ast.AST, Path]] = []
    stack = list(reversed(roots))
    while stack:
        node, path = stack.pop()
        nodes.append((node, path))
        children = []
        for name, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                children.append((value, (*path, (name, None))))
            elif isinstance(value, list):
                children.extend(
                    (item, (*path, (name, i))) for i, item in enumerate(value) if isinstance(item, ast.expr)
                )
        stack.extend(reversed(children))
    return nodes


def _replace(statement: ast.stmt, path: Path, replacement: ast.AST) -> ast.stmt:
    """A copy of ``statement`` with the node at ``path`` replaced. Only the nodes on the way there are
    copied; the rest is shared with the reference's statement, which nothing changes."""
    if not hasattr(replacement, "lineno"):
        ast.copy_location(replacement, _at(statement, path))
    ast.fix_missing_locations(replacement)  # its new nodes (a new constant inside a copied call, ...)
    mutated = copy.copy(statement)
    parent = mutated
    for depth, (name, index) in enumerate(path):
        last = depth == len(path) - 1
        if index is None:
            child = replacement if last else copy.copy(getattr(parent, name))
            setattr(parent, name, child)
        else:
            items = list(getattr(parent, name))
            child = replacement if last else copy.copy(items[index])
            items[index] = child
            setattr(parent, name, items)
        parent = child
    return mutated


def _at(statement: ast.stmt, path: Path) -> ast.AST:
    node: Any = statement
    for name, index in path:
        node = getattr(node, name) if index is None else getattr(node, name)[index]
    return node


def _node_edits(node: ast.AST, shapes: Mapping[str, tuple[int, ...]], own: str, definitions, root: bool):
    """(kind, words, replacement) for each edit of one node."""
    if isinstance(node, ast.Name) and node.id in shapes:
        lines = definitions.get("__lines__", _Lines({}))
        for other in _swappable(node.id, shapes, own):
            words = f"it uses {other} where {node.id} belongs"
            if node.id in lines and other in lines.names(node.id):
                words += (
                    f" (`{node.id} = {lines[node.id]}`: the local derivative here is written with its result)"
                )
            elif other in lines and node.id in lines.names(other):
                words += f" (`{other} = {lines[other]}` is computed from {node.id})"
            yield "swap", words, ast.Name(other, ast.Load())
        if node.id == "n" and shapes["n"] == "int":
            yield "n_minus_1", "n - 1 stands where n belongs", ast.parse("(n - 1)", mode="eval").body
        if node.id in definitions and node.id != "__lines__":  # x = f(y): f applied again, to x
            function = definitions[node.id]
            again = ast.Call(copy.deepcopy(function), [ast.Name(node.id, ast.Load())], [])
            words = f"it applies {ast.unparse(function)} to {node.id}, which is already its result"
            yield "extra_call", words, again
    elif isinstance(node, ast.BinOp):
        left, right = node.left, node.right
        if isinstance(node.op, ast.Mult):
            for dropped, kept in ((right, left), (left, right)):
                if _number(dropped) == -1:
                    yield "sign", "a minus sign is lost", kept
                else:
                    yield (*_factor_words(dropped, kept, root), kept)
        elif isinstance(node.op, ast.Div):
            yield (*_factor_words(right, left, root), left)
            yield (*_factor_words(left, right, root), ast.BinOp(ast.Constant(1.0), ast.Div(), right))
            yield "inverted", "it multiplies where the rule divides", ast.BinOp(left, ast.Mult(), right)
        elif isinstance(node.op, (ast.Add, ast.Sub)) and _is_n_minus_1(node):
            yield "n_minus_1", "n stands where n - 1 belongs", ast.Name("n", ast.Load())
        elif isinstance(node.op, (ast.Add, ast.Sub)):
            yield "missing_term", "a term of a sum is missing", left
            flipped = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            yield "sign", "a term has the wrong sign", ast.BinOp(left, flipped, right)
            if isinstance(node.op, ast.Add):
                yield "missing_term", "a term of a sum is missing", right
        elif isinstance(node.op, ast.Pow) and _number(right) is not None:
            k = _number(right)
            rule = "the power rule lowers the exponent by one: d(x**k)/dx = k * x**(k - 1)"
            for new in (k + 1, k - 1):
                yield (
                    "exponent",
                    f"an exponent is off by one ({_fmt(k)} there, {_fmt(new)} here): {rule}",
                    (ast.BinOp(left, ast.Pow(), ast.Constant(new))),
                )
            yield "sign", "an exponent has the wrong sign", ast.BinOp(left, ast.Pow(), ast.Constant(-k))
        elif isinstance(node.op, ast.MatMult):
            words = "a matrix product's operands are swapped or transposed; the shapes fix the order"
            yield "transposed", words, ast.BinOp(right, ast.MatMult(), left)
            for side in ("left", "right"):
                operand = getattr(node, side)
                unswapped = _swapped_last(operand)
                flipped = (
                    unswapped
                    if unswapped is not None
                    else operand.value
                    if _is_transpose(operand)
                    else ast.Attribute(operand, "T", ast.Load())
                )
                pair = (flipped, right) if side == "left" else (left, flipped)
                yield "transposed", words, ast.BinOp(pair[0], ast.MatMult(), pair[1])
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign", "a minus sign is lost", node.operand
    elif isinstance(node, ast.Constant) and _number(node) not in (None, 0):
        yield "sign", "a constant has the wrong sign", ast.Constant(-node.value)
    elif _is_transpose(node):
        yield "transposed", "a transpose is missing or extra; the shapes fix the order", node.value
    elif _swapped_last(node) is not None:
        yield "transposed", "a transpose is missing or extra; the shapes fix the order", _swapped_last(node)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        yield from _call_edits(node)


def _call_edits(node: ast.Call):
    method = node.func.attr
    if method in REDUCTIONS:
        words_axis = f"the {method} runs over the wrong axis"
        axis = _number(node.args[0]) if node.args else None
        if axis is not None:
            for other in (0, 1, -1, -2):
                if other != axis and not (axis < 0 and other == axis % 2):
                    call = copy.deepcopy(node)
                    call.args[0] = ast.Constant(other)
                    yield "axis", words_axis, call
        keeps = [k for k in node.keywords if k.arg == "keepdims"]
        call = copy.deepcopy(node)
        if keeps:
            call.keywords = [k for k in call.keywords if k.arg != "keepdims"]
            yield "keepdim", f"the {method} drops the dimension it reduces (the variable keeps it)", call
        else:
            call.keywords = [*call.keywords, ast.keyword("keepdims", ast.Constant(True))]
            yield "keepdim", f"the {method} keeps a dimension the variable does not have", call
        yield (
            "missing_sum",
            f"the {method} over the dimension the variable was stretched along is missing",
            (node.func.value),
        )
    elif method == "broadcast_to" and node.args:
        yield "missing_broadcast", "the gradient is not stretched to its variable's full shape", node.args[0]


def _swappable(name: str, shapes: Mapping[str, tuple[int, ...]], own: str) -> list[str]:
    """Names of the same shape, the variable's own name, and a gradient's variable (or the reverse)."""
    shape = shapes[name]
    related = {own, "d" + name, name[1:] if name.startswith("d") else ""}
    return [
        other
        for other, other_shape in shapes.items()
        if other != name and other_shape != "int" and (other_shape == shape or other in related)
    ]


def _factor_words(dropped: ast.AST, kept: ast.AST, root: bool) -> tuple[str, str]:
    """(kind, words) for a product or quotient that lost ``dropped`` (``root``: the whole right side)."""
    names = {n.id for n in ast.walk(dropped) if isinstance(n, ast.Name)}
    gradients = {name for name in names if name.startswith("d") and len(name) > 1}
    if gradients and names <= gradients | {"np"}:
        words = (
            f"the gradient arriving from above ({', '.join(sorted(gradients))}) is missing: the chain rule "
            "multiplies the local derivative by it"
        )
        return "missing_upstream", words
    kept_names = {n.id for n in ast.walk(kept) if isinstance(n, ast.Name)} - {"np"}
    if root and kept_names and all(name.startswith("d") and len(name) > 1 for name in kept_names):
        return "missing_local", "it is the gradient from above alone: the local derivative is missing"
    if _number(dropped) is not None or names <= {"n"}:
        return "missing_factor", "a constant factor of one of its terms is missing"
    return "missing_factor", "a factor of the right gradient is missing"


class _Lines:
    """The forward variables' defining expressions, as code and as the names they read; each written out
    only when an edit's words need it (most swaps are of names defined by no single line)."""

    def __init__(self, definitions: Mapping[str, ast.expr]):
        self.definitions = definitions
        self.code: dict[str, str] = {}
        self.read: dict[str, set[str]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.definitions

    def __getitem__(self, name: str) -> str:
        if name not in self.code:
            self.code[name] = ast.unparse(self.definitions[name])
        return self.code[name]

    def names(self, name: str) -> set[str]:
        if name not in self.read:
            self.read[name] = _named_in([self.definitions[name]])
        return self.read[name]


def _is_transpose(node: ast.AST) -> bool:
    """``x.T``, or ``x.swapaxes(-1, -2)`` (a batched matrix's transpose); its ``.value`` is x."""
    return isinstance(node, ast.Attribute) and node.attr == "T"


def _swapped_last(node: ast.AST) -> ast.AST | None:
    """x for ``x.swapaxes(-1, -2)`` or ``x.swapaxes(-2, -1)``, else None."""
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "swapaxes"
    ):
        return None
    axes = sorted(_number(arg) if _number(arg) is not None else 0 for arg in node.args)
    return node.func.value if axes == [-2, -1] and not node.keywords else None


def _is_n_minus_1(node: ast.BinOp) -> bool:
    return (
        isinstance(node.op, ast.Sub)
        and isinstance(node.left, ast.Name)
        and node.left.id == "n"
        and _number(node.right) == 1
    )


def _number(node: ast.AST) -> float | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _fmt(k: float) -> str:
    return f"{k:g}"


# ---------------------------------------------------------------------------------------------------------


def run_edit(
    edit: Edit,
    namespace: Mapping[str, Any],
    variable: str,
    code: Any = None,
    names: set[str] | None = None,
    rebound: bool = False,
) -> np.ndarray | None:
    """The value ``variable`` gets from the edited statements (``code``, if compiled already: one code
    object or several run in turn), in a copy of ``namespace`` whose arrays they name (``names``, if listed
    already) are copies too (None if they raise). ``rebound``: ``code`` is the reference's own, to run
    with the edit's ``rebind``."""
    scope = dict(namespace)
    for name in _named(edit) if names is None else names:
        if isinstance(scope.get(name), np.ndarray):
            scope[name] = scope[name].copy()
    scope.pop(variable, None)
    if rebound:
        replaced, read = edit.rebind
        if read in scope:
            scope[replaced] = scope[read]  # the very object the edited code would read there
        else:  # the edited code would fail on the missing name: let it
            code = compiled(edit)
    if code is None:
        code = compiled(edit)
    try:
        with np.errstate(all="ignore"):
            for part in code if isinstance(code, tuple) else (code,):
                exec(part, scope)
        return np.asarray(scope[variable])
    except Exception:  # an edit that does not run is just not the explanation
        return None


def _named(edit: Edit) -> set[str]:
    return _named_in(edit.statements)


def _named_in(nodes) -> set[str]:
    return {node.id for root in nodes for node in ast.walk(root) if isinstance(node, ast.Name)}


def compiled(edit: Edit) -> Any:
    """The edited statements' code (ninjagrad's own reference lines, mutated; never a learner's). Only the
    new nodes lack a location (``_replace`` gives its own theirs), so fixing locations changes no node of
    the reference's."""
    return _compiled(edit.statements)


def _compiled(statements) -> Any:
    for statement in statements:
        if not hasattr(statement, "lineno"):  # a statement made here (``dX = ...`` for ``dX += ...``)
            ast.fix_missing_locations(statement)
    module = ast.Module(list(statements), [])
    try:
        return compile(module, "<edit>", "exec")
    except (TypeError, ValueError):  # a new node without a location somewhere else
        return compile(ast.fix_missing_locations(module), "<edit>", "exec")


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and values within float32 rounding of the larger (an edit reproduces a value).
    ``np.allclose(a, b, rtol=1e-4, atol=1e-5 * max|b|)`` on finite values, written out: it runs for every
    candidate edit."""
    if a.shape != b.shape or not np.isfinite(a).all() or not np.isfinite(b).all():
        return False
    y = np.asanyarray(b, dtype=np.result_type(b, 1.0))  # as allclose: b made inexact (no copy if it is)
    magnitude = np.abs(y)
    scale = float((magnitude if y is b else np.abs(b)).max()) if b.size else 0.0
    atol = 1e-5 * max(scale, 1e-30)
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.abs(a - y) <= atol + 1e-4 * magnitude))


def explain(
    runs: list[tuple[np.ndarray, np.ndarray, Mapping[str, Any]]],
    statements: list[ast.stmt],
    variable: str,
    own: str,
    scope: set[str],
    definitions: Mapping[str, ast.expr],
) -> list[Edit]:
    """The edits that reproduce the learner's value on every run ``(mine, right, namespace)`` and are not
    the right value themselves; ``scope`` the names a line may use."""
    namespace = runs[0][2]
    shapes = {
        name: "int" if isinstance(value, (int, np.integer)) else np.shape(value)
        for name, value in namespace.items()
        if name in scope
        and isinstance(value, (np.ndarray, np.number, float, int))
        and not isinstance(value, bool)
    }
    lines = _Lines(definitions)
    definitions = {
        name: value.func
        for name, value in definitions.items()
        if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords
    }
    definitions["__lines__"] = lines  # type: ignore[assignment]
    found = []
    base = _named_in(statements)  # the edited statements name these, and those of the new part
    reference: Any = None  # the reference's own code, compiled once: a swap of a name used once runs it
    scaled: dict[int, Any] = {}  # the code of each ``dX = dX * (factor)`` appended by a whole-gradient edit
    for edit in edits(statements, variable, shapes, own, definitions):
        names = base | _named_in([edit.replacement]) if edit.replacement is not None else _named(edit)
        if edit.rebind is not None or edit.whole:
            if reference is None:
                reference = _compiled(statements)
            code = reference
            if edit.whole:  # the reference's statements, then the scaling: the same as one module
                last = edit.statements[-1]
                if id(last) not in scaled:
                    scaled[id(last)] = _compiled([last])
                code = (reference, scaled[id(last)])
        else:
            code = compiled(edit)  # once, for every run
        for mine, right, values in runs:
            got = run_edit(edit, values, variable, code, names, rebound=edit.rebind is not None)
            if got is None or not same(got, mine) or same(got, right):
                break
        else:
            found.append(edit)
    found = sorted(
        found, key=lambda edit: PRIORITY.index(edit.kind) if edit.kind in PRIORITY else len(PRIORITY)
    )
    whole = [edit for edit in found if edit.whole]
    parts = [edit for edit in found if not edit.whole]
    if parts and parts[0].kind == "missing_factor" and whole:
        return whole + parts  # "n times the right value" says more than "a factor is missing"
    return parts or whole


# When several edits fit, the simplest reading first: a forgotten piece, then a wrong power, constant or
# sign, then a wrong reduction or transpose, then a swapped variable; a bare factor says the least.
PRIORITY = (
    "missing_accumulation",
    "missing_upstream",
    "missing_local",
    "exponent",
    "n_minus_1",
    "sign",
    "axis",
    "keepdim",
    "missing_sum",
    "missing_broadcast",
    "transposed",
    "inverted",
    "missing_term",
    "missing_factor",
    "extra_call",
    "swap",
    "factor",
)
