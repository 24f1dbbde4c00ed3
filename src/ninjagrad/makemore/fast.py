"""Exercise 4 of "backprop ninja": the training step with the fused backward, built for speed.

:class:`TrainStep` is what ``ninjagrad train`` runs 200,000 times. It computes the same thing as
:mod:`ninjagrad.makemore.atomic` followed by an SGD update, but every array it touches is allocated once, in
``__init__``, and every NumPy call writes into one of them (``out=``). At this model's size (a batch of 32,
200 hidden units) each NumPy call costs about a microsecond whatever it computes, so the step is designed
around doing few calls:

- All parameters live in one flat float32 buffer and all gradients in another, each parameter a view into
  it. The SGD update is then two calls for all seven parameters.
- A bias is a weight on an input that is always 1. Each layer's input buffer carries a column of ones, and
  ``W1`` is stored directly above ``b1`` (``W2`` above ``b2``), so one matrix product applies weights and bias
  together in the forward pass, and one product yields both gradients in the backward pass.
- Sums over the batch are products with a row of ones (BLAS is faster than ``sum(axis=0)`` at this size).
- The cross-entropy backward is ``(softmax - onehot) / n`` and the BatchNorm backward the one-line formula of
  :mod:`ninjagrad.makemore.fused`, regrouped as ``a * dhpreact + b + c * bnraw`` with one (1, H) vector each,
  so the (n, H) arrays are touched four times instead of a dozen.
- The embedding's scatter-add is a product with a one-hot matrix of the batch's characters, several times
  faster than ``np.add.at`` for 96 rows.
"""

from __future__ import annotations

import math

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig

_FLOAT = np.float32  # training precision, as in the lecture


