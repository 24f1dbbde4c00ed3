"""Exercises 2 and 3 of "backprop ninja": whole layers differentiated on paper, then written in one line.

The atomic chain (:mod:`ninjagrad.makemore.atomic`) takes eight backward lines from ``dlogprobs`` to
``dlogits`` and nine from ``dhpreact`` to ``dhprebn``. Doing the algebra once, by hand, collapses each block
to a single formula that is shorter, faster and numerically at least as good. Each is tested against the
atomic chain it replaces, with the tolerance written in the test.
"""

from __future__ import annotations

import numpy as np


def dlogits_fused(logits: np.ndarray, Yb: np.ndarray) -> np.ndarray:
    """The gradient of the mean cross-entropy with respect to the logits: ``(softmax - onehot(Yb)) / n``.

    Why: for one row, loss = -log p_y with p = softmax(logits), and d(-log p_y)/d logit_j = p_j - [j == y].
    The mean over n rows divides by n. The max-shift of the forward pass cancels out of this gradient (the
    lecture's ``dlogit_maxes`` is zero up to rounding), so it is applied here only to keep ``exp`` finite.
    """
    n = logits.shape[0]  # batch size
    counts = np.exp(logits - logits.max(1, keepdims=True))  # (n, vocab)
    dlogits = counts / counts.sum(1, keepdims=True)  # (n, vocab)  softmax
    dlogits[np.arange(n), Yb] -= 1
    dlogits /= n
    return dlogits


def dhprebn_fused(
    dhpreact: np.ndarray, bngain: np.ndarray, bnvar_inv: np.ndarray, bnraw: np.ndarray
) -> np.ndarray:
    """BatchNorm's backward in one formula, from the gradient at its output to the gradient at its input.

    ``dhprebn = bngain * bnvar_inv / n *
    (n * dhpreact - sum0(dhpreact) - n/(n-1) * bnraw * sum0(dhpreact * bnraw))``

    Why: every input of a column moves that column's mean and variance, so each input's gradient has three
    parts: its direct path through (x - mean) * bnvar_inv, minus the share it gets through the mean (the
    column sum, spread evenly), minus the share through the variance (proportional to its own normalised
    value ``bnraw``). The n/(n-1) is the Bessel correction of the unbiased variance used in training; the
    paper (Ioffe & Szegedy, 2015) derives the same with the biased 1/n variance, where the factor is 1.
    Shapes: dhpreact and bnraw (n, H); bngain and bnvar_inv (1, H).
    """
    n = dhpreact.shape[0]  # batch size
    return (
        bngain
        * bnvar_inv
        / n
        * (
            n * dhpreact
            - dhpreact.sum(0, keepdims=True)
            - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0, keepdims=True)
        )
    )


def dC_scatter_add(demb: np.ndarray, Xb: np.ndarray, vocab_size: int) -> np.ndarray:
    """The embedding table's gradient: each row of ``demb`` added into the row of ``C`` it was read from.

    ``emb = C[Xb]`` reads a row once per occurrence of its character in the batch, so the row's gradient is
    the sum over all those occurrences. The tempting ``dC[Xb] += demb`` is wrong for a character that occurs
    more than once: NumPy evaluates it as one gather, one add and one scatter, and the scatter keeps only the
    last write. ``np.add.at`` accumulates every occurrence. Shapes: demb (n, block_size, n_embd), Xb
    (n, block_size); the result is (vocab_size, n_embd).
    """
    dC = np.zeros((vocab_size, demb.shape[-1]), dtype=demb.dtype)  # (vocab, n_embd)
    np.add.at(dC, Xb, demb)
    return dC
