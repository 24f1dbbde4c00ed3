"""Train micrograd's moons demo: MLP(2, [16, 16, 1]) separates two interleaving half moons.

100 noisy points, full-batch SGD on mean(relu(1 - y*score)) + 1e-4 * sum(p^2), learning rate
1.0 - 0.9*k/steps. Prints the final loss and accuracy and writes DIR/decision_boundary.png.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ninjagrad.errors import UserError

MAX_STEPS = 1_000_000  # about eight hours of the scalar engine: more is a typo
HELP = "train the micrograd moons demo (scalar autograd) and plot its decision boundary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="the directory to write decision_boundary.png to"
    )
    parser.add_argument("--steps", type=int, default=100, help="full-batch SGD steps (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and the weights (default: 0)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ninjagrad.scalar.moons import MoonsConfig, numpy_scores, train_moons
    from ninjagrad.viz.boundary import plot_decision_boundary

    if not 1 <= args.steps <= MAX_STEPS:
        shown = f"{args.steps:,}" if abs(args.steps) < 10**15 else f"a {len(str(args.steps))}-digit number"
        raise UserError(
            f"--steps must be from 1 to {MAX_STEPS:,} (a step takes tens of milliseconds), got {shown}"
        )
    if args.seed < 0:
        raise UserError(
            f"--seed must be 0 or more (NumPy's generators refuse negative seeds), got {args.seed}"
        )
    # The output directory is checked before training, so a bad -o costs no training time.
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {str(out)!r} is a file, not a directory; pass a directory name")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"-o {str(out)!r}: cannot create the directory ({error.strerror or error}); pass a writable place"
        ) from None
    if not os.access(out, os.W_OK):
        raise UserError(f"-o {str(out)!r} is not writable; pass a directory you can write to")

    config = MoonsConfig(steps=args.steps, seed=args.seed)
    with tqdm(total=config.steps, desc="moons", unit="step") as bar:

        def show(step: int, loss: float, accuracy: float) -> None:
            bar.set_postfix(loss=f"{loss:.4f}", accuracy=f"{accuracy:.0%}", refresh=False)
            bar.update()

        result = train_moons(config, on_step=show)

    n_params = len(result.model.parameters())
    print(f"MLP(2, {[*config.hidden, 1]}): {n_params} parameters, {config.steps} steps, seed {config.seed}")
    print(f"final loss: {result.final_loss:.6f}   final accuracy: {result.final_accuracy:.0%}")
    path = plot_decision_boundary(
        lambda points: numpy_scores(result.model, points),
        result.X,
        result.y,
        out / "decision_boundary.png",
        title=f"moons: accuracy {result.final_accuracy:.0%} after {config.steps} steps",
    )
    print(f"wrote {path}")
    return 0
