"""The makemore training step, and a whole training run: ninjagrad's TrainStep against PyTorch eager.

Part 1, one step. ``ninjagrad.makemore.fast.TrainStep`` against the lecture's exercise-4 loop written in
PyTorch eager on the CPU, float32: the forward pass, the fused manual backward under ``no_grad`` (softmax
minus one-hot for the cross-entropy, the one-line BatchNorm formula, ``index_add_`` for the embedding) and the
SGD update. Both start from the same parameters (``init_params``, seed 42) and get the same batches of 32
training examples from the bundled names; both return the loss as a Python float every step. Rounds are
interleaved (ninjagrad then PyTorch, then the other way round) after a warm-up, so a noisy neighbour slows
both alike; the report gives each side's median microseconds per step and the median of the per-round ratios.

Part 2, the whole run: ``ninjagrad train`` (200,000 steps by default) in a subprocess, its wall time and
peak resident memory (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), and the losses it reports.

Goals (issue 4): at least 5x faster per step than PyTorch (<= 85 us/step here), the full 200,000 steps in
<= 20 s, peak RSS <= 100 MB.

    python benchmarks/bench_train.py [--quick] [--rounds R] [--steps N] [--full-steps N | --skip-full]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ninjagrad.makemore.data import load_dataset
from ninjagrad.makemore.fast import TrainStep
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig, init_params

BATCH_SIZE = 32  # the lecture's batch
LR = 0.1  # the lecture's first-half learning rate
SEED = 42  # parameters and batches

GOAL_RATIO = 5.0  # ninjagrad at least 5x faster per step than PyTorch
GOAL_US_PER_STEP = 85.0
GOAL_SECONDS = 20.0  # the full 200,000-step run
GOAL_RSS_MB = 100.0


class TorchStep:
    """The lecture's exercise-4 step in PyTorch eager: forward, then the fused manual backward, then SGD."""

    def __init__(self, config: ModelConfig, params: dict[str, np.ndarray]):
        self.config = config
        self.params = [torch.tensor(params[name]) for name in PARAM_NAMES]

    @torch.no_grad()
    def __call__(self, Xb: torch.Tensor, Yb: torch.Tensor, lr: float) -> float:
        C, W1, b1, W2, b2, bngain, bnbias = self.params
        n = Xb.shape[0]
        # forward
        emb = C[Xb]  # (n, block, E)
        embcat = emb.view(n, -1)  # (n, F)
        hprebn = embcat @ W1 + b1  # (n, H)
        bnmean = hprebn.mean(0, keepdim=True)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)
        bnvar_inv = (bnvar + self.config.bn_eps) ** -0.5
        bnraw = (hprebn - bnmean) * bnvar_inv
        hpreact = bngain * bnraw + bnbias
        h = torch.tanh(hpreact)  # (n, H)
        logits = h @ W2 + b2  # (n, V)
        loss = torch.nn.functional.cross_entropy(logits, Yb)
        # backward, fused
        dlogits = torch.softmax(logits, 1)
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
        dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), dembcat.view(-1, C.shape[1]))
        # update
        for p, grad in zip(self.params, (dC, dW1, db1, dW2, db2, dbngain, dbnbias), strict=True):
            p.add_(grad, alpha=-lr)
        return loss.item()


def time_steps(step, Xs, Ys, cpu_clock) -> tuple[float, float]:
    """Microseconds per step over the given batches: wall-clock, and CPU time by ``cpu_clock``."""
    wall, cpu = time.perf_counter(), cpu_clock()
    for Xb, Yb in zip(Xs, Ys, strict=True):
        step(Xb, Yb, LR)
    return 1e6 * (time.perf_counter() - wall) / len(Xs), 1e6 * (cpu_clock() - cpu) / len(Xs)


