"""Exercise 1 of "backprop ninja": the forward pass cut into atoms, and every atom's gradient by hand.

The forward pass below is the model of :mod:`ninjagrad.makemore.model` with BatchNorm and the cross-entropy
spelled out one elementary operation per line, so that each backward line is a single local rule (a product,
a sum, a power...) applied to a gradient that is already known. Walking the lines in reverse gives the 26
gradients the lecture checks, from ``dlogprobs`` back to ``dC``.

Nothing here is optimised; it is meant to be read next to the forward chain. Each backward line is written in
the same form, with the same operands in the same order, as the matching rule of the Tensor engine
(``ninjagrad.tensors.ops``), so the two compute identical float operations and agree bit for bit in float32
(:func:`reference_gradients` runs the engine). Where a variable feeds two later lines, its gradient collects
both contributions with ``+=`` (the multivariate chain rule).

The reference side is :func:`autograd_chain`: the same forward lines written once with PyTorch's names, so
they run unchanged on ninjagrad's ``Tensor`` and on ``torch.Tensor`` (an :class:`AutogradBackend` says how to
make each library's tensors). ``ninjagrad check`` prints the comparison as the lecture's table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ninjagrad.makemore.fused import dC_scatter_add

# The 26 gradients, in the order the lecture checks them (the reverse of the forward pass).
GRADIENT_NAMES = (
    "logprobs",
    "probs",
    "counts_sum_inv",
    "counts_sum",
    "counts",
    "norm_logits",
    "logit_maxes",
    "logits",
    "h",
    "W2",
    "b2",
    "hpreact",
    "bngain",
    "bnbias",
    "bnraw",
    "bnvar_inv",
    "bnvar",
    "bndiff2",
    "bndiff",
    "bnmeani",
    "hprebn",
    "embcat",
    "W1",
    "b1",
    "emb",
    "C",
)


def forward_atomic(
    params: dict[str, np.ndarray], Xb: np.ndarray, Yb: np.ndarray, eps: float = 1e-5
) -> dict[str, np.ndarray]:
    """Every intermediate of the forward pass on one batch, by its lecture name, plus ``loss``.

    BatchNorm uses the batch's own mean and its unbiased (n - 1) variance, as the lecture's training does;
    the cross-entropy subtracts each row's largest logit before ``exp`` so nothing overflows (the shift
    changes no probability, and its gradient is zero, which the check confirms).
    """
    C, W1, b1 = params["C"], params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    bngain, bnbias = params["bngain"], params["bnbias"]
    n = Xb.shape[0]  # batch size

    emb = C[Xb]  # (n, block_size, n_embd)
    embcat = emb.reshape(n, -1)  # (n, block_size * n_embd)
    # Linear layer 1
    hprebn = embcat @ W1 + b1  # (n, H)
    # BatchNorm (Ioffe & Szegedy, 2015), with Bessel's correction n - 1 in the variance
    bnmeani = 1 / n * hprebn.sum(0, keepdims=True)  # (1, H)
    bndiff = hprebn - bnmeani  # (n, H)
    bndiff2 = bndiff**2  # (n, H)
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdims=True)  # (1, H)
    bnvar_inv = (bnvar + eps) ** -0.5  # (1, H)
    bnraw = bndiff * bnvar_inv  # (n, H)
    hpreact = bngain * bnraw + bnbias  # (n, H)
    # Non-linearity
    h = np.tanh(hpreact)  # (n, H)
    # Linear layer 2
    logits = h @ W2 + b2  # (n, vocab)
    # Cross-entropy, one step at a time
    logit_maxes = logits.max(1, keepdims=True)  # (n, 1)
    norm_logits = logits - logit_maxes  # (n, vocab)
    counts = np.exp(norm_logits)  # (n, vocab)
    counts_sum = counts.sum(1, keepdims=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1  # (n, 1)  the lecture's form: 1.0 / counts_sum is not bit-exact
    probs = counts * counts_sum_inv  # (n, vocab)
    logprobs = np.log(probs)  # (n, vocab)
    loss = -logprobs[np.arange(n), Yb].mean()  # ()

    return {
        "emb": emb,
        "embcat": embcat,
        "hprebn": hprebn,
        "bnmeani": bnmeani,
        "bndiff": bndiff,
        "bndiff2": bndiff2,
        "bnvar": bnvar,
        "bnvar_inv": bnvar_inv,
        "bnraw": bnraw,
        "hpreact": hpreact,
        "h": h,
        "logits": logits,
        "logit_maxes": logit_maxes,
        "norm_logits": norm_logits,
        "counts": counts,
        "counts_sum": counts_sum,
        "counts_sum_inv": counts_sum_inv,
        "probs": probs,
        "logprobs": logprobs,
        "loss": loss,
    }


def backward_atomic(
    params: dict[str, np.ndarray],
    Xb: np.ndarray,
    Yb: np.ndarray,
    forward: dict[str, np.ndarray],
    eps: float = 1e-5,
) -> dict[str, np.ndarray]:
    """The gradient of the loss with respect to each of the 26 variables in :data:`GRADIENT_NAMES`.

    ``forward`` is :func:`forward_atomic`'s result for the same batch and ``eps``. Each gradient has exactly
    its variable's shape: a (1, H) statistic gets a (1, H) gradient, never an (H,) one that broadcasting would
    let slip through.
    """
    C, W1, W2, bngain = params["C"], params["W1"], params["W2"], params["bngain"]
    emb, embcat, hprebn = forward["emb"], forward["embcat"], forward["hprebn"]
    bndiff, bndiff2, bnvar = forward["bndiff"], forward["bndiff2"], forward["bnvar"]
    bnvar_inv, bnraw, h = forward["bnvar_inv"], forward["bnraw"], forward["h"]
    logits, counts, counts_sum = forward["logits"], forward["counts"], forward["counts_sum"]
    counts_sum_inv, probs, logprobs = forward["counts_sum_inv"], forward["probs"], forward["logprobs"]
    n = Xb.shape[0]  # batch size

    # loss = -mean of the n picked log-probabilities: each picked one gets -1/n, the rest 0
    dlogprobs = np.zeros_like(logprobs)  # (n, vocab)
    dlogprobs[np.arange(n), Yb] = -1.0 / n
    # logprobs = log(probs)
    dprobs = dlogprobs / probs  # (n, vocab)
    # probs = counts * counts_sum_inv: counts_sum_inv is broadcast along the row, so its gradient sums it
    dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)  # (n, 1)
    dcounts = dprobs * counts_sum_inv  # (n, vocab)  first of counts' two uses
    # counts_sum_inv = counts_sum ** -1
    dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)  # (n, 1)
    # counts_sum = counts.sum(1): every count in the row receives the row's gradient
    dcounts += np.broadcast_to(dcounts_sum, counts.shape)  # (n, vocab)  second use
    # counts = exp(norm_logits): the derivative of exp is exp itself
    dnorm_logits = dcounts * counts  # (n, vocab)
    # norm_logits = logits - logit_maxes
    dlogits = dnorm_logits.copy()  # (n, vocab)  first of logits' two uses
    dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)  # (n, 1)
    # logit_maxes = logits.max(1): only the first largest logit of each row receives the gradient
    dlogits += _one_hot(logits.argmax(1), logits.shape[1]) * dlogit_maxes  # (n, vocab)  second use
    # logits = h @ W2 + b2
    dh = dlogits @ W2.T  # (n, H)
    dW2 = h.T @ dlogits  # (H, vocab)
    db2 = dlogits.sum(0)  # (vocab,)
    # h = tanh(hpreact): tanh' = 1 - tanh^2, written with the output h
    dhpreact = dh * (1 - h**2)  # (n, H)
    # hpreact = bngain * bnraw + bnbias: the (1, H) gain and bias are broadcast down the batch
    dbngain = (dhpreact * bnraw).sum(0, keepdims=True)  # (1, H)
    dbnraw = dhpreact * bngain  # (n, H)
    dbnbias = dhpreact.sum(0, keepdims=True)  # (1, H)
    # bnraw = bndiff * bnvar_inv
    dbndiff = dbnraw * bnvar_inv  # (n, H)  first of bndiff's two uses
    dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)  # (1, H)
    # bnvar_inv = (bnvar + eps) ** -0.5
    dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)  # (1, H)
    # bnvar = 1/(n-1) * bndiff2.sum(0)
    dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()  # (n, H)
    # bndiff2 = bndiff ** 2
    dbndiff += dbndiff2 * (2 * bndiff**1)  # (n, H)  second use
    # bndiff = hprebn - bnmeani
    dhprebn = dbndiff.copy()  # (n, H)  first of hprebn's two uses
    dbnmeani = (-dbndiff).sum(0, keepdims=True)  # (1, H)
    # bnmeani = 1/n * hprebn.sum(0)
    dhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)  # (n, H)  second use
    # hprebn = embcat @ W1 + b1
    dembcat = dhprebn @ W1.T  # (n, block_size * n_embd)
    dW1 = embcat.T @ dhprebn  # (block_size * n_embd, H)
    db1 = dhprebn.sum(0)  # (H,)
    # embcat = emb.reshape(n, -1)
    demb = dembcat.reshape(emb.shape)  # (n, block_size, n_embd)
    # emb = C[Xb]: a character that occurs several times in the batch collects every occurrence's gradient
    dC = dC_scatter_add(demb, Xb, C.shape[0])  # (vocab, n_embd)

    return {
        "logprobs": dlogprobs,
        "probs": dprobs,
        "counts_sum_inv": dcounts_sum_inv,
        "counts_sum": dcounts_sum,
        "counts": dcounts,
        "norm_logits": dnorm_logits,
        "logit_maxes": dlogit_maxes,
        "logits": dlogits,
        "h": dh,
        "W2": dW2,
        "b2": db2,
        "hpreact": dhpreact,
        "bngain": dbngain,
        "bnbias": dbnbias,
        "bnraw": dbnraw,
        "bnvar_inv": dbnvar_inv,
        "bnvar": dbnvar,
        "bndiff2": dbndiff2,
        "bndiff": dbndiff,
        "bnmeani": dbnmeani,
        "hprebn": dhprebn,
        "embcat": dembcat,
        "W1": dW1,
        "b1": db1,
        "emb": demb,
        "C": dC,
    }


@dataclass(frozen=True)
class AutogradBackend:
    """An autograd library that speaks PyTorch's names, seen through three conversions.

    :func:`autograd_chain` is written once, with PyTorch's method names, and runs unchanged on ninjagrad's
    ``Tensor`` and on ``torch.Tensor``; a backend says how to turn arrays into that library's tensors and
    gradients back into arrays. The library itself never imports torch: ``ninjagrad check --against torch``
    builds the torch backend when it runs.
    """

    name: str  # shown in reports, e.g. "ninjagrad" or "torch 2.13.0"
    parameter: Callable[[np.ndarray], Any]  # a float array -> a leaf tensor that requires grad (same dtype)
    indices: Callable[[np.ndarray], Any]  # an integer array -> something the library can index with
    gradient: Callable[[Any], np.ndarray]  # a tensor after backward() -> its .grad as an array


def ninjagrad_backend() -> AutogradBackend:
    """ninjagrad's own Tensor engine: the default reference, expected to agree bit for bit."""
    from ninjagrad.tensors import Tensor

    return AutogradBackend(
        name="ninjagrad",
        parameter=lambda array: Tensor(array, requires_grad=True, dtype=array.dtype),
        indices=np.asarray,
        gradient=lambda tensor: tensor.grad.numpy(),
    )


