"""The makemore training step beside every peer, and a whole training run (issue 12).

Part 1, one step at the lecture's configuration (batch 32, n_embd 10, n_hidden 200, float32), every row
measured in the same process in interleaved rounds (each round runs every row for ``--steps`` steps, the
order rotating from round to round, so a noisy neighbour slows all alike):

- ninjagrad ``TrainStep.run``, as ``ninjagrad train`` calls it (a chunk of batches per call);
- the six matrix products of the step alone (NumPy, float32, outputs preallocated), in the lecture's
  shapes and layouts (the issue's reference), and again in TrainStep's own (H + 1 wide, the output layer
  transposed), which BLAS runs faster: the floor of this step;
- tight plain NumPy: the fused backward written plainly (new arrays each step, ``np.add.at`` for dC);
- PyTorch eager, the lecture's exercise-4 loop body as the lecture writes it: a fresh ``torch.randint``
  batch, ``F.cross_entropy`` for the loss, the fused backward under ``no_grad`` (softmax minus one-hot, the
  one-line BatchNorm formula with its sums written out twice), ``index_add_`` for dC, the SGD update;
- PyTorch eager, a lean manual step: indices precomputed, ``addmm`` for the two layers, each sum computed
  once, the loss from the softmax already computed, one ``_foreach_add_`` for the update; at 1 and 2 threads;
- ``jax.jit`` of the whole step (``value_and_grad`` and the SGD update), and ``torch.compile`` of the lean
  step, each when installed (``pip install -e '.[bench]'`` installs JAX); an absent one is reported.

Every row starts from the same parameters (``init_params``, seed 42) and gets the same batches of the bundled
names' training split; the first losses are printed side by side. Times are wall-clock per step; each ratio
is the median (and range) of the per-round ratios to ninjagrad's time in the same round.

Part 2, the whole run: ``ninjagrad train`` at the lecture's configuration in a subprocess: its training
loop's time (metrics.json), the whole command's time, peak RSS, and the losses.

    python benchmarks/bench_train.py [--quick] [--rounds R] [--steps N] [--full-steps N | --skip-full]
        [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ninjagrad.makemore.data import load_dataset
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

BATCH_SIZE = 32  # the lecture's batch
LR = 0.1  # the lecture's first-half learning rate
SEED = 42  # parameters and batches

GOAL_VS_MATMULS = 2.0  # TrainStep at most 2x the six matrix products
GOAL_VS_LECTURE = 6.0  # at least 6x faster than the lecture's cell in PyTorch eager
GOAL_VS_LEAN = 4.5  # at least 4.5x faster than the lean PyTorch step, at 1 and at 2 threads
GOAL_VS_JAX = 3.0  # at least 3x faster than jax.jit
GOAL_TRAIN_SECONDS = 10.0  # the training loop of the full 200,000 steps
GOAL_RSS_MB = 100.0
GOAL_LOSSES = {"train": 2.08, "val": 2.12}  # today's losses plus float32 noise


# ---------------------------------------------------------------------------------------------------------
# The rows. Each is made by a function of (config, params, data, Xs, Ys) that returns a callable running
# one round (all the batches) and returning the first step's loss, or raises Unavailable.


class Unavailable(Exception):
    """A row that cannot run here (a library not installed); the message says why."""


def ninjagrad_row(config, params, data, Xs, Ys):
    step = TrainStep(config, params, BATCH_SIZE)
    return lambda: float(step.run(Xs, Ys, LR)[0])


def matmuls_row(config, params, data, Xs, Ys):
    """The step's six products at the lecture's shapes: two forward, four backward."""
    n, F, H, V = BATCH_SIZE, config.block_size * config.n_embd, config.n_hidden, config.vocab_size
    rng = np.random.default_rng(SEED)
    embcat, W1 = rng.standard_normal((n, F), np.float32), rng.standard_normal((F, H), np.float32)
    h, W2 = rng.standard_normal((n, H), np.float32), rng.standard_normal((H, V), np.float32)
    dlogits, dhprebn = rng.standard_normal((n, V), np.float32), rng.standard_normal((n, H), np.float32)
    hprebn, logits, dW2 = (
        np.empty((n, H), np.float32),
        np.empty((n, V), np.float32),
        np.empty((H, V), np.float32),
    )
    dh, dW1, dembcat = (
        np.empty((n, H), np.float32),
        np.empty((F, H), np.float32),
        np.empty((n, F), np.float32),
    )

    def run():
        for _ in range(len(Xs)):
            np.dot(embcat, W1, out=hprebn)
            np.dot(h, W2, out=logits)
            np.dot(h.T, dlogits, out=dW2)
            np.dot(dlogits, W2.T, out=dh)
            np.dot(embcat.T, dhprebn, out=dW1)
            np.dot(dhprebn, W1.T, out=dembcat)
        return float("nan")

    return run


def step_matmuls_row(config, params, data, Xs, Ys):
    """The same six products in TrainStep's own shapes and memory layouts (H + 1 wide, the output layer
    transposed): BLAS picks its kernel by layout, and these are the step's real floor."""
    n, F, Hp, V = BATCH_SIZE, config.block_size * config.n_embd, config.n_hidden + 1, config.vocab_size
    rng = np.random.default_rng(SEED)
    embcentred, W1 = rng.standard_normal((n, F), np.float32), rng.standard_normal((F, Hp), np.float32)
    h1, W2b2 = rng.standard_normal((n, Hp), np.float32), rng.standard_normal((V, Hp), np.float32)
    dlogits, dhprebn = rng.standard_normal((V, n), np.float32), rng.standard_normal((n, Hp), np.float32)
    bndiff, logits, dW2b2 = (np.empty(shape, np.float32) for shape in ((n, Hp), (V, n), (V, Hp)))
    dh1, dW1, dembcat = (np.empty(shape, np.float32) for shape in ((n, Hp), (F, Hp), (n, F)))

    def run():
        for _ in range(len(Xs)):
            np.dot(embcentred, W1, out=bndiff)
            np.dot(W2b2, h1.T, out=logits)
            np.dot(dlogits, h1, out=dW2b2)
            np.dot(dlogits.T, W2b2, out=dh1)
            np.dot(embcentred.T, dhprebn, out=dW1)
            np.dot(dhprebn, W1.T, out=dembcat)
        return float("nan")

    return run


