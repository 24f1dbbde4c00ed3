"""Sampling new items (names) from a trained makemore model.

Generation runs the model as the language model it is (Bengio et al. 2003): start from a context of
``block_size`` start tokens, draw the next character from the predicted distribution, slide the context
along, and stop at the end token ``'.'``. All samples are generated together, one character position per
model call, so ``n`` samples cost about as many calls as the longest one has characters.

BatchNorm runs with the statistics calibrated over the training split (Ioffe & Szegedy 2015, section 3.1):
a sample's distribution must not depend on which other samples share its batch.
"""

from __future__ import annotations

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.makemore.checkpoint import Checkpoint
from ninjagrad.makemore.data import Vocabulary
from ninjagrad.makemore.model import inference_logits

MAX_LENGTH = 100  # characters; a sample that has not ended by then is cut there


def sample_items(
    params: dict[str, np.ndarray],
    bnmean: np.ndarray,
    bnvar: np.ndarray,
    vocab: Vocabulary,
    block_size: int,
    n: int,
    rng: np.random.Generator,
    max_length: int = MAX_LENGTH,
    eps: float = 1e-5,
) -> list[str]:
    """``n`` items drawn from the model, each without its end token; ``eps`` is the model's ``bn_eps``."""
    if n < 1:
        raise UserError(f"the number of samples must be at least 1, got {n}")
    contexts = np.zeros((n, block_size), dtype=np.intp)  # (n, block_size), all start tokens
    tokens = np.zeros((n, max_length), dtype=np.intp)  # (n, max_length) characters drawn so far
    lengths = np.full(n, max_length)  # (n,) length of each sample, final once it has ended
    active = np.arange(n)  # samples still being generated
    for position in range(max_length):
        logits = inference_logits(params, bnmean, bnvar, contexts[active], eps=eps)  # (a, vocab)
        logits = logits.astype(np.float64)  # the cumulative sums below in float64
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))  # (a, vocab), unnormalised
        cumulative = np.cumsum(probs, axis=1)  # (a, vocab)
        # Inverse-CDF draw: the first token whose cumulative probability reaches u.
        u = rng.random(len(active)) * cumulative[:, -1]  # (a,)
        following = np.minimum((cumulative < u[:, None]).sum(axis=1), vocab.size - 1)  # (a,)

        tokens[active, position] = following
        ended = following == 0
        lengths[active[ended]] = position
        contexts[active] = np.concatenate([contexts[active, 1:], following[:, None]], axis=1)
        active = active[~ended]
        if len(active) == 0:
            break
    return [vocab.decode(tokens[i, : lengths[i]]) for i in range(n)]


def sample_checkpoint(checkpoint: Checkpoint, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` samples from a finished model (one whose BatchNorm statistics are calibrated)."""
    if not checkpoint.finished:
        steps = checkpoint.train_state.get("config", {}).get("steps")
        of_steps = f" of {steps:,}" if isinstance(steps, int) else ""
        raise UserError(
            f"this checkpoint is a run stopped at step {checkpoint.step:,}{of_steps}; its BatchNorm "
            "statistics are not calibrated yet; finish it with `ninjagrad train --resume` (same arguments)"
        )
    return sample_items(
        checkpoint.params,
        checkpoint.bnmean,
        checkpoint.bnvar,
        checkpoint.vocab,
        checkpoint.model_config.block_size,
        n,
        rng,
        eps=checkpoint.model_config.bn_eps,
    )
