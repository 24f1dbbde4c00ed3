"""Training the makemore MLP with the hand-written backward pass: the loop, checkpoints, resume, evaluation.

The recipe is the lecture's (exercise 4 of "becoming a backprop ninja"): minibatch SGD with batch 32,
the learning rate ``lr`` for the first half of the steps and ``lr / 10`` after, BatchNorm on the batch
statistics during training (Ioffe & Szegedy 2015), then its mean and variance calibrated once over the
whole training split for evaluation and sampling. Each step is one call to
:class:`ninjagrad.makemore.fast.TrainStep`: fused manual backward, no autograd.

Exact resume. The parameters after step ``s`` depend only on the initial parameters, the batches of
steps ``0..s`` and the learning rates, and all three are functions of the config: the initial parameters
come from a generator seeded with ``(seed, 0)``, and the batch indices of steps ``c*K .. c*K+K-1`` from
one seeded with ``(seed, 1, c)`` (``K = CHUNK_STEPS``). So a checkpoint needs no generator state beyond
the step it reached, a resumed run draws exactly the batches an uninterrupted run would, and the two end
with bit-identical parameters. Drawing ``K`` steps of indices, and gathering their examples, in one call
each also keeps NumPy's per-call overhead out of the per-step budget.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.files import check_writable, write_atomically
from ninjagrad.makemore.checkpoint import (
    FILENAME,
    Checkpoint,
    checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from ninjagrad.makemore.data import Dataset, Examples, check_memory
from ninjagrad.makemore.diagnostics import PLOT_FILES, DiagnosticsRecorder
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import (
    ModelConfig,
    calibrate_batchnorm,
    init_params,
    num_parameters,
    split_loss,
)
from ninjagrad.makemore.sample import sample_items

CHUNK_STEPS = 1000  # steps whose batch indices are drawn, and examples gathered, in one go
REPORT_EVERY = 500  # steps between updates of the progress bar's loss
INIT_STREAM, BATCH_STREAM, SAMPLE_STREAM = 0, 1, 2  # seed (seed, stream, ...) keeps the streams apart
BATCH_SCHEME = {"generator": "numpy PCG64 seeded with (seed, 1, chunk)", "chunk_steps": CHUNK_STEPS}
EVAL_CHUNK_ROWS = 2048  # examples per pass when evaluating: keeps the peak memory of a full run < 100 MB
METRICS_FILE, LOSS_PLOT = "metrics.json", "loss.png"
STAGING = ".replacement"  # the subdirectory in which a --force run trains until it replaces the old run
RUN_FILES = (FILENAME, METRICS_FILE, LOSS_PLOT, *PLOT_FILES)  # what a finished run directory holds
DIAGNOSE_EVERY = REPORT_EVERY  # steps between training diagnostics (a multiple of REPORT_EVERY: segment ends)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result (the lecture's values are the defaults)."""

    steps: int = 200_000  # SGD steps
    batch_size: int = 32  # examples per step (at least 2: BatchNorm's variance divides by n - 1)
    lr: float = 0.1  # learning rate for the first steps // 2 steps; lr / 10 after (0.1, 0.01 from 100,000)
    n_embd: int = 10  # embedding dimension per character
    n_hidden: int = 200  # hidden units
    block_size: int = 3  # context length in characters
    seed: int = 42  # initialisation and batch order; the train/val/test split is always the lecture's
    save_every: int = 10_000  # steps between checkpoints (also saved at the end and on Ctrl-C)

    def __post_init__(self):
        for name in ("steps", "n_embd", "n_hidden", "block_size", "save_every"):
            _require(name, getattr(self, name), 1)
        _require("batch_size", self.batch_size, 2)
        _require("seed", self.seed, 0)
        if isinstance(self.lr, bool) or not (
            isinstance(self.lr, (int, float)) and 0 < self.lr < float("inf")
        ):
            raise UserError(f"lr must be a positive finite number, got {self.lr!r}")

    def model_config(self, vocab_size: int) -> ModelConfig:
        return ModelConfig(
            vocab_size=vocab_size, block_size=self.block_size, n_embd=self.n_embd, n_hidden=self.n_hidden
        )

    def learning_rate(self, step: int) -> float:
        """The lecture's step decay: ``lr`` for the first half of the run, a tenth of it after."""
        return self.lr if step < self.steps // 2 else self.lr / 10


