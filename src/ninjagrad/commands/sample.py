"""Print new items (names) sampled from a model trained with `ninjagrad train`, or write them to a file.

Reads RUN/model.npz, where RUN is the directory `ninjagrad train -o RUN` wrote (default: runs/names, where
`make train` puts its model), or a model.npz itself. Without --seed every call draws different samples; with
--seed the same seed gives the same samples. With -o FILE the samples go to FILE, one per line (UTF-8).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ninjagrad.commands.train import integer_at_least
from ninjagrad.errors import UserError

HELP = "sample names from a trained makemore model"

SAMPLES_PER_CALL = 10_000  # drawn together, then printed: any -n runs in a few tens of megabytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",  # not "run": the CLI keeps each command's run() there
        metavar="RUN",
        type=Path,
        nargs="?",
        default=Path("runs/names"),
        help="a trained model: the directory `train -o` wrote, or its model.npz (default: %(default)s)",
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
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        type=Path,
        help="the file to write the samples to, one per line (default: print them)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ninjagrad.files import check_writable, open_atomically
    from ninjagrad.makemore.checkpoint import checkpoint_path, load_checkpoint
    from ninjagrad.makemore.sample import sample_checkpoint

    if args.output is not None and args.output.is_dir():  # `sample -o DIR`, as RUN was once given
        raise UserError(
            f"-o names the file to write the samples to, and {args.output} is a directory; to sample from "
            f"the model in it, name it first: `ninjagrad sample {args.output}`"
        )
    model_file = args.model if args.model.is_file() else checkpoint_path(args.model)
    if args.output is not None:
        _refuse_to_overwrite_a_model(args.output, model_file)
    checkpoint = load_checkpoint(model_file)
    rng = np.random.default_rng(args.seed)
    batches = (
        sample_checkpoint(checkpoint, min(SAMPLES_PER_CALL, args.num - start), rng)
        for start in range(0, args.num, SAMPLES_PER_CALL)
    )
    if args.output is None:
        for batch in batches:
            for item in batch:
                print(item)
        return 0
    check_writable(args.output)
    with open_atomically(args.output) as file:
        for batch in batches:
            file.write("".join(f"{item}\n" for item in batch).encode("utf-8"))
    print(f"wrote {args.num:,} samples to {args.output}")
    return 0


def _refuse_to_overwrite_a_model(output: Path, model_file: Path) -> None:
    """``-o`` onto the checkpoint being sampled, or onto any other model (a .npz is a zip archive), would
    replace a trained model with a list of names."""
    import zipfile

    if not output.is_file():
        return
    same = model_file.exists() and os.path.samefile(output, model_file)
    if same or zipfile.is_zipfile(output):
        what = "the model being sampled" if same else "a model (a .npz archive)"
        raise UserError(
            f"-o {output} is {what}; writing the samples there would destroy it. Name a text file, "
            f"e.g. -o samples.txt"
        )