def bench_step(rounds: int, steps: int) -> dict:
    """Interleaved rounds of ``steps`` steps each; medians of wall-clock and CPU microseconds per step.

    CPU time is the fairer number on a busy machine (time spent waiting for a core is not counted): the
    calling thread's for ninjagrad, which is single-threaded, the whole process's for PyTorch, whose
    worker threads do part of its work.
    """
    data = load_dataset()
    config = ModelConfig(vocab_size=data.vocab.size, block_size=data.block_size)
    params = init_params(config, np.random.default_rng(SEED))
    rows = np.random.default_rng(SEED).integers(0, len(data.train), (steps, BATCH_SIZE))
    Xs = data.train.X[rows].astype(np.intp)  # (steps, n, block_size)
    Ys = data.train.Y[rows].astype(np.intp)  # (steps, n)
    Xs_torch = list(torch.from_numpy(Xs.astype(np.int64)))
    Ys_torch = list(torch.from_numpy(Ys.astype(np.int64)))
    ninja, reference = TrainStep(config, params, BATCH_SIZE), TorchStep(config, params)

    def run_ninja():
        return time_steps(ninja, Xs, Ys, time.thread_time)

    def run_torch():
        return time_steps(reference, Xs_torch, Ys_torch, time.process_time)

    # Same parameters, same batch, same first loss: the two loops compute the same thing.
    first = ninja(Xs[0], Ys[0], LR), reference(Xs_torch[0], Ys_torch[0], LR)
    run_ninja(), run_torch()  # warm-up
    ours, theirs = [], []
    for r in range(rounds):
        if r % 2:
            theirs.append(run_torch())
            ours.append(run_ninja())
        else:
            ours.append(run_ninja())
            theirs.append(run_torch())
    result = {"first_loss": first, "torch_threads": torch.get_num_threads(), "rounds": rounds, "steps": steps}
    for clock, index in (("wall", 0), ("cpu", 1)):
        result[f"ninjagrad_{clock}_us"] = statistics.median(o[index] for o in ours)
        result[f"torch_{clock}_us"] = statistics.median(t[index] for t in theirs)
        result[f"{clock}_ratio"] = statistics.median(
            t[index] / o[index] for o, t in zip(ours, theirs, strict=True)
        )
    return result


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


def verdict(ok: bool) -> str:
    return "goal met" if ok else "GOAL MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and a 20,000-step run")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 30; quick 6)")
    parser.add_argument("--steps", type=int, default=200, help="steps per round (default %(default)s)")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    parser.add_argument(
        "--full-steps", type=int, default=None, help="steps of the full run (default 200,000)"
    )
    parser.add_argument("--skip-full", action="store_true", help="only the per-step comparison")
    args = parser.parse_args()
    rounds = args.rounds or (6 if args.quick else 30)
    full_steps = args.full_steps or (20_000 if args.quick else 200_000)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    versions = f"numpy {np.__version__} (OPENBLAS_NUM_THREADS={blas}), torch {torch.__version__}"
    print(f"{versions}, {os.cpu_count()} cpus")
    step = bench_step(rounds, args.steps)
    ours, theirs = step["first_loss"]
    print(f"\none training step: batch {BATCH_SIZE}, n_hidden 200, float32; medians of {rounds} interleaved")
    print(f"rounds of {args.steps} steps; the first step's loss: ninjagrad {ours:.6f}, PyTorch {theirs:.6f}")
    print(f"  {'us/step':<38} {'wall':>8} {'cpu':>8}")
    print(f"  {'ninjagrad TrainStep':<38} {step['ninjagrad_wall_us']:8.1f} {step['ninjagrad_cpu_us']:8.1f}")
    torch_name = f"PyTorch eager, manual backward ({step['torch_threads']} thr.)"
    print(f"  {torch_name:<38} {step['torch_wall_us']:8.1f} {step['torch_cpu_us']:8.1f}")
    print(f"  {'speed-up':<38} {step['wall_ratio']:7.2f}x {step['cpu_ratio']:7.2f}x")
    ratio_ok, us_ok = step["wall_ratio"] >= GOAL_RATIO, step["ninjagrad_wall_us"] <= GOAL_US_PER_STEP
    goals = f">= {GOAL_RATIO:.0f}x {verdict(ratio_ok)}; <= {GOAL_US_PER_STEP:.0f} us {verdict(us_ok)}"
    print(f"  goals, wall-clock: {goals}")
    if args.skip_full:
        return

    run = bench_full_run(full_steps)
    metrics = run["metrics"]
    print(
        f"\nninjagrad train --steps {full_steps:,}: a subprocess (start-up, data, training, evaluation, plot)"
    )
    print(f"  wall time {run['seconds']:.1f} s, peak RSS {run['peak_rss_mb']:.1f} MB")
    loop = f"{metrics.get('seconds')} s = {metrics.get('us_per_step')} us/step"
    print(f"  training loop {loop} (its own timing); losses {metrics.get('losses')}")
    rss = f"<= {GOAL_RSS_MB:.0f} MB {verdict(run['peak_rss_mb'] <= GOAL_RSS_MB)}"
    if full_steps == 200_000:
        print(f"  goals: <= {GOAL_SECONDS:.0f} s {verdict(run['seconds'] <= GOAL_SECONDS)}; {rss}")
    else:
        print(f"  goals: {rss} (the 20 s goal is for 200,000 steps)")


if __name__ == "__main__":
    main()
