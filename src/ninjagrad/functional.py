"""``import ninjagrad.functional as F``: the tensor functions (softmax, cross_entropy, batch_norm, ...).

A thin re-export of ``ninjagrad.tensors.functional``, so lecture code that reads
``F.cross_entropy(logits, Yb)`` ports with one changed import.
"""

from ninjagrad.tensors.functional import (
    batch_norm,
    cross_entropy,
    embedding,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    one_hot,
    relu,
    sigmoid,
    softmax,
    tanh,
)

__all__ = [
    "batch_norm",
    "cross_entropy",
    "embedding",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
