"""View 2: micrograd's moons MLP learning live: the real ``ninjagrad.nn`` MLP and SGD, in a thread.

One training step is exactly a step of ``ninjagrad moons`` (``moons_loss``, ``zero_grad``, ``backward``,
``SGD.step``), with the learning rate the page sets (constant; the CLI's demo decays it). Clicking a point
rebuilds *its* loss, relu(1 - y·score), on a copy of the current weights and shows that graph in view 1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any

from ninjagrad.errors import UserError
from ninjagrad.scalar.engine import Value
from ninjagrad.scalar.moons import make_moons, moons_loss
from ninjagrad.scalar.nn import MLP, SGD
from ninjagrad.studio.sessions import TrainingSession, command, finite_or_none, session_type
from ninjagrad.viz.moons_view import boundary_view, curve_view, mlp_arrays, network_view, points_view

MAX_WIDTH = 64  # neurons per hidden layer the page may ask for (the step time grows with width²)
MAX_LAYERS = 4  # hidden layers
MAX_HISTORY = 1_000_000  # loss/accuracy values kept (8 MB each); a run longer than that starts over


@dataclass
class StudioMoonsConfig:
    """What the page can change; the data are the demo's (100 points, noise 0.1)."""

    hidden: tuple[int, ...] = (16, 16)  # ReLU hidden layer widths; with the output neuron: 337 parameters
    seed: int = 0  # seeds the data and the initial weights
    lr: float = 0.3  # constant SGD learning rate; reaches 100% accuracy on the default data in ~80 steps
    alpha: float = 1e-4  # L2 penalty weight, as in the demo
    n_samples: int = 100  # the demo's points
    noise: float = 0.1  # the demo's noise


def checked_config(
    config: StudioMoonsConfig, hidden: Any = None, seed: Any = None, lr: Any = None
) -> StudioMoonsConfig:
    """``config`` with the page's new values, each checked; a UserError says what is wrong."""
    changes: dict[str, Any] = {}
    if hidden is not None:
        if not isinstance(hidden, list) or not hidden:
            raise UserError(f"layer widths must be a list like [16, 16], got {hidden!r}")
        if len(hidden) > MAX_LAYERS:
            raise UserError(f"at most {MAX_LAYERS} hidden layers, got {len(hidden)}")
        for width in hidden:
            if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= MAX_WIDTH:
                raise UserError(
                    f"each layer width must be a whole number from 1 to {MAX_WIDTH}, got {width!r}"
                )
        changes["hidden"] = tuple(hidden)
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise UserError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")
        changes["seed"] = seed
    if lr is not None:
        if (
            not isinstance(lr, numbers.Real)
            or isinstance(lr, bool)
            or not math.isfinite(lr)
            or not 0 < lr <= 100
        ):
            raise UserError(f"learning rate must be a number above 0 and at most 100, got {lr!r}")
        changes["lr"] = float(lr)
    return replace(config, **changes)


@session_type("moons")
class MoonsSession(TrainingSession):
    """The moons MLP, its optimiser, and the loss/accuracy of every step so far."""

    def __init__(self, studio: Any = None) -> None:
        self.config = StudioMoonsConfig()
        self._new_model()
        super().__init__(studio)

    def _new_model(self) -> None:
        c = self.config
        self.X, self.y = make_moons(c.n_samples, c.noise, c.seed)
        self.model = MLP(2, [*c.hidden, 1], seed=c.seed)
        self.optimizer = SGD(self.model.parameters(), lr=c.lr)
        self.step = 0
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.loss = math.nan
        self.accuracy = math.nan

    # ---- training -----------------------------------------------------------------------------------

    def train_step(self) -> None:
        """One full-batch SGD step, the same calls as ``ninjagrad moons`` makes."""
        loss, accuracy = moons_loss(self.model, self.X, self.y, self.config.alpha)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.lr = self.config.lr
        self.optimizer.step()
        if not math.isfinite(loss.data):
            raise UserError(f"the loss is {loss.data} at step {self.step}: lower the learning rate and reset")
        self.loss, self.accuracy = loss.data, accuracy
        if len(self.losses) >= MAX_HISTORY:
            self.losses.clear()
            self.accuracies.clear()
        self.losses.append(loss.data)
        self.accuracies.append(accuracy)
        self.step += 1

    # ---- commands -----------------------------------------------------------------------------------

    @command
    def one_step(self) -> None:
        self.playing = False
        self.train_step()

    @command
    def configure(self, hidden: Any = None, seed: Any = None, lr: Any = None) -> None:
        """New lr: training goes on. New widths or seed: a new model (and data), from step 0."""
        new = checked_config(self.config, hidden, seed, lr)
        rebuild = (new.hidden, new.seed) != (self.config.hidden, self.config.seed)
        self.config = new
        if rebuild:
            self.playing = False
            self._new_model()

    @command
    def reset(self) -> None:
        self.playing = False
        self._new_model()

    @command
    def inspect(self, index: Any) -> None:
        """Show point ``index``'s loss graph in view 1 (the expression page), from the current weights."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.X):
            raise UserError(f"point index must be a whole number from 0 to {len(self.X) - 1}, got {index!r}")
        if self.studio is None:
            raise UserError("no studio to show the graph in")
        builder = self.sample_loss_builder(index)
        self.studio.session("expression").handle_graph(builder, f"loss of point {index}")

    def sample_loss_builder(self, index: int) -> Any:
        """A function building relu(1 - y·score(x)) for point ``index`` on a labelled copy of the weights."""
        weights = [[([w.data for w in n.w], n.b.data) for n in layer.neurons] for layer in self.model.layers]
        hidden = self.config.hidden
        x0, x1 = (float(v) for v in self.X[index])
        label = float(self.y[index])

        def build(overrides: dict[str, float]) -> tuple[Value, dict[str, Value]]:
            model = MLP(2, [*hidden, 1], seed=0)  # the architecture; the weights are set just below
            inputs: dict[str, Value] = {}
            for li, (layer, layer_weights) in enumerate(zip(model.layers, weights, strict=True), start=1):
                for j, (neuron, (ws, b)) in enumerate(zip(layer.neurons, layer_weights, strict=True)):
                    for i, (w, wv) in enumerate(zip(neuron.w, ws, strict=True)):
                        w.label = f"w{li}[{j},{i}]"
                        w.data = float(overrides.get(w.label, wv))
                        inputs[w.label] = w
                    neuron.b.label = f"b{li}[{j}]"
                    neuron.b.data = float(overrides.get(neuron.b.label, b))
                    inputs[neuron.b.label] = neuron.b
            point = [Value(overrides.get("x0", x0), "x0"), Value(overrides.get("x1", x1), "x1")]
            inputs["x0"], inputs["x1"] = point
            score = model(point)
            score.label = "score"
            loss = (1.0 - label * score).relu()
            loss.label = "loss"
            return loss, inputs

        return build

    # ---- the page's state ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        c = self.config
        layers = mlp_arrays(self.model)
        return {
            "playing": self.playing,
            "step": self.step,
            "loss": finite_or_none(self.loss),
            "accuracy": finite_or_none(self.accuracy),
            "steps_per_second": round(self.steps_per_second, 2),
            "config": {"hidden": list(c.hidden), "seed": c.seed, "lr": c.lr},
            "boundary": boundary_view(layers, self.X),
            "points": points_view(layers, self.X, self.y),
            "network": network_view(layers),
            "curves": {"loss": curve_view(self.losses), "accuracy": curve_view(self.accuracies)},
        }
