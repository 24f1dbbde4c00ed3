"""Exercises 2 and 3 of "backprop ninja": the cross-entropy and BatchNorm backward, each in one formula.

The formulas are written once, in the kata's exercises ``cross_entropy`` and ``batchnorm`` (and the
scatter-add in ``atomic``); these functions run those lines on arrays. The README derives them.
"""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

import numpy as np


@cache
def _lines(exercise: str, gradient: str):
    """The compiled solution lines of one gradient of one exercise."""
    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.kata.workbook import parse_workbook

    source = get_exercise(exercise).solution_source()
    workbook = parse_workbook(source, f"<exercise {exercise}>", get_exercise(exercise))
    nodes = [s.node for s in workbook.statements_of(gradient)]
    return compile(ast.Module(nodes, []), f"<exercise {exercise}>", "exec")


def _run(exercise: str, gradient: str, namespace: dict[str, Any]) -> np.ndarray:
    namespace = {"np": np, **namespace}
    exec(_lines(exercise, gradient), namespace)
    return namespace["d" + gradient]


def dlogits_fused(logits: np.ndarray, Yb: np.ndarray) -> np.ndarray:
    """The mean cross-entropy's gradient with respect to the logits, ``(softmax - onehot(Yb)) / n``."""
    n = logits.shape[0]  # batch size
    counts = np.exp(logits - logits.max(1, keepdims=True))  # (n, vocab)
    probs = counts / counts.sum(1, keepdims=True)  # (n, vocab)
    return _run("cross_entropy", "logits", {"probs": probs, "Yb": Yb, "n": n})


def dhprebn_fused(
    dhpreact: np.ndarray, bngain: np.ndarray, bnvar_inv: np.ndarray, bnraw: np.ndarray
) -> np.ndarray:
    """BatchNorm's backward (training mode, n - 1 variance) from its output's gradient to its input's.
    Shapes: dhpreact and bnraw (n, H); bngain and bnvar_inv (1, H)."""
    given = {"dhpreact": dhpreact, "bngain": bngain, "bnvar_inv": bnvar_inv, "bnraw": bnraw}
    return _run("batchnorm", "hprebn", given | {"n": dhpreact.shape[0]})


def dC_scatter_add(demb: np.ndarray, Xb: np.ndarray, vocab_size: int) -> np.ndarray:
    """The embedding table's gradient: each row of ``demb`` added into the row of ``C`` it was read from
    (a character used several times collects every use). demb (n, block, n_embd) -> (vocab, n_embd)."""
    C = np.zeros((vocab_size, demb.shape[-1]), dtype=demb.dtype)
    return _run("atomic", "C", {"demb": demb, "Xb": Xb, "C": C})
