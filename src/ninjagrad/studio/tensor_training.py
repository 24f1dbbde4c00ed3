"""Live training of the makemore MLP for the tensor page: the real ``TrainStep``, diagnosed as it learns.

A :class:`LiveRun` is one training run that advances a bounded number of steps at a time
(:meth:`LiveRun.advance`), so the studio's training thread can hand the lock back between segments. The
inner loop is the one of ``ninjagrad train``: one ``TrainStep`` call per step on batches drawn exactly as
``ninjagrad train`` draws them (same seed, same batches), nothing else. Everything the page shows is
computed between segments, on a fixed budget:

- the train loss, averaged over windows of steps (at most ``MAX_POINTS`` windows per run);
- the val loss every ``val_every`` steps, on a fixed sample of ``VAL_SAMPLE`` validation examples with
  BatchNorm's running statistics (the full split would cost a tenth of the training time);
- the diagnostics of :mod:`ninjagrad.makemore.diagnostics` every ``diagnose_every`` steps;
- at the end, BatchNorm's statistics calibrated over the whole training split, beside the running ones.

:func:`training_json` is the view.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.makemore.diagnostics import DiagnosticsRecorder
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import (
    ModelConfig,
    calibrate_batchnorm,
    init_params,
    num_parameters,
    split_loss,
)

# Bounds on what a run keeps for the page, whatever its length: the page's snapshot stays a few tens of kB.
MAX_POINTS = 300  # windows of the train-loss curve per run
MAX_RECORDS = 200  # diagnostic records per run (at least 100 steps apart)
VAL_POINTS = 50  # val-loss evaluations per run (at least 1,000 steps apart)
VAL_SAMPLE = 4096  # validation examples each val loss reads (fixed: the first ones of the split)
MAX_HIDDEN = 2048  # the page's bound on n_hidden (the lecture trains 200)
MAX_BATCH = 4096
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class LiveConfig:
    """The page's controls; the defaults are the lecture's training run."""

    steps: int = 200_000  # SGD steps
    lr: float = 0.1  # learning rate until decay_step
    decay_step: int = 100_000  # from this step on the learning rate is lr / 10
    batch_size: int = 32  # examples per step
    n_hidden: int = 200  # hidden units
    seed: int = 42  # initialisation and batch order, as `ninjagrad train --seed`

    def __post_init__(self) -> None:
        for name, low, high in (
            ("steps", 1, MAX_STEPS),
            ("decay_step", 0, MAX_STEPS),
            ("batch_size", 2, MAX_BATCH),
            ("n_hidden", 1, MAX_HIDDEN),
            ("seed", 0, 2**63 - 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UserError(f"{name} must be an integer from {low:,} to {high:,}, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not 0 < self.lr < math.inf:
            raise UserError(f"lr must be a positive finite number, got {self.lr!r}")

    def learning_rate(self, step: int) -> float:
        return float(self.lr) if step < self.decay_step else float(self.lr) / 10

    @property
    def window(self) -> int:
        """Steps per point of the train-loss curve."""
        return max(1, math.ceil(self.steps / MAX_POINTS))

    @property
    def diagnose_every(self) -> int:
        return max(100, math.ceil(self.steps / MAX_RECORDS))

    @property
    def val_every(self) -> int:
        return max(1000, math.ceil(self.steps / VAL_POINTS))


class LiveRun:
    """One training run of the makemore MLP on ``data`` (a :class:`~ninjagrad.makemore.data.Dataset`)."""

    def __init__(self, config: LiveConfig, data) -> None:
        from ninjagrad.makemore.train import INIT_STREAM, TrainConfig

        self.config = config
        self.data = data
        self.model_config = ModelConfig(
            vocab_size=data.vocab.size, block_size=data.block_size, n_hidden=config.n_hidden
        )
        params = init_params(self.model_config, np.random.default_rng((config.seed, INIT_STREAM)))
        self.parameters = num_parameters(params)
        self.train_step = TrainStep(self.model_config, params, config.batch_size)
        # ninjagrad train's batch order: the same seed gives the same batches in the same order
        self._batch_config = TrainConfig(
            steps=config.steps,
            batch_size=config.batch_size,
            n_hidden=config.n_hidden,
            seed=config.seed,
            block_size=data.block_size,
        )
        self.step = 0
        self.losses = np.zeros(config.steps, dtype=np.float32)  # (steps,) every step's batch loss
        self.val_steps: list[int] = []
        self.val_losses: list[float] = []
        self.diagnostics = DiagnosticsRecorder(every=config.diagnose_every)
        self.error = ""  # why the run stopped early (a diverged loss)
        self.calibrated: tuple[np.ndarray, np.ndarray] | None = None  # BatchNorm's, once the run is done
        self._chunk = -1
        self._X = self._Y = None
        sample = slice(0, min(VAL_SAMPLE, len(data.val)))
        self._val_X, self._val_Y = data.val.X[sample].astype(np.intp), data.val.Y[sample].astype(np.intp)

    @property
    def done(self) -> bool:
        return self.step >= self.config.steps or bool(self.error)

    def advance(self, max_steps: int) -> int:
        """Run up to ``max_steps`` steps (fewer at a chunk, record or val boundary); returns how many ran."""
        from ninjagrad.makemore.train import CHUNK_STEPS, _batches

        if self.done:
            return 0
        config, step = self.config, self.step
        chunk, offset = divmod(step, CHUNK_STEPS)
        if chunk != self._chunk:
            self._X, self._Y = _batches(self._batch_config, self.data.train, chunk)
            self._chunk = chunk
        end = min(
            step + max_steps,
            (chunk + 1) * CHUNK_STEPS,
            _next_multiple(step, config.diagnose_every),
            _next_multiple(step, config.val_every),
            config.decay_step if step < config.decay_step else config.steps,
            config.steps,
        )
        lr = config.learning_rate(step)
        first, X, Y, losses, train_step = chunk * CHUNK_STEPS, self._X, self._Y, self.losses, self.train_step
        with np.errstate(all="ignore"):  # the segment of `ninjagrad train`'s loop: one call, many steps
            losses[step:end] = train_step.run(
                X[step - first : end - first], Y[step - first : end - first], lr
            )
        self.step = end
        if not np.isfinite(losses[step:end]).all():
            bad = step + int(np.argmin(np.isfinite(losses[step:end])))
            self.error = (
                f"training diverged: the loss of step {bad:,} is {losses[bad]} with lr {lr:g}; "
                "reset with a smaller lr"
            )
            return end - step
        last = end - 1 - first
        self.diagnostics.observe(end, train_step, X[last], Y[last], lr)
        if end % config.val_every == 0 or end == config.steps:
            self._validate()
        if end == config.steps:  # as `ninjagrad train` does after its last step
            self.calibrated = calibrate_batchnorm(train_step.params, self.data.train.X, chunk_size=2048)
        return end - step

    def _validate(self) -> None:
        diagnostics = self.diagnostics
        if diagnostics.running_mean is None:
            return
        loss = split_loss(
            self.train_step.params,
            diagnostics.running_mean,
            diagnostics.running_var,
            self._val_X,
            self._val_Y,
            eps=self.model_config.bn_eps,
        )
        self.val_steps.append(self.step)
        self.val_losses.append(loss)

    def smoothed_loss(self) -> tuple[list[int], list[float]]:
        """(last step of each full window, the window's mean batch loss)."""
        window = self.config.window
        full = self.step // window
        if full == 0:
            return [], []
        means = self.losses[: full * window].astype(np.float64).reshape(full, window).mean(axis=1)
        return [int((i + 1) * window) for i in range(full)], [float(m) for m in means]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every


def training_json(run: LiveRun, *, steps_per_second: float = 0.0, playing: bool = False) -> dict[str, Any]:
    """The page's view of a run: config, progress, loss curves and diagnostics."""
    steps, train = run.smoothed_loss()
    return {
        "config": asdict(run.config),
        "data": {"path": str(run.data.path), "name": Path(run.data.path).name, "train": len(run.data.train)},
        "parameters": run.parameters,
        "step": run.step,
        "done": run.done,
        "error": run.error,
        "playing": playing,
        "steps_per_second": steps_per_second,
        "lr": run.config.learning_rate(run.step),
        "window": run.config.window,
        "val_sample": len(run._val_Y),
        "last_loss": _finite(float(run.losses[run.step - 1])) if run.step else None,
        "train_loss": {"steps": steps, "loss": [_finite(v) for v in train]},
        "val_loss": {"steps": list(run.val_steps), "loss": [_finite(v) for v in run.val_losses]},
        "diagnostics": run.diagnostics.to_json(),
        "bn_calibrated": None
        if run.calibrated is None
        else {"mean": run.calibrated[0].ravel().tolist(), "var": run.calibrated[1].ravel().tolist()},
    }
