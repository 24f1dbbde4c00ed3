"""Exercise 4 of "backprop ninja": the training step with the fused backward pass, built for speed.

:class:`TrainStep` is what ``ninjagrad train`` runs 200,000 times. It computes what the atomic chain
(:mod:`ninjagrad.makemore.atomic`) followed by an SGD update computes, using the fused formulas of
:mod:`ninjagrad.makemore.fused`, but every array it touches is allocated once, in ``__init__``, and every
NumPy call writes into one of them (``out=``). At this model's size (a batch of 32, 200 hidden units) a NumPy
call costs one to two microseconds whatever it computes, so the step is arranged to make few calls, and cheap
ones (about 40 per step, 8 of them matrix products). Each choice below was measured
(``benchmarks/bench_train.py --profile``):

- ``run`` takes a chunk of batches: what depends on the batches alone (their one-hot matrices, the loss
  from the kept probabilities) is done for up to 64 steps in one call each.
- All parameters live in one flat float32 buffer, each parameter a view into it; all updates in another.
  The SGD update is then one subtraction for all seven parameters.
- The backward pass starts from ``lr * dlogits`` instead of ``dlogits``: every gradient is linear in
  ``dlogits``, so the last buffers written are the SGD updates themselves. ``lr / n`` sits in the one-hot
  targets and in the column the counts are summed with, so ``lr * dlogits`` is one subtraction.
- A bias is a weight on an input that is always 1: ``h`` carries a column of ones and ``b2`` is stored beside
  ``W2``, (vocab, H + 1) rows ``[W2[:, v], b2[v]]``, so one product applies both and one yields both
  gradients. The column of ones is an extra hidden unit whose weights in ``W1`` and ``bngain`` are 0 and
  whose ``bnbias`` is 10: tanh(10) is exactly 1 in float32, and every array of the hidden layer is then
  (n, H + 1), contiguous. (NumPy is twice as slow on a strided view such as ``h1[:, :-1]``.) The unit's
  gradients reach nothing: its ``dhprebn`` is exactly 0 (0 times its gain), and the SGD leaves its bnbias,
  the last number of the buffer, alone. ``params`` holds views that hide the extra unit and the layout.
- The embedding lookup ``C[Xb]`` is a product with the one-hot matrix of the batch's characters (Bengio et
  al., 2003, describe C exactly so), and its backward, the scatter-add that sums repeated characters, is the
  product with the transposed one-hot.
- BatchNorm subtracts the batch mean of ``hprebn = embcat @ W1 + b1``, which is ``(onehot - mean(onehot)) @
  C @ W1``: the one-hot matrix is centred once per chunk, and ``b1`` cancels. Its exact gradient is 0, so the
  step leaves ``b1`` as it is. The fused BatchNorm backward, with ``bnscale = bngain * bnvar_inv``, is
  ``dhprebn = bnscale * dhpreact + bn_coef * bndiff + bn_shift``, where ``bn_shift`` is the same for every
  row. Both products that read ``dhprebn`` multiply it by a centred matrix (``embcentred.T`` and the centred
  one-hot, through ``W1``), which maps a constant row to 0, so the step drops ``bn_shift``.
- ``np.tanh`` is one call where NumPy runs its AVX-512 loop (4 us for the (32, 201) layer on a Xeon); its
  AVX2 loop is slower than five calls around ``np.exp``, so elsewhere ``tanh(x) = 1 - 2 / (exp(x)**2 + 1)``
  (exact limits: exp(x)**2 = inf gives 1, 0 gives -1; its error is a few float32 eps absolute instead of
  relative) and ``1 - h**2 = q * (2 - q)`` with ``q = 1 - h``. Which loop runs is NumPy's choice for this
  CPU (``numpy.lib.introspect``), fixed for the process: the same machine always takes the same path.
- The output layer works transposed, logits (vocab, n): the softmax's max and sum over the vocabulary are
  then reductions down 27 rows of 32 numbers and their broadcasts are along rows, which NumPy does faster
  than along the 27 numbers of each row; ``[dW2.T | db2]`` is then the stored ``dlogits.T`` times ``h1``.
- BatchNorm's ``eps`` rides in the variance product: the squares have an extra row, ``eps * (n - 1)``.
- Every view a step uses (a chunk's batch, a transpose, a reshape) is made once, in ``__init__``.
- Sums over the batch are products with a row of ones (BLAS beats ``sum(axis=0)`` at this size); constants
  are 0-d float32 arrays (NumPy converts a Python float on every call); ``bnscale``, used twice, is copied
  down the batch once, since NumPy multiplies same-shape arrays faster than it broadcasts.
"""