def _require(name: str, value, minimum: int) -> None:
    # A plain int, not a NumPy integer: the config is stored as JSON in every checkpoint.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class TrainResult:
    """What a call to :func:`train` did; the losses and samples are empty if it was interrupted."""

    config: TrainConfig
    model_config: ModelConfig
    params: dict[str, np.ndarray]  # a copy of the parameters after the last step done
    step: int  # steps done in total (config.steps unless interrupted)
    loss_history: np.ndarray  # (step,) float32 batch loss of every step
    steps_run: int  # steps this call ran (fewer than step after a resume)
    seconds: float  # wall time of this call's SGD loop, checkpoint writes included
    interrupted: bool  # stopped by Ctrl-C; the checkpoint (if any) holds the step reached
    checkpoint: Path | None = None  # where the model was saved (in staging_dir while replacing a run)
    bnmean: np.ndarray | None = None  # (1, n_hidden) calibrated over the training split
    bnvar: np.ndarray | None = None  # (1, n_hidden)
    losses: dict[str, float] = field(default_factory=dict)  # mean cross-entropy per split
    samples: list[str] = field(default_factory=list)  # drawn from the finished model

    @property
    def us_per_step(self) -> float:
        return 1e6 * self.seconds / self.steps_run if self.steps_run else float("nan")


def train(
    config: TrainConfig,
    data: Dataset,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    force: bool = False,
    num_samples: int = 20,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or, with ``resume``, continue training) a model on ``data``.

    With ``out_dir`` it writes ``model.npz`` (see :mod:`ninjagrad.makemore.checkpoint`) every
    ``save_every`` steps, on Ctrl-C and at the end, then ``metrics.json`` and ``loss.png``. An existing
    ``model.npz`` is continued with ``resume`` (the config and data must be the same), replaced with
    ``force``, and otherwise refused. Without ``out_dir`` nothing is written.

    ``force`` never destroys the run it replaces before the new one has finished: the new run trains in
    ``out_dir/.replacement/`` (see :func:`staging_dir`), and its three files take the old ones' places only
    at the end. Interrupted, it stays there and ``resume`` continues it; if it fails, it is removed.
    """
    log = log or (lambda message: None)
    if resume and force:
        raise UserError("--resume and --force contradict each other; pass one of them")
    if config.block_size != data.block_size:
        raise UserError(
            f"the data was encoded with block_size {data.block_size} but the config has {config.block_size}"
        )
    model_config = config.model_config(data.vocab.size)
    _check_memory(config, model_config)  # before the first large allocation
    train_state = {"config": asdict(config), "data": _fingerprint(data), "batches": BATCH_SCHEME}
    out = None if out_dir is None else Path(out_dir)
    # Validates before anything is written; `where` is the directory this run writes to.
    start, where = _starting_checkpoint(out, train_state, resume, force)
    path = None if where is None else checkpoint_path(where)

    history = np.zeros(config.steps, dtype=np.float32)  # (steps,) 800 kB for the lecture's run
    if start is None:
        params = init_params(model_config, np.random.default_rng((config.seed, INIT_STREAM)))
        step = 0
    else:
        params, step = start.params, start.step
        history[:step] = start.loss_history
    train_step = TrainStep(model_config, params, config.batch_size)
    diagnostics = _diagnostics_from(start)

    def save(step: int, bnmean=None, bnvar=None) -> None:
        if path is not None:
            params = train_step.params
            checkpoint = Checkpoint(
                model_config, data.vocab, params, step, history, train_state, bnmean, bnvar
            )
            checkpoint.diagnostics = diagnostics.state()  # so that a resumed run's plots show the whole run
            save_checkpoint(path, checkpoint)

    if path is not None:
        check_writable(path)  # a read-only or full place is refused before any file is touched
        try:
            if where != out and start is None:
                shutil.rmtree(where, ignore_errors=True)  # an earlier replacement, killed or abandoned
            where.mkdir(parents=True, exist_ok=True)
            if start is None:
                for stale in RUN_FILES[1:]:  # left beside a model.npz deleted by hand
                    (where / stale).unlink(missing_ok=True)
        except OSError as error:
            raise UserError(
                f"cannot prepare the output directory {where}: {error.strerror}; choose a writable one"
            ) from None
        if start is None:
            save(0)  # from now on {where}/model.npz is this run's
    _log_plan(log, config, data, model_config, num_parameters(params))
    if start is not None:
        log(f"resuming {path} from step {step:,} of {config.steps:,}")

    steps_before = step
    started = time.perf_counter()
    # NumPy's overflow warnings would point into fast.py; the loop reports a diverging run itself.
    with (
        _stop_on_sigint() as stop,
        _progress_bar(config.steps, step, progress) as bar,
        np.errstate(all="ignore"),
        _abandon_replacement_on_failure(where, out),
    ):
        step = _sgd_loop(config, data.train, train_step, history, step, save, stop, bar, diagnostics.observe)
    seconds = time.perf_counter() - started
    if step != steps_before:
        save(step)  # the steps since the last checkpoint are safe before the (interruptible) evaluation

    result = TrainResult(
        config=config,
        model_config=model_config,
        params={name: array.copy() for name, array in train_step.params.items()},
        step=step,
        loss_history=history[:step].copy(),
        steps_run=step - steps_before,
        seconds=seconds,
        interrupted=stop.requested,
        checkpoint=path,
    )
    if stop.requested:
        return result

    _evaluate(result, data, num_samples)
    if path is not None:
        save(step, result.bnmean, result.bnvar)
        _write_metrics(where / METRICS_FILE, result, data)
        _plot(where / LOSS_PLOT, result, data)
        _plot_diagnostics(where, diagnostics, result)
        if where != out:
            _replace_run(where, out)
            result.checkpoint = checkpoint_path(out)
    return result


def _diagnostics_from(start: Checkpoint | None) -> DiagnosticsRecorder:
    """The diagnostics recorder, going on from a resumed checkpoint's (a missing or other one: afresh)."""
    if start is not None and start.diagnostics is not None:
        try:
            return DiagnosticsRecorder.from_state(start.diagnostics, DIAGNOSE_EVERY)
        except ValueError:
            pass  # the plots then show the resumed steps only; training itself is unaffected
    return DiagnosticsRecorder(every=DIAGNOSE_EVERY)


