"""One training step of the makemore MLP: ninjagrad's Tensor against PyTorch eager autograd, side by side.

Both engines run the *same* step function (the names are PyTorch's, so one function serves both): the
forward pass, zeroing the grads, ``loss.backward()`` and the SGD update ``p.data -= lr * p.grad``. Two steps
are measured:

- ``mlp``: the lecture MLP with BatchNorm written out and the fused ``F.cross_entropy`` (n_embd 10,
  n_hidden 200, block 3, batch 32, vocab 27: 12,297 parameters);
- ``atomic``: the backprop-ninja atomic forward chain (every line of exercise 1, n_hidden 64).

Runs are interleaved, in a rotating order each round, after a warm-up, so a noisy neighbour slows all alike;
the report gives the median µs/step of each and the median of the per-round ratios. Goal (issue 12):
ninjagrad <= 0.40x PyTorch on ``mlp``, at 1 and 2 threads.

    python benchmarks/bench_tensor.py [--rounds 30] [--steps 50] [--warmup 200] [--profile]

``--profile`` then splits ninjagrad's ``mlp`` step: the forward pass, the backward pass and the SGD update,
and within the first two the time spent in the ops' NumPy rules (``ops.FORWARD`` and ``ops.BACKWARD``) and
in the topological sort; what is left is the engine's own Python (building nodes, walking the graph).

PyTorch is timed on its default number of threads and on one thread (``torch.set_num_threads(1)``): on a
busy machine the multi-threaded runs suffer from waiting for a free core, so the one-thread column is the
fairer comparison when other work is running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as torch_F

import ninjagrad.functional as ninja_F
from ninjagrad.tensors import Tensor


@dataclass(frozen=True)
class Config:
    vocab_size: int = 27  # '.' and a..z
    block_size: int = 3  # characters of context
    n_embd: int = 10  # embedding size per character
    n_hidden: int = 200  # hidden units (the training size; the gradient checks use 64)
    batch_size: int = 32  # examples per step
    lr: float = 0.1  # SGD step size (the lecture's first-half rate)
    seed: int = 42  # for the weights and the batch


def init_arrays(config: Config) -> dict[str, np.ndarray]:
    """The lecture's initialisation (DESIGN.md §2), in float32, plus one random batch."""
    rng = np.random.default_rng(config.seed)
    fan_in = config.n_embd * config.block_size
    H = config.n_hidden

    def randn(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    arrays = {
        "C": randn(config.vocab_size, config.n_embd),
        "W1": randn(fan_in, H) * (5 / 3) / fan_in**0.5,
        "b1": randn(H) * 0.1,
        "W2": randn(H, config.vocab_size) * 0.1,
        "b2": randn(config.vocab_size) * 0.1,
        "bngain": 1 + 0.1 * randn(1, H),
        "bnbias": 0.1 * randn(1, H),
    }
    arrays = {name: a.astype(np.float32) for name, a in arrays.items()}
    arrays["Xb"] = rng.integers(0, config.vocab_size, (config.batch_size, config.block_size))
    arrays["Yb"] = rng.integers(0, config.vocab_size, config.batch_size)
    return arrays


PARAMETERS = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")


def ninjagrad_engine(arrays: dict[str, np.ndarray]) -> SimpleNamespace:
    params = {name: Tensor(arrays[name], requires_grad=True) for name in PARAMETERS}
    return SimpleNamespace(F=ninja_F, Xb=Tensor(arrays["Xb"]), Yb=Tensor(arrays["Yb"]), **params)


def torch_engine(arrays: dict[str, np.ndarray]) -> SimpleNamespace:
    params = {name: torch.tensor(arrays[name], requires_grad=True) for name in PARAMETERS}
    return SimpleNamespace(F=torch_F, Xb=torch.tensor(arrays["Xb"]), Yb=torch.tensor(arrays["Yb"]), **params)


def sgd_update(m: SimpleNamespace, loss, lr: float) -> None:
    params = [getattr(m, name) for name in PARAMETERS]
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= lr * p.grad


def mlp_step(m: SimpleNamespace, lr: float) -> float:
    """The lecture MLP with the fused cross-entropy; `m` holds the parameters, the batch and `F`."""
    emb = m.C[m.Xb]  # (32, 3, 10)
    embcat = emb.view(emb.shape[0], -1)  # (32, 30)
    hprebn = embcat @ m.W1 + m.b1  # (32, 200)
    bnmean = hprebn.mean(0, keepdim=True)  # (1, 200)
    bnvar = hprebn.var(0, keepdim=True, unbiased=True)  # (1, 200)
    hpreact = m.bngain * (hprebn - bnmean) * (bnvar + 1e-5) ** -0.5 + m.bnbias  # (32, 200)
    h = hpreact.tanh()  # (32, 200)
    logits = h @ m.W2 + m.b2  # (32, 27)
    loss = m.F.cross_entropy(logits, m.Yb)
    sgd_update(m, loss, lr)
    return loss.item()


def atomic_step(m: SimpleNamespace, lr: float) -> float:
    """Every line of the backprop-ninja forward chain (exercise 1), then the same backward and update."""
    n = m.Xb.shape[0]
    emb = m.C[m.Xb]  # (n, 3, 10)
    embcat = emb.view(emb.shape[0], -1)  # (n, 30)
    hprebn = embcat @ m.W1 + m.b1  # (n, H)
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)  # (1, H)
    bndiff = hprebn - bnmeani  # (n, H)
    bndiff2 = bndiff**2  # (n, H)
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # (1, H) Bessel's correction
    bnvar_inv = (bnvar + 1e-5) ** -0.5  # (1, H)
    bnraw = bndiff * bnvar_inv  # (n, H)
    hpreact = m.bngain * bnraw + m.bnbias  # (n, H)
    h = hpreact.tanh()  # (n, H)
    logits = h @ m.W2 + m.b2  # (n, 27)
    logit_maxes = logits.max(1, keepdim=True).values  # (n, 1)
    norm_logits = logits - logit_maxes  # (n, 27)
    counts = norm_logits.exp()  # (n, 27)
    counts_sum = counts.sum(1, keepdim=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1  # (n, 1)
    probs = counts * counts_sum_inv  # (n, 27)
    logprobs = probs.log()  # (n, 27)
    loss = -logprobs[range(n), m.Yb].mean()
    sgd_update(m, loss, lr)
    return loss.item()


def time_steps(step: Callable, m: SimpleNamespace, steps: int, lr: float, threads: int | None) -> float:
    """Microseconds per step over `steps` consecutive steps (PyTorch on `threads` threads, if given)."""
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    for _ in range(steps):
        step(m, lr)
    return (time.perf_counter() - start) / steps * 1e6


def compare_engines(step: Callable, config: Config, rounds: int, steps: int, warmup: int) -> dict[str, float]:
    """Median µs/step of ninjagrad, PyTorch on its default threads and PyTorch on one thread, and the
    median per-round ratios. The three run in turn each round, in a rotating order."""
    default_threads = torch.get_num_threads()
    arrays = init_arrays(config)
    ours, theirs = ninjagrad_engine(arrays), torch_engine(arrays)
    # Same parameters, same batch: the first losses must agree (float32, different summation orders).
    loss_ours, loss_theirs = step(ours, config.lr), step(theirs, config.lr)
    if abs(loss_ours - loss_theirs) > 1e-4:
        raise SystemExit(f"the engines disagree: loss {loss_ours} (ninjagrad) vs {loss_theirs} (PyTorch)")
    # A small lr keeps the weights sane over thousands of steps on one batch; it does not change the work.
    lr = config.lr * 1e-3
    runners = {
        "ninjagrad": (ours, None),
        "torch": (theirs, default_threads),
        "torch_1thread": (theirs, 1),
    }
    for m, threads in runners.values():
        if threads is not None:
            torch.set_num_threads(threads)
        for _ in range(warmup):
            step(m, lr)
    times: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            m, threads = runners[name]
            times[name].append(time_steps(step, m, steps, lr, threads))
    torch.set_num_threads(default_threads)
    result = {f"{name}_us": statistics.median(t) for name, t in times.items()}
    for name in ("torch", "torch_1thread"):
        ratios = [a / b for a, b in zip(times["ninjagrad"], times[name], strict=True)]
        result[f"ratio_{name}"] = statistics.median(ratios)
    result["loss"] = loss_ours
    return result


def profile_mlp(steps: int = 2000, warmup: int = 300) -> None:
    """Where ninjagrad's ``mlp`` step spends its time: the median µs per step of each part."""
    from ninjagrad.tensors import ops
    from ninjagrad.tensors import tensor as tensor_module

    config = Config()
    m = ninjagrad_engine(init_arrays(config))
    params = [getattr(m, name) for name in PARAMETERS]
    clock = time.perf_counter_ns
    spent = {"forward rules": 0, "backward rules": 0, "topological sort": 0}

    def timed(part: str, function: Callable) -> Callable:
        def run(*args: object, **kwargs: object) -> object:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += clock() - started

        return run

    def forward() -> Tensor:  # mlp_step's forward pass, the update left out
        emb = m.C[m.Xb]
        embcat = emb.view(emb.shape[0], -1)
        hprebn = embcat @ m.W1 + m.b1
        bnmean, bnvar = hprebn.mean(0, keepdim=True), hprebn.var(0, keepdim=True, unbiased=True)
        h = (m.bngain * (hprebn - bnmean) * (bnvar + 1e-5) ** -0.5 + m.bnbias).tanh()
        return m.F.cross_entropy(h @ m.W2 + m.b2, m.Yb)

    saved = dict(ops.FORWARD), dict(ops.BACKWARD), tensor_module.topological_order
    parts: dict[str, list[float]] = {name: [] for name in ("forward", "backward", "update", *spent)}
    try:
        for step in range(warmup + steps):
            if step == warmup:  # the wrappers cost a little themselves: warm up without them
                ops.FORWARD.update({k: timed("forward rules", f) for k, f in saved[0].items()})
                ops.BACKWARD.update({k: timed("backward rules", f) for k, f in saved[1].items()})
                tensor_module.topological_order = timed("topological sort", saved[2])
            for part in spent:
                spent[part] = 0
            t0 = clock()
            loss = forward()
            t1 = clock()
            for p in params:
                p.grad = None
            loss.backward()
            t2 = clock()
            forward_rules = spent["forward rules"]
            for p in params:
                p.data -= 1e-4 * p.grad
            t3 = clock()
            if step >= warmup:
                for part, ns in (("forward", t1 - t0), ("backward", t2 - t1), ("update", t3 - t2)):
                    parts[part].append(ns / 1e3)
                parts["forward rules"].append(forward_rules / 1e3)
                parts["backward rules"].append(spent["backward rules"] / 1e3)
                parts["topological sort"].append(spent["topological sort"] / 1e3)
    finally:
        ops.FORWARD.update(saved[0])
        ops.BACKWARD.update(saved[1])
        tensor_module.topological_order = saved[2]
    median = {part: statistics.median(values) for part, values in parts.items()}
    print(f"\nprofile of ninjagrad's mlp step, median µs per step over {steps} steps (timers included):")
    print(f"  forward   {median['forward']:6.1f}  of which NumPy rules {median['forward rules']:6.1f}")
    print(
        f"  backward  {median['backward']:6.1f}  of which NumPy rules {median['backward rules']:6.1f}, "
        f"topological sort {median['topological sort']:5.1f}"
    )
    print(f"  update    {median['update']:6.1f}  (7 x p.data -= lr * p.grad)")
    rules = median["forward rules"] + median["backward rules"]
    total = median["forward"] + median["backward"] + median["update"]
    print(f"  NumPy rules in all: {rules:.1f} of {total:.1f}")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum`` (a bad value is a usage error, exit 2)."""

    def count(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=at_least(1), default=30, help="interleaved rounds (default 30)")
    parser.add_argument(
        "--steps", type=at_least(1), default=50, help="steps per engine per round (default 50)"
    )
    parser.add_argument(
        "--warmup", type=at_least(0), default=200, help="untimed steps per engine first (default 200)"
    )
    parser.add_argument("--profile", action="store_true", help="also split ninjagrad's mlp step into parts")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    versions = f"numpy {np.__version__}, torch {torch.__version__} (default {threads} threads)"
    print(f"{versions}, {os.cpu_count()} CPUs")
    print(f"{args.rounds} interleaved rounds of {args.steps} steps, after {args.warmup} warm-up steps\n")
    header = (
        f"{'step':<30} | {'ninjagrad µs':>12} | {f'PyTorch µs ({threads}t)':>16} | {'ratio':>5} | "
        f"{'PyTorch µs (1t)':>15} | {'ratio':>5}"
    )
    print(header)
    print("-" * len(header))
    rows = [
        ("mlp (n_hidden 200, fused CE)", mlp_step, Config()),
        ("atomic chain (n_hidden 64)", atomic_step, Config(n_hidden=64)),
    ]
    for title, step, config in rows:
        r = compare_engines(step, config, args.rounds, args.steps, args.warmup)
        print(
            f"{title:<30} | {r['ninjagrad_us']:>12.0f} | {r['torch_us']:>16.0f} | {r['ratio_torch']:>5.2f} | "
            f"{r['torch_1thread_us']:>15.0f} | {r['ratio_torch_1thread']:>5.2f}"
        )
    print("\nratio = median over rounds of (ninjagrad time / PyTorch time); goal for mlp: <= 0.40")
    if args.profile:
        profile_mlp()


if __name__ == "__main__":
    main()
