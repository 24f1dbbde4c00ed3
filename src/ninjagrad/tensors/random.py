"""Random tensors with PyTorch's signatures: ``Generator().manual_seed(s)``, ``manual_seed``, ``randn``,
``rand``, ``randint``, ``multinomial``, each taking ``generator=``.

The numbers come from NumPy (``np.random.default_rng(seed)``, PCG64), so a seed gives the same numbers on
every run and machine, but NOT the numbers PyTorch gives for that seed: PyTorch's generator (a Mersenne
Twister with its own sampling algorithms) is not reproduced. A ported lecture trains the same way with
different draws: its losses match the lecture's statistically, not digit for digit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ninjagrad.tensors import dtypes
from ninjagrad.tensors.tensor import Tensor, _leaf


class Generator:
    """A source of random numbers; ``Generator().manual_seed(2147483647)`` as in the lectures."""

    def __init__(self, device: str = "cpu"):
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns the generator, so it chains."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed


default_generator = Generator()  # what the functions draw from without generator=


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (``torch.manual_seed(42)``); returns it."""
    return default_generator.manual_seed(seed)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def _shape(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _float_result(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = _leaf(array)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randn(
    *size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal numbers, float32 unless ``dtype`` says otherwise."""
    dtype = np.dtype(dtype) if dtype is not None else dtypes.DEFAULT_FLOAT
    return _float_result(_rng(generator).standard_normal(_shape(size), dtype=dtype), requires_grad)


def rand(
    *size: Any, generator: Generator | None = None, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Uniform numbers in [0, 1), float32 unless ``dtype`` says otherwise."""
    dtype = np.dtype(dtype) if dtype is not None else dtypes.DEFAULT_FLOAT
    return _float_result(_rng(generator).random(_shape(size), dtype=dtype), requires_grad)


def randint(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``; int64."""
    if size is None:
        *bounds, size = args
    else:
        bounds = list(args)
    if len(bounds) == 1:
        low, high = 0, bounds[0]
    elif len(bounds) == 2:
        low, high = bounds
    else:
        raise TypeError("randint(high, size) or randint(low, high, size)")
    if int(high) <= int(low):
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _shape((size,))
    return _leaf(_rng(generator).integers(int(low), int(high), shape).astype(dtype or dtypes.int64))


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
) -> Tensor:
    """``num_samples`` category indices drawn from each row of non-negative weights ``input`` (1-D or 2-D;
    they need not sum to 1); int64 of shape (num_samples,) or (rows, num_samples)."""
    weights = np.asarray(input.data if isinstance(input, Tensor) else input, dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial needs 1-D or 2-D weights, got shape {weights.shape}")
    rows = weights.reshape(-1, weights.shape[-1])
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise ValueError("multinomial: the probability tensor contains inf, nan or a negative element")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise ValueError("multinomial: a row of weights sums to 0; nothing can be drawn from it")
    if not replacement and num_samples > np.count_nonzero(rows, axis=1).min():
        raise ValueError(
            f"multinomial: cannot draw {num_samples} samples without replacement from "
            f"{np.count_nonzero(rows, axis=1).min()} categories of non-zero weight; pass replacement=True"
        )
    rng = _rng(generator)
    draws = np.stack(
        [
            rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=row / total)
            for row, total in zip(rows, totals, strict=True)
        ]
    )
    return _leaf(draws.reshape(weights.shape[:-1] + (num_samples,)).astype(np.int64))
