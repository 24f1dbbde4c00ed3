"""The training diagnostics as pictures, written by ``ninjagrad train`` beside ``loss.png``.

Four PNGs from a :class:`~ninjagrad.makemore.diagnostics.DiagnosticsRecorder` (makemore part 3's plots):

- ``activations.png``: the tanh layer's last histogram, and its saturation (share of |h| > 0.97) over steps;
- ``gradients.png``: the last histogram of each layer's output gradient, and each one's std over steps;
- ``update_ratio.png``: log10(std(lr * grad) / std(data)) per parameter over steps, with the line at -3;
- ``batchnorm.png``: per hidden unit, BatchNorm's running mean and variance beside the calibrated ones.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ninjagrad.makemore.diagnostics import LAYERS, PLOT_FILES, SATURATED, DiagnosticsRecorder

ACTIVATIONS, GRADIENTS, UPDATE_RATIO, BATCHNORM = PLOT_FILES
REFERENCE_RATIO = -3.0  # the lecture's rule of thumb: updates of about 1e-3 of the data's spread


def write_diagnostic_plots(
    directory: str | Path,
    recorder: DiagnosticsRecorder,
    bnmean: np.ndarray | None = None,
    bnvar: np.ndarray | None = None,
) -> list[Path]:
    """Write the four PNGs into ``directory`` (each whole or not at all); returns their paths.

    ``bnmean`` and ``bnvar`` (1, H) are the calibrated BatchNorm statistics, drawn beside the running ones
    when given. Nothing is written if the recorder holds no record yet.
    """
    if recorder.latest is None:
        return []
    directory = Path(directory)
    draw = {
        ACTIVATIONS: lambda: _activations(recorder),
        GRADIENTS: lambda: _gradients(recorder),
        UPDATE_RATIO: lambda: _update_ratio(recorder),
        BATCHNORM: lambda: _batchnorm(recorder, bnmean, bnvar),
    }
    return [_save(figure(), directory / name) for name, figure in draw.items()]  # one figure alive at a time


def _figure(width: float = 11, height: float = 4.2):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure, path: Path) -> Path:
    from ninjagrad.files import write_atomically

    png = io.BytesIO()  # rendered in memory first, so an interrupted draw leaves no half a PNG
    figure.savefig(png, format="png", dpi=90)
    return write_atomically(path, png.getvalue())


def _activations(recorder: DiagnosticsRecorder):
    shot = recorder.latest
    figure = _figure()
    left, right = figure.subplots(1, 2)
    hist = shot.tanh_histogram
    left.stairs(hist.density, hist.edges, fill=True, alpha=0.6, color="tab:blue")
    for x in (-SATURATED, SATURATED):
        left.axvline(x, color="tab:red", linestyle=":", linewidth=1)
    left.set_title(
        f"tanh activations at step {shot.step:,}: mean {shot.tanh_mean:+.2f}, std {shot.tanh_std:.2f}, "
        f"saturated {100 * shot.saturation:.1f}%",
        fontsize=10,
    )
    left.set_xlabel("h = tanh(hpreact)")
    left.set_ylabel("density")
    right.plot(recorder.steps, 100 * np.asarray(recorder.saturation), color="tab:red")
    right.axhline(5, color="tab:gray", linestyle="--", linewidth=1, label="5% (the lecture's aim)")
    right.set_title(f"saturation: share of |h| > {SATURATED}", fontsize=10)
    right.set_xlabel("step")
    right.set_ylabel("% of units")
    right.set_ylim(bottom=0)
    right.legend()
    right.grid(alpha=0.3)
    return figure


def _gradients(recorder: DiagnosticsRecorder):
    shot = recorder.latest
    figure = _figure()
    left, right = figure.subplots(1, 2)
    for layer, var in LAYERS:
        hist = shot.gradient_histograms[var]
        centres = (hist.edges[:-1] + hist.edges[1:]) / 2
        left.plot(centres, hist.density, label=f"{layer}: d{var}, std {shot.gradient_std[var]:.1e}")
        right.plot(recorder.steps, recorder.gradient_std[var], label=f"d{var}")
    left.set_title(f"gradient of each layer's output at step {shot.step:,}", fontsize=10)
    left.set_xlabel("gradient")
    left.set_ylabel("density")
    left.set_yscale("log")
    left.legend(fontsize=8)
    right.set_title("std of each layer's output gradient", fontsize=10)
    right.set_xlabel("step")
    right.set_yscale("log")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    return figure


def _update_ratio(recorder: DiagnosticsRecorder):
    figure = _figure(9, 4.5)
    axes = figure.add_subplot()
    skipped = []
    for name, values in recorder.update_ratio.items():
        ys = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if np.isnan(ys).all():
            skipped.append(name)
            continue
        axes.plot(recorder.steps, ys, label=name)
    axes.axhline(REFERENCE_RATIO, color="black", linestyle="--", linewidth=1, label="-3 (1e-3)")
    note = f"; no update: {', '.join(skipped)} (BatchNorm cancels it)" if skipped else ""
    axes.set_title(f"update:data ratio, log10(std(lr * grad) / std(data)){note}", fontsize=10)
    axes.set_xlabel("step")
    axes.set_ylabel("log10 ratio")
    axes.legend(fontsize=8, ncol=2)
    axes.grid(alpha=0.3)
    return figure


def _batchnorm(recorder: DiagnosticsRecorder, bnmean, bnvar):
    figure = _figure()
    left, right = figure.subplots(1, 2)
    units = np.arange(recorder.running_mean.size)
    left.plot(units, recorder.running_mean.ravel(), ".", label="running (training)")
    right.plot(units, recorder.running_var.ravel(), ".", label="running (training)")
    if bnmean is not None and bnvar is not None:
        left.plot(units, np.ravel(bnmean), "x", alpha=0.7, label="calibrated (training split)")
        right.plot(units, np.ravel(bnvar), "x", alpha=0.7, label="calibrated (training split)")
    left.set_title("BatchNorm mean of hprebn, per hidden unit", fontsize=10)
    right.set_title("BatchNorm variance of hprebn, per hidden unit", fontsize=10)
    right.set_yscale("log")
    for axes in (left, right):
        axes.set_xlabel("hidden unit")
        axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
    return figure