class TrainStep:
    """One SGD step with the fused manual backward, preallocated buffers.

    ``step = TrainStep(config, params, batch_size)`` copies ``params`` into its own storage; then
    ``loss = step(Xb, Yb, lr)`` runs the forward pass on the batch, the backward pass, and the update
    ``p -= lr * dp``, and returns the batch loss from before the update. The same parameters, batches and
    learning rates always give bit-identical results (nothing random, no threads of its own), which resuming
    from a checkpoint relies on.

    ``step.params`` holds live views of the current parameters, by name: read them to save a checkpoint, and
    write into them (``step.params["W1"][...] = saved``) to restore one. ``step.grads`` holds, in the same
    way, the gradients computed by the last step (at the parameters from before its update).
    """

    def __init__(self, config: ModelConfig, params: dict[str, np.ndarray], batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 2:
            raise UserError(
                f"batch_size must be an integer of at least 2 (BatchNorm's unbiased variance divides by "
                f"batch_size - 1), got {batch_size!r}"
            )
        shapes = config.parameter_shapes()
        _check_params(params, shapes)
        n = int(batch_size)  # batch size
        F = config.block_size * config.n_embd  # width of the concatenated embeddings
        H, V, E = config.n_hidden, config.vocab_size, config.n_embd
        self.config = config
        self.batch_size = n

        # Parameters and gradients: one flat buffer each, in PARAM_NAMES order; each name is a view.
        sizes = [math.prod(shapes[name]) for name in PARAM_NAMES]
        offsets = dict(zip(PARAM_NAMES, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True))
        self._flat_params = np.empty(sum(sizes), dtype=_FLOAT)
        self._flat_grads = np.zeros(sum(sizes), dtype=_FLOAT)
        self._flat_update = np.empty(sum(sizes), dtype=_FLOAT)  # lr * grads
        self.params = {name: _view(self._flat_params, offsets[name], shapes[name]) for name in PARAM_NAMES}
        self.grads = {name: _view(self._flat_grads, offsets[name], shapes[name]) for name in PARAM_NAMES}
        for name in PARAM_NAMES:
            self.params[name][...] = params[name]
        # b1 is stored right after W1, so the two read together as one (F + 1, H) matrix whose last row is
        # the bias; the same for W2 and b2. The gradients have the same layout.
        self._W1b1 = _view(self._flat_params, offsets["W1"], (F + 1, H))
        self._W2b2 = _view(self._flat_params, offsets["W2"], (H + 1, V))
        self._dW1b1 = _view(self._flat_grads, offsets["W1"], (F + 1, H))
        self._dW2b2 = _view(self._flat_grads, offsets["W2"], (H + 1, V))

        # Constant rows: a product with them sums (or averages) over the batch.
        self._ones_row = np.ones((1, n), dtype=_FLOAT)  # sum over the batch
        self._mean_row = np.full((1, n), 1 / n, dtype=_FLOAT)  # batch mean
        self._var_row = np.full((1, n), 1 / (n - 1), dtype=_FLOAT)  # unbiased batch variance of centred rows
        self._ones_vocab = np.ones((V, 1), dtype=_FLOAT)  # sum over the vocabulary
        self._row_offsets = np.arange(n) * V  # flat index of each row of an (n, V) array
        self._emb_row_offsets = (
            np.arange(n * config.block_size) * V
        )  # the same for the (n * block, V) one-hot

        # Forward buffers, named after the lecture's variables.
        self._emb = np.empty((n, config.block_size, E), dtype=_FLOAT)
        self._embcat1 = np.ones((n, F + 1), dtype=_FLOAT)  # [embcat | 1]: the last column stays 1 (for b1)
        self._hprebn = np.empty((n, H), dtype=_FLOAT)
        self._bnmeani = np.empty((1, H), dtype=_FLOAT)
        self._bndiff = np.empty((n, H), dtype=_FLOAT)
        self._bndiff2 = np.empty((n, H), dtype=_FLOAT)
        self._bnvar = np.empty((1, H), dtype=_FLOAT)
        self._bnvar_inv = np.empty((1, H), dtype=_FLOAT)
        self._bnraw = np.empty((n, H), dtype=_FLOAT)
        self._hpreact = np.empty((n, H), dtype=_FLOAT)
        self._h1 = np.ones((n, H + 1), dtype=_FLOAT)  # [h | 1]: the last column stays 1 (for b2)
        self._logits = np.empty((n, V), dtype=_FLOAT)
        self._logit_maxes = np.empty((n, 1), dtype=_FLOAT)
        self._counts_sum = np.empty((n, 1), dtype=_FLOAT)
        # Backward buffers.
        self._dlogits = np.empty((n, V), dtype=_FLOAT)  # holds counts, then probs, then dlogits
        self._dh = np.empty((n, H), dtype=_FLOAT)
        self._dtanh = np.empty((n, H), dtype=_FLOAT)  # 1 - h**2
        self._dhpreact = np.empty((n, H), dtype=_FLOAT)
        self._dhprebn = np.empty((n, H), dtype=_FLOAT)
        self._scratch = np.empty((n, H), dtype=_FLOAT)
        self._bn_a = np.empty((1, H), dtype=_FLOAT)  # dhprebn = bn_a * dhpreact + bn_b + bn_c * bnraw
        self._bn_b = np.empty((1, H), dtype=_FLOAT)
        self._bn_c = np.empty((1, H), dtype=_FLOAT)
        self._dembcat = np.empty((n, F), dtype=_FLOAT)
        self._emb_onehot = np.zeros((n * config.block_size, V), dtype=_FLOAT)  # one row per character read

    def __call__(self, Xb: np.ndarray, Yb: np.ndarray, lr: float) -> float:
        """Train on one batch: ``Xb`` (n, block_size) and ``Yb`` (n,) integer ids. Returns the loss before
        the update. Integer arrays of NumPy's default ``intp`` type avoid a conversion per call."""
        loss = self._forward(Xb, Yb)
        self._backward(Xb)
        np.multiply(self._flat_grads, lr, out=self._flat_update)  # SGD, all parameters at once
        np.subtract(self._flat_params, self._flat_update, out=self._flat_params)
        return loss

    def _forward(self, Xb: np.ndarray, Yb: np.ndarray) -> float:
        """The forward pass; leaves probs in ``_dlogits`` and the intermediates the backward pass needs."""
        n = self.batch_size
        p = self.params
        emb, embcat1, hprebn = self._emb, self._embcat1, self._hprebn
        bnmeani, bndiff, bndiff2, bnvar = self._bnmeani, self._bndiff, self._bndiff2, self._bnvar
        bnvar_inv, bnraw, hpreact, h1 = self._bnvar_inv, self._bnraw, self._hpreact, self._h1
        logits, logit_maxes, counts_sum, probs = (
            self._logits,
            self._logit_maxes,
            self._counts_sum,
            self._dlogits,
        )

        np.take(p["C"], Xb, axis=0, out=emb)  # (n, block, E)
        embcat1[:, :-1] = emb.reshape(n, -1)  # (n, F)
        np.dot(embcat1, self._W1b1, out=hprebn)  # (n, H)  embcat @ W1 + b1
        # BatchNorm with the batch's mean and unbiased variance
        np.dot(self._mean_row, hprebn, out=bnmeani)  # (1, H)
        np.subtract(hprebn, bnmeani, out=bndiff)  # (n, H)
        np.square(bndiff, out=bndiff2)  # (n, H)
        np.dot(self._var_row, bndiff2, out=bnvar)  # (1, H)
        np.add(bnvar, self.config.bn_eps, out=bnvar_inv)  # (1, H)
        np.sqrt(bnvar_inv, out=bnvar_inv)
        np.reciprocal(bnvar_inv, out=bnvar_inv)  # (bnvar + eps) ** -0.5
        np.multiply(bndiff, bnvar_inv, out=bnraw)  # (n, H)
        np.multiply(bnraw, p["bngain"], out=hpreact)  # (n, H)
        np.add(hpreact, p["bnbias"], out=hpreact)
        np.tanh(hpreact, out=h1[:, :-1])  # (n, H)  h
        np.dot(h1, self._W2b2, out=logits)  # (n, V)  h @ W2 + b2
        # Softmax, shifted by each row's max so exp cannot overflow
        np.maximum.reduce(logits, axis=1, keepdims=True, out=logit_maxes)  # (n, 1)
        np.subtract(logits, logit_maxes, out=probs)  # (n, V)
        np.exp(probs, out=probs)  # (n, V)  counts
        np.dot(probs, self._ones_vocab, out=counts_sum)  # (n, 1)
        np.divide(probs, counts_sum, out=probs)  # (n, V)  probs
        target = np.add(self._row_offsets, Yb)  # (n,)  flat index of each row's correct character
        probs_target = probs.ravel().take(target)  # (n,)
        # The backward pass turns probs into dlogits = (probs - onehot(Yb)) / n in place
        probs.ravel()[target] = probs_target - 1
        np.multiply(probs, 1 / n, out=probs)
        return -float(np.log(probs_target).sum()) / n

    def _backward(self, Xb: np.ndarray) -> None:
        """Gradients of every parameter into ``_flat_grads``, from dlogits (left in ``_dlogits``)."""
        n = self.batch_size
        p, g = self.params, self.grads
        dlogits, dh, dtanh, dhpreact, dhprebn = (
            self._dlogits,
            self._dh,
            self._dtanh,
            self._dhpreact,
            self._dhprebn,
        )
        h1, bnraw, bnvar_inv, scratch = self._h1, self._bnraw, self._bnvar_inv, self._scratch
        bn_a, bn_b, bn_c, dembcat = self._bn_a, self._bn_b, self._bn_c, self._dembcat
        h = h1[:, :-1]  # (n, H)

        # Linear layer 2: logits = h @ W2 + b2
        np.dot(h1.T, dlogits, out=self._dW2b2)  # (H + 1, V)  dW2 and db2
        np.dot(dlogits, p["W2"].T, out=dh)  # (n, H)
        # tanh
        np.square(h, out=dtanh)
        np.subtract(1, dtanh, out=dtanh)  # (n, H)  1 - h**2
        np.multiply(dh, dtanh, out=dhpreact)  # (n, H)
        # BatchNorm, fused (see fused.dhprebn_fused), regrouped as a * dhpreact + b + c * bnraw
        np.dot(self._ones_row, dhpreact, out=g["bnbias"])  # (1, H)
        np.multiply(dhpreact, bnraw, out=scratch)
        np.dot(self._ones_row, scratch, out=g["bngain"])  # (1, H)
        np.multiply(p["bngain"], bnvar_inv, out=bn_a)  # (1, H)  a = bngain * bnvar_inv
        np.multiply(bn_a, g["bnbias"], out=bn_b)
        np.multiply(bn_b, -1 / n, out=bn_b)  # (1, H)  b = -a / n * dbnbias
        np.multiply(bn_a, g["bngain"], out=bn_c)
        np.multiply(bn_c, -1 / (n - 1), out=bn_c)  # (1, H)  c = -a / (n - 1) * dbngain
        np.multiply(dhpreact, bn_a, out=dhprebn)  # (n, H)
        np.multiply(bnraw, bn_c, out=scratch)
        np.add(dhprebn, scratch, out=dhprebn)
        np.add(dhprebn, bn_b, out=dhprebn)
        # Linear layer 1: hprebn = embcat @ W1 + b1
        np.dot(self._embcat1.T, dhprebn, out=self._dW1b1)  # (F + 1, H)  dW1 and db1
        np.dot(dhprebn, p["W1"].T, out=dembcat)  # (n, F)
        # Embedding: dC = onehot(Xb).T @ demb adds up the gradient of every occurrence of a character
        onehot = self._emb_onehot  # (n * block, V)
        onehot.fill(0)
        onehot.ravel()[np.add(self._emb_row_offsets, Xb.ravel())] = 1
        np.dot(onehot.T, dembcat.reshape(onehot.shape[0], -1), out=g["C"])  # (V, E)


def _view(flat: np.ndarray, offset: int, shape: tuple[int, ...]) -> np.ndarray:
    """The slice of ``flat`` starting at ``offset``, seen as an array of ``shape`` (no copy)."""
    return flat[offset : offset + math.prod(shape)].reshape(shape)


def _check_params(params: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]) -> None:
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise UserError(f"parameters {missing} are missing; expected all of {list(PARAM_NAMES)}")
    for name, shape in shapes.items():
        actual = np.shape(params[name])
        if actual != shape:
            raise UserError(
                f"parameter {name} has shape {actual} but the model config needs {shape}; "
                "use the config the parameters were made with"
            )
