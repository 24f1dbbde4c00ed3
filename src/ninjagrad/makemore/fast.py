"""Exercise 4 of "backprop ninja": the training step with the fused backward pass, built for speed.

:class:`TrainStep` is what ``ninjagrad train`` runs 200,000 times. It computes what the atomic chain
(:mod:`ninjagrad.makemore.atomic`) followed by an SGD update computes, using the fused formulas of
:mod:`ninjagrad.makemore.fused`, but every array it touches is allocated once, in ``__init__``, and every
NumPy call writes into one of them (``out=``). At this model's size (a batch of 32, 200 hidden units) a NumPy
call costs about a microsecond whatever it computes, so the step is arranged to make few calls, and cheap
ones. Each choice below was measured (``benchmarks/bench_train.py``):

- All parameters live in one flat float32 buffer, each parameter a view into it; all updates in another.
  The SGD update is then one subtraction for all seven parameters.
- The backward pass starts from ``lr * dlogits`` instead of ``dlogits``. Every gradient is linear in
  ``dlogits``, so each backward buffer then holds ``lr`` times its gradient, and the last ones written are the
  SGD updates themselves: no separate ``lr * grad`` pass.
- A bias is a weight on an input that is always 1: ``h`` carries a column of ones and ``b2`` is stored beside
  ``W2``, so one matrix product applies weights and bias, and in the backward pass one product yields both
  gradients. The pair is stored transposed, as PyTorch's ``nn.Linear`` stores its weight: (vocab, H + 1) rows
  ``[W2[:, v], b2[v]]``, so the backward products read contiguous rows, which OpenBLAS does ~2 us faster at
  these shapes. ``params["W2"]`` and ``params["b2"]`` are views that hide this.
- The embedding lookup ``C[Xb]`` is a product with the one-hot matrix of the batch's characters (Bengio et
  al., 2003, describe C exactly so), and its backward, the scatter-add that sums repeated characters, is the
  product with the transposed one-hot: several times faster than ``np.add.at`` for 96 rows.
- BatchNorm subtracts the batch mean of ``hprebn = embcat @ W1 + b1``, which equals
  ``(embcat - mean(embcat)) @ W1``: the step centres the 30 input columns instead of the 200 output ones.
  ``b1`` cancels. Its gradient, the column sums of ``dhprebn``, is zero in exact arithmetic (the atomic chain
  computes rounding noise of ~1e-9), so the step leaves ``b1`` as it is; and for the same reason
  ``dW1 = embcat.T @ dhprebn`` equals ``embcentred.T @ dhprebn``.
- ``bnraw`` is never formed. With ``bnscale = bngain * bnvar_inv``, ``hpreact = bndiff * bnscale + bnbias``,
  and the backward folds ``bnraw = bndiff * bnvar_inv`` into its (1, H) coefficients: the fused BatchNorm
  backward becomes ``dhprebn = bnscale * dhpreact + bn_coef * bndiff + bn_shift``.
- Sums over the batch are products with a row of ones (BLAS beats ``sum(axis=0)`` at this size); constants
  are 0-d float32 arrays (NumPy converts a Python float on every call); a (1, H) vector used twice is copied
  down the batch once, since NumPy multiplies same-shape arrays faster than it broadcasts.
"""

from __future__ import annotations

import math

import numpy as np
from numpy import add, divide, dot, exp, log, maximum, multiply, reciprocal, sqrt, square, subtract, tanh

from ninjagrad.errors import UserError
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig

_FLOAT = np.float32  # training precision, as in the lecture


