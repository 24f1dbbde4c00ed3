"""Training diagnostics (makemore part 3): is the network healthy while it learns?

Every ``every`` steps a :class:`DiagnosticsRecorder` looks at the running ``TrainStep`` (the fast step of
:mod:`ninjagrad.makemore.fast`) and keeps, against the step number:

- the tanh layer's activations: mean, std, the share of saturated units (|h| > 0.97, where tanh' < 0.06 and
  the gradient all but stops; the lecture aims for about 5%) and a histogram;
- per layer, the histogram and std of the gradient of its output (``dhprebn``, ``dhpreact``, ``dh``,
  ``dlogits``: a layer whose gradients shrink or explode against the others is a layer that does not learn);
- per parameter, the update-to-data ratio ``log10(std(lr * grad) / std(data))``; about -3 (an update of a
  thousandth of the parameter's spread per step) is the lecture's rule of thumb;
- BatchNorm's running mean and variance: an exponential average of the sampled batches' statistics (as a
  ``BatchNorm1d`` layer keeps one of every batch's), to set beside the ones calibrated over the whole
  training split after training.

Where the numbers come from, and what they cost. The update ratios read the step's own buffers
(``TrainStep.updates`` holds ``lr * grad`` of the last step, ``TrainStep.params`` the parameters): no cost.
The activations and the layer gradients are not kept by the fast step (it never forms some of them), so the
recorder runs the atomic chain (:mod:`ninjagrad.makemore.atomic`: the same forward and hand-written
backward) once on the last step's batch, with the parameters after that step. That is one extra forward and
backward every ``every`` steps, not every step: with ``every`` = 500 it costs about 1% of training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.makemore.atomic import backward_atomic, forward_atomic
from ninjagrad.makemore.model import PARAM_NAMES

SATURATED = 0.97  # |tanh| above this counts as saturated (the lecture's threshold)
BINS = 40  # bins of every histogram
BN_MOMENTUM = 0.1  # per record: the running statistics average about the last 10 sampled batches
# The layers whose output gradient is shown, bottom to top: (layer, the variable it outputs).
# The PNGs of ninjagrad.viz.diagnostics, which `ninjagrad train` writes into its run directory.
PLOT_FILES = ("activations.png", "gradients.png", "update_ratio.png", "batchnorm.png")
LAYERS = (("Linear 1", "hprebn"), ("BatchNorm", "hpreact"), ("Tanh", "h"), ("Linear 2", "logits"))


@dataclass(frozen=True)
class Histogram:
    """A histogram as densities over bins: ``edges`` has one more entry than ``density``."""

    edges: np.ndarray  # (BINS + 1,)
    density: np.ndarray  # (BINS,)  integrates to 1 over the edges

    @classmethod
    def of(cls, values: np.ndarray, limit: float | None = None) -> Histogram:
        """The histogram of ``values`` over [-limit, limit] (default: their largest magnitude)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if limit is None:
            limit = float(np.max(np.abs(values))) if values.size else 0.0
        limit = limit if limit > 0 and np.isfinite(limit) else 1.0
        density, edges = np.histogram(values, bins=BINS, range=(-limit, limit), density=True)
        return cls(edges=edges, density=np.nan_to_num(density))

    def to_json(self) -> dict:
        return {"edges": _floats(self.edges), "density": _floats(self.density)}


@dataclass(frozen=True)
class Snapshot:
    """The diagnostics of one moment of training: the parameters after ``step`` steps, on its batch."""

    step: int
    lr: float
    tanh_mean: float
    tanh_std: float
    saturation: float  # share of |h| > SATURATED
    tanh_histogram: Histogram
    gradient_std: dict[str, float]  # layer output variable -> std of its gradient
    gradient_histograms: dict[str, Histogram]  # layer output variable -> histogram of its gradient
    update_ratio: dict[str, float | None]  # parameter -> log10(std(lr * grad) / std(data)); None: no update
    bn_mean: np.ndarray  # (1, H)  this batch's mean of hprebn
    bn_var: np.ndarray  # (1, H)  this batch's unbiased variance of hprebn


