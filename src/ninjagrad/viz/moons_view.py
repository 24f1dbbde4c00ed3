"""The moons MLP as JSON for the studio: decision boundary, points, the network's weights, the curves.

Plain functions from an ``MLP`` (read once into arrays by ``mlp_arrays``) and its data to JSON-ready data;
the studio's page draws them. The boundary covers the same region as ``viz.boundary.plot_decision_boundary``
(one unit past the data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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


@dataclass
class LayerArrays:
    """One layer's parameters and their grads as arrays, read from the Values once per snapshot."""

    W: np.ndarray  # (nout, nin) weights
    b: np.ndarray  # (nout,) biases
    dW: np.ndarray  # (nout, nin) their gradients
    db: np.ndarray  # (nout,)
    relu: bool  # hidden layers are ReLU, the last is linear


def mlp_arrays(model: MLP) -> list[LayerArrays]:
    layers = []
    for layer in model.layers:
        neurons = layer.neurons
        layers.append(
            LayerArrays(
                W=np.array([[w.data for w in n.w] for n in neurons]),
                b=np.array([n.b.data for n in neurons]),
                dW=np.array([[w.grad for w in n.w] for n in neurons]),
                db=np.array([n.b.grad for n in neurons]),
                relu=neurons[0].nonlin,
            )
        )
    return layers


def scores(layers: list[LayerArrays], points: np.ndarray) -> np.ndarray:
    """The network's scores for points (m, 2) -> (m,), as numpy_scores computes them."""
    h = np.asarray(points, dtype=np.float64)  # (m, nin)
    for layer in layers:
        h = h @ layer.W.T + layer.b  # (m, nout)
        if layer.relu:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def _rounded(values: np.ndarray, digits: int = 4) -> list:
    """Floats for JSON, rounded (smaller messages), nested as the array is; nan and inf become None."""
    values = np.round(np.asarray(values, dtype=np.float64), digits)
    if np.isfinite(values).all():
        return values.tolist()
    return np.where(np.isfinite(values), values, None).tolist()


def boundary_view(
    layers: list[LayerArrays], X: np.ndarray, resolution: int = BOUNDARY_RESOLUTION
) -> dict[str, Any]:
    """The score at the centre of each cell of a grid over the region, row by row from the bottom.

    Sent as ``levels``: the score clipped to [-1, 1] (the hinge loss's margin, where the colour saturates)
    times 100, as ints, which is all the picture needs and 1,600 ints encode far faster than floats.
    """
    x_min, x_max, y_min, y_max = region(X)
    xs = x_min + (np.arange(resolution) + 0.5) * (x_max - x_min) / resolution  # (resolution,) cell centres
    ys = y_min + (np.arange(resolution) + 0.5) * (y_max - y_min) / resolution
    xx, yy = np.meshgrid(xs, ys)  # (resolution, resolution); row i is y = ys[i]
    grid_scores = scores(layers, np.column_stack([xx.ravel(), yy.ravel()]))  # (resolution²,)
    return {
        "x_min": x_min,
        "x_max": x_max,
        "y_min": y_min,
        "y_max": y_max,
        "resolution": resolution,
        "levels": np.rint(np.clip(np.nan_to_num(grid_scores), -1.0, 1.0) * 100).astype(int).tolist(),
    }


def points_view(layers: list[LayerArrays], X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Each point's coordinates, label (±1) and current score; correct where sign(score) matches."""
    point_scores = scores(layers, X)  # (n,)
    return {
        "x": _rounded(X[:, 0]),
        "y": _rounded(X[:, 1]),
        "label": [int(v) for v in y],
        "score": _rounded(point_scores),
        "correct": ((point_scores > 0) == (y > 0)).tolist(),
    }


def network_view(layers: list[LayerArrays]) -> dict[str, Any]:
    """Layer widths, and per layer the weights (nout, nin), biases, and their grads."""
    return {
        "widths": [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers],
        "parameters": sum(layer.W.size + layer.b.size for layer in layers),
        "layers": [
            {
                "weights": _rounded(layer.W),
                "weight_grads": _rounded(layer.dW, 6),
                "biases": _rounded(layer.b),
                "bias_grads": _rounded(layer.db, 6),
                "relu": layer.relu,
            }
            for layer in layers
        ],
    }


def curve_view(values: list[float], max_points: int = MAX_CURVE_POINTS) -> dict[str, Any]:
    """Step numbers and values, thinned evenly to at most ``max_points`` (the last step always kept)."""
    n = len(values)
    if n <= max_points:
        steps = list(range(n))
    else:
        steps = sorted(set(np.linspace(0, n - 1, max_points).round().astype(int).tolist()))
    return {"steps": steps, "values": _rounded([values[i] for i in steps], 6)}
