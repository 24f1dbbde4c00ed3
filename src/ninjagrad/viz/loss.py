"""The training-loss curve (``loss.png``): log10 of the batch loss, averaged over groups of steps.

One step's loss on a batch of 32 is noisy; averaging ``log10(loss)`` over 1,000 consecutive steps (as in
the makemore lectures) shows the trend, and the log scale keeps the fast early fall and the slow late
progress on one readable plot. Short runs use smaller groups so that the curve keeps about 50 points.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

STEPS_PER_POINT = 1000  # the lectures' averaging window
MIN_POINTS = 50  # runs shorter than 50 windows use smaller windows


def steps_per_point(steps: int) -> int:
    """1,000 steps per point, or fewer for short runs so the curve still has ``MIN_POINTS`` points."""
    return max(1, min(STEPS_PER_POINT, steps // MIN_POINTS))


def averaged_log10_loss(loss_history: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(last step of each window, mean log10 loss of that window); a shorter last window is kept."""
    log_loss = np.log10(np.asarray(loss_history, dtype=np.float64))  # (steps,)
    starts = np.arange(0, len(log_loss), window)  # (points,)
    sums = np.add.reduceat(log_loss, starts)  # (points,)
    counts = np.diff(np.append(starts, len(log_loss)))  # (points,)
    return starts + counts, sums / counts


def plot_loss(
    loss_history: np.ndarray, path: str | Path, *, lr_drop_step: int | None = None, title: str = ""
):
    """Save the averaged log10 loss curve of a run to ``path`` (PNG, whole or not at all); returns it."""
    # The object-oriented Figure API: no pyplot, so no global figure state and no GUI backend.
    from matplotlib.figure import Figure

    from ninjagrad.files import write_atomically

    window = steps_per_point(len(loss_history))
    steps, log_loss = averaged_log10_loss(loss_history, window)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(steps, log_loss, color="tab:blue", label=f"training batch loss, mean of {window:,} steps")
    if lr_drop_step is not None and 0 < lr_drop_step < len(loss_history):
        axes.axvline(lr_drop_step, color="tab:gray", linestyle="--", label="learning rate / 10")
    axes.set_xlabel("step")
    axes.set_ylabel("log10(loss)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    png = io.BytesIO()  # rendered in memory first: a Ctrl-C while matplotlib draws leaves no half a PNG
    figure.savefig(png, format="png", dpi=100)
    return write_atomically(path, png.getvalue())
