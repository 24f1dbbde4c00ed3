"""Check the hand-written backward pass of the makemore MLP against autograd, one gradient per row.

The lecture's "backprop ninja" table: the 26 gradients of the atomic exercise, then the fused cross-entropy
and BatchNorm formulas, on 32 training examples from the bundled names and a model with 64 hidden units.
It is the kata's checker run on the exercises' own solutions (`ninjagrad kata check` runs it on yours).

Against ninjagrad's Tensor engine (the default) every atomic gradient must match bit for bit. Against
PyTorch (--against torch) the kernels round differently, so the criterion is allclose (rtol=1e-5,
atol=1e-8), in float64 by default: in float32, gradients that are zero in exact arithmetic (dlogit_maxes,
db1) carry rounding noise near atol on both sides. The fused formulas are always held to allclose.

Exit status: 0 when every row meets its criterion, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from ninjagrad.commands.train import integer_at_least
from ninjagrad.errors import UserError

HELP = "check the hand-written makemore gradients against autograd (the lecture's table)"

N_HIDDEN = 64  # hidden units of the checked model, as in the lecture's gradient checks
BATCH_SIZE = 32  # examples in the checked batch, as in the lecture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against",
        choices=("ninjagrad", "torch"),
        default="ninjagrad",
        help="the autograd to compare with (default: %(default)s; torch needs PyTorch installed)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="precision of both sides (default: float32 against ninjagrad, float64 against torch)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of records instead of the table"
    )
    parser.add_argument(
        "--seed",
        metavar="S",
        type=integer_at_least(0),
        default=42,
        help="seed for the parameters and the batch (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from ninjagrad.check import format_table
    from ninjagrad.makemore.atomic import ninjagrad_backend

    backend = torch_backend() if args.against == "torch" else ninjagrad_backend()
    dtype = args.dtype or ("float64" if args.against == "torch" else "float32")
    rows = check_gradients(backend, np.dtype(dtype), args.seed)
    passed = sum(row["passed"] for row in rows)
    if args.json:
        records = [
            {**row["comparison"].as_dict(), "criterion": row["criterion"], "passed": row["passed"]}
            for row in rows
        ]
        print("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]")  # a record per line
    else:
        atomic = "exact (bit for bit)" if args.against == "ninjagrad" else "approximate (allclose)"
        print(f"hand-written backward vs {backend.name} autograd, {dtype}")
        print(f"model: {N_HIDDEN} hidden units; batch: {BATCH_SIZE} training examples (seed {args.seed})")
        print(f"criterion: {atomic} for the atomic chain, approximate (allclose) for the fused formulas")
        print()
        print(format_table([row["comparison"] for row in rows]))
        print()
        failed = [row["comparison"].name for row in rows if not row["passed"]]
        print(f"{passed}/{len(rows)} gradients pass" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 0 if passed == len(rows) else 1


def check_gradients(backend, dtype: np.dtype, seed: int) -> list[dict]:
    """Every comparison of the table, each as ``{"comparison", "criterion", "passed"}``."""
    from dataclasses import replace

    from ninjagrad.kata.checker import check_solution
    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.makemore.model import ModelConfig, init_params

    data = load_dataset()
    config = ModelConfig(vocab_size=data.vocab.size, block_size=data.block_size, n_hidden=N_HIDDEN)
    rng = np.random.default_rng(seed)
    params = {name: array.astype(dtype) for name, array in init_params(config, rng).items()}
    rows = rng.integers(0, len(data.train), BATCH_SIZE)
    Xb, Yb = data.train.X[rows].astype(np.intp), data.train.Y[rows].astype(np.intp)  # (n, block), (n,)

    given = {"Xb": Xb, "Yb": Yb, **params}
    atomic, comparisons = check_solution(get_exercise("atomic"), given, backend)
    atomic_criterion = "exact" if backend.name == "ninjagrad" else "approximate"
    checks = [(replace(c, name=c.name[1:]), atomic_criterion) for c in comparisons]  # named as the lecture
    for name, fused in (("cross_entropy", "logits"), ("batchnorm", "hprebn")):
        exercise = get_exercise(name)
        inputs = {key: atomic[key] for key in exercise.given(0)}
        _, (comparison,) = check_solution(exercise, inputs, backend)
        checks.append((replace(comparison, name=f"{fused} (fused)"), "approximate"))
    return [
        {"comparison": comparison, "criterion": criterion, "passed": getattr(comparison, criterion)}
        for comparison, criterion in checks
    ]


def torch_backend():
    """PyTorch's autograd as a reference (imported here, never by the library)."""
    from ninjagrad.kata.traced import AutogradBackend

    try:
        import torch
    except ImportError:
        raise UserError(
            "--against torch needs PyTorch, which is not installed; install it (pip install torch) or "
            "leave out --against to check against ninjagrad's own autograd"
        ) from None
    return AutogradBackend(
        name=f"torch {torch.__version__}",
        parameter=lambda array: torch.tensor(array, requires_grad=True),
        constant=lambda array: torch.as_tensor(array),
        indices=lambda array: torch.as_tensor(np.asarray(array, dtype=np.int64)),
        gradient=lambda tensor: None if tensor.grad is None else tensor.grad.numpy(),
    )