def staging_dir(out_dir: str | Path) -> Path:
    """Where a run started with ``force`` over an existing run trains until it can take that run's place."""
    return Path(out_dir) / STAGING


def _replace_run(staging: Path, out: Path) -> None:
    """Move a finished replacement's files over the old run's, the model first, then remove ``staging``."""
    try:
        for name in RUN_FILES:
            if (staging / name).exists():
                os.replace(staging / name, out / name)  # each one atomic
            else:  # not made by the new run: the old run's would mislead
                (out / name).unlink(missing_ok=True)
        staging.rmdir()
    except OSError as error:
        raise UserError(
            f"cannot move the finished run from {staging} to {out}: {error.strerror}; the files are in "
            f"{staging}"
        ) from None


@contextmanager
def _abandon_replacement_on_failure(where: Path | None, out: Path | None) -> Iterator[None]:
    """A replacement run that fails (it diverged) is removed; the run it was to replace is kept."""
    try:
        yield
    except UserError as error:
        if where is None or where == out:
            raise
        shutil.rmtree(where, ignore_errors=True)
        raise UserError(f"{error}. The run in {out} is unchanged") from None


def memory_needed(config: TrainConfig, model_config: ModelConfig) -> int:
    """An estimate of the bytes a run's own arrays take at their peak, from their shapes.

    Why: a config too large for the machine (``--hidden 100000000``, ``--steps 10**12``) would otherwise
    end in a MemoryError traceback or, since Linux hands out memory it does not have, in the kernel
    killing the process, maybe only when evaluation starts (its chunks of activations are the widest
    arrays of a run). Only the large arrays are counted, not the interpreter, NumPy or the dataset (the
    lecture's run peaks at ~85 MB in all; this estimate says ~11 MB). The tests hold it within a factor
    of two of what ``tracemalloc`` measures.
    """
    parameters = sum(math.prod(shape) for shape in model_config.parameter_shapes().values())
    n, H, V = config.batch_size, config.n_hidden, model_config.vocab_size
    K, E = config.block_size, config.n_embd
    always = (
        24 * parameters  # float64 draws, float32 init, TrainStep's parameters and updates, the result's copy
        + 8 * config.steps  # the float32 loss history and the result's copy
        + 4 * n * (K * V + 3 * K * E + 11 * H + 2 * V)  # TrainStep's preallocated buffers
    )
    training = 8 * CHUNK_STEPS * n * (K + 2)  # one chunk of batch indices, contexts and targets
    evaluation = 24 * EVAL_CHUNK_ROWS * H  # BatchNorm calibration: a chunk of activations in float64
    return always + max(training, evaluation)


def _check_memory(config: TrainConfig, model_config: ModelConfig) -> None:
    fix = "choose a smaller --hidden, --embd, --block-size, --batch-size or --steps"
    check_memory(memory_needed(config, model_config), "this run", fix)


