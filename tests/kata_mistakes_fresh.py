# ruff: noqa: E501
"""A second held-out set of realistic mistakes, written before the parsed-line search was built.

Same rules as ``kata_mistakes.py``: each replaces a part of an exercise's solution, ``gradient`` is the row
that must be the first wrong one, ``kinds`` the diagnosis kinds that name it. ``says``, when given, is the
learner's wrong part (as ``ast.unparse`` writes it) that a diagnosis of kind ``wrong_factor``,
``wrong_term``, ``wrong_operand``, ``extra_factor`` or ``wrong_index`` must quote: naming the wrong part of
a line is a misnaming. None of these is in another test. Several are two mistakes in one line, or the
right idea written in another form than the reference's (an expanded product, a softmax written out), as
learners of the lecture write them.
"""

from kata_mistakes import m

BN_FUSED = "    n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)"
BN_WHOLE = (
    "dhprebn = (bngain * bnvar_inv / n) * (\n"
    "    n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)\n"
    ")"
)
CE_ALL = "dlogits = probs.copy()\ndlogits[np.arange(n), Yb] -= 1\ndlogits /= n"
LN_FUSED_SUMS = (
    "        - (dout * gamma).sum(1, keepdims=True)\n"
    "        - xhat * (dout * gamma * xhat).sum(1, keepdims=True)"
)
DCOUNTS = "dcounts = dprobs * counts_sum_inv\ndcounts += np.broadcast_to(dcounts_sum, counts.shape)"
DBNDIFF = "dbndiff = dbnraw * bnvar_inv\ndbndiff += dbndiff2 * (2 * bndiff**1)"
DLOGITS = "dlogits = dnorm_logits.copy()\ndlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes"

