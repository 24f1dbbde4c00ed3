# ruff: noqa: E501
"""Realistic mistakes of learners of the backprop-ninja lecture, to measure the kata's diagnosis.

Each mistake replaces one line of an exercise's solution. `gradient` is the row the checker must pinpoint,
`kinds` the diagnosis kinds that name it correctly. A diagnosis of another specific kind is a misnaming; the
catch-alls (UNNAMED) are honest "I don't know"s. The set was written from how learners go wrong (the
lecture's comments and issues: tanh's derivative with the input, powers not lowered, n vs n - 1, keepdims,
transposes, `=` for `+=`, indexed `+=` for a scatter-add, one-hots forgotten, hard-coded sizes), not from
what the diagnoser can do. Those with `held_out=True` were written with the rest and set aside before the
diagnoser was tuned: their figures are reported separately.
"""

from dataclasses import dataclass

UNNAMED = {"wrong_values", "wrong_shape"}  # the catch-alls: say what is wrong, not why


@dataclass(frozen=True)
class Mistake:
    exercise: str
    old: str  # a line of the solution
    new: str  # what the learner wrote instead
    gradient: str  # the row that must be the first wrong one (forward name)
    kinds: frozenset[str]  # the diagnosis kinds that name this mistake
    held_out: bool = False
    says: str = ""  # the learner's wrong part a parsed-line diagnosis must quote (kata_mistakes_fresh.py)

    @property
    def label(self) -> str:
        return f"{self.exercise}: {self.new.strip()}"


def m(exercise, old, new, gradient, *kinds, held_out=False, says=""):
    return Mistake(exercise, old, new, gradient, frozenset(kinds), held_out, says)


SCALAR_DN = "dn = (1 - o**2) * do  # o = tanh(n): tanh'(n) = 1 - tanh(n)**2 = 1 - o**2"
ATOMIC_ONE_HOT = "dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes"
BN_FUSED = "    n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)"