def plain_numpy_row(config, params, data, Xs, Ys):
    """The fused backward written plainly in NumPy: what a careful user writes without tuning."""
    p = {name: params[name].copy() for name in PARAM_NAMES}
    eps = config.bn_eps

    def one_step(Xb, Yb):
        n = Xb.shape[0]
        emb = p["C"][Xb]  # (n, block, E)
        embcat = emb.reshape(n, -1)
        hprebn = embcat @ p["W1"] + p["b1"]
        bnmean = hprebn.mean(0, keepdims=True)
        bnvar = hprebn.var(0, keepdims=True, ddof=1)
        bnvar_inv = (bnvar + eps) ** -0.5
        bnraw = (hprebn - bnmean) * bnvar_inv
        hpreact = p["bngain"] * bnraw + p["bnbias"]
        h = np.tanh(hpreact)
        logits = h @ p["W2"] + p["b2"]
        counts = np.exp(logits - logits.max(1, keepdims=True))
        probs = counts / counts.sum(1, keepdims=True)
        loss = -np.log(probs[np.arange(n), Yb]).mean()
        dlogits = probs
        dlogits[np.arange(n), Yb] -= 1
        dlogits /= n
        dhpreact = (1 - h**2) * (dlogits @ p["W2"].T)
        dbnbias = dhpreact.sum(0, keepdims=True)
        dbngain = (dhpreact * bnraw).sum(0, keepdims=True)
        dhprebn = p["bngain"] * bnvar_inv / n * (n * dhpreact - dbnbias - n / (n - 1) * bnraw * dbngain)
        demb = (dhprebn @ p["W1"].T).reshape(emb.shape)
        dC = np.zeros_like(p["C"])
        np.add.at(dC, Xb, demb)
        grads = {
            "C": dC,
            "W1": embcat.T @ dhprebn,
            "b1": dhprebn.sum(0),
            "W2": h.T @ dlogits,
            "b2": dlogits.sum(0),
            "bngain": dbngain,
            "bnbias": dbnbias,
        }
        for name in PARAM_NAMES:
            p[name] -= LR * grads[name]
        return float(loss)

    def run():
        first = one_step(Xs[0], Ys[0])
        for Xb, Yb in zip(Xs[1:], Ys[1:], strict=True):
            one_step(Xb, Yb)
        return first

    return run


