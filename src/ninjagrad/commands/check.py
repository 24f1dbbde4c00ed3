"""Check the hand-written backward pass of the makemore MLP against autograd, one gradient per row.

The lecture's "backprop ninja" table: the 26 gradients of the atomic chain (exercise 1), then the fused
cross-entropy and BatchNorm formulas (exercises 2 and 3), each compared with what autograd computes on the
same batch (32 training examples from the bundled names, a model with 64 hidden units).

Against ninjagrad's own Tensor engine (the default) every atomic gradient must match BIT FOR BIT: the manual
lines perform the engine's float operations in the engine's order. Against PyTorch (--against torch) the two
libraries' kernels round differently, so the criterion is allclose (PyTorch's rtol=1e-5, atol=1e-8), checked
in float64 by default: in float32, gradients that are zero in exact arithmetic (dlogit_maxes, db1) and the
smallest entries of others (dW2) carry rounding noise of about 1e-8 on both sides and fail atol=1e-8 at
random (seeds 2, 4 and 6 of 0-7 fail a row). The fused formulas are algebra, not the same float operations,
so they are always held to allclose.

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
    from ninjagrad.check import compare
    from ninjagrad.makemore.atomic import GRADIENT_NAMES, backward_atomic, forward_atomic, reference_gradients
    from ninjagrad.makemore.data import load_dataset
    from ninjagrad.makemore.fused import dhprebn_fused, dlogits_fused
    from ninjagrad.makemore.model import ModelConfig, init_params

    data = load_dataset()
    config = ModelConfig(vocab_size=data.vocab.size, block_size=data.block_size, n_hidden=N_HIDDEN)
    rng = np.random.default_rng(seed)
    params = {name: array.astype(dtype) for name, array in init_params(config, rng).items()}
    rows = rng.integers(0, len(data.train), BATCH_SIZE)
    Xb, Yb = data.train.X[rows].astype(np.intp), data.train.Y[rows].astype(np.intp)  # (n, block), (n,)

    forward = forward_atomic(params, Xb, Yb, config.bn_eps)
    manual = backward_atomic(params, Xb, Yb, forward, config.bn_eps)
    reference = reference_gradients(params, Xb, Yb, config.bn_eps, backend)
    atomic_criterion = "exact" if backend.name == "ninjagrad" else "approximate"
    checks = [(name, manual[name], reference[name], atomic_criterion) for name in GRADIENT_NAMES]
    dlogits = dlogits_fused(forward["logits"], Yb)
    dhprebn = dhprebn_fused(manual["hpreact"], params["bngain"], forward["bnvar_inv"], forward["bnraw"])
    checks.append(("logits (fused)", dlogits, reference["logits"], "approximate"))
    checks.append(("hprebn (fused)", dhprebn, reference["hprebn"], "approximate"))

    results = []
    for name, mine, theirs, criterion in checks:
        comparison = compare(name, mine, theirs, show=False)
        results.append(
            {"comparison": comparison, "criterion": criterion, "passed": getattr(comparison, criterion)}
        )
    return results


def torch_backend():
    """PyTorch's autograd as a reference (imported here, never by the library)."""
    from ninjagrad.makemore.atomic import AutogradBackend

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
        indices=lambda array: torch.as_tensor(np.asarray(array, dtype=np.int64)),
        gradient=lambda tensor: tensor.grad.numpy(),
    )