MISTAKES = [
    # ---- scalar: the micrograd lecture's expression and neuron
    m("scalar", SCALAR_DN, "dn = do", "n", "missing_factor"),
    m("scalar", SCALAR_DN, "dn = (1 - n**2) * do", "n", "swap"),
    m("scalar", SCALAR_DN, "dn = (1 - o) * do", "n", "exponent"),
    m("scalar", "dw1 = x1 * dx1w1", "dw1 = x1 * dx1w1 + x1 * dx1w1", "w1", "factor"),
    m("scalar", "dx1 = w1 * dx1w1", "dx1 = x1 * dx1w1", "x1", "swap"),
    m("scalar", "da = b * de  # e = a * b", "da = b", "a", "missing_factor"),
    m("scalar", "dc = dd", "dc = -dd", "c", "sign"),
    m("scalar", "db = a * de", "db = a * d", "b", "swap", held_out=True),
    m("scalar", "dx2 = w2 * dx2w2  # x2w2 = x2 * w2: a product", "dx2 = w2", "x2", "missing_factor"),
    m("scalar", "dd = f * dL  # L = d * f: the other factor, times the gradient from above", "dd = d * dL", "d",
      "swap"),
    m("scalar", "df = d * dL", "df = f * dL", "f", "swap", held_out=True),
    # ---- atomic: the makemore MLP, one operation per line
    m("atomic", "dlogprobs[np.arange(n), Yb] = -1.0 / n", "dlogprobs[np.arange(n), Yb] = -1.0", "logprobs",
      "factor", "missing_factor"),
    m("atomic", "dlogprobs[np.arange(n), Yb] = -1.0 / n", "dlogprobs[np.arange(n), Yb] = 1.0 / n", "logprobs",
      "sign"),
    m("atomic", "dlogprobs[np.arange(n), Yb] = -1.0 / n", "dlogprobs[np.arange(n), Yb] = -1.0 / 32",
      "logprobs", "second_dataset"),
    m("atomic", "dprobs = dlogprobs / probs", "dprobs = dlogprobs * probs", "probs", "inverted"),
    m("atomic", "dprobs = dlogprobs / probs", "dprobs = 1.0 / probs", "probs", "missing_factor"),
    m("atomic", "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
      "dcounts_sum_inv = (dprobs * counts).sum(0, keepdims=True)", "counts_sum_inv", "axis"),
    m("atomic", "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
      "dcounts_sum_inv = (dprobs * counts).sum(1)", "counts_sum_inv", "keepdim"),
    m("atomic", "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
      "dcounts_sum_inv = (dprobs * counts_sum_inv).sum(1, keepdims=True)", "counts_sum_inv", "swap",
      held_out=True),
    m("atomic", "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)",
      "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-1)", "counts_sum", "exponent"),
    m("atomic", "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)",
      "dcounts_sum = dcounts_sum_inv * counts_sum**-2", "counts_sum", "sign"),
    m("atomic", "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)", "dcounts_sum = -1 * counts_sum**-2",
      "counts_sum", "missing_factor", held_out=True),
    m("atomic", "dcounts += np.broadcast_to(dcounts_sum, counts.shape)",
      "dcounts = np.broadcast_to(dcounts_sum, counts.shape)", "counts", "missing_accumulation"),
    m("atomic", "dcounts += np.broadcast_to(dcounts_sum, counts.shape)", "pass", "counts",
      "missing_accumulation"),
    m("atomic", "dnorm_logits = dcounts * counts", "dnorm_logits = dcounts * norm_logits", "norm_logits",
      "swap"),
    m("atomic", "dnorm_logits = dcounts * counts", "dnorm_logits = counts", "norm_logits", "missing_factor",
      held_out=True),
    m("atomic", "dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)",
      "dlogit_maxes = dnorm_logits.sum(1, keepdims=True)", "logit_maxes", "sign"),
    m("atomic", ATOMIC_ONE_HOT, "pass", "logits", "missing_accumulation"),
    m("atomic", "dh = dlogits @ W2.T", "dh = (W2 @ dlogits.T).T.T", "h", "transposed", held_out=True),
    m("atomic", "dW2 = h.T @ dlogits", "dW2 = dlogits.T @ h", "W2", "transposed"),
    m("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.sum(1)", "b2", "axis"),
    m("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.sum(0, keepdims=True)", "b2", "keepdim"),
    m("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.sum(0).tolist()", "b2", "not_an_array"),
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - h)", "hpreact", "exponent"),
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - hpreact**2)", "hpreact", "swap"),
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = 1 - h**2", "hpreact", "missing_factor"),
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - np.tanh(h) ** 2)", "hpreact", "swap",
      "extra_call", held_out=True),
    m("atomic", "dbngain = (dhpreact * bnraw).sum(0, keepdims=True)", "dbngain = (dhpreact * bnraw).sum(0)",
      "bngain", "keepdim"),
    m("atomic", "dbngain = (dhpreact * bnraw).sum(0, keepdims=True)",
      "dbngain = (dhpreact * bngain).sum(0, keepdims=True)", "bngain", "swap"),
    m("atomic", "dbnbias = dhpreact.sum(0, keepdims=True)", "dbnbias = dhpreact.sum(1, keepdims=True)",
      "bnbias", "axis", held_out=True),
    m("atomic", "dbnraw = dhpreact * bngain", "dbnraw = dhpreact * bnraw", "bnraw", "swap"),
    m("atomic", "dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)", "dbnvar_inv = dbnraw * bndiff",
      "bnvar_inv", "missing_sum"),
    m("atomic", "dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)",
      "dbnvar_inv = (dbnraw * bnraw).sum(0, keepdims=True)", "bnvar_inv", "swap", held_out=True),
    m("atomic", "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
      "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -0.5)", "bnvar", "exponent"),
    m("atomic", "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
      "dbnvar = dbnvar_inv * (0.5 * (bnvar + eps) ** -1.5)", "bnvar", "sign"),
    m("atomic", "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
      "dbnvar = dbnvar_inv * (bnvar + eps) ** -1.5", "bnvar", "missing_factor", "factor"),
    m("atomic", "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
      "dbnvar = dbnvar_inv * (-0.5 * bnvar_inv ** -1.5)", "bnvar", "swap", held_out=True),
    m("atomic", "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
      "dbndiff2 = np.broadcast_to(dbnvar * (1 / n), bndiff2.shape).copy()", "bndiff2", "n_minus_1"),
    m("atomic", "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
      "dbndiff2 = dbnvar * (1 / (n - 1))", "bndiff2", "missing_broadcast"),
    m("atomic", "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
      "dbndiff2 = np.ones_like(bndiff2) * dbnvar / 31", "bndiff2", "second_dataset", held_out=True),
    m("atomic", "dbndiff += dbndiff2 * (2 * bndiff**1)", "dbndiff += dbndiff2 * bndiff", "bndiff",
      "missing_factor", "factor"),
    m("atomic", "dbndiff += dbndiff2 * (2 * bndiff**1)", "dbndiff += dbndiff2 * 2 * bndiff**2", "bndiff",
      "exponent"),
    m("atomic", "dbndiff += dbndiff2 * (2 * bndiff**1)", "dbndiff = dbndiff2 * (2 * bndiff)", "bndiff",
      "missing_accumulation"),
    m("atomic", "dbnmeani = (-dbndiff).sum(0, keepdims=True)", "dbnmeani = dbndiff.sum(0, keepdims=True)",
      "bnmeani", "sign"),
    m("atomic", "dbnmeani = (-dbndiff).sum(0, keepdims=True)", "dbnmeani = (-dbndiff).sum(0)", "bnmeani",
      "keepdim", held_out=True),
    m("atomic", "dhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)",
      "dhprebn += np.broadcast_to(dbnmeani * (1 / (n - 1)), hprebn.shape)", "hprebn", "n_minus_1"),
    m("atomic", "dhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)", "pass", "hprebn",
      "missing_accumulation"),
    m("atomic", "dW1 = embcat.T @ dhprebn", "dW1 = dhprebn.T @ embcat", "W1", "transposed"),
    m("atomic", "dW1 = embcat.T @ dhprebn", "dW1 = embcat.T @ dbndiff", "W1", "swap", held_out=True),
    m("atomic", "db1 = dhprebn.sum(0)", "db1 = dhprebn.sum(1)", "b1", "axis"),
    m("atomic", "demb = dembcat.reshape(emb.shape)", "demb = dembcat.reshape(32, 3, 10)", "emb",
      "second_dataset"),
    m("atomic", "np.add.at(dC, Xb, demb)", "dC[Xb] += demb", "C", "scatter_add"),
    m("atomic", "dembcat = dhprebn @ W1.T", "dembcat = dhprebn @ W1.T * 2", "embcat", "factor",
      held_out=True),
    # ---- cross_entropy: the fused formula
    m("cross_entropy", "dlogits[np.arange(n), Yb] -= 1", "pass", "logits", "missing_term"),
    m("cross_entropy", "dlogits /= n", "dlogits /= n - 1", "logits", "n_minus_1"),
    m("cross_entropy", "dlogits /= n", "pass", "logits", "factor", "missing_factor"),
    m("cross_entropy", "dlogits[np.arange(n), Yb] -= 1", "dlogits[np.arange(n), Yb] += 1", "logits", "sign"),
    m("cross_entropy", "dlogits = probs.copy()",
      "dlogits = np.exp(norm_logits) / np.exp(norm_logits).sum(0, keepdims=True)", "logits", "axis",
      held_out=True),
    m("cross_entropy", "dlogits /= n", "dlogits /= 32", "logits", "second_dataset"),
    # ---- batchnorm: the fused formula
    m("batchnorm", BN_FUSED, "    n * dhpreact - dhpreact.sum(0) - bnraw * (dhpreact * bnraw).sum(0)", "hprebn",
      "n_minus_1", "factor"),
    m("batchnorm", BN_FUSED, "    n * dhpreact - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)", "hprebn",
      "missing_accumulation", "missing_term"),
    m("batchnorm", BN_FUSED, "    dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)",
      "hprebn", "missing_factor", "factor"),
    m("batchnorm", BN_FUSED, "    n * dhpreact - dhpreact.sum(0) + n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)",
      "hprebn", "sign", held_out=True),
    # ---- embedding
    m("embedding", "np.add.at(dC, Xb, demb)", "dC[Xb] += demb", "C", "scatter_add"),
    m("embedding", "demb = dembcat.reshape(emb.shape)", "demb = dembcat.reshape(32, 3, 10)", "emb",
      "second_dataset", held_out=True),
]  # fmt: skip