def _torch_params(params):
    return [torch.tensor(params[name]) for name in PARAM_NAMES]


def torch_lecture_row(config, params, data, Xs, Ys):
    """The lecture's exercise-4 loop body in PyTorch eager, batch sampling and loss.item() included."""
    C, W1, b1, W2, b2, bngain, bnbias = parameters = _torch_params(params)
    Xtr, Ytr = (
        torch.from_numpy(data.train.X.astype(np.int64)),
        torch.from_numpy(data.train.Y.astype(np.int64)),
    )
    g = torch.Generator().manual_seed(SEED)
    n, eps = BATCH_SIZE, config.bn_eps

    @torch.no_grad()
    def one_step():
        ix = torch.randint(0, Xtr.shape[0], (n,), generator=g)
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hprebn = embcat @ W1 + b1
        bnmean = hprebn.mean(0, keepdim=True)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)
        bnvar_inv = (bnvar + eps) ** -0.5
        bnraw = (hprebn - bnmean) * bnvar_inv
        hpreact = bngain * bnraw + bnbias
        h = torch.tanh(hpreact)
        logits = h @ W2 + b2
        loss = torch.nn.functional.cross_entropy(logits, Yb)
        dlogits = torch.nn.functional.softmax(logits, 1)
        dlogits[range(n), Yb] -= 1
        dlogits /= n
        dh = dlogits @ W2.T
        dW2 = h.T @ dlogits
        db2 = dlogits.sum(0)
        dhpreact = (1.0 - h**2) * dh
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
        dbnbias = dhpreact.sum(0, keepdim=True)
        dhprebn = (
            bngain
            * bnvar_inv
            / n
            * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
        )
        dembcat = dhprebn @ W1.T
        dW1 = embcat.T @ dhprebn
        db1 = dhprebn.sum(0)
        demb = dembcat.view(emb.shape)
        dC = torch.zeros_like(C)
        dC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))
        grads = [dC, dW1, db1, dW2, db2, dbngain, dbnbias]
        for p, grad in zip(parameters, grads, strict=True):
            p.data += -LR * grad
        return loss.log10().item()

    def run():
        first = 10 ** one_step()
        for _ in range(len(Xs) - 1):
            one_step()
        return first

    return run


def _lean_torch_step(config):
    """A lean manual step in PyTorch eager: what a PyTorch user tuning this loop by hand would write."""
    n, eps = BATCH_SIZE, config.bn_eps

    def step(parameters, Xb, Yb, rows):
        C, W1, b1, W2, b2, bngain, bnbias = parameters
        embcat = C[Xb].view(n, -1)  # (n, F)
        hprebn = torch.addmm(b1, embcat, W1)
        bnvar, bnmean = torch.var_mean(hprebn, 0, keepdim=True, correction=1)
        bnvar_inv = torch.rsqrt(bnvar + eps)
        bnraw = (hprebn - bnmean) * bnvar_inv
        h = torch.tanh(torch.addcmul(bnbias, bngain, bnraw))
        logits = torch.addmm(b2, h, W2)
        probs = torch.softmax(logits, 1)
        picked = probs[rows, Yb]
        loss = -picked.log().mean()
        probs[rows, Yb] = picked - 1
        dlogits = probs.div_(n)
        dh = dlogits @ W2.T
        dhpreact = dh.mul_(1.0 - h * h)
        dbnbias = dhpreact.sum(0, keepdim=True)
        dbngain = (dhpreact * bnraw).sum(0, keepdim=True)
        dhprebn = (bngain * bnvar_inv) * (dhpreact - dbnbias / n - bnraw * (dbngain / (n - 1)))
        dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), (dhprebn @ W1.T).view(-1, C.shape[1]))
        grads = [dC, embcat.T @ dhprebn, dhprebn.sum(0), h.T @ dlogits, dlogits.sum(0), dbngain, dbnbias]
        torch._foreach_add_(parameters, grads, alpha=-LR)
        return loss

    return step