from __future__ import annotations

import math

import numpy as np
from numpy import add, copyto, divide, dot, exp, maximum, multiply, sqrt, square, subtract, tanh

from ninjagrad.errors import UserError
from ninjagrad.makemore.model import PARAM_NAMES, ModelConfig

_FLOAT = np.float32  # training precision, as in the lecture
CHUNK_BYTES = 1 << 20  # the one-hot matrices of a chunk of batches, prepared in one go, take at most this
MAX_CHUNK = 64  # steps per chunk (more gains nothing measurable)
_EXTRA_BIAS = 10.0  # hpreact of the extra hidden unit: tanh(10) rounds to exactly 1 in float32


class TrainStep:
    """SGD steps with the fused manual backward, in preallocated buffers.

    ``step = TrainStep(config, params, batch_size)`` copies ``params`` into its own storage. Then
    ``losses = step.run(X, Y, lr)`` trains on the batches ``X`` (steps, n, block_size) and ``Y`` (steps, n)
    in turn, each step the forward pass, the backward pass and ``p -= lr * dp``, and returns each batch's
    loss from before its update, (steps,) float32. ``loss = step(Xb, Yb, lr)`` is the same for one batch.
    The same parameters, batches and learning rates always give bit-identical results, however the steps
    are split into calls (nothing random, no threads of its own): resuming from a checkpoint relies on it.

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
        F, Hp = K * E, H + 1  # width of the concatenated embeddings; hidden width with the extra unit
        self.config = config
        self.batch_size = n
        self._numpy_tanh = NUMPY_TANH_IS_FAST  # which tanh (see the module doc); a test may switch it

        # Parameters and their updates: one flat buffer each, every parameter a view (see _parameter_views).
        self._flat_params, self.params, self._blocks = _parameter_views(shapes)
        self._flat_updates, self.updates, self._dblocks = _parameter_views(shapes)
        for name in PARAM_NAMES:
            self.params[name][...] = params[name]
        self._blocks["bngain"][0, H] = 0  # the extra unit's BatchNorm: scale 0, hpreact = _EXTRA_BIAS
        self._blocks["bnbias"][0, H] = _EXTRA_BIAS
        # SGD updates all but the last number, the extra unit's bnbias (its gradient is not 0; see above)
        self._sgd_params, self._sgd_updates = self._flat_params[:-1], self._flat_updates[:-1]

        # Constants. A product with one of these rows sums (or takes the variance) over the batch.
        self._var_row = np.full((1, n + 1), 1 / (n - 1), dtype=_FLOAT)  # unbiased variance, plus eps
        self._ones_row = np.ones((1, n), dtype=_FLOAT)  # sum over the batch
        self._one, self._two = np.array(1, dtype=_FLOAT), np.array(2, dtype=_FLOAT)
        self._minus_inv_n1 = np.array(-1 / (n - 1), dtype=_FLOAT)
        self._n_over_lr = np.empty((1, V), dtype=_FLOAT)  # this @ counts = counts_sum * n / lr, set per run

        # A chunk of batches, prepared in bulk before its steps run.
        self._chunk = max(1, min(MAX_CHUNK, CHUNK_BYTES // (4 * n * (K + 2) * V)))
        self._onehot = np.empty((self._chunk, n * K, V), dtype=_FLOAT)  # onehot(Xb), centred over the batch
        self._targets = np.empty((self._chunk, V, n), dtype=_FLOAT)  # onehot(Yb).T * lr / n
        self._probs = np.empty((self._chunk, V, n), dtype=_FLOAT)  # softmax(logits).T * lr / n, for losses
        # Forward buffers, named after the lecture's variables; Hp wide where the lecture's are H wide.
        self._emb = np.empty((n * K, E), dtype=_FLOAT)  # C[Xb] minus its batch mean, a row per character
        self._embcentred = self._emb.reshape(n, F)  # embcat - mean(embcat)
        self._bndiff = np.empty((n, Hp), dtype=_FLOAT)
        self._bndiff2 = np.empty((n + 1, Hp), dtype=_FLOAT)  # bndiff**2, and a last row eps * (n - 1)
        self._bndiff2[n] = config.bn_eps * (n - 1)
        self._bnvar = np.empty((1, Hp), dtype=_FLOAT)  # bnvar + eps
        self._bnvar_inv = np.empty((1, Hp), dtype=_FLOAT)
        self._bnscale = np.empty((1, Hp), dtype=_FLOAT)  # bngain * bnvar_inv
        self._bnscale_rows = np.empty((n, Hp), dtype=_FLOAT)  # bnscale copied down the batch
        self._hpreact = np.empty((n, Hp), dtype=_FLOAT)  # hpreact; with the exp formula, then q = 1 - h
        self._h1 = np.empty((n, Hp), dtype=_FLOAT)  # [h | 1]
        self._logits = np.empty((V, n), dtype=_FLOAT)  # transposed, as every array of the output layer
        self._logit_maxes = np.empty((1, n), dtype=_FLOAT)
        self._counts_sum = np.empty((1, n), dtype=_FLOAT)  # times n / lr
        # Backward buffers: d<name> holds lr times the gradient of <name>.
        self._dlogits = np.empty((V, n), dtype=_FLOAT)
        self._dh1 = np.empty((n, Hp), dtype=_FLOAT)
        self._dtanh = np.empty((n, Hp), dtype=_FLOAT)  # 1 - h**2
        self._dhpreact = np.empty((n, Hp), dtype=_FLOAT)
        self._bn_coef = np.empty((1, Hp), dtype=_FLOAT)
        self._dhprebn = np.empty((n, Hp), dtype=_FLOAT)
        self._scratch = np.empty((n, Hp), dtype=_FLOAT)
        self._dembcat = np.empty((n, F), dtype=_FLOAT)
        # The views the steps use, made once (a view costs as much to make as a small NumPy call):
        # per batch of a chunk (onehot, onehot.T, probs, targets), and the transposes and parts below.
        self._batch_views = [
            (onehot, onehot.T, probs, targets)
            for onehot, probs, targets in zip(self._onehot, self._probs, self._targets, strict=True)
        ]
        self._h1_T, self._dlogits_T, self._embcentred_T = self._h1.T, self._dlogits.T, self._embcentred.T
        self._W1_T, self._bndiff2_top = self._blocks["W1"].T, self._bndiff2[:-1]
        self._demb = self._dembcat.reshape(self._emb.shape)  # (n * block, E)

    def __call__(self, Xb: np.ndarray, Yb: np.ndarray, lr: float) -> float:
        """One step on the batch ``Xb`` (n, block_size), ``Yb`` (n,); its loss from before the update."""
        return float(self.run(np.asarray(Xb)[None], np.asarray(Yb)[None], lr)[0])

    def run(self, X: np.ndarray, Y: np.ndarray, lr: float) -> np.ndarray:
        """One step per batch, ``X`` (steps, n, block_size) and ``Y`` (steps, n); the (steps,) losses.

        The ids are character ids in [0, vocab_size), not range-checked here (NumPy's indexing refuses one
        out of range): the data module builds them from the model's own vocabulary.
        """
        steps, n = len(X), self.batch_size
        losses = np.empty(steps, dtype=_FLOAT)
        lr_over_n = _FLOAT(lr / n)
        if not np.finfo(_FLOAT).tiny <= lr_over_n < np.finfo(_FLOAT).max:
            raise UserError(f"lr / batch_size must be a normal float32 number, got lr {lr!r}; try 0.1")
        self._n_over_lr.fill(1 / lr_over_n)
        activation = self._tanh_numpy if self._numpy_tanh else self._tanh_exp
        with np.errstate(over="ignore"):  # exp(2 * hpreact) may overflow to inf: tanh is then exactly 1
            for first in range(0, steps, self._chunk):
                count = min(self._chunk, steps - first)
                self._prepare(X[first : first + count], Y[first : first + count], lr_over_n)
                for views in self._batch_views[:count]:
                    self._forward(views, activation)
                    self._backward(views)
                    subtract(self._sgd_params, self._sgd_updates, out=self._sgd_params)  # SGD, all at once
                losses[first : first + count] = self._losses(Y[first : first + count], lr_over_n)
        return losses

    def _prepare(self, X: np.ndarray, Y: np.ndarray, lr_over_n: np.float32) -> None:
        """The one-hot matrices of a chunk of batches, which depend on the batches alone."""
        count, n = len(X), self.batch_size
        K, V = self.config.block_size, self.config.vocab_size
        onehot, targets = self._onehot[:count], self._targets[:count]
        ids = X.reshape(count, n, K)
        # Centred over the batch, each context position: 1 - count / n where the id is, -count / n elsewhere,
        # with count the id's uses at that position in the batch (an integer: / n is exact for n = 32)
        slots = (np.arange(count).reshape(count, 1, 1) * K + np.arange(K)) * V + ids  # (count, n, K)
        counts = np.bincount(slots.reshape(-1), minlength=count * K * V).reshape(count, 1, K, V)
        copyto(onehot.reshape(count, n, K, V), -(counts.astype(_FLOAT) / _FLOAT(n)))
        rows = onehot.reshape(count * n * K, V)
        rows[np.arange(count * n * K), ids.reshape(-1)] += 1  # (count, n * K, V)
        targets.fill(0)  # (count, V, n)  onehot(Yb).T * lr / n
        targets[np.arange(count).reshape(count, 1), Y.reshape(count, n), np.arange(n)] = lr_over_n

    def _losses(self, Y: np.ndarray, lr_over_n: np.float32) -> np.ndarray:
        """Each step's mean cross-entropy, from the probabilities the forward passes kept."""
        count = len(Y)
        probs = self._probs[:count]  # (count, V, n)  softmax.T * lr / n
        target = np.take_along_axis(probs, Y.reshape(count, 1, -1).astype(np.intp), axis=1)[:, 0]
        return -np.log(target / lr_over_n).mean(axis=1)  # (count,)

    def _forward(self, views: tuple[np.ndarray, ...], activation) -> None:
        """The forward pass of one batch of the chunk (its ``_batch_views``); leaves lr * dlogits in
        ``_dlogits``."""
        emb, bndiff, bndiff2, bnvar = self._emb, self._bndiff, self._bndiff2, self._bnvar
        bnvar_inv, bnscale, bnscale_rows = self._bnvar_inv, self._bnscale, self._bnscale_rows
        hpreact, logits, logit_maxes = self._hpreact, self._logits, self._logit_maxes
        counts_sum, blocks = self._counts_sum, self._blocks
        onehot, _, probs, targets = views

        # Embedding and BatchNorm's centring in one: (onehot - its batch mean) @ C = emb - mean(emb)
        dot(onehot, blocks["C"], out=emb)  # (n * block, E)
        # Linear layer 1, centred: hprebn - bnmeani = embcentred @ W1; b1 drops out
        dot(self._embcentred, blocks["W1"], out=bndiff)  # (n, Hp)
        # BatchNorm with the batch's unbiased variance; eps is the last row of bndiff2 times 1 / (n - 1)
        square(bndiff, out=self._bndiff2_top)
        dot(self._var_row, bndiff2, out=bnvar)  # (1, Hp)  bnvar + eps
        sqrt(bnvar, out=bnvar_inv)
        divide(self._one, bnvar_inv, out=bnvar_inv)  # (1, Hp)  (bnvar + eps) ** -0.5
        multiply(blocks["bngain"], bnvar_inv, out=bnscale)  # (1, Hp)
        copyto(bnscale_rows, bnscale)  # (n, Hp)
        multiply(bndiff, bnscale_rows, out=hpreact)
        add(hpreact, blocks["bnbias"], out=hpreact)  # (n, Hp)
        activation()  # h1 = [h | 1], and 1 - h**2 for the backward pass
        # Output layer and softmax, transposed, shifted by each column's max so exp cannot overflow
        dot(blocks["W2b2"], self._h1_T, out=logits)  # (V, n)  (h @ W2 + b2).T
        maximum.reduce(logits, axis=0, keepdims=True, out=logit_maxes)  # (1, n)
        subtract(logits, logit_maxes, out=logits)
        exp(logits, out=logits)  # (V, n)  counts.T
        dot(self._n_over_lr, logits, out=counts_sum)  # (1, n)  counts_sum * n / lr
        divide(logits, counts_sum, out=probs)  # (V, n)  probs.T * lr / n
        # Cross-entropy backward, fused: dlogits = (probs - onehot(Yb)) / n, times lr (see the module doc)
        subtract(probs, targets, out=self._dlogits)  # (V, n)

    def _tanh_numpy(self) -> None:
        """h1 = tanh(hpreact) with NumPy's own loop, and the derivative 1 - h**2 for the backward pass."""
        h1, dtanh = self._h1, self._dtanh
        tanh(self._hpreact, out=h1)  # (n, Hp)
        square(h1, out=dtanh)
        subtract(self._one, dtanh, out=dtanh)  # (n, Hp)

    def _tanh_exp(self) -> None:
        """The same from exp: tanh(x) = 1 - 2 / (exp(x)**2 + 1), and 1 - h**2 = q * (2 - q), q = 1 - h."""
        q, dtanh = self._hpreact, self._dtanh
        exp(q, out=q)
        square(q, out=q)
        add(q, self._one, out=q)
        divide(self._two, q, out=q)  # (n, Hp)  q = 1 - h
        subtract(self._one, q, out=self._h1)  # (n, Hp)  [h | 1]
        subtract(self._two, q, out=dtanh)
        multiply(dtanh, q, out=dtanh)  # (n, Hp)

    def _backward(self, views: tuple[np.ndarray, ...]) -> None:
        """lr times the gradient of every parameter, into ``_flat_updates``, from lr * dlogits."""
        dlogits, dh1, dtanh = self._dlogits, self._dh1, self._dtanh
        dhpreact, dhprebn, scratch, bn_coef = self._dhpreact, self._dhprebn, self._scratch, self._bn_coef
        bndiff, bnvar_inv, bnscale = self._bndiff, self._bnvar_inv, self._bnscale
        blocks, dblocks = self._blocks, self._dblocks
        dbngain, ones_row = dblocks["bngain"], self._ones_row

        # Output layer: logits = h @ W2 + b2
        dot(dlogits, self._h1, out=dblocks["W2b2"])  # (V, Hp)  dW2.T and db2
        dot(self._dlogits_T, blocks["W2b2"], out=dh1)  # (n, Hp)  dlogits @ W2.T (and a column nobody needs)
        # tanh: the forward pass left 1 - h**2 in dtanh
        multiply(dh1, dtanh, out=dhpreact)  # (n, Hp)
        # BatchNorm: hpreact = bngain * bnraw + bnbias, with bnraw = bndiff * bnvar_inv
        dot(ones_row, dhpreact, out=dblocks["bnbias"])  # (1, Hp)  sum0(dhpreact)
        multiply(dhpreact, bndiff, out=scratch)
        dot(ones_row, scratch, out=dbngain)
        multiply(dbngain, bnvar_inv, out=dbngain)  # (1, Hp)  sum0(dhpreact * bnraw)
        # dhprebn = bnscale * dhpreact + bn_coef * bndiff, and a constant row the products below drop
        multiply(bnscale, bnvar_inv, out=bn_coef)
        multiply(bn_coef, self._minus_inv_n1, out=bn_coef)
        multiply(bn_coef, dbngain, out=bn_coef)  # (1, Hp)  -bnscale * bnvar_inv * dbngain / (n - 1)
        multiply(dhpreact, self._bnscale_rows, out=dhprebn)
        multiply(bndiff, bn_coef, out=scratch)
        add(dhprebn, scratch, out=dhprebn)  # (n, Hp)
        # Linear layer 1 and the embedding, each a product with a centred matrix (see the module doc)
        dot(self._embcentred_T, dhprebn, out=dblocks["W1"])  # (F, Hp)
        dot(dhprebn, self._W1_T, out=self._dembcat)  # (n, F)
        dot(views[1], self._demb, out=dblocks["C"])  # (V, E)  onehot.T @ demb


