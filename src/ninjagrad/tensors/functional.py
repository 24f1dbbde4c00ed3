"""``ninjagrad.functional`` (import it as ``F``): softmax, cross-entropy, batch norm, one-hot, embedding.

Most of these could be composed from the primitives in ``ops.py`` and backpropagated op by op, which is
exactly what the backprop-ninja lecture does first. Three earn a fused rule, one formula for the whole
backward, because it is both faster and numerically better:

- ``cross_entropy``: dlogits = (softmax(logits) - onehot(targets)) / n;
- ``batch_norm``: the three-term formula for dx of the lecture's exercise 3;
- ``softmax`` / ``log_softmax``: the softmax Jacobian applied without forming it.

Each fused rule is tested against the composite of primitives (tests/test_tensor_functional.py), with the
tolerance written down there. The forwards subtract the row maximum before ``exp`` (the log-sum-exp trick),
so large logits do not overflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ninjagrad.tensors.broadcast import unbroadcast
from ninjagrad.tensors.ops import backward, forward
from ninjagrad.tensors.tensor import Tensor, _dims, _leaf, apply_op, no_grad


def _check_tensor(input: Any, function: str) -> None:
    """The functions below record graph nodes, so their input must be a Tensor, not an array."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{function} expects a Tensor as input, got {type(input).__module__}.{type(input).__name__}; "
            f"wrap the data first: Tensor(data) (with requires_grad=True for a gradient)"
        )


def _check_float_tensor(input: Any, function: str) -> None:
    """A Tensor of floats: PyTorch refuses softmax of integers (NumPy would make float64 of them)."""
    _check_tensor(input, function)
    if input.dtype.kind != "f":
        raise TypeError(
            f"{function} needs a floating-point tensor (as in PyTorch), got {input.dtype}; use .float()"
        )


# ---------------------------------------------------------------------------------------------------------
# softmax and log_softmax


@forward("softmax")
def _softmax(x, dim):
    if x.size == 0:  # nothing to normalise (PyTorch returns the empty tensor)
        return x.copy(), (x.copy(), dim)
    counts = np.exp(x - x.max(axis=dim, keepdims=True))
    y = counts / counts.sum(axis=dim, keepdims=True)
    return y, (y, dim)


@backward("softmax")
def _softmax_backward(saved, dout):
    """dx = y * (dout - sum(dout * y)) along dim: the softmax Jacobian diag(y) - y y^T, applied to dout."""
    y, dim = saved
    return (y * (dout - (dout * y).sum(axis=dim, keepdims=True)),)


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``: the probabilities of the makemore MLP's next character."""
    _check_float_tensor(input, "softmax")
    return apply_op("softmax", (input,), dim=_dims(dim, input.ndim))


@forward("log_softmax")
def _log_softmax(x, dim):
    if x.size == 0:
        return x.copy(), (x.copy(), dim)
    shifted = x - x.max(axis=dim, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return y, (y, dim)


@backward("log_softmax")
def _log_softmax_backward(saved, dout):
    """dx = dout - softmax(x) * sum(dout) along dim, with softmax(x) = exp(y)."""
    y, dim = saved
    return (dout - np.exp(y) * dout.sum(axis=dim, keepdims=True),)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """x - log(sum(exp(x))) along ``dim``: log-probabilities, computed without overflow."""
    _check_float_tensor(input, "log_softmax")
    return apply_op("log_softmax", (input,), dim=_dims(dim, input.ndim))


# ---------------------------------------------------------------------------------------------------------
# cross_entropy


@forward("cross_entropy")
def _cross_entropy(logits, targets, reduction):
    n, classes = logits.shape
    picked = np.arange(n) * classes + targets  # (n,) where each row's target sits in the flattened (n, C)
    shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)  # (n, C), each row's max is 0
    counts = np.exp(shifted)  # (n, C)
    counts_sum = np.add.reduce(counts, axis=1, keepdims=True)  # (n, 1)
    # (n,) -log softmax(logits)[i, target_i]
    losses = np.log(counts_sum[:, 0]) - shifted.reshape(-1)[picked]
    probs = counts / counts_sum  # (n, C), kept for the backward
    if reduction == "mean":
        loss = np.add.reduce(losses) / n
    elif reduction == "sum":
        loss = losses.sum()
    else:
        loss = losses
    return loss, (probs, picked, reduction)