def _torch_batches(Xs, Ys):
    return list(torch.from_numpy(Xs.astype(np.int64))), list(torch.from_numpy(Ys.astype(np.int64)))


def torch_lean_row(threads):
    def make(config, params, data, Xs, Ys):
        parameters, step = _torch_params(params), torch.no_grad()(_lean_torch_step(config))
        Xt, Yt = _torch_batches(Xs, Ys)
        rows = torch.arange(BATCH_SIZE)

        def run():
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                first = step(parameters, Xt[0], Yt[0], rows).item()
                for Xb, Yb in zip(Xt[1:], Yt[1:], strict=True):
                    step(parameters, Xb, Yb, rows).item()
            finally:
                torch.set_num_threads(previous)
            return first

        return run

    return make


def torch_compile_row(config, params, data, Xs, Ys):
    parameters, rows = _torch_params(params), torch.arange(BATCH_SIZE)
    Xt, Yt = _torch_batches(Xs, Ys)
    try:
        step = torch.compile(torch.no_grad()(_lean_torch_step(config)))
        step(parameters, Xt[0], Yt[0], rows).item()  # compiles (inductor needs a C++ compiler)
    except Exception as error:  # noqa: BLE001 - any failure to compile means the row is absent
        raise Unavailable(
            f"torch.compile failed: {type(error).__name__}: {str(error).splitlines()[0]}"
        ) from None
    for parameter, start in zip(parameters, _torch_params(params), strict=True):  # undo the compiling step
        parameter.copy_(start)

    def run():
        first = step(parameters, Xt[0], Yt[0], rows).item()
        for Xb, Yb in zip(Xt[1:], Yt[1:], strict=True):
            step(parameters, Xb, Yb, rows).item()
        return first

    return run


def jax_row(config, params, data, Xs, Ys):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise Unavailable("JAX is not installed (pip install -e '.[bench]')") from None
    n, eps = BATCH_SIZE, config.bn_eps

    def loss_fn(p, Xb, Yb):
        embcat = p["C"][Xb].reshape(n, -1)
        hprebn = embcat @ p["W1"] + p["b1"]
        bnmean = hprebn.mean(0, keepdims=True)
        bnvar = hprebn.var(0, keepdims=True, ddof=1)
        hpreact = p["bngain"] * (hprebn - bnmean) * jax.lax.rsqrt(bnvar + eps) + p["bnbias"]
        logits = jnp.tanh(hpreact) @ p["W2"] + p["b2"]
        logprobs = jax.nn.log_softmax(logits, axis=1)
        return -jnp.take_along_axis(logprobs, Yb[:, None], axis=1).mean()

    @jax.jit
    def step(p, Xb, Yb):
        loss, grads = jax.value_and_grad(loss_fn)(p, Xb, Yb)
        return jax.tree_util.tree_map(lambda w, g: w - LR * g, p, grads), loss

    Xj, Yj = list(jnp.asarray(Xs.astype(np.int32))), list(jnp.asarray(Ys.astype(np.int32)))
    start = {name: jnp.asarray(params[name]) for name in PARAM_NAMES}
    jax.block_until_ready(step(start, Xj[0], Yj[0]))  # compiles
    state = {"p": start}

    def run():
        p = state["p"]
        losses = []
        for Xb, Yb in zip(Xj, Yj, strict=True):
            p, loss = step(p, Xb, Yb)
            losses.append(loss)
        state["p"] = jax.block_until_ready(p)
        return float(losses[0])

    return run