def _numpy_tanh_is_fast() -> bool:
    """Whether NumPy's float32 tanh runs its AVX-512 loop on this CPU (``numpy.lib.introspect``, NumPy 2)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:  # NumPy 1: no way to ask; the exp formula is the safe choice
        return False
    target = opt_func_info(func_name="^tanh$", signature="float32").get("tanh", {}).get("ff", {})
    return any(name in str(target.get("current")) for name in ("X86_V4", "AVX512"))


NUMPY_TANH_IS_FAST = _numpy_tanh_is_fast()


def _parameter_views(shapes: dict[str, tuple[int, ...]]):
    """A flat float32 buffer holding the parameters, the seven parameters as views of it, and its blocks.

    The blocks are what the step computes with: ``C`` (V, E); ``W1`` (F, H + 1), whose last column (the
    extra unit's weights) stays 0; ``b1``; ``W2b2`` (V, H + 1), whose row v is ``[W2[:, v], b2[v]]``; and
    ``bn`` (2, H + 1), the rows ``bngain`` and ``bnbias`` each with the extra unit last, which are also blocks
    of their own, (1, H + 1). Returns ``(flat, views by name, blocks by name)``.
    """
    V, E = shapes["C"]
    F, H = shapes["W1"]
    layout = {"C": (V, E), "W1": (F, H + 1), "b1": (H,), "W2b2": (V, H + 1), "bn": (2, H + 1)}
    flat = np.zeros(sum(math.prod(shape) for shape in layout.values()), dtype=_FLOAT)
    blocks, offset = {}, 0
    for name, shape in layout.items():
        blocks[name] = flat[offset : offset + math.prod(shape)].reshape(shape)
        offset += math.prod(shape)
    blocks["bngain"], blocks["bnbias"] = blocks["bn"][0:1], blocks["bn"][1:2]
    views = {
        "C": blocks["C"],
        "W1": blocks["W1"][:, :H],
        "b1": blocks["b1"],
        "W2": blocks["W2b2"][:, :H].T,  # (H, V)
        "b2": blocks["W2b2"][:, H],  # (V,)
        "bngain": blocks["bngain"][:, :H],
        "bnbias": blocks["bnbias"][:, :H],
    }
    return flat, views, blocks


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
