"""Train the makemore MLP (Bengio et al. 2003, with BatchNorm) using the hand-written backward pass.

Reads one item per line from a UTF-8 text file (default: the bundled 32,033 names), trains with the
lecture's recipe and writes DIR/model.npz (parameters, BatchNorm statistics, vocabulary, config),
DIR/metrics.json and DIR/loss.png. The default DIR is runs/<name of the data file>, e.g. runs/names.
Checkpoints go to DIR/model.npz every --save-every steps and on Ctrl-C; --resume continues from there and
ends with exactly the parameters of an uninterrupted run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HELP = "train the makemore MLP with the hand-written backward pass"


def integer_at_least(minimum: int):
    """An argparse type: an integer of at least ``minimum``, with a message that says so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


# The flags that set a TrainConfig field: (flag, metavar, field, argparse type, help). One table serves the
# parser, the config and the resume command printed on Ctrl-C, so a new flag cannot be missed in one of them.
CONFIG_FLAGS = (
    ("--steps", "N", "steps", integer_at_least(1), "SGD steps"),
    ("--batch-size", "B", "batch_size", integer_at_least(2), "examples per step"),
    ("--embd", "E", "n_embd", integer_at_least(1), "embedding dimension"),
    ("--hidden", "H", "n_hidden", integer_at_least(1), "hidden units"),
    ("--block-size", "K", "block_size", integer_at_least(1), "context length in characters"),
    ("--lr", "LR", "lr", positive_number, "learning rate; a tenth of it for the second half of the steps"),
    ("--seed", "S", "seed", integer_at_least(0), "seed of the initialisation and the batch order"),
    ("--save-every", "K", "save_every", integer_at_least(1), "steps between checkpoints"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ninjagrad.makemore.train import TrainConfig

    default = TrainConfig()
    parser.add_argument(
        "-i",
        "--input",
        metavar="FILE",
        type=Path,
        help="UTF-8 text, one item per line (default: the bundled names.txt)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        type=Path,
        help="the directory to write the run to (default: runs/<data file name without extension>)",
    )
    for flag, metavar, field, parse, text in CONFIG_FLAGS:
        parser.add_argument(
            flag,
            metavar=metavar,
            dest=field,
            type=parse,
            default=getattr(default, field),
            help=f"{text} (default: %(default)s)",
        )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in DIR (it must have been started with the same arguments)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing run in DIR")


def run(args: argparse.Namespace) -> int:
    from ninjagrad.makemore.checkpoint import checkpoint_path
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.makemore.train import LOSS_PLOT, METRICS_FILE, TrainConfig, staging_dir, train

    config = TrainConfig(**{field: getattr(args, field) for _, _, field, _, _ in CONFIG_FLAGS})
    data = load_dataset(args.input, config.block_size)  # every data error surfaces before DIR is touched
    out = args.output if args.output is not None else Path("runs") / data.path.stem
    try:
        result = train(config, data, out, resume=args.resume, force=args.force, progress=True, log=print)
    except KeyboardInterrupt:  # Ctrl-C outside the SGD loop (which stops cleanly at a step boundary)
        saved = [p for p in (checkpoint_path(staging_dir(out)), checkpoint_path(out)) if p.exists()]
        if not saved:
            raise
        print(f"interrupted; the last checkpoint is in {saved[0]}.{_kept(saved[0], out)} Continue with:")
        print(f"  {_resume_command(args, out)}")
        return 130
    if result.interrupted:
        print(
            f"interrupted at step {result.step:,} of {config.steps:,}; saved {result.checkpoint}."
            f"{_kept(result.checkpoint, out)}\nresume with:\n  {_resume_command(args, out)}"
        )
        return 130

    if result.steps_run:
        print(
            f"trained {result.steps_run:,} steps in {result.seconds:.1f} s "
            f"({result.us_per_step:.1f} {_microseconds()}/step)"
        )
    print("loss: " + "  ".join(f"{name} {loss:.4f}" for name, loss in result.losses.items()))
    print(f"{len(result.samples)} samples:")
    for sample in result.samples:
        print(f"  {sample}")
    from ninjagrad.makemore.diagnostics import PLOT_FILES

    pictures = ", ".join(name for name in PLOT_FILES if (out / name).exists())
    diagnostics = f" and the training diagnostics {pictures}" if pictures else ""
    print(f"wrote {out / 'model.npz'}, {out / METRICS_FILE}, {out / LOSS_PLOT}{diagnostics}")
    return 0


def _kept(saved: Path, out: Path) -> str:
    """What an interrupted --force run says about the run it was to replace."""
    if saved.parent == out:
        return ""
    return f" The run it replaces stays in {out} until this one finishes."


def _microseconds() -> str:
    """The unit µs, spelt "us" where stdout cannot encode µ (PYTHONIOENCODING=ascii, old consoles)."""
    try:
        "µ".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "us"
    return "µs"


def _resume_command(args: argparse.Namespace, out: Path) -> str:
    words = ["ninjagrad", "train"]
    if args.input is not None:
        words += ["-i", str(args.input)]
    words += ["-o", str(out)]
    for flag, _, field, _, _ in CONFIG_FLAGS:
        words += [flag, str(getattr(args, field))]  # str of a float is its shortest exact form
    return shlex.join([*words, "--resume"])