ROWS: dict[str, Callable] = {
    "ninjagrad TrainStep": ninjagrad_row,
    "six matmuls alone (NumPy)": matmuls_row,
    "six matmuls, TrainStep's layout": step_matmuls_row,
    "tight plain NumPy": plain_numpy_row,
    "PyTorch eager, lecture cell": torch_lecture_row,
    "PyTorch eager, lean, 1 thread": torch_lean_row(1),
    "PyTorch eager, lean, 2 threads": torch_lean_row(2),
    "jax.jit": jax_row,
    "torch.compile (lean)": torch_compile_row,
}


def bench_steps(rounds: int, steps: int, skip: set[str]) -> dict:
    """Interleaved rounds; for each row the wall-clock microseconds per step of every round."""
    data = load_dataset()
    config = ModelConfig(vocab_size=data.vocab.size, block_size=data.block_size)
    params = init_params(config, np.random.default_rng(SEED))
    rows = np.random.default_rng(SEED).integers(0, len(data.train), (steps, BATCH_SIZE))
    Xs = data.train.X[rows].astype(np.intp)  # (steps, n, block_size)
    Ys = data.train.Y[rows].astype(np.intp)  # (steps, n)
    runners, absent, first = {}, {}, {}
    for name, make in ROWS.items():
        if name in skip:
            absent[name] = "skipped (--skip)"
            continue
        try:
            runners[name] = make(config, params, data, Xs, Ys)
        except Unavailable as reason:
            absent[name] = str(reason)
    for name, run in runners.items():
        first[name] = run()  # warm-up; the first loss of a fresh start (except the lecture's own batch)
    times = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            started, started_cpu = time.perf_counter(), time.process_time()
            runners[name]()
            times[name].append(1e6 * (time.perf_counter() - started) / steps)
            cpu[name].append(1e6 * (time.process_time() - started_cpu) / steps)
    return {"times": times, "cpu": cpu, "absent": absent, "first_loss": first}


# Runs `ninjagrad train` and prints its peak RSS. A small go-between process, because getrusage's
# RUSAGE_CHILDREN counts a child's memory from the fork on, and a child forked from this process (torch
# loaded, ~250 MB) would be charged for that before exec replaced it.
_MEASURE_CHILD = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # kilobytes on Linux
sys.exit(code)
"""


def bench_full_run(steps: int) -> dict:
    """``ninjagrad train`` in a fresh process: wall time, peak RSS, and what it wrote to metrics.json."""
    with tempfile.TemporaryDirectory() as out:
        train = [sys.executable, "-m", "ninjagrad", "train", "-o", out, "--steps", str(steps)]
        started = time.perf_counter()
        finished = subprocess.run(
            [sys.executable, "-c", _MEASURE_CHILD, *train], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            raise SystemExit(f"ninjagrad train failed ({finished.returncode}):\n{finished.stderr}")
        peak_kb = int(finished.stdout.split()[-1])
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    return {"steps": steps, "seconds": seconds, "peak_rss_mb": peak_kb / 1024, "metrics": metrics}


def profile_step(steps: int) -> None:
    """Where TrainStep's time goes: every NumPy call of fast.py timed at its line, median us per step."""
    import collections
    import linecache

    import ninjagrad.makemore.fast as fast

    timings = collections.defaultdict(list)
    clock = time.perf_counter_ns

    class Timed:
        def __init__(self, name, function):
            self.name, self.function = name, function

        def __call__(self, *args, **kwargs):
            started = clock()
            result = self.function(*args, **kwargs)
            timings[(sys._getframe(1).f_lineno, self.name)].append(clock() - started)
            return result

        def reduce(self, *args, **kwargs):
            started = clock()
            result = self.function.reduce(*args, **kwargs)
            timings[(sys._getframe(1).f_lineno, self.name + ".reduce")].append(clock() - started)
            return result

    data = load_dataset()
    config = ModelConfig(vocab_size=data.vocab.size, block_size=data.block_size)
    step = TrainStep(config, init_params(config, np.random.default_rng(SEED)), BATCH_SIZE)
    rows = np.random.default_rng(SEED).integers(0, len(data.train), (steps, BATCH_SIZE))
    Xs, Ys = data.train.X[rows].astype(np.intp), data.train.Y[rows].astype(np.intp)
    step.run(Xs, Ys, LR)  # warm-up
    originals = {}
    for name in dir(fast):
        value = getattr(fast, name)
        if isinstance(value, np.ufunc) or value in (np.dot, np.copyto):
            originals[name] = value
            setattr(fast, name, Timed(name, value))
    try:
        empty = []
        for _ in range(1000):
            started = clock()
            empty.append(clock() - started)
        step.run(Xs, Ys, LR)
    finally:
        for name, value in originals.items():
            setattr(fast, name, value)
    overhead = statistics.median(empty)
    print(f"\nprofile: every NumPy call of TrainStep.run over {steps} steps, median us per step")
    total = 0.0
    for (line, name), times in sorted(timings.items()):
        per_step = (statistics.median(times) - overhead) / 1000 * len(times) / steps
        total += per_step
        code = linecache.getline(fast.__file__, line).strip()
        print(f"  {line:4d} {name:<15} {len(times) / steps:5.2f}/step {per_step:6.2f} us  {code[:60]}")
    print(f"  {len(timings)} call sites, {total:.1f} us per step in NumPy calls")


