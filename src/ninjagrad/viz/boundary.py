"""The moons demo's picture: the classifier's decision regions, with the training points on top."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ninjagrad.files import write_atomically


def plot_decision_boundary(
    score: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike[str],
    title: str = "",
    resolution: int = 100,
) -> Path:
    """Save a PNG of the sign of ``score`` over a grid around ``X`` (n, 2), with the points coloured by ``y``.

    ``score`` maps points (m, 2) to scores (m,); positive means class +1. The grid reaches one unit past
    the data on every side, ``resolution`` points per axis (100 -> 10,000 scores, one vectorised call).
    The PNG is written whole or not at all; an unwritable ``path`` is a ``UserError``.
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend needed

    X = np.asarray(X, dtype=np.float64)  # (n, 2)
    x_min, x_max = X[:, 0].min() - 1.0, X[:, 0].max() + 1.0
    y_min, y_max = X[:, 1].min() - 1.0, X[:, 1].max() + 1.0
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()])  # (resolution², 2)
    scores = np.asarray(score(grid), dtype=np.float64).reshape(xx.shape)  # (resolution, resolution)

    figure = Figure(figsize=(6, 5), dpi=100)
    ax = figure.add_subplot()
    # Clipping to [-1, 1] only so the two fill levels always exist; the boundary is the zero contour.
    ax.contourf(xx, yy, np.clip(scores, -1.0, 1.0), levels=[-1.0, 0.0, 1.0], colors=["#f4b6b6", "#b6cdf4"])
    if scores.min() < 0.0 < scores.max():
        ax.contour(xx, yy, scores, levels=[0.0], colors="k", linewidths=1.0)
    for label, color, marker in ((-1, "#c0392b", "o"), (1, "#2455b3", "s")):
        mine = np.asarray(y) == label
        ax.scatter(
            X[mine, 0], X[mine, 1], c=color, marker=marker, s=28, edgecolors="k", label=f"y = {label:+d}"
        )
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png")
    return write_atomically(path, png.getvalue())
