"""The makemore MLP: configuration, initialisation, and inference with calibrated BatchNorm statistics.

The network (Bengio et al., 2003, with BatchNorm from Ioffe & Szegedy, 2015, as in the "backprop ninja"
lecture) reads the previous ``block_size`` characters and predicts the next one::

    emb     = C[X]                                # (n, block_size, n_embd)  a learned vector per character
    hprebn  = emb.reshape(n, -1) @ W1 + b1        # (n, n_hidden)
    hpreact = bngain * (hprebn - mean) / sqrt(var + eps) + bnbias
    h       = tanh(hpreact)                       # (n, n_hidden)
    logits  = h @ W2 + b2                         # (n, vocab_size)

During training ``mean`` and ``var`` are the batch's own statistics (``atomic``, ``fast``); afterwards they
are fixed to the statistics of the whole training split (:func:`calibrate_batchnorm`) so that a prediction
no longer depends on which other examples share its batch. Training uses float32 throughout, as the lecture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ninjagrad.errors import UserError

# The parameter names, in the order of the lecture's `parameters` list; also the order of a checkpoint.
PARAM_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the network; the defaults are the lecture's training configuration."""

    vocab_size: int = 27  # '.' plus a..z for names.txt; in general the data's vocabulary size
    block_size: int = 3  # context length: how many previous characters predict the next one
    n_embd: int = 10  # dimension of each character's embedding vector
    n_hidden: int = 200  # hidden units (the lecture's gradient checks use 64)
    bn_eps: float = 1e-5  # added to the batch variance before the square root, so it never divides by 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_embd", "n_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise UserError(
                    f"model {name} must be a positive integer, got {value!r}; pass e.g. 1 or more"
                )
        if self.vocab_size < 2:
            raise UserError(
                f"model vocab_size must be at least 2 (the '.' token and a character), got {self.vocab_size}"
            )
        if not self.bn_eps > 0:
            raise UserError(f"model bn_eps must be positive, got {self.bn_eps!r}; the lecture uses 1e-5")

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape, in :data:`PARAM_NAMES` order."""
        fan_in = self.block_size * self.n_embd
        return {
            "C": (self.vocab_size, self.n_embd),
            "W1": (fan_in, self.n_hidden),
            "b1": (self.n_hidden,),
            "W2": (self.n_hidden, self.vocab_size),
            "b2": (self.vocab_size,),
            "bngain": (1, self.n_hidden),
            "bnbias": (1, self.n_hidden),
        }


def init_params(config: ModelConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fresh float32 parameters, drawn from ``rng`` in :data:`PARAM_NAMES` order.

    The scales are the lecture's. W1 uses Kaiming's gain for tanh, (5/3)/sqrt(fan_in), so the hidden layer
    starts neither saturated nor collapsed; W2 and b2 are small so the first predictions are close to
    uniform (a loss near ln(vocab_size) rather than a confident, wrong start). No parameter is zero or one
    exactly: a zero would hide a wrong gradient formula behind a product that vanishes anyway.
    """
    shapes = config.parameter_shapes()
    fan_in = config.block_size * config.n_embd
    scales = {
        "C": (1.0, 0.0),  # (scale, offset): value = offset + scale * N(0, 1)
        "W1": ((5 / 3) / math.sqrt(fan_in), 0.0),
        "b1": (0.1, 0.0),
        "W2": (0.1, 0.0),
        "b2": (0.1, 0.0),
        "bngain": (0.1, 1.0),
        "bnbias": (0.1, 0.0),
    }
    params = {}
    for name in PARAM_NAMES:
        scale, offset = scales[name]
        params[name] = (offset + scale * rng.standard_normal(shapes[name])).astype(np.float32)
    return params


def num_parameters(params: dict[str, np.ndarray]) -> int:
    """How many numbers the model learns (12,297 at the training config, 4,137 with 64 hidden units)."""
    return sum(int(np.size(params[name])) for name in PARAM_NAMES)