def report_steps(result: dict, rounds: int, steps: int) -> list[tuple[str, bool | None, str]]:
    """Print the table; return the goals. Verdicts use wall-clock time; CPU time (the process's, which
    counts every thread, spinning ones too) is printed beside it for a busy machine."""
    times, cpu, absent, first = result["times"], result["cpu"], result["absent"], result["first_loss"]
    ours, ours_cpu = times["ninjagrad TrainStep"], cpu["ninjagrad TrainStep"]
    print(
        f"\none step, batch {BATCH_SIZE}, n_hidden 200, float32: {rounds} interleaved rounds of {steps} steps"
    )
    print(
        f"  {'row':<32} {'wall us: median':>15} {'min':>7}  {'/ ninjagrad (range)':<24}"
        f" {'cpu us':>7} {'/ ninjagrad':>11}  first loss"
    )
    ratio = {}
    for name, values in times.items():
        ratio[name] = [theirs / mine for theirs, mine in zip(values, ours, strict=True)]
        cpu_ratio = statistics.median(t / m for t, m in zip(cpu[name], ours_cpu, strict=True))
        print(
            f"  {name:<32} {statistics.median(values):15.1f} {min(values):7.1f}  "
            f"{_ratio_text(ratio[name]):<24} {statistics.median(cpu[name]):7.1f} {cpu_ratio:10.2f}x  "
            f"{first[name]:.4f}"
        )
    for name, reason in absent.items():
        print(f"  {name:<32} absent: {reason}")

    goals = []
    matmuls = "six matmuls alone (NumPy)"
    if matmuls in ratio:
        over = [1 / r for r in ratio[matmuls]]
        met = statistics.median(over) <= GOAL_VS_MATMULS
        goals.append((f"TrainStep <= {GOAL_VS_MATMULS}x the six matmuls", met, _ratio_text(over)))
    own = "six matmuls, TrainStep's layout"
    if own in ratio:  # the same goal against the products as the step lays them out (for the record)
        over = [1 / r for r in ratio[own]]
        met = statistics.median(over) <= GOAL_VS_MATMULS
        goals.append(("  the same, in TrainStep's own layout", met, _ratio_text(over)))
    for name, goal in (
        ("PyTorch eager, lecture cell", GOAL_VS_LECTURE),
        ("PyTorch eager, lean, 1 thread", GOAL_VS_LEAN),
        ("PyTorch eager, lean, 2 threads", GOAL_VS_LEAN),
        ("jax.jit", GOAL_VS_JAX),
    ):
        text = f"ninjagrad >= {goal}x faster than {name}"
        if name in ratio:
            goals.append((text, statistics.median(ratio[name]) >= goal, _ratio_text(ratio[name])))
        else:
            goals.append((text, None, "row absent"))
    return goals