def update_ratios(params: dict[str, np.ndarray], updates: dict[str, np.ndarray]) -> dict[str, float | None]:
    """``log10(std(update) / std(data))`` per parameter, from a step's ``params`` and ``updates``.

    A parameter whose update is exactly zero gets None (log10 of 0 is -inf): the fast step leaves ``b1`` as
    it is, since BatchNorm subtracts the batch mean and with it any bias (its gradient is 0 but for rounding).
    """
    ratios: dict[str, float | None] = {}
    for name in PARAM_NAMES:
        update_std = float(np.std(updates[name], dtype=np.float64))
        data_std = float(np.std(params[name], dtype=np.float64))
        ratios[name] = float(np.log10(update_std / data_std)) if update_std > 0 and data_std > 0 else None
    return ratios


def snapshot(
    step: int,
    params: dict[str, np.ndarray],
    updates: dict[str, np.ndarray],
    Xb: np.ndarray,
    Yb: np.ndarray,
    lr: float,
    eps: float = 1e-5,
) -> Snapshot:
    """The diagnostics after ``step`` steps: one atomic forward and backward on the batch ``Xb``, ``Yb``."""
    with np.errstate(all="ignore"):  # a diverging run shows as nan, it does not warn
        forward = forward_atomic(params, Xb, Yb, eps)
        gradients = backward_atomic(params, Xb, Yb, forward, eps)
    h = forward["h"]  # (n, H)
    return Snapshot(
        step=int(step),
        lr=float(lr),
        tanh_mean=float(h.mean(dtype=np.float64)),
        tanh_std=float(h.std(dtype=np.float64)),
        saturation=float((np.abs(h) > SATURATED).mean()),
        tanh_histogram=Histogram.of(h, limit=1.0),
        gradient_std={var: float(gradients[var].std(dtype=np.float64)) for _, var in LAYERS},
        gradient_histograms={var: Histogram.of(gradients[var]) for _, var in LAYERS},
        update_ratio=update_ratios(params, updates),
        bn_mean=forward["bnmeani"].copy(),
        bn_var=forward["bnvar"].copy(),
    )