@backward("cross_entropy")
def _cross_entropy_backward(saved, dloss):
    """dlogits = (softmax(logits) - onehot(targets)) / n for the mean (no / n for the sum), times dloss.

    Backprop ninja exercise 2: the whole log_softmax-and-pick chain collapses to "the probabilities, minus
    one at the right answer".
    """
    probs, picked, reduction = saved
    n = probs.shape[0]
    dlogits = probs.copy()  # (n, C)
    dlogits.reshape(-1)[picked] -= 1  # softmax - onehot (one flat index per row: cheaper than a pair)
    if reduction == "mean":
        dlogits *= dloss / n
    elif reduction == "sum":
        dlogits *= dloss
    else:
        dlogits *= dloss[:, np.newaxis]  # (n, 1): each row's own loss gradient
    return (dlogits,)


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of class indices ``target`` (n,) under ``softmax(input)`` (n, C).

    ``reduction``: ``"mean"`` (PyTorch's default), ``"sum"`` or ``"none"`` (one loss per row).
    """
    _check_float_tensor(input, "cross_entropy")
    targets = np.asarray(target.data if isinstance(target, Tensor) else target)
    if input.ndim != 2:
        raise ValueError(f"cross_entropy expects logits of shape (n, classes), got {input.shape}")
    if targets.dtype.kind not in "iu" or targets.shape != input.shape[:1]:
        raise ValueError(
            f"cross_entropy expects integer class indices of shape {input.shape[:1]} for logits of shape "
            f"{input.shape}, got {targets.dtype} of shape {targets.shape}"
        )
    # One comparison finds both kinds of bad target: as unsigned numbers, negative ones are huge.
    if targets.size and np.maximum.reduce(targets.astype(np.uint64, copy=False)) >= input.shape[1]:
        raise ValueError(
            f"cross_entropy targets must lie in 0..{input.shape[1] - 1} (the logits have {input.shape[1]} "
            f"classes), got values from {targets.min()} to {targets.max()}"
        )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return apply_op("cross_entropy", (input,), targets=targets, reduction=reduction)


# ---------------------------------------------------------------------------------------------------------
# batch_norm


@forward("batch_norm")
def _batch_norm(x, weight, bias, eps):
    n = x.shape[0]
    mean = x.mean(axis=0, keepdims=True)  # (1, H)
    centered = x - mean  # (n, H)
    var = (centered**2).sum(axis=0, keepdims=True) / (n - 1)  # (1, H), unbiased as in the lecture
    var_inv = (var + eps) ** -0.5  # (1, H)
    raw = centered * var_inv  # (n, H), zero mean and unit variance per column
    y = weight * raw + bias  # (n, H)
    return y, (raw, var_inv, weight, bias.shape)


@backward("batch_norm")
def _batch_norm_backward(saved, dy):
    """Backprop ninja exercise 3, with raw = (x - mean) * var_inv:

    dx = weight * var_inv / n * (n * dy - sum(dy) - n / (n - 1) * raw * sum(dy * raw)),
    dweight = sum(dy * raw), dbias = sum(dy), sums over the batch (dim 0).
    """
    raw, var_inv, weight, bias_shape = saved
    n = raw.shape[0]
    dx = weight * var_inv / n * (n * dy - dy.sum(0) - n / (n - 1) * raw * (dy * raw).sum(0))
    return dx, unbroadcast(dy * raw, weight.shape), unbroadcast(dy, bias_shape)


def batch_norm(
    input: Tensor,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation (Ioffe & Szegedy 2015) of ``input`` (n, H), PyTorch's signature.

    Training mode normalises with the batch mean and the *unbiased* batch variance (divisor n - 1), as the
    backprop-ninja lecture does; ``torch.nn.functional.batch_norm`` normalises with the biased one (divisor
    n) and uses the unbiased one only for ``running_var``. The two differ by a factor sqrt(n / (n - 1))
    before ``weight``: about 1.6% for n = 32. ``running_mean``/``running_var`` (arrays or tensors of shape
    (H,) or (1, H)), if given, are updated in place with ``momentum``, as in PyTorch.

    Eval mode (``training=False``) normalises with the running statistics, composed from primitive ops.
    """
    _check_tensor(input, "batch_norm")
    if input.ndim != 2:
        raise ValueError(f"batch_norm expects input of shape (n, features), got {input.shape}")
    n, features = input.shape
    if weight is None:
        weight = _leaf(np.ones(features, dtype=input.dtype))
    if bias is None:
        bias = _leaf(np.zeros(features, dtype=input.dtype))
    for parameter, what in ((weight, "weight"), (bias, "bias")):
        _check_tensor(parameter, f"batch_norm (its {what})")
        if parameter.shape not in ((features,), (1, features)):
            raise ValueError(
                f"batch_norm {what} must have shape ({features},) or (1, {features}) for input of shape "
                f"{input.shape}, got {parameter.shape}"
            )
    # Checked before anything is computed, so a bad statistic cannot leave the other half-updated.
    running_mean = _running_statistic(running_mean, "running_mean", features)
    running_var = _running_statistic(running_var, "running_var", features)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm with training=False needs running_mean and running_var")
        with no_grad():
            scale = (Tensor(running_var, dtype=input.dtype) + eps) ** -0.5
            shift = Tensor(running_mean, dtype=input.dtype)
        return (input - shift) * scale * weight + bias
    if n < 2:
        raise ValueError(
            f"batch_norm in training mode needs a batch of at least 2 rows, got shape {input.shape}"
        )
    out = apply_op("batch_norm", (input, weight, bias), eps=eps)
    if running_mean is not None:
        _update_running(running_mean, input.data.mean(axis=0), momentum)
    if running_var is not None:
        _update_running(running_var, input.data.var(axis=0, ddof=1), momentum)
    return out


def _running_statistic(running: Any, what: str, features: int) -> np.ndarray | None:
    """The array under a running mean or variance: an array or a tensor's data (updated in place, so not a
    list), one value per feature."""
    if running is None:
        return None
    array = running.data if isinstance(running, Tensor) else running
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"batch_norm {what} must be an array or a tensor (it is updated in place), got "
            f"{type(running).__name__}; pass np.zeros({features}) or a Tensor"
        )
    if array.size != features:
        raise ValueError(
            f"batch_norm {what} must hold one value per feature ({features}), got shape {array.shape}"
        )
    return array