def _evaluate(result: TrainResult, data: Dataset, num_samples: int) -> None:
    """Calibrate BatchNorm over the training split, then measure every split and draw samples."""
    params, eps = result.params, result.model_config.bn_eps
    result.bnmean, result.bnvar = calibrate_batchnorm(params, data.train.X, chunk_size=EVAL_CHUNK_ROWS)
    result.losses = {
        name: split_loss(
            params, result.bnmean, result.bnvar, examples.X, examples.Y, eps=eps, chunk_size=EVAL_CHUNK_ROWS
        )
        for name, examples in data.splits().items()
    }
    rng = np.random.default_rng((result.config.seed, SAMPLE_STREAM))
    result.samples = sample_items(
        params, result.bnmean, result.bnvar, data.vocab, result.config.block_size, num_samples, rng, eps=eps
    )


def _plot(path: Path, result: TrainResult, data: Dataset) -> None:
    from ninjagrad.viz.loss import plot_loss  # matplotlib only now: the loop's memory stays small

    config = result.config
    name = os.fsencode(data.path.name).decode("utf-8", "replace")  # matplotlib cannot draw b"\xe9" as text
    plot_loss(
        result.loss_history,
        path,
        lr_drop_step=config.steps // 2,
        title=f"makemore MLP on {name}, {config.steps:,} steps of batch {config.batch_size}: "
        f"train {result.losses['train']:.4f}, val {result.losses['val']:.4f}",
    )


def _plot_diagnostics(directory: Path, diagnostics: DiagnosticsRecorder, result: TrainResult) -> None:
    from ninjagrad.viz.diagnostics import write_diagnostic_plots  # matplotlib only now

    write_diagnostic_plots(directory, diagnostics, result.bnmean, result.bnvar)


def _log_plan(log, config: TrainConfig, data: Dataset, model_config: ModelConfig, parameters: int) -> None:
    sizes = " / ".join(f"{name} {len(examples):,}" for name, examples in data.splits().items())
    log(f"data: {data.path} ({sum(data.items.values()):,} items, vocabulary of {data.vocab.size})")
    log(f"examples: {sizes}")
    log(
        f"model: n_embd {model_config.n_embd}, n_hidden {model_config.n_hidden}, block_size "
        f"{model_config.block_size}: {parameters:,} parameters"
    )
    log(
        f"training: {config.steps:,} steps of batch {config.batch_size}, lr {config.lr:g} then "
        f"{config.lr / 10:g} from step {config.steps // 2:,}"
    )


def _sgd_loop(config, examples: Examples, train_step, history, step, save, stop, bar, observe=None) -> int:
    """Run SGD steps from ``step`` to the end (or to a Ctrl-C); returns the step reached.

    The steps go in segments that end at every event: a new chunk of batches, a checkpoint, a progress
    report, the learning-rate drop. Inside a segment the loop body is only the step itself. ``observe``, if
    given, is called after each segment with (step reached, train_step, last batch's Xb and Yb, lr).
    """
    lr_drop = config.steps // 2
    X = Y = None
    while step < config.steps and not stop.requested:
        chunk, offset = divmod(step, CHUNK_STEPS)
        if X is None or offset == 0:
            X, Y = _batches(config, examples, chunk)  # (CHUNK_STEPS, B, block_size), (CHUNK_STEPS, B)
        end = min(
            (chunk + 1) * CHUNK_STEPS,
            _next_multiple(step, config.save_every),
            _next_multiple(step, REPORT_EVERY),
            lr_drop if step < lr_drop else config.steps,
            config.steps,
        )
        lr = config.learning_rate(step)
        first = chunk * CHUNK_STEPS
        history[step:end] = train_step.run(X[step - first : end - first], Y[step - first : end - first], lr)
        _check_finite(history, step, end, lr)
        if observe is not None:
            observe(end, train_step, X[end - 1 - first], Y[end - 1 - first], lr)
        if end % REPORT_EVERY == 0 or end == config.steps:
            bar.set_postfix(loss=f"{history[max(0, end - REPORT_EVERY) : end].mean():.4f}", refresh=False)
        bar.update(end - step)
        step = end
        if step % config.save_every == 0 and step < config.steps:
            save(step)
    return step


def _check_finite(history: np.ndarray, start: int, end: int, lr: float) -> None:
    """Stop a run whose loss has become inf or nan (a learning rate far too large).

    Nothing recovers from there: every later step is nan too, and the run would otherwise go on to save,
    evaluate and sample a model of nans as if it had trained. Checked once per segment of the loop, so
    the checkpoints written at segment ends only ever hold steps with a finite loss.
    """
    finite = np.isfinite(history[start:end])  # (end - start,)
    if not finite.all():
        bad = start + int(np.argmin(finite))
        raise UserError(
            f"training diverged: the loss of step {bad:,} is {history[bad]} with learning rate {lr:g}; "
            "start again with a smaller --lr (--force replaces the stopped run)"
        )


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every


