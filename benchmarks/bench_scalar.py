"""The moons training step in ninjagrad and in micrograd, side by side in one process.

Both start from the same data (ninjagrad's make_moons) and the same initial weights (micrograd's random
initialisation, copied into ninjagrad's MLP parameter by parameter), take the same number of full-batch
SGD steps with the demo's loss and learning-rate schedule, and are timed step by step, alternating, so
that both see the same machine load. Printed: both loss curves with |diff|, seconds per step, the ratio.

    python benchmarks/bench_scalar.py              # 20 steps (micrograd needs 1-2 s per step)
    python benchmarks/bench_scalar.py --steps 100  # the whole demo
    python benchmarks/bench_scalar.py --profile    # also cProfile ninjagrad's step
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sys
import time

from micrograd.engine import Value as MicroValue
from micrograd.nn import MLP as MicroMLP

from ninjagrad.scalar.moons import MoonsConfig, make_moons, moons_loss
from ninjagrad.scalar.nn import MLP, SGD

GOAL_SPEEDUP = 10.0  # the goal: at least 10x faster than micrograd ...
GOAL_LOSS_DIFF = 1e-9  # ... with the same losses to 1e-9


def micrograd_step(model: MicroMLP, X, y, alpha: float, lr: float) -> float:
    """One step of micrograd's own demo, written against micrograd's API (its Value and MLP)."""
    inputs = [[MicroValue(float(a)), MicroValue(float(b))] for a, b in X]
    scores = [model(x) for x in inputs]
    hinge = [(1 + -float(label) * score).relu() for label, score in zip(y, scores, strict=True)]
    data_loss = sum(hinge) * (1.0 / len(hinge))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    loss = data_loss + reg_loss
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return loss.data


def ninjagrad_step(model: MLP, optimizer: SGD, X, y, alpha: float, lr: float) -> float:
    """One step of ninjagrad's demo: exactly the code ``ninjagrad moons`` runs."""
    loss, _ = moons_loss(model, X, y, alpha)
    optimizer.zero_grad()
    loss.backward()
    optimizer.lr = lr
    optimizer.step()
    return loss.data


def timed(step, *args) -> tuple[float, float]:
    gc.collect()  # the previous step's garbage (micrograd's closures make cycles) is freed untimed
    start = time.perf_counter()
    loss = step(*args)
    return loss, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20, help="SGD steps for each library (default 20)")
    parser.add_argument("--seed", type=int, default=1337, help="seed for the data and the initial weights")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra ninjagrad step")
    args = parser.parse_args()
    if not 1 <= args.steps <= 100:
        parser.error(f"--steps must be between 1 and the demo's 100, got {args.steps}")

    config = MoonsConfig(seed=args.seed)
    X, y = make_moons(config.n_samples, config.noise, config.seed)

    random.seed(args.seed)  # micrograd draws its initial weights from the global `random` module
    micro_model = MicroMLP(2, [*config.hidden, 1])
    model = MLP(2, [*config.hidden, 1], seed=0)
    for ours, theirs in zip(model.parameters(), micro_model.parameters(), strict=True):
        ours.data = float(theirs.data)
    optimizer = SGD(model.parameters(), lr=config.lr_start)
    print(f"moons: {len(X)} points, MLP(2, {[*config.hidden, 1]}) = {len(model.parameters())} parameters")

    row = "{:>4}  {:>18}  {:>18}  {:>8}  {:>9}  {:>9}"
    print(row.format("step", "micrograd loss", "ninjagrad loss", "|diff|", "micro s", "ninja s"))
    micro_total = ninja_total = worst_diff = 0.0
    for k in range(args.steps):
        lr = config.learning_rate(k)  # the demo's 1.0 - 0.9*k/100: any prefix of the demo's 100 steps
        micro_loss, micro_seconds = timed(micrograd_step, micro_model, X, y, config.alpha, lr)
        ninja_loss, ninja_seconds = timed(ninjagrad_step, model, optimizer, X, y, config.alpha, lr)
        diff = abs(micro_loss - ninja_loss)
        worst_diff = max(worst_diff, diff)
        micro_total += micro_seconds
        ninja_total += ninja_seconds
        print(
            row.format(
                k,
                f"{micro_loss:.15f}",
                f"{ninja_loss:.15f}",
                f"{diff:.1e}",
                f"{micro_seconds:.4f}",
                f"{ninja_seconds:.4f}",
            )
        )

    ratio = micro_total / ninja_total
    print(
        f"micrograd: {micro_total / args.steps:.4f} s/step   ninjagrad: {ninja_total / args.steps:.4f} s/step"
    )
    print(f"speed-up: {ratio:.1f}x (goal >= {GOAL_SPEEDUP:g}x)")
    print(f"largest |loss diff|: {worst_diff:.1e} (goal <= {GOAL_LOSS_DIFF:g})")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        ninjagrad_step(model, optimizer, X, y, config.alpha, config.learning_rate(args.steps - 1))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)

    met = ratio >= GOAL_SPEEDUP and worst_diff <= GOAL_LOSS_DIFF
    print("goal met" if met else "GOAL MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