def _update_running(running: np.ndarray, batch_value: np.ndarray, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch_value, in place (no graph)."""
    running *= 1 - momentum
    running += momentum * batch_value.reshape(running.shape)


# ---------------------------------------------------------------------------------------------------------
# one_hot and embedding (no new gradient rules)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """An int64 tensor with a trailing axis of ``num_classes``: 1 at each index, 0 elsewhere (as PyTorch)."""
    indices = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer class indices, got {indices.dtype}")
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
        raise ValueError(
            f"one_hot indices must lie in 0..{num_classes - 1} for num_classes={num_classes}, got values "
            f"from {indices.min()} to {indices.max()}"
        )
    return _leaf((indices[..., np.newaxis] == np.arange(num_classes)).astype(np.int64))


def embedding(input: Any, weight: Tensor) -> Tensor:
    """Rows of ``weight`` picked by the integer indices ``input``: ``weight[input]``, the lecture's ``C[Xb]``.

    Its gradient is the scatter-add of indexing: a row picked k times receives k contributions.
    """
    _check_tensor(weight, "embedding (its weight)")
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding needs integer indices, got {indices.dtype}")
    rows = weight.shape[0] if weight.ndim else 0
    if indices.size and (indices.min() < 0 or indices.max() >= rows):  # weight[-1] would be the last row
        raise IndexError(
            f"embedding indices must lie in 0..{rows - 1} (the weight has {rows} rows), got values from "
            f"{indices.min()} to {indices.max()}"
        )
    return weight[indices]


# ---------------------------------------------------------------------------------------------------------
# Composed from primitives (no rules of their own): activations, linear, and the plain losses


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def relu(input: Tensor) -> Tensor:
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, with PyTorch's layout: ``weight`` is (out_features, in_features)."""
    _check_tensor(input, "linear")
    out = input @ weight.T
    return out if bias is None else out + bias


def _reduce(losses: Tensor, reduction: str, function: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"{function} reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """The mean (or sum) of the squared differences (input - target)**2 (broadcast, as PyTorch)."""
    _check_tensor(input, "mse_loss")
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def nll_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of class indices ``target`` (n,) given log-probabilities ``input``
    (n, C): ``-input[range(n), target]``, averaged (so ``nll_loss(log_softmax(x, 1), y)`` is
    ``cross_entropy(x, y)``)."""
    _check_tensor(input, "nll_loss")
    targets = np.asarray(target.data if isinstance(target, Tensor) else target)
    if input.ndim != 2 or targets.dtype.kind not in "iu" or targets.shape != input.shape[:1]:
        raise ValueError(
            f"nll_loss expects log-probabilities (n, classes) and integer targets (n,), got {input.shape} "
            f"and {targets.dtype} {targets.shape}"
        )
    if targets.size and (targets.min() < 0 or targets.max() >= input.shape[1]):
        raise ValueError(f"nll_loss targets must lie in 0..{input.shape[1] - 1}")
    return _reduce(-input[np.arange(input.shape[0]), targets], reduction, "nll_loss")
