"""Draw a small scalar expression after backward(): each node's label, data and grad.

Examples: `neuron` is the lecture's tanh neuron (o = tanh(x1*w1 + x2*w2 + b) = 0.7071), `readme` is the
expression from micrograd's README (g = 24.7041). The output format follows the file suffix: .svg, .png,
.pdf, or .dot (DOT source, which needs no graphviz install).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ninjagrad.scalar.engine import Value

HELP = "draw an example scalar expression (label | data | grad) with graphviz"


def lecture_neuron() -> tuple[Value, list[Value]]:
    """o = tanh(x1*w1 + x2*w2 + b), with the bias that makes o = 1/sqrt(2); returns o and its inputs."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, [x1, w1, x2, w2, b]


def readme_expression() -> tuple[Value, list[Value]]:
    """The expression from micrograd's README; returns g and its inputs a, b."""
    a, b = Value(-4.0, "a"), Value(2.0, "b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    for value, name in ((c, "c"), (d, "d"), (e, "e"), (f, "f"), (g, "g")):
        value.label = name  # the final c and d: += made new nodes, the earlier ones stay unlabelled
    return g, [a, b]


EXAMPLES: dict[str, Callable[[], tuple[Value, list[Value]]]] = {
    "neuron": lecture_neuron,
    "readme": readme_expression,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        default="neuron",
        help="the lecture's tanh neuron or micrograd's README expression (default: %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the file to write; its suffix picks the format: .svg, .png, .pdf (these need graphviz's `dot`) "
        "or .dot (DOT source, needs nothing)",
    )
    parser.add_argument(
        "--rankdir",
        choices=["LR", "TB"],
        default="LR",
        help="left-to-right or top-to-bottom (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from ninjagrad.viz.dot import draw_dot, save

    root, inputs = EXAMPLES[args.example]()
    root.backward()
    path = save(draw_dot(root, rankdir=args.rankdir), args.output)
    print(f"{root.label} = {root.data:.4f}")
    for leaf in inputs:
        print(f"  d{root.label}/d{leaf.label} = {leaf.grad:.4f}")
    print(f"wrote {path}")
    return 0