class TrainStep:
    """One SGD step with the fused manual backward, preallocated buffers.

    ``step = TrainStep(config, params, batch_size)`` copies ``params`` into its own storage; then
    ``loss = step(Xb, Yb, lr)`` runs the forward pass on the batch, the backward pass and the update
    ``p -= lr * dp``, and returns the batch loss from before the update. The same parameters, batches and
    learning rates always give bit-identical results (nothing random, no threads of its own), which resuming
    from a checkpoint relies on.

    ``step.params`` holds live views of the current parameters, by name: read them to save a checkpoint, and
    write into them (``step.params["W1"][...] = saved``) to restore one. ``step.updates`` holds, the same way,
    the last step's ``lr * dp`` (the gradient times the learning rate, at the parameters before the update).
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
        K, E, H, V = config.block_size, config.n_embd, config.n_hidden, config.vocab_size
        F = K * E  # width of the concatenated embeddings
        self.config = config
        self.batch_size = n

        # Parameters and their updates: one flat buffer each; each parameter is a view (see _parameter_views).
        size = sum(math.prod(shape) for shape in shapes.values())
        self._flat_params = np.empty(size, dtype=_FLOAT)
        self._flat_updates = np.zeros(size, dtype=_FLOAT)
        self.params, self._W2b2T = _parameter_views(self._flat_params, shapes)
        self.updates, self._dW2b2T = _parameter_views(self._flat_updates, shapes)
        for name in PARAM_NAMES:
            self.params[name][...] = params[name]
        self._W2T = self._W2b2T[:, :-1]  # (V, H)

        # Constants. A product with one of the rows sums (or averages) over the batch.
        self._ones_row = np.ones((1, n), dtype=_FLOAT)  # sum over the batch
        self._mean_row = np.full((1, n), 1 / n, dtype=_FLOAT)  # batch mean
        self._var_row = np.full((1, n), 1 / (n - 1), dtype=_FLOAT)  # unbiased variance of centred rows
        self._ones_vocab = np.ones((V, 1), dtype=_FLOAT)  # sum over the vocabulary
        self._one = np.array(1, dtype=_FLOAT)
        self._eps = np.array(config.bn_eps, dtype=_FLOAT)
        self._minus_inv_n = np.array(-1 / n, dtype=_FLOAT)
        self._minus_inv_n1 = np.array(-1 / (n - 1), dtype=_FLOAT)
        self._lr_over_n = np.zeros((), dtype=_FLOAT)  # set by each call
        self._row_offsets = np.arange(n) * V  # flat index of each row of an (n, V) array
        self._emb_row_offsets = np.arange(n * K) * V  # the same for the (n * K, V) one-hot

        # Forward buffers, named after the lecture's variables.
        self._emb_onehot = np.zeros((n * K, V), dtype=_FLOAT)  # one row per character read
        self._emb = np.empty((n * K, E), dtype=_FLOAT)  # C[Xb], one row per character read
        self._embmean = np.empty((1, F), dtype=_FLOAT)
        self._embcentred = np.empty((n, F), dtype=_FLOAT)  # embcat - mean(embcat)
        self._bndiff = np.empty((n, H), dtype=_FLOAT)
        self._bndiff2 = np.empty((n, H), dtype=_FLOAT)
        self._bnvar = np.empty((1, H), dtype=_FLOAT)
        self._bnvar_inv = np.empty((1, H), dtype=_FLOAT)
        self._bnscale = np.empty((1, H), dtype=_FLOAT)  # bngain * bnvar_inv
        self._bnscale_rows = np.empty((n, H), dtype=_FLOAT)  # bnscale copied down the batch
        self._hpreact = np.empty((n, H), dtype=_FLOAT)
        self._h = np.empty((n, H), dtype=_FLOAT)
        self._h1 = np.ones((n, H + 1), dtype=_FLOAT)  # [h | 1]: the last column stays 1 (for b2)
        self._logits = np.empty((n, V), dtype=_FLOAT)
        self._logit_maxes = np.empty((n, 1), dtype=_FLOAT)
        self._counts_sum = np.empty((n, 1), dtype=_FLOAT)
        # Backward buffers: d<name> holds lr times the gradient of <name>.
        self._dlogits = np.empty((n, V), dtype=_FLOAT)  # holds counts, then probs, then lr * dlogits
        self._dh = np.empty((n, H), dtype=_FLOAT)
        self._dtanh = np.empty((n, H), dtype=_FLOAT)  # 1 - h**2
        self._dhpreact = np.empty((n, H), dtype=_FLOAT)
        self._dhprebn = np.empty((n, H), dtype=_FLOAT)
        self._scratch = np.empty((n, H), dtype=_FLOAT)
        # dhprebn = bnscale * dhpreact + bn_coef * bndiff + bn_shift, with these two (1, H) coefficients
        self._bn_coef = np.empty((1, H), dtype=_FLOAT)
        self._bn_shift = np.empty((1, H), dtype=_FLOAT)
        self._dembcat = np.empty((n, F), dtype=_FLOAT)

    def __call__(self, Xb: np.ndarray, Yb: np.ndarray, lr: float) -> float:
        """Train on one batch and return its loss from before the update.

        ``Xb`` (n, block_size) and ``Yb`` (n,) are character ids in [0, vocab_size); NumPy's default integer
        type (``intp``) avoids a conversion per call. The ids are not range-checked here, which would cost a
        tenth of the step: the data module builds them from the model's own vocabulary.
        """
        self._lr_over_n[...] = lr / self.batch_size
        loss = self._forward(Xb, Yb)
        self._backward()
        subtract(self._flat_params, self._flat_updates, out=self._flat_params)  # SGD, every parameter at once
        return loss

    def _forward(self, Xb: np.ndarray, Yb: np.ndarray) -> float:
        """The forward pass and the loss; leaves lr * dlogits in ``_dlogits``, and what the backward needs."""
        n = self.batch_size
        onehot, emb, embmean = self._emb_onehot, self._emb, self._embmean
        embcentred, bndiff, bndiff2, bnvar = self._embcentred, self._bndiff, self._bndiff2, self._bnvar
        bnvar_inv, bnscale, bnscale_rows = self._bnvar_inv, self._bnscale, self._bnscale_rows
        hpreact, h, h1, logits = self._hpreact, self._h, self._h1, self._logits
        logit_maxes, counts_sum, probs = self._logit_maxes, self._counts_sum, self._dlogits

        # Embedding: emb = C[Xb] as the product onehot(Xb) @ C
        onehot.fill(0)
        onehot.ravel()[add(self._emb_row_offsets, Xb.ravel())] = 1  # (n * block, V)
        dot(onehot, self.params["C"], out=emb)  # (n * block, E)
        embcat = emb.reshape(n, -1)  # (n, F)
        # Linear layer and BatchNorm's centring in one: hprebn - bnmeani = (embcat - its mean) @ W1
        dot(self._mean_row, embcat, out=embmean)  # (1, F)
        subtract(embcat, embmean, out=embcentred)  # (n, F)
        dot(embcentred, self.params["W1"], out=bndiff)  # (n, H)  b1 drops out
        # BatchNorm with the batch's unbiased variance
        square(bndiff, out=bndiff2)
        dot(self._var_row, bndiff2, out=bnvar)  # (1, H)
        add(bnvar, self._eps, out=bnvar_inv)
        sqrt(bnvar_inv, out=bnvar_inv)
        reciprocal(bnvar_inv, out=bnvar_inv)  # (1, H)  (bnvar + eps) ** -0.5
        multiply(self.params["bngain"], bnvar_inv, out=bnscale)  # (1, H)
        bnscale_rows[...] = bnscale  # (n, H)
        multiply(bndiff, bnscale_rows, out=hpreact)  # bngain * bnraw
        add(hpreact, self.params["bnbias"], out=hpreact)  # (n, H)
        # tanh, then the output layer
        tanh(hpreact, out=h)  # (n, H)
        h1[:, :-1] = h
        dot(h1, self._W2b2T.T, out=logits)  # (n, V)  h @ W2 + b2
        # Softmax, shifted by each row's max so exp cannot overflow
        maximum.reduce(logits, axis=1, keepdims=True, out=logit_maxes)  # (n, 1)
        subtract(logits, logit_maxes, out=probs)
        exp(probs, out=probs)  # (n, V)  counts
        dot(probs, self._ones_vocab, out=counts_sum)  # (n, 1)
        divide(probs, counts_sum, out=probs)  # (n, V)  probs
        target = add(self._row_offsets, Yb)  # (n,)  flat index of each row's correct character
        probs_target = probs.ravel().take(target)  # (n,)
        # Cross-entropy backward, fused: dlogits = (probs - onehot(Yb)) / n, times lr (see the module doc)
        probs.ravel()[target] = probs_target - self._one
        multiply(probs, self._lr_over_n, out=probs)  # (n, V)
        return -float(log(probs_target).sum()) / n

    def _backward(self) -> None:
        """lr times the gradient of every parameter, into ``_flat_updates``, from lr * dlogits."""
        dbngain, dbnbias = self.updates["bngain"], self.updates["bnbias"]  # (1, H) each
        dlogits, dh, dtanh, dhpreact = self._dlogits, self._dh, self._dtanh, self._dhpreact
        dhprebn, dembcat, scratch = self._dhprebn, self._dembcat, self._scratch
        h, bndiff, bnvar_inv, bnscale = self._h, self._bndiff, self._bnvar_inv, self._bnscale
        embcentred = self._embcentred
        bn_coef, bn_shift = self._bn_coef, self._bn_shift

        # Output layer: logits = h @ W2 + b2
        dot(dlogits.T, self._h1, out=self._dW2b2T)  # (V, H + 1)  dW2.T and db2
        dot(dlogits, self._W2T, out=dh)  # (n, H)  dlogits @ W2.T
        # tanh
        square(h, out=dtanh)
        subtract(self._one, dtanh, out=dtanh)  # (n, H)  1 - h**2
        multiply(dh, dtanh, out=dhpreact)  # (n, H)
        # BatchNorm: hpreact = bngain * bnraw + bnbias, with bnraw = bndiff * bnvar_inv
        dot(self._ones_row, dhpreact, out=dbnbias)  # (1, H)  sum0(dhpreact)
        multiply(dhpreact, bndiff, out=scratch)
        dot(self._ones_row, scratch, out=dbngain)
        multiply(dbngain, bnvar_inv, out=dbngain)  # (1, H)  sum0(dhpreact * bnraw)
        # dhprebn = bnscale * (dhpreact - dbnbias / n - bnraw * dbngain / (n - 1)), fused.dhprebn_fused
        multiply(bnscale, dbnbias, out=bn_shift)
        multiply(bn_shift, self._minus_inv_n, out=bn_shift)  # (1, H)
        multiply(bnscale, dbngain, out=bn_coef)
        multiply(bn_coef, bnvar_inv, out=bn_coef)
        multiply(bn_coef, self._minus_inv_n1, out=bn_coef)  # (1, H)
        multiply(dhpreact, self._bnscale_rows, out=dhprebn)  # (n, H)
        multiply(bndiff, bn_coef, out=scratch)
        add(dhprebn, scratch, out=dhprebn)
        add(dhprebn, bn_shift, out=dhprebn)  # (n, H)
        # Linear layer 1: hprebn = embcat @ W1 + b1
        dot(embcentred.T, dhprebn, out=self.updates["W1"])  # (F, H)  = embcat.T @ dhprebn, see above
        dot(dhprebn, self.params["W1"].T, out=dembcat)  # (n, F)
        # Embedding: dC = onehot(Xb).T @ demb adds up the gradient of every occurrence of a character
        dot(self._emb_onehot.T, dembcat.reshape(self._emb.shape), out=self.updates["C"])  # (V, E)


def _parameter_views(flat: np.ndarray, shapes: dict[str, tuple[int, ...]]):
    """The seven parameters as views of ``flat``, stored in PARAM_NAMES order, and the output layer's block.

    ``W2`` and ``b2`` are stored together as one (V, H + 1) matrix ``W2b2T`` whose row v is
    ``[W2[:, v], b2[v]]``. Returns ``(views by name, W2b2T)``.
    """
    H, V = shapes["W2"]
    views, offset = {}, 0
    for name in PARAM_NAMES:
        size = math.prod(shapes[name])
        views[name] = flat[offset : offset + size].reshape(shapes[name])
        if name == "W2":
            W2b2T = flat[offset : offset + V * (H + 1)].reshape(V, H + 1)
        offset += size
    views["W2"], views["b2"] = W2b2T[:, :-1].T, W2b2T[:, -1]  # (H, V), (V,)
    return views, W2b2T


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
