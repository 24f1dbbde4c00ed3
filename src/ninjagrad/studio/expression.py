"""View 1: an expression by hand, stepped through backward one gradient rule at a time.

A *program* is a few lines of assignments, e.g. ``a = 2``, ``e = a*b``, ``L = e*f``; the last assigned
name is the output. It is parsed with ``ast`` and only a whitelist of syntax is accepted (numbers, names,
``+ - * / **``, unary ``-``, ``+=`` and friends, calls of ``tanh exp relu log sigmoid``); nothing is ever
``eval``-ed. A name assigned a plain number is an *input* (a leaf; nudging moves it); a name assigned an
expression labels that node.

The stepper drives the engine's own walk, ``Value.backward_steps()``: each click resumes the generator
once, which runs exactly one node's rule. After *backward all* every grad is what ``Value.backward()``
computes, because it is the same walk.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterator
from typing import Any

from ninjagrad.errors import UserError
from ninjagrad.graph import topological_order
from ninjagrad.scalar.engine import Value
from ninjagrad.studio.sessions import Session, command, session_type
from ninjagrad.viz.scalar_view import (
    display_names,
    graph_view,
    node_names,
    number,
    rule_result,
    rule_view,
    short,
)

FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "tanh": Value.tanh,
    "exp": Value.exp,
    "relu": Value.relu,
    "log": Value.log,
    "sigmoid": Value.sigmoid,
}
OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
MAX_PROGRAM_CHARS = 4000  # a hand-written expression; longer text is refused before parsing
MAX_NODES = 2000  # enough for any hand-written graph; `2**2**2**...` towers are refused
MAX_HISTORY = 400  # fired rules kept for the page (a sample graph's linear nodes have many lines)

EXAMPLES: dict[str, str] = {
    # The lecture's first graph: L = -8, dL/da = 6, dL/db = -4, dL/dc = -2, dL/df = 4.
    "L = (a*b + c)*f": "a = 2.0\nb = -3.0\nc = 10.0\nf = -2.0\ne = a*b\nd = e + c\nL = d*f\n",
    # The lecture's neuron: o = 0.7071; grads x1 -1.5, w1 1.0, x2 0.5, w2 0.0.
    "tanh neuron": (
        "x1 = 2.0\nx2 = 0.0\nw1 = -3.0\nw2 = 1.0\nb = 6.8813735870195432\n"
        "x1w1 = x1*w1\nx2w2 = x2*w2\nx1w1x2w2 = x1w1 + x2w2\nn = x1w1x2w2 + b\no = tanh(n)\n"
    ),
    # micrograd's README: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
    "micrograd README": (
        "a = -4.0\nb = 2.0\nc = a + b\nd = a*b + b**3\nc += c + 1\nc += 1 + c + (-a)\n"
        "d += d*2 + relu(b + a)\nd += 3*d + relu(b - a)\ne = c - d\nf = e**2\ng = f/2.0\ng += 10.0/f\n"
    ),
}
DEFAULT_EXAMPLE = "tanh neuron"


class Program:
    """A parsed program: ``build(overrides)`` evaluates it into a fresh graph; inputs by name."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise UserError(f"the expression must be text, got {type(text).__name__}")
        if len(text) > MAX_PROGRAM_CHARS:
            raise UserError(
                f"the expression is {len(text)} characters long; keep it under {MAX_PROGRAM_CHARS}"
            )
        try:
            tree = ast.parse(text.replace(";", "\n"), mode="exec")
        except SyntaxError as error:
            raise UserError(f"cannot parse line {error.lineno}: {error.msg} (near {error.text!r})") from None
        self.statements = [self._check_statement(s) for s in tree.body]
        if not self.statements:
            raise UserError("the expression is empty; write e.g. `a = 2.0` then `L = a*a`")
        self.text = text
        self.build({})  # check names and sizes now, so a bad program is refused at once

    @staticmethod
    def _check_statement(statement: ast.stmt) -> tuple[str, str | None, ast.expr]:
        """(name, augmented operator or None, expression), or a UserError naming what is not allowed."""
        if isinstance(statement, ast.Expr):
            return ("out", None, Program._check_expression(statement.value))
        if isinstance(statement, ast.Assign):
            if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
                raise UserError(f"line {statement.lineno}: assign to one plain name, e.g. `e = a*b`")
            return (statement.targets[0].id, None, Program._check_expression(statement.value))
        if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            if type(statement.op) not in OPERATORS:
                raise UserError(f"line {statement.lineno}: only += -= *= /= **= are allowed")
            return (
                statement.target.id,
                type(statement.op).__name__,
                Program._check_expression(statement.value),
            )
        raise UserError(
            f"line {statement.lineno}: only assignments like `e = a*b` (or one expression) are allowed, "
            f"not {type(statement).__name__}"
        )

    @staticmethod
    def _check_expression(node: ast.expr) -> ast.expr:
        for child in ast.walk(node):
            allowed = (
                isinstance(child, (ast.BinOp, ast.Name, ast.Load, ast.USub, ast.UAdd))
                or type(child) in OPERATORS
                or (isinstance(child, ast.UnaryOp) and isinstance(child.op, (ast.USub, ast.UAdd)))
                or (isinstance(child, ast.Constant) and type(child.value) in (int, float))
                or (
                    isinstance(child, ast.Call)
                    and isinstance(child.func, ast.Name)
                    and child.func.id in FUNCTIONS
                    and len(child.args) == 1
                    and not child.keywords
                )
            )
            if not allowed:
                what = ast.unparse(child) if isinstance(child, ast.expr) else type(child).__name__
                raise UserError(
                    f"`{what}` is not allowed: use numbers, names, + - * / **, and {', '.join(FUNCTIONS)}(x)"
                )
        return node

    def build(self, overrides: dict[str, float]) -> tuple[Value, dict[str, Value]]:
        """Evaluate into a new graph; ``overrides`` replaces input values by name. Returns (root, inputs)."""
        env: dict[str, Value | float] = {}
        inputs: dict[str, Value] = {}
        result: Value | float = 0.0
        for name, augmented, expression in self.statements:
            value = self._evaluate(expression, env)
            if augmented is not None:
                if name not in env:
                    raise UserError(f"`{name}` is used in `{name} ...=` before it has a value")
                value = OPERATORS[getattr(ast, augmented)](env[name], value)
            if not isinstance(value, Value):  # a plain number: an input, a leaf of the graph
                if name in inputs:
                    raise UserError(f"input `{name}` is assigned twice; give the second one another name")
                value = Value(float(overrides.get(name, value)), name)
                inputs[name] = value
            elif not value.label:
                value.label = name
            env[name] = result = value
        if not isinstance(result, Value):
            raise UserError("the last line must compute something")
        if len(topological_order(result)) > MAX_NODES:
            raise UserError(f"the graph has more than {MAX_NODES} nodes; write a smaller expression")
        return result, inputs

    def _evaluate(self, node: ast.expr, env: dict[str, Value | float]) -> Value | float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise UserError(f"`{node.id}` has no value yet; add a line `{node.id} = 1.0` above")
            return env[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self._evaluate(node.operand, env)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            a, b = self._evaluate(node.left, env), self._evaluate(node.right, env)
            if not isinstance(a, Value) and not isinstance(b, Value):
                return _number_op(type(node.op), a, b)
            if (
                isinstance(node.op, ast.Pow)
                and isinstance(a, Value)
                and not isinstance(b, Value)
                and abs(b) > 1e6
            ):
                raise UserError(f"exponent {b:g} is too large; keep constant exponents within ±1e6")
            return OPERATORS[type(node.op)](a, b)
        if isinstance(node, ast.Call):
            argument = self._evaluate(node.args[0], env)
            if not isinstance(argument, Value):
                argument = Value(argument)
            return FUNCTIONS[node.func.id](argument)
        raise UserError(f"`{ast.unparse(node)}` is not allowed")  # unreachable after _check_expression


def _number_op(op: type, a: float, b: float) -> float:
    """Arithmetic between two constants, IEEE-style, with bounded powers (no 9**9**9 in the server)."""
    if op is ast.Pow:
        if abs(b) > 1e6:
            raise UserError(f"exponent {b:g} is too large; keep constant exponents within ±1e6")
        try:
            return math.pow(a, b)
        except (OverflowError, ValueError):
            return math.nan
    if op is ast.Div and b == 0.0:
        return math.nan if a == 0.0 else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return OPERATORS[op](a, b)


@session_type("expression")
class ExpressionSession(Session):
    """A Value graph, a stepper over ``backward_steps()``, and the rules fired so far."""

    def __init__(self, studio: Any = None) -> None:
        super().__init__(studio)
        self.title = ""
        self.builder: Callable[[dict[str, float]], tuple[Value, dict[str, Value]]] = lambda o: (
            Value(0.0),
            {},
        )
        self.program_text = ""
        self._load_program(EXAMPLES[DEFAULT_EXAMPLE], DEFAULT_EXAMPLE)

    # ---- loading ------------------------------------------------------------------------------------

    def _load_program(self, text: str, title: str) -> None:
        program = Program(text)  # raises before anything is replaced
        self.program_text = text
        self.title = title
        self.builder = program.build
        self._rebuild()

    def load_graph(
        self, builder: Callable[[dict[str, float]], tuple[Value, dict[str, Value]]], title: str
    ) -> None:
        """Show a graph made elsewhere (the moons page's one-point loss); ``builder`` remakes it."""
        self.builder = builder
        self.program_text = ""
        self.title = title
        self._rebuild()

    def handle_graph(
        self, builder: Callable[[dict[str, float]], tuple[Value, dict[str, Value]]], title: str
    ) -> None:
        """``load_graph`` from another session (under this session's lock), then publish."""
        with self.lock:
            self.load_graph(builder, title)
            self.message = ""
            self.publish()

    def _rebuild(self) -> None:
        self.root, self.inputs = self.builder({})
        self.order = topological_order(self.root)
        self.ids = node_names(self.order)
        self.names = display_names(self.order)
        self.by_id = {self.ids[id(node)]: node for node in self.order}
        self._reset_stepper()
        self.nudge_result: dict[str, Any] | None = None

    def _reset_stepper(self) -> None:
        self.steps: Iterator[Value] | None = None
        self.pending: Value | None = None  # yielded by the generator, its rule not yet run
        self.history: list[dict[str, Any]] = []
        self.fired = 0
        self.done = False

    # ---- commands -----------------------------------------------------------------------------------

    @command
    def example(self, name: str) -> None:
        if not isinstance(name, str) or name not in EXAMPLES:
            raise UserError(f"no example {name!r}; choose one of {', '.join(EXAMPLES)}")
        self._load_program(EXAMPLES[name], name)

    @command
    def parse(self, text: str) -> None:
        self._load_program(text, "typed expression")

    @command
    def forward(self) -> None:
        """Evaluate the graph anew from its inputs: data recomputed, grads 0, the stepper at the start."""
        self._rebuild()

    @command
    def reset_grads(self) -> None:
        for node in self.order:
            node.grad = 0.0
        self._reset_stepper()

    @command
    def backward_step(self) -> None:
        """Run the next rule of the engine's walk (the first click also seeds root.grad = 1)."""
        if self.done:
            raise UserError("backward is done: every rule has run; reset grads to step again")
        if self.steps is None:
            self.steps = self.root.backward_steps()
            self.pending = next(self.steps, None)
            if self.pending is None:  # a lone leaf: nothing to do but seed its grad
                self.done = True
                return
        self._fire()

    @command
    def backward_all(self) -> None:
        """Run every remaining rule; from the start (grads reset first) when no walk is under way."""
        if self.steps is None or self.done:
            self.reset_grads()
            self.steps = self.root.backward_steps()
            self.pending = next(self.steps, None)
        while self.pending is not None:
            self._fire()
        self.done = True

    def _fire(self) -> None:
        node = self.pending
        rule = rule_view(node, self.ids, self.names)
        self.pending = next(self.steps, None)  # resuming the engine's generator runs node's rule
        self.fired += 1
        self.history.append(rule_result(rule, self.by_id))
        del self.history[:-MAX_HISTORY]
        if self.pending is None:
            self.done = True

    @command
    def nudge(self, name: str, h: float = 0.001) -> None:
        """(f(x+h) - f(x)) / h for input ``name``, beside its grad; the graph shown is not changed."""
        if not isinstance(name, str) or name not in self.inputs:
            raise UserError(f"no input {name!r}; inputs are {', '.join(self.inputs) or 'none'}")
        if not isinstance(h, (int, float)) or isinstance(h, bool) or not math.isfinite(h) or h == 0:
            raise UserError(f"h must be a finite non-zero number, got {h!r}")
        x = self.inputs[name].data
        nudged, _ = self.builder({name: x + h})
        slope = (nudged.data - self.root.data) / h
        self.nudge_result = {
            "input": name,
            "h": h,
            "f": number(self.root.data),
            "f_nudged": number(nudged.data),
            "slope": number(slope),
            "grad": number(self.inputs[name].grad),
            "text": (
                f"(f({name}+h) - f({name}))/h = ({short(nudged.data)} - {short(self.root.data)})/{short(h)}"
                f" = {short(slope)}; {name}.grad = {short(self.inputs[name].grad)}"
            ),
        }

    # ---- the page's state ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        pending = None
        if self.pending is not None:
            pending = {"node": self.ids[id(self.pending)], "name": self.names[id(self.pending)]}
        return {
            "title": self.title,
            "program": self.program_text,
            "examples": list(EXAMPLES),
            "graph": graph_view(self.root),
            "inputs": list(self.inputs),
            "stepper": {
                "started": self.steps is not None,
                "done": self.done,
                "fired": self.fired,
                "total": sum(1 for node in self.order if node._prev),
                "pending": pending,
                "last": self.history[-1] if self.history else None,
                "history": self.history,
            },
            "nudge": self.nudge_result,
        }
