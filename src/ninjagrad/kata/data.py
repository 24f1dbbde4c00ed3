"""The numbers each tensor exercise works on, built the same way in the learner's run and in the checker's.

A workbook starts with ``exercise_data("atomic")`` (or another name). The checker runs the same call in its
own process and computes the reference gradients from it, so both must get identical arrays: everything comes
from one seeded NumPy generator, and nothing depends on files, time or the platform.

The batch is 32 random contexts rather than 32 names from names.txt: the gradients do not care where the
integers come from, and 96 draws from 27 characters are sure to repeat some (which the embedding's
scatter-add needs, to be wrong when it forgets them). The parameters are the lecture's initialisation with
64 hidden units (DESIGN.md §2), where no value is zero by accident.
"""

from __future__ import annotations

import numpy as np

from ninjagrad.errors import UserError

SEED = 5  # any fixed number: the learner's run and the checker's must draw the same arrays
BATCH_SIZE = 32  # the lecture's batch for the gradient checks
N_HIDDEN = 64  # the lecture's hidden width for the gradient checks (200 is for training)


def exercise_data(name: str) -> tuple[np.ndarray, ...]:
    """The given arrays of exercise ``name``, in the order its workbook unpacks them.

    - ``"atomic"``: ``Xb, Yb, C, W1, b1, W2, b2, bngain, bnbias`` (float32 parameters, integer batch);
    - ``"cross_entropy"``: ``logits, Yb`` (the atomic batch's logits);
    - ``"batchnorm"``: ``hprebn, bngain, bnbias, dhpreact`` (dhpreact: the gradient arriving from above);
    - ``"embedding"``: ``C, Xb, dembcat`` (dembcat: the gradient arriving from the first linear layer).

    The upstream gradients handed to the fused exercises are the atomic batch's real ones (from the hand-
    written backward of ``ninjagrad.makemore.atomic``), so their scale is the lecture's.
    """
    from ninjagrad.makemore.atomic import backward_atomic, forward_atomic
    from ninjagrad.makemore.model import ModelConfig, init_params

    rng = np.random.default_rng(SEED)
    config = ModelConfig(n_hidden=N_HIDDEN)
    params = init_params(config, rng)
    Xb = rng.integers(0, config.vocab_size, size=(BATCH_SIZE, config.block_size))  # (32, 3)
    Yb = rng.integers(0, config.vocab_size, size=BATCH_SIZE)  # (32,)
    if name == "atomic":
        return Xb, Yb, *(params[key] for key in ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias"))
    forward = forward_atomic(params, Xb, Yb)
    if name == "cross_entropy":
        return forward["logits"], Yb
    gradients = backward_atomic(params, Xb, Yb, forward)
    if name == "batchnorm":
        return forward["hprebn"], params["bngain"], params["bnbias"], gradients["hpreact"]
    if name == "embedding":
        return params["C"], Xb, gradients["embcat"]
    raise UserError(
        f"exercise_data({name!r}): no such tensor exercise; the ones with data are atomic, cross_entropy, "
        "batchnorm and embedding (the scalar exercise writes its numbers out)"
    )
