"""Exercise 1 of "backprop ninja": the atomic chain, run on arrays.

The forward chain and its 26 hand-written gradients are written once, as the kata's atomic exercise
(``ninjagrad/kata/exercises/atomic.py``); this module runs that text's forward and backward lines on a
batch, and its forward lines on an autograd engine for the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ninjagrad.kata.exercises import get_exercise
from ninjagrad.kata.traced import AutogradBackend, autograd_gradients, ninjagrad_backend

__all__ = [
    "GRADIENT_NAMES",
    "AutogradBackend",
    "backward_atomic",
    "forward_atomic",
    "ninjagrad_backend",
    "reference_gradients",
]

EXERCISE = get_exercise("atomic")
GRADIENT_NAMES = tuple(g.name for g in EXERCISE.gradients)  # the lecture's order: the reverse of the chain


def _given(params: dict[str, np.ndarray], Xb: np.ndarray, Yb: np.ndarray, eps: float) -> dict[str, Any]:
    return {"np": np, **params, "Xb": np.asarray(Xb), "Yb": np.asarray(Yb), "eps": eps}


def forward_atomic(
    params: dict[str, np.ndarray], Xb: np.ndarray, Yb: np.ndarray, eps: float = 1e-5
) -> dict[str, np.ndarray]:
    """Every intermediate of the forward pass on one batch, by its lecture name, plus ``loss``."""
    namespace = _given(params, Xb, Yb, eps)
    exec(EXERCISE.sections.forward_code, namespace)
    return {name: namespace[name] for name in EXERCISE.sections.forward_names if name != "n"}


def backward_atomic(
    params: dict[str, np.ndarray],
    Xb: np.ndarray,
    Yb: np.ndarray,
    forward: dict[str, np.ndarray],
    eps: float = 1e-5,
) -> dict[str, np.ndarray]:
    """The 26 gradients of :data:`GRADIENT_NAMES`, each of its variable's shape; ``forward`` is
    :func:`forward_atomic`'s result for the same batch and ``eps``."""
    namespace = _given(params, Xb, Yb, eps) | forward | {"n": np.asarray(Xb).shape[0]}
    exec(EXERCISE.sections.backward_code, namespace)
    return {name: namespace["d" + name] for name in GRADIENT_NAMES}


def reference_gradients(
    params: dict[str, np.ndarray],
    Xb: np.ndarray,
    Yb: np.ndarray,
    eps: float = 1e-5,
    backend: AutogradBackend | None = None,
) -> dict[str, np.ndarray]:
    """The 26 gradients computed by autograd (ninjagrad's Tensor by default) on the same forward text."""
    return autograd_gradients(EXERCISE, _given(params, Xb, Yb, eps), backend)
