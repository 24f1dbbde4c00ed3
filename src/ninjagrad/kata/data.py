"""The numbers the exercises work on: two data sets of other sizes, each from its own seeded generator.

Data set 0 is the lecture's (batch 32, 64 hidden units), data set 1 another (batch 7, 13 hidden units): a
line with a pasted number or a hard-coded ``/ 32`` is right on one and wrong on the other. Nothing depends
on files, time or the platform, so the learner's process and the checker's draw identical arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SIZES = ((32, 64), (7, 13))  # (batch size n, hidden units H) of data set 0 and 1
SEEDS = (5, 11)  # any fixed numbers, one per data set


def exercise_data(name: str, dataset: int = 0) -> tuple[Any, ...]:
    """The given arrays of exercise ``name``, in the order its workbook unpacks them."""
    from ninjagrad.kata.exercises import get_exercise

    return tuple(get_exercise(name).given(dataset).values())


def atomic_batch(dataset: int) -> dict[str, np.ndarray]:
    """``Xb, Yb`` (random contexts: 3n draws from 27 characters repeat some) and freshly initialised
    parameters (the lecture's initialisation, where nothing is zero by accident), float32."""
    from ninjagrad.makemore.model import ModelConfig, init_params

    n, hidden = SIZES[dataset]
    rng = np.random.default_rng(SEEDS[dataset])
    config = ModelConfig(n_hidden=hidden)
    params = init_params(config, rng)
    Xb = rng.integers(0, config.vocab_size, size=(n, config.block_size))  # (n, 3)
    Yb = rng.integers(0, config.vocab_size, size=n)  # (n,)
    return {
        "Xb": Xb,
        "Yb": Yb,
        **{key: params[key] for key in ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")},
    }


def atomic_chain(dataset: int) -> dict[str, np.ndarray]:
    """Data set ``dataset`` run through the atomic exercise: the batch, every forward variable, and every
    gradient as ``d<name>`` (the upstream gradients the fused exercises are given)."""
    from ninjagrad.makemore.atomic import backward_atomic, forward_atomic

    batch = atomic_batch(dataset)
    params = {key: value for key, value in batch.items() if key not in ("Xb", "Yb")}
    forward = forward_atomic(params, batch["Xb"], batch["Yb"])
    gradients = backward_atomic(params, batch["Xb"], batch["Yb"], forward)
    return batch | forward | {"d" + key: value for key, value in gradients.items()}


def random_data(dataset: int, shapes: dict[str, tuple[str, ...]], scale: dict[str, tuple[float, float]]):
    """Normal arrays of the named shapes (sizes "n" and "H" from SIZES), each ``loc + scale * N(0, 1)``."""
    n, hidden = SIZES[dataset]
    sizes = {"n": n, "H": hidden}
    rng = np.random.default_rng(SEEDS[dataset])
    return {
        name: (
            scale[name][0] + scale[name][1] * rng.standard_normal([sizes.get(s, s) for s in shape])
        ).astype(np.float32)
        for name, shape in shapes.items()
    }