def _ratio_text(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):5.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def report_full_run(run: dict) -> list[tuple[str, bool | None, str]]:
    metrics = run["metrics"]
    print(
        f"\nninjagrad train --steps {run['steps']:,} in a subprocess "
        "(start-up, data, training, evaluation, plot)"
    )
    print(f"  whole command {run['seconds']:.1f} s, peak RSS {run['peak_rss_mb']:.1f} MB")
    print(
        f"  training loop {metrics.get('seconds')} s = {metrics.get('us_per_step')} us/step; "
        f"losses {metrics.get('losses')}"
    )
    goals = [
        (
            f"peak RSS <= {GOAL_RSS_MB:.0f} MB",
            run["peak_rss_mb"] <= GOAL_RSS_MB,
            f"{run['peak_rss_mb']:.1f} MB",
        )
    ]
    if run["steps"] == 200_000:
        seconds = float(metrics["seconds"])
        goals.append(
            (f"training <= {GOAL_TRAIN_SECONDS:.0f} s", seconds <= GOAL_TRAIN_SECONDS, f"{seconds:.1f} s")
        )
        for split, bound in GOAL_LOSSES.items():
            loss = metrics["losses"][split]
            goals.append((f"{split} loss <= {bound}", loss <= bound, f"{loss:.4f}"))
    return goals


def blas_description() -> str:
    env = {key: value for key, value in os.environ.items() if key.startswith("OPENBLAS")}
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']} {i['version']} kernel {i.get('architecture')} {i['num_threads']} thr."
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
    except ImportError:
        blas = ["(install threadpoolctl to see the BLAS kernel)"]
    return f"BLAS: {'; '.join(blas)}; environment {env or 'has no OPENBLAS_* variable'}"


def cpu_description() -> str:
    """The CPU's model name (Linux), and which tanh the step takes on it (see fast.py's docstring)."""
    from ninjagrad.makemore import fast

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]  # the first core's fields
        fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "model name" in fields:
            model = f"{fields['model name']} (family {fields.get('cpu family')}, model {fields.get('model')})"
    tanh = "np.tanh (NumPy's AVX-512 loop)" if fast.NUMPY_TANH_IS_FAST else "the exp formula"
    return f"CPU: {model}; TrainStep's tanh: {tanh}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and a 20,000-step run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 15; quick 4)")
    parser.add_argument(
        "--steps", type=int, default=300, help="steps per round and row (default %(default)s)"
    )
    parser.add_argument(
        "--full-steps", type=int, default=None, help="steps of the full run (default 200,000)"
    )
    parser.add_argument("--skip-full", action="store_true", help="only the per-step comparison")
    parser.add_argument("--skip", action="append", default=[], help="leave out a row (by its name)")
    parser.add_argument("--profile", action="store_true", help="also time every NumPy call of TrainStep")
    args = parser.parse_args()
    rounds = args.rounds or (4 if args.quick else 15)
    full_steps = args.full_steps or (20_000 if args.quick else 200_000)

    print(
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads by default), "
        f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}"
    )
    print(blas_description())
    print(cpu_description())
    goals = report_steps(bench_steps(rounds, args.steps, set(args.skip)), rounds, args.steps)
    if args.profile:
        profile_step(args.steps * 4)
    if not args.skip_full:
        goals += report_full_run(bench_full_run(full_steps))
    load = os.getloadavg()[0]
    print(f"\ngoals (load average now {load:.1f})")
    if load > 0.5 * (os.cpu_count() or 1) + 1:
        print("  the machine is busy: rows with several threads (torch at 2, JAX) slow down most, and the")
        print("  verdicts against them mean little; compare the minimums, or run again when it is quiet")
    for text, met, figure in goals:
        verdict = "absent" if met is None else ("met" if met else "MISSED")
        print(f"  {text:<52} {figure:<28} {verdict}")


if __name__ == "__main__":
    main()