FRESH = [
    # ---- scalar
    m("scalar", "dn = (1 - o**2) * do", "dn = (1 - math.tanh(n)) * do", "n", "exponent"),
    m("scalar", "dx1w1 = dx1w1x2w2  #", "dx1w1 = dn * dx1w1x2w2  #", "x1w1", "extra_factor", says="dn"),
    m("scalar", "df = d * dL", "df = d * dd", "f", "swap"),
    m("scalar", "dx2 = w2 * dx2w2", "dx2 = w2 * x2 * dx2w2", "x2", "extra_factor", says="x2"),
    # ---- atomic
    m("atomic", "dprobs = dlogprobs / probs", "dprobs = dlogprobs * np.log(probs)", "probs", "wrong_factor",
      says="np.log(probs)"),
    m("atomic", "dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)",
      "dcounts_sum_inv = (dprobs * counts).sum(0)", "counts_sum_inv", "axis"),
    m("atomic", "dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)",
      "dcounts_sum = -dcounts_sum_inv / counts_sum", "counts_sum", "exponent"),
    m("atomic", DCOUNTS, "dcounts = dprobs * counts_sum_inv + dcounts_sum_inv", "counts", "swap"),
    m("atomic", DCOUNTS, "dcounts = dprobs * counts_sum_inv\ndcounts += dcounts_sum * counts", "counts",
      "extra_factor", says="counts"),
    m("atomic", "dnorm_logits = dcounts * counts", "dnorm_logits = dcounts * np.exp(counts)", "norm_logits",
      "extra_call"),
    m("atomic", DLOGITS, "dlogits = dnorm_logits + dlogit_maxes", "logits", "missing_factor"),
    m("atomic", "db2 = dlogits.sum(0)", "db2 = dlogits.mean(0)", "b2", "factor"),
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = dh * (1 - np.tanh(hpreact)) ** 2", "hpreact",
      "wrong_factor", says="(1 - np.tanh(hpreact)) ** 2"),
    # (key widened after the first run: "the subtracted h ** 2 lacks a factor" names this precedence slip)
    m("atomic", "dhpreact = dh * (1 - h**2)", "dhpreact = dh * 1 - h**2", "hpreact", "wrong_term",
      "missing_factor"),
    m("atomic", "dbngain = (dhpreact * bnraw).sum(0, keepdims=True)",
      "dbngain = (dhpreact * hpreact).sum(0, keepdims=True)", "bngain", "swap"),
    m("atomic", "dbnraw = dhpreact * bngain", "dbnraw = bngain * dhpreact.sum(0, keepdims=True)", "bnraw",
      "wrong_factor", says="dhpreact.sum(0, keepdims=True)"),
    m("atomic", "dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)",
      "dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True) / n", "bnvar_inv", "factor"),
    m("atomic", "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)",
      "dbnvar = -0.5 * dbnvar_inv * bnvar_inv**2", "bnvar", "wrong_factor", "exponent", says="bnvar_inv ** 2"),
    m("atomic", "dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()",
      "dbndiff2 = dbnvar * np.ones_like(bndiff2) / n", "bndiff2", "n_minus_1"),
    m("atomic", DBNDIFF, "dbndiff = dbnraw * bnvar_inv + dbndiff2 * 2 * bndiff2", "bndiff", "swap"),
    m("atomic", DBNDIFF, "dbndiff = dbnraw * bnvar_inv + dbndiff2 * bndiff**2", "bndiff", "wrong_factor",
      says="bndiff ** 2"),
    m("atomic", "dbnmeani = (-dbndiff).sum(0, keepdims=True)", "dbnmeani = -dbndiff.sum(0, keepdims=True) / n",
      "bnmeani", "factor"),
    m("atomic", "dhprebn = dbndiff.copy()\ndhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)",
      "dhprebn = dbndiff + dbnmeani", "hprebn", "missing_factor", "factor"),
    m("atomic", "np.add.at(dC, Xb, demb)", "for i in range(n):\n    dC[Xb[i]] += demb[i]", "C", "scatter_add"),
    # ---- cross_entropy
    m("cross_entropy", "dlogits = probs.copy()", "dlogits = counts / counts.sum()", "logits", "axis",
      "wrong_factor"),
    m("cross_entropy", "dlogits[np.arange(n), Yb] -= 1", "dlogits[:, Yb] -= 1", "logits", "wrong_index",
      says="dlogits[:, Yb]"),
    m("cross_entropy", CE_ALL, "dlogits = (probs - 1) / n", "logits", "missing_one_hot"),
    # ---- batchnorm
    # (key widened after the first run: "the path through bnvar is -(n-1)/n times ..." names both slips)
    m("batchnorm", BN_FUSED, "    n * dhpreact - dhpreact.sum(0) + bnraw * (dhpreact * bnraw).sum(0)", "hprebn",
      "missing_factor", "wrong_factor", "sign", "factor"),
    m("batchnorm", BN_WHOLE,
      "dhprebn = (\n    bngain * bnvar_inv * dhpreact\n    - bngain * bnvar_inv / n * dhpreact.sum(0)\n"
      "    - bngain * bnvar_inv / n * bnraw * (dhpreact * bnraw).sum(0)\n)", "hprebn", "n_minus_1", "factor"),
    m("batchnorm", BN_WHOLE,
      "dhprebn = (\n    bngain * bnvar_inv * dhpreact\n    - bngain * bnvar_inv / n * dhpreact\n"
      "    - bngain * bnvar_inv / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)\n)", "hprebn", "missing_sum"),
    # ---- layernorm
    m("layernorm", "dvar_inv = (dxhat * xdiff).sum(1, keepdims=True)",
      "dvar_inv = (dxhat * xdiff).sum(0, keepdims=True)", "var_inv", "axis"),
    # (key widened after a later run: "in the divisor D - 1, the subtracted term 1 should not be there")
    m("layernorm", "dxdiff2 = np.broadcast_to(dvar * (1 / D), xdiff2.shape).copy()",
      "dxdiff2 = np.broadcast_to(dvar * (1 / (D - 1)), xdiff2.shape).copy()", "xdiff2", "factor",
      "wrong_factor", "n_minus_1", "extra_term"),
    m("layernorm", "dx = dxdiff.copy()\ndx += np.broadcast_to(dmu * (1 / D), x.shape)", "dx = dxdiff + dmu", "x",
      "missing_factor", "factor"),
    m("layernorm", LN_FUSED_SUMS,
      "        - (dout * gamma).sum(0, keepdims=True)\n        - xhat * (dout * gamma * xhat).sum(0, keepdims=True)",
      "x_fused", "wrong_term", "axis", says="(dout * gamma).sum(0, keepdims=True)"),
    m("layernorm", "dgamma = (dout * xhat).sum(0)", "dgamma = (dout * xhat).sum(1)", "gamma", "axis"),
    # ---- attention
    m("attention", "datt = wei * (dwei - (dwei * wei).sum(-1, keepdims=True))",
      "datt = wei * (dwei - dwei.sum(-1, keepdims=True))", "att", "missing_factor"),
    m("attention", "datt = wei * (dwei - (dwei * wei).sum(-1, keepdims=True))",
      "datt = wei * dwei - wei * (dwei * wei).sum(-2, keepdims=True)", "att", "axis"),
    m("attention", "dv = wei.swapaxes(-1, -2) @ dout", "dv = wei @ dout", "v", "wrong_operand", "transposed",
      says="wei"),
    m("attention", "dscores = np.where(causal, datt, 0.0)", "dscores = np.where(causal, datt, -np.inf)",
      "scores", "nan_inf"),
    m("attention", "dwei = dout @ v.swapaxes(-1, -2)", "dwei = v @ dout.swapaxes(-1, -2)", "wei", "transposed"),
]  # fmt: skip
