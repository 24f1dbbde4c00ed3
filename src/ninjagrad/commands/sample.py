"""Print new items (names) sampled from a model trained with `ninjagrad train`.

Reads DIR/model.npz (default DIR: runs/names, where `make train` puts the model). Without --seed every call
draws different samples; with --seed the same seed gives the same samples.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ninjagrad.commands.train import integer_at_least

HELP = "sample names from a trained makemore model"

SAMPLES_PER_CALL = 10_000  # drawn together, then printed: any -n runs in a few tens of megabytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("runs/names"),
        help="directory of a trained model, or its model.npz (default: %(default)s)",
    )
    parser.add_argument(
        "-n",
        "--num",
        metavar="N",
        type=integer_at_least(1),
        default=20,
        help="number of samples (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        metavar="S",
        type=integer_at_least(0),
        default=None,
        help="seed for reproducible samples (default: fresh)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ninjagrad.makemore.checkpoint import checkpoint_path, load_checkpoint
    from ninjagrad.makemore.sample import sample_checkpoint

    checkpoint = load_checkpoint(args.out if args.out.is_file() else checkpoint_path(args.out))
    rng = np.random.default_rng(args.seed)
    for start in range(0, args.num, SAMPLES_PER_CALL):
        for item in sample_checkpoint(checkpoint, min(SAMPLES_PER_CALL, args.num - start), rng):
            print(item)
    return 0