def calibrate_batchnorm(
    params: dict[str, np.ndarray], X: np.ndarray, *, chunk_size: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm's mean and variance over all of ``X``: the fixed statistics used after training.

    The variance is the unbiased one (divided by N - 1), the estimate training normalises with, so that
    inference sees the scale the network learned on. ``X`` is read in chunks of ``chunk_size`` rows so memory
    stays bounded whatever its length; each chunk's mean and sum of squared deviations, in float64, are merged
    into the running ones with the pairwise update of Chan, Golub & LeVeque (1979), which one pass computes
    as accurately as two. Returns float32 ``(bnmean, bnvar)``, each of shape (1, n_hidden).
    """
    _check_contexts(params, X)
    if len(X) < 2:
        raise UserError(f"BatchNorm calibration needs at least 2 examples for a variance, got {len(X)}")
    n_hidden = params["W1"].shape[1]
    count, mean, squares = 0, np.zeros(n_hidden), np.zeros(n_hidden)  # float64: rows, mean, sum of sq. dev.
    for rows in _chunks(len(X), chunk_size):
        hprebn = _hprebn(params, X[rows]).astype(np.float64)  # (chunk, n_hidden)
        chunk_count, chunk_mean = len(hprebn), hprebn.mean(axis=0)
        chunk_squares = ((hprebn - chunk_mean) ** 2).sum(axis=0)
        delta = chunk_mean - mean
        total = count + chunk_count
        mean = mean + delta * (chunk_count / total)
        squares = squares + chunk_squares + delta**2 * (count * chunk_count / total)
        count = total
    bnvar = squares / (count - 1)  # Bessel's correction, as in training
    return mean.astype(np.float32).reshape(1, -1), bnvar.astype(np.float32).reshape(1, -1)


def inference_logits(
    params: dict[str, np.ndarray],
    bnmean: np.ndarray,
    bnvar: np.ndarray,
    X: np.ndarray,
    *,
    eps: float = 1e-5,
    chunk_size: int = 8192,
) -> np.ndarray:
    """The float32 logits, (len(X), vocab_size), of every row of ``X`` with fixed BatchNorm statistics.

    With fixed statistics each row's prediction depends on that row alone, so a single context (sampling) and
    the whole validation split go through the same function; ``X`` is processed ``chunk_size`` rows at a
    time so the hidden activations never take more than a few megabytes.
    """
    _check_contexts(params, X)
    W, b = _fold_batchnorm(params, bnmean, bnvar, eps)
    logits = np.empty((len(X), params["W2"].shape[1]), dtype=np.float32)  # (N, vocab_size)
    for rows in _chunks(len(X), chunk_size):
        logits[rows] = _logits(params, W, b, X[rows])
    return logits


def split_loss(
    params: dict[str, np.ndarray],
    bnmean: np.ndarray,
    bnvar: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    eps: float = 1e-5,
    chunk_size: int = 8192,
) -> float:
    """The mean cross-entropy (natural log, per character) of predicting ``Y`` from ``X``, fixed BatchNorm.

    This is the number the lecture reports for each split (train 2.0705, val 2.1099). The log-softmax
    subtracts each row's maximum first, so no logit is large enough to overflow ``exp``; per-chunk sums are
    accumulated in float64.
    """
    _check_contexts(params, X)
    Y = np.asarray(Y)
    if Y.shape != (len(X),):
        raise UserError(f"targets shape {Y.shape} does not match contexts shape {X.shape}; need one per row")
    if len(X) == 0:
        raise UserError("cannot compute the loss of an empty split; the split needs at least one example")
    W, b = _fold_batchnorm(params, bnmean, bnvar, eps)
    total = 0.0
    for rows in _chunks(len(X), chunk_size):
        logits = _logits(params, W, b, X[rows])  # (chunk, vocab_size)
        shifted = logits - logits.max(axis=1, keepdims=True)
        logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        total -= float(logprobs[np.arange(len(logprobs)), Y[rows]].sum(dtype=np.float64))
    return total / len(X)


def _hprebn(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """The hidden layer before BatchNorm, (len(X), n_hidden)."""
    emb = params["C"][X]  # (m, block_size, n_embd)
    return emb.reshape(len(X), -1) @ params["W1"] + params["b1"]


def _fold_batchnorm(params, bnmean, bnvar, eps) -> tuple[np.ndarray, np.ndarray]:
    """The first layer with the fixed BatchNorm folded into it, for inference.

    With fixed statistics BatchNorm is a per-unit affine map, and an affine map after a linear layer is a
    linear layer: ``x @ W + b == bngain * (x @ W1 + b1 - bnmean) / sqrt(bnvar + eps) + bnbias``. One product
    then replaces five passes over the (rows, n_hidden) activations.
    """
    scale = params["bngain"] * (bnvar + eps) ** -0.5  # (1, n_hidden)
    return params["W1"] * scale, (params["b1"] - bnmean) * scale + params["bnbias"]


def _logits(params, W, b, X):
    """Logits of the rows of X through the folded first layer ``W``, ``b``, the tanh and the output layer."""
    h = np.tanh(params["C"][X].reshape(len(X), -1) @ W + b)  # (m, n_hidden)
    return h @ params["W2"] + params["b2"]  # (m, vocab_size)


def _chunks(length: int, chunk_size: int) -> Iterator[slice]:
    if chunk_size < 1:
        raise UserError(f"chunk_size must be a positive number of rows, got {chunk_size}")
    for start in range(0, length, chunk_size):
        yield slice(start, min(start + chunk_size, length))


def _check_contexts(params: dict[str, np.ndarray], X: np.ndarray) -> None:
    """Contexts must be a 2-D integer array whose width and values fit the model (a mismatched checkpoint)."""
    vocab_size, n_embd = params["C"].shape
    block_size = params["W1"].shape[0] // n_embd
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != block_size:
        shape = getattr(X, "shape", type(X).__name__)
        raise UserError(
            f"contexts shape {shape} does not fit the model, which reads (rows, {block_size}) characters; "
            "rebuild the examples with the model's block_size"
        )
    if not np.issubdtype(X.dtype, np.integer):
        raise UserError(f"contexts must be integer character ids, got dtype {X.dtype}")
    if X.size and (X.min() < 0 or X.max() >= vocab_size):
        raise UserError(
            f"character ids must lie in [0, {vocab_size}), got values in [{X.min()}, {X.max()}]; "
            "the data's vocabulary does not match the model's"
        )