def _batches(config: TrainConfig, examples: Examples, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """The contexts and targets of every step of one chunk (sampled with replacement, like the lecture)."""
    rng = np.random.default_rng((config.seed, BATCH_STREAM, chunk))
    ix = rng.integers(0, len(examples), size=(CHUNK_STEPS, config.batch_size))  # (K, B)
    # np.take is several times faster than X[ix] for gathering rows; intp is what indexing C wants.
    Xb = np.take(examples.X, ix, axis=0).astype(np.intp)  # (K, B, block_size)
    Yb = np.take(examples.Y, ix).astype(np.intp)  # (K, B)
    return Xb, Yb


def _fingerprint(data: Dataset) -> dict:
    return {"path": str(data.path), "sha256": data.sha256, "vocab": data.vocab.chars}


def _starting_checkpoint(
    out: Path | None, train_state: dict, resume: bool, force: bool
) -> tuple[Checkpoint | None, Path | None]:
    """The checkpoint to continue from (None for a fresh start) and the directory the run writes to.

    Refuses anything ambiguous. A fresh run over an existing one (``force``) writes to the staging
    directory; ``resume`` continues a replacement found there before the run in ``out`` itself.
    """
    if out is None:
        if resume:
            raise UserError("resume needs an output directory to resume from")
        return None, None
    path = checkpoint_path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory; choose another output directory")
    staged = checkpoint_path(staging_dir(out))
    if resume:
        candidates = [p for p in (staged, path) if p.exists()]
        if not candidates:
            raise UserError(f"nothing to resume: there is no {path}; drop --resume to start a new run there")
        first_refusal = None
        for candidate in candidates:
            checkpoint = load_checkpoint(candidate)
            try:
                _check_same_run(candidate, checkpoint.train_state, train_state)
            except UserError as refusal:
                first_refusal = first_refusal or refusal
                continue
            return checkpoint, candidate.parent
        raise first_refusal
    if not path.exists():
        return None, out
    if force:
        return None, staging_dir(out)
    raise UserError(
        f"{path} already exists; pass --resume to continue (or re-evaluate) that run, --force to "
        "replace it with a new one, or choose another output directory"
    )


def _check_same_run(path: Path, saved: dict, now: dict) -> None:
    """A resumed run must be the run that was interrupted, or it could not end where that one would."""
    if not all(isinstance(saved.get(key), dict) for key in ("config", "data", "batches")):
        raise UserError(
            f"{path} holds no training state, so it cannot be resumed; pass --force to replace it"
        )
    if saved["batches"] != now["batches"]:
        raise UserError(
            f"{path} draws its batches as {saved['batches']}, this ninjagrad as {now['batches']}; "
            "start a new run"
        )
    was, now_data = saved["data"], now["data"]
    if was.get("sha256") != now_data["sha256"]:
        raise UserError(
            f"the data differs from the run in {path}: it was trained on {was.get('path')} "
            f"(sha256 {str(was.get('sha256'))[:12]}...), this command reads {now_data['path']} "
            f"(sha256 {now_data['sha256'][:12]}...); resume with the same data file"
        )
    for name, value in now["config"].items():
        if name == "save_every":
            continue  # free to change: when checkpoints are written does not change the result
        if saved["config"].get(name) != value:
            raise UserError(
                f"{name} differs from the run in {path}: it was {saved['config'].get(name)!r}, this command "
                f"has {value!r}; resume with the same arguments, or start a new run in another directory"
            )


def _write_metrics(path: Path, result: TrainResult, data: Dataset) -> None:
    metrics = {
        "losses": result.losses,
        "examples": {name: len(examples) for name, examples in data.splits().items()},
        "items": data.items,
        "steps": result.step,
        "steps_run": result.steps_run,
        "seconds": round(result.seconds, 3),
        "us_per_step": round(result.us_per_step, 2) if result.steps_run else None,
        "parameters": num_parameters(result.params),
        "config": asdict(result.config),
        "model_config": asdict(result.model_config),
        "data": _fingerprint(data),
        "first_step_loss": float(result.loss_history[0]),
    }
    write_atomically(path, (json.dumps(metrics, indent=2) + "\n").encode())


class _StopRequest:
    """Set by SIGINT (Ctrl-C); the loop stops at the end of its current segment.

    The loop reads it between segments (at most ``REPORT_EVERY`` steps, some tens of milliseconds), never
    inside a step, so the checkpoint written on the way out never holds half an update.
    """

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        self.requested = True


@contextmanager
def _stop_on_sigint() -> Iterator[_StopRequest]:
    stop = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread; Ctrl-C cannot reach us anyway
        return
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