def autograd_chain(params: dict[str, Any], Xb: Any, Yb: Any, eps: float = 1e-5) -> dict[str, Any]:
    """The forward chain of :func:`forward_atomic`, line for line, on autograd tensors with PyTorch's names.

    ``params`` are the library's leaf tensors, ``Xb`` and ``Yb`` its index tensors. Returns every forward
    variable by name (and ``loss``); calling ``loss.backward()`` after ``retain_grad()`` on the interior ones
    gives the reference gradients.
    """
    C, W1, b1 = params["C"], params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    bngain, bnbias = params["bngain"], params["bnbias"]
    n = Xb.shape[0]  # batch size

    emb = C[Xb]  # (n, block_size, n_embd)
    embcat = emb.view(emb.shape[0], -1)  # (n, block_size * n_embd)
    hprebn = embcat @ W1 + b1  # (n, H)
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)  # (1, H)
    bndiff = hprebn - bnmeani  # (n, H)
    bndiff2 = bndiff**2  # (n, H)
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # (1, H)
    bnvar_inv = (bnvar + eps) ** -0.5  # (1, H)
    bnraw = bndiff * bnvar_inv  # (n, H)
    hpreact = bngain * bnraw + bnbias  # (n, H)
    h = hpreact.tanh()  # (n, H)
    logits = h @ W2 + b2  # (n, vocab)
    logit_maxes = logits.max(1, keepdim=True).values  # (n, 1)
    norm_logits = logits - logit_maxes  # (n, vocab)
    counts = norm_logits.exp()  # (n, vocab)
    counts_sum = counts.sum(1, keepdim=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1  # (n, 1)
    probs = counts * counts_sum_inv  # (n, vocab)
    logprobs = probs.log()  # (n, vocab)
    loss = -logprobs[range(n), Yb].mean()  # ()

    return {
        "emb": emb,
        "embcat": embcat,
        "hprebn": hprebn,
        "bnmeani": bnmeani,
        "bndiff": bndiff,
        "bndiff2": bndiff2,
        "bnvar": bnvar,
        "bnvar_inv": bnvar_inv,
        "bnraw": bnraw,
        "hpreact": hpreact,
        "h": h,
        "logits": logits,
        "logit_maxes": logit_maxes,
        "norm_logits": norm_logits,
        "counts": counts,
        "counts_sum": counts_sum,
        "counts_sum_inv": counts_sum_inv,
        "probs": probs,
        "logprobs": logprobs,
        "loss": loss,
    }


def reference_gradients(
    params: dict[str, np.ndarray],
    Xb: np.ndarray,
    Yb: np.ndarray,
    eps: float = 1e-5,
    backend: AutogradBackend | None = None,
) -> dict[str, np.ndarray]:
    """The 26 gradients of :data:`GRADIENT_NAMES` computed by autograd (ninjagrad's Tensor by default).

    Interior tensors keep their gradient only when asked (``retain_grad()``, as in PyTorch), so every one of
    the 19 interior variables is asked before ``backward()``; the 7 parameters are leaves and keep theirs.
    """
    backend = backend or ninjagrad_backend()
    leaves = {name: backend.parameter(np.asarray(array)) for name, array in params.items()}
    chain = autograd_chain(leaves, backend.indices(Xb), backend.indices(Yb), eps)
    tensors = {**chain, **leaves}
    for name in GRADIENT_NAMES:
        if name not in leaves:
            tensors[name].retain_grad()
    chain["loss"].backward()
    return {name: np.asarray(backend.gradient(tensors[name])) for name in GRADIENT_NAMES}


def _one_hot(indices: np.ndarray, num_classes: int) -> np.ndarray:
    """(len(indices), num_classes) float32 rows with a single 1 at each index."""
    return np.eye(num_classes, dtype=np.float32)[indices]
