"""The micrograd demo: a small MLP learns to separate two interleaving half moons.

Everything here is library code (no argument parsing, no printing): ``make_moons`` generates the data,
``moons_loss`` is one full-batch evaluation, ``train_moons`` runs the demo, and ``numpy_scores`` evaluates
a trained network on many points at once for the decision-boundary picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ninjagrad.scalar.engine import Value
from ninjagrad.scalar.nn import MLP, SGD, l2_penalty, max_margin_loss


@dataclass
class MoonsConfig:
    """The demo's settings; the defaults are micrograd's demo (the README's moons section)."""

    n_samples: int = 100  # points in total, half per moon
    noise: float = 0.1  # standard deviation of the Gaussian noise added to each coordinate
    seed: int = 0  # seeds both the data and the initial weights, so a run is reproducible
    hidden: tuple[int, ...] = (16, 16)  # ReLU hidden layers; with the 1-neuron output: 337 parameters
    steps: int = 100  # full-batch SGD steps
    alpha: float = 1e-4  # weight of the L2 penalty alpha * Σ p²
    lr_start: float = 1.0  # learning rate at step 0 ...
    lr_end: float = 0.1  # ... decaying linearly to reach this after `steps` steps: 1.0 - 0.9*k/100

    def __post_init__(self) -> None:
        if self.n_samples < 2:
            raise ValueError(f"n_samples must be at least 2 (one point per moon), got {self.n_samples}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.noise < 0:
            raise ValueError(f"noise is a standard deviation and cannot be negative, got {self.noise}")
        if self.seed < 0:
            raise ValueError(
                f"seed must be 0 or more (NumPy's generators refuse negative seeds), got {self.seed}"
            )

    def learning_rate(self, step: int) -> float:
        """The linear decay of the demo: lr_start at step 0, lr_start - 0.9 * step / steps after."""
        return self.lr_start - (self.lr_start - self.lr_end) * step / self.steps


@dataclass
class MoonsResult:
    """What a training run leaves behind: the model, its data, and one loss/accuracy per step."""

    model: MLP
    X: np.ndarray  # (n, 2) points
    y: np.ndarray  # (n,) labels, -1 or +1
    losses: list[float] = field(default_factory=list)  # loss at each step, before that step's update
    accuracies: list[float] = field(default_factory=list)  # accuracy at each step, before the update
    final_loss: float = math.nan  # loss of the trained model, after the last update
    final_accuracy: float = math.nan  # accuracy of the trained model, after the last update


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles with Gaussian noise: points (n, 2) and labels (n,) in {-1, +1}.

    The upper moon is the unit half circle (label -1); the lower moon is the same half circle flipped and
    shifted by (1, 0.5) (label +1), so neither moon can be separated from the other by a straight line.
    Points are shuffled. The same seed gives the same data.
    """
    rng = np.random.default_rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, math.pi, n_upper)  # (n_upper,) angles
    t_lower = np.linspace(0.0, math.pi, n_lower)  # (n_lower,)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)  # (n_upper, 2)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)  # (n_lower, 2)
    X = np.concatenate([upper, lower])  # (n, 2)
    y = np.concatenate([-np.ones(n_upper), np.ones(n_lower)])  # (n,)
    order = rng.permutation(n_samples)
    X = X[order] + rng.normal(scale=noise, size=(n_samples, 2))
    return X, y[order]


def moons_loss(model: MLP, X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[Value, float]:
    """The demo's full-batch loss, mean(relu(1 - y·score)) + alpha·Σp², and the accuracy (sign of score)."""
    inputs = [[Value(float(a)), Value(float(b))] for a, b in X]
    scores = [model(x) for x in inputs]
    labels = [float(label) for label in y]
    loss = max_margin_loss(scores, labels) + l2_penalty(model.parameters(), alpha)
    correct = sum((label > 0) == (score.data > 0) for label, score in zip(labels, scores, strict=True))
    return loss, correct / len(labels)


def train_moons(
    config: MoonsConfig, on_step: Callable[[int, float, float], None] | None = None
) -> MoonsResult:
    """Train MLP(2, [*hidden, 1]) on the moons for ``config.steps`` full-batch SGD steps.

    ``on_step(step, loss, accuracy)`` is called after every step (a progress bar, a log line).
    """
    X, y = make_moons(config.n_samples, config.noise, config.seed)
    model = MLP(2, [*config.hidden, 1], seed=config.seed)
    optimizer = SGD(model.parameters(), lr=config.lr_start)
    result = MoonsResult(model=model, X=X, y=y)
    for step in range(config.steps):
        loss, accuracy = moons_loss(model, X, y, config.alpha)
        optimizer.zero_grad()
        loss.backward()
        optimizer.lr = config.learning_rate(step)
        optimizer.step()
        result.losses.append(loss.data)
        result.accuracies.append(accuracy)
        if on_step is not None:
            on_step(step, loss.data, accuracy)
    final_loss, result.final_accuracy = moons_loss(model, X, y, config.alpha)
    result.final_loss = final_loss.data
    return result


def numpy_scores(model: MLP, points: np.ndarray) -> np.ndarray:
    """The network's scores for many points at once (m, 2) -> (m,), with NumPy and the current weights.

    For pictures only (a 100x100 grid is 10,000 forward passes): no graph, no gradients.
    """
    h = np.asarray(points, dtype=np.float64)  # (m, nin)
    for layer in model.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons])  # (nout, nin)
        b = np.array([n.b.data for n in layer.neurons])  # (nout,)
        h = h @ W.T + b  # (m, nout)
        if layer.neurons[0].nonlin:
            h = np.maximum(h, 0.0)
    return h[:, 0] if h.shape[1] == 1 else h
