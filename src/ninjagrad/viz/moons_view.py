"""The moons MLP as JSON for the studio: decision boundary, points, the network's weights, the curves.

Plain functions from an ``MLP`` (and its data) to JSON-ready data; the studio's page draws them. The
boundary covers the same region as ``viz.boundary.plot_decision_boundary`` (one unit past the data).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ninjagrad.scalar.moons import numpy_scores
from ninjagrad.scalar.nn import MLP

BOUNDARY_RESOLUTION = 40  # cells per axis: 1,600 scores per update, one vectorised forward pass
MAX_CURVE_POINTS = 500  # the curves are thinned to at most this many points, however long the run


def region(X: np.ndarray) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max): the data's box, one unit wider on every side."""
    return (
        float(X[:, 0].min() - 1.0),
        float(X[:, 0].max() + 1.0),
        float(X[:, 1].min() - 1.0),
        float(X[:, 1].max() + 1.0),
    )


def _rounded(values: np.ndarray, digits: int = 4) -> list[float | None]:
    """Floats for JSON, rounded (smaller messages); nan and inf become None."""
    values = np.round(np.asarray(values, dtype=np.float64), digits)
    return [float(v) if math.isfinite(v) else None for v in values.ravel()]


def boundary_view(model: MLP, X: np.ndarray, resolution: int = BOUNDARY_RESOLUTION) -> dict[str, Any]:
    """The score at the centre of each cell of a grid over the region, row by row from the bottom."""
    x_min, x_max, y_min, y_max = region(X)
    xs = x_min + (np.arange(resolution) + 0.5) * (x_max - x_min) / resolution  # (resolution,) cell centres
    ys = y_min + (np.arange(resolution) + 0.5) * (y_max - y_min) / resolution
    xx, yy = np.meshgrid(xs, ys)  # (resolution, resolution); row i is y = ys[i]
    scores = numpy_scores(model, np.column_stack([xx.ravel(), yy.ravel()]))  # (resolution²,)
    return {
        "x_min": x_min,
        "x_max": x_max,
        "y_min": y_min,
        "y_max": y_max,
        "resolution": resolution,
        "scores": _rounded(scores, 3),
    }


def points_view(model: MLP, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Each point's coordinates, label (±1) and current score; correct where sign(score) matches."""
    scores = numpy_scores(model, X)  # (n,)
    return {
        "x": _rounded(X[:, 0]),
        "y": _rounded(X[:, 1]),
        "label": [int(v) for v in y],
        "score": _rounded(scores),
        "correct": [bool((s > 0) == (t > 0)) for s, t in zip(scores, y, strict=True)],
    }


def network_view(model: MLP) -> dict[str, Any]:
    """Layer widths, and per layer the weights (nout, nin), biases, and their grads."""
    layers = []
    for layer in model.layers:
        layers.append(
            {
                "weights": [_rounded([w.data for w in n.w]) for n in layer.neurons],
                "weight_grads": [_rounded([w.grad for w in n.w], 6) for n in layer.neurons],
                "biases": _rounded([n.b.data for n in layer.neurons]),
                "bias_grads": _rounded([n.b.grad for n in layer.neurons], 6),
                "relu": layer.neurons[0].nonlin,
            }
        )
    widths = [len(model.layers[0].neurons[0].w)] + [len(layer.neurons) for layer in model.layers]
    return {"widths": widths, "layers": layers, "parameters": len(model.parameters())}


def curve_view(values: list[float], max_points: int = MAX_CURVE_POINTS) -> dict[str, Any]:
    """Step numbers and values, thinned evenly to at most ``max_points`` (the last step always kept)."""
    n = len(values)
    if n <= max_points:
        steps = list(range(n))
    else:
        steps = sorted(set(np.linspace(0, n - 1, max_points).round().astype(int).tolist()))
    return {"steps": steps, "values": _rounded([values[i] for i in steps], 6)}