@dataclass
class DiagnosticsRecorder:
    """Records a :class:`Snapshot` of a training run every ``every`` steps; histories grow by one per record.

    Call :meth:`observe` after any number of steps with the step reached, the ``TrainStep``, the batch of its
    last step and that step's learning rate; it records when a multiple of ``every`` has been passed since
    the last record. Over the lecture's 200,000 steps with ``every`` = 500 the histories hold 400 points.
    """

    every: int = 500  # steps between records
    steps: list[int] = field(default_factory=list)
    saturation: list[float] = field(default_factory=list)
    tanh_mean: list[float] = field(default_factory=list)
    tanh_std: list[float] = field(default_factory=list)
    gradient_std: dict[str, list[float]] = field(default_factory=lambda: {var: [] for _, var in LAYERS})
    update_ratio: dict[str, list[float | None]] = field(default_factory=lambda: {p: [] for p in PARAM_NAMES})
    latest: Snapshot | None = None
    running_mean: np.ndarray | None = None  # (1, H)  exponential average of the sampled batch means
    running_var: np.ndarray | None = None  # (1, H)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise UserError(f"diagnostics every must be a positive number of steps, got {self.every!r}")

    def due(self, step: int) -> bool:
        """Whether a record is due at ``step``: a multiple of ``every`` was passed since the last one."""
        return not self.steps or step // self.every > self.steps[-1] // self.every

    def observe(self, step: int, train_step, Xb: np.ndarray, Yb: np.ndarray, lr: float) -> Snapshot | None:
        """Record a snapshot if one is due; returns it (or None when none was due)."""
        if not self.due(step):
            return None
        shot = snapshot(step, train_step.params, train_step.updates, Xb, Yb, lr, train_step.config.bn_eps)
        self.record(shot)
        return shot

    def record(self, shot: Snapshot) -> None:
        """Append ``shot`` to the histories and fold its batch statistics into the running ones."""
        self.steps.append(shot.step)
        self.saturation.append(shot.saturation)
        self.tanh_mean.append(shot.tanh_mean)
        self.tanh_std.append(shot.tanh_std)
        for var, values in self.gradient_std.items():
            values.append(shot.gradient_std[var])
        for name, values in self.update_ratio.items():
            values.append(shot.update_ratio[name])
        # The lecture's layer moves its running statistics by 0.001 at every step, an average over about
        # 1,000 batches. Records are `every` steps apart, so an average over as many would lag far behind
        # the training; one over the last ~10 sampled batches (320 examples) follows it and is steady enough.
        weight = BN_MOMENTUM
        if self.running_mean is None or self.running_mean.shape != shot.bn_mean.shape:
            self.running_mean, self.running_var = shot.bn_mean.copy(), shot.bn_var.copy()
        else:
            self.running_mean += weight * (shot.bn_mean - self.running_mean)
            self.running_var += weight * (shot.bn_var - self.running_var)
        self.latest = shot

    def state(self) -> dict:
        """The histories and running statistics as JSON, kept in the checkpoint so that a resumed run's
        plots show the whole run (not the latest histograms: the resumed run's next record makes new ones)."""
        data = self.to_json()
        return {key: data[key] for key in (*HISTORIES, "every", "steps", "bn_running_mean", "bn_running_var")}

    @classmethod
    def from_state(cls, state: dict, every: int) -> DiagnosticsRecorder:
        """A recorder that goes on from :meth:`state`; a ValueError if ``state`` is not one (or not of
        ``every``): the caller then starts afresh."""
        try:
            if state["every"] != every:
                raise ValueError(f"recorded every {state['every']} steps, not {every}")
            steps = [int(step) for step in state["steps"]]
            recorder = cls(every=every, steps=steps)
            for key in HISTORIES:
                stored, kept = state[key], getattr(recorder, key)
                if isinstance(kept, dict):  # per layer or per parameter
                    for name, values in kept.items():
                        values.extend(_restored(stored[name], len(steps), key == "update_ratio"))
                else:
                    kept.extend(_restored(stored, len(steps), False))
            for key, attribute in (("bn_running_mean", "running_mean"), ("bn_running_var", "running_var")):
                if state[key] is not None:
                    values = np.array([np.nan if v is None else v for v in state[key]], dtype=np.float32)
                    setattr(recorder, attribute, values.reshape(1, -1))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a diagnostics state ({error!r})") from None
        return recorder

    def to_json(self, since: int = 0) -> dict:
        """The histories from record ``since`` on, and the latest histograms, as JSON-ready values."""
        shot = self.latest
        return {
            "every": self.every,
            "records": len(self.steps),
            "since": since,
            "steps": self.steps[since:],
            "saturation": _floats(self.saturation[since:]),
            "tanh_mean": _floats(self.tanh_mean[since:]),
            "tanh_std": _floats(self.tanh_std[since:]),
            "gradient_std": {var: _floats(v[since:]) for var, v in self.gradient_std.items()},
            "update_ratio": {name: _floats(v[since:]) for name, v in self.update_ratio.items()},
            "latest": None
            if shot is None
            else {
                "step": shot.step,
                "saturation": _finite(shot.saturation),
                "tanh_mean": _finite(shot.tanh_mean),
                "tanh_std": _finite(shot.tanh_std),
                "tanh_histogram": shot.tanh_histogram.to_json(),
                "gradient_histograms": {var: h.to_json() for var, h in shot.gradient_histograms.items()},
                "gradient_std": {var: _finite(v) for var, v in shot.gradient_std.items()},
                "update_ratio": {name: _finite(v) for name, v in shot.update_ratio.items()},
            },
            "bn_running_mean": None if self.running_mean is None else _floats(self.running_mean.ravel()),
            "bn_running_var": None if self.running_var is None else _floats(self.running_var.ravel()),
        }


HISTORIES = ("saturation", "tanh_mean", "tanh_std", "gradient_std", "update_ratio")  # one value per record


def _restored(values: list, count: int, keep_none: bool) -> list:
    """A stored history of ``count`` values: None (JSON's nan) back to nan, or kept as None (no update)."""
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"a history of {count} records has {len(values) if isinstance(values, list) else 0}")
    return [v if keep_none and v is None else float("nan") if v is None else float(v) for v in values]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _floats(values) -> list[float | None]:
    """Python floats for JSON; nan, inf and None become None (JSON has no nan)."""
    if not isinstance(values, list):
        values = np.asarray(values, dtype=np.float64).ravel().tolist()
    return [_finite(v) for v in values]
