"""Backprop kata "atomic": the makemore MLP's backward pass, one elementary operation at a time.

The forward pass below is the one of the "backprop ninja" lecture (Karpathy, makemore part 4): the character
model of Bengio et al. (2003) with a BatchNorm layer (Ioffe & Szegedy, 2015), cut into one small operation
per line, each variable's shape in the comment beside it (n = 32 examples, 64 hidden units, 27 characters).

Write the backward pass: for every variable x, dx = the gradient of `loss` with respect to x, with exactly
x's shape. Work from the bottom up, in the order of the TODO lines. Each line applies one local derivative to
a gradient you already have; a variable used in two places collects both contributions (`dx += ...`).
The arrays are NumPy's: `x.sum(0, keepdims=True)`, `x.T`, `a @ b`, `np.zeros_like(x)`, `x.reshape(...)`.

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge for that line
    ninjagrad kata check THIS_FILE --solution dprobs   the answer for one line (a spoiler)

Each line is checked on its own, fed the right upstream gradients, so a wrong line does not spoil the ones
below it.
"""

import numpy as np

from ninjagrad.kata import exercise_data

KATA = "atomic"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# A batch of 32 contexts (3 characters each) and their next characters, and freshly initialised parameters:
# the same numbers on every run.
Xb, Yb, C, W1, b1, W2, b2, bngain, bnbias = exercise_data(KATA)
n = Xb.shape[0]  # 32, the batch size

# ---- forward pass (given) ----
emb = C[Xb]  # (32, 3, 10)  each character's embedding
embcat = emb.reshape(n, -1)  # (32, 30)  the three embeddings side by side
hprebn = embcat @ W1 + b1  # (32, 64)  linear layer 1
bnmeani = 1 / n * hprebn.sum(0, keepdims=True)  # (1, 64)  BatchNorm: the batch mean
bndiff = hprebn - bnmeani  # (32, 64)
bndiff2 = bndiff**2  # (32, 64)
bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdims=True)  # (1, 64)  the variance, with Bessel's n - 1
bnvar_inv = (bnvar + 1e-5) ** -0.5  # (1, 64)
bnraw = bndiff * bnvar_inv  # (32, 64)
hpreact = bngain * bnraw + bnbias  # (32, 64)
h = np.tanh(hpreact)  # (32, 64)  the non-linearity
logits = h @ W2 + b2  # (32, 27)  linear layer 2
logit_maxes = logits.max(1, keepdims=True)  # (32, 1)  subtracted so that exp cannot overflow
norm_logits = logits - logit_maxes  # (32, 27)
counts = np.exp(norm_logits)  # (32, 27)
counts_sum = counts.sum(1, keepdims=True)  # (32, 1)
counts_sum_inv = counts_sum**-1  # (32, 1)  (the lecture's form: 1.0 / counts_sum is not bit-exact)
probs = counts * counts_sum_inv  # (32, 27)
logprobs = np.log(probs)  # (32, 27)
loss = -logprobs[np.arange(n), Yb].mean()  # ()  the cross-entropy

# ---- backward pass: one line per gradient, in this order ----
# loss = -(the mean of n picked entries): each picked entry gets -1/n, the others nothing
dlogprobs = np.zeros_like(logprobs)
dlogprobs[np.arange(n), Yb] = -1.0 / n
# logprobs = log(probs): log'(x) = 1/x
dprobs = dlogprobs / probs
# probs = counts * counts_sum_inv: counts_sum_inv (32, 1) serves a whole row, so its gradient sums the row
dcounts_sum_inv = (dprobs * counts).sum(1, keepdims=True)
# counts_sum_inv = counts_sum**-1: the power rule
dcounts_sum = dcounts_sum_inv * (-1 * counts_sum**-2)
# counts feeds probs and counts_sum; the row sum hands its gradient to every entry of the row
dcounts = dprobs * counts_sum_inv
dcounts += np.broadcast_to(dcounts_sum, counts.shape)
# counts = exp(norm_logits): exp is its own derivative
dnorm_logits = dcounts * counts
# norm_logits = logits - logit_maxes: -1, summed over the row logit_maxes was stretched across
dlogit_maxes = (-dnorm_logits).sum(1, keepdims=True)
# logits feeds norm_logits, and the max of its row (one position per row: the first maximum)
dlogits = dnorm_logits.copy()
dlogits += np.eye(logits.shape[1], dtype=logits.dtype)[logits.argmax(1)] * dlogit_maxes
# logits = h @ W2 + b2: the shapes fix each product
dh = dlogits @ W2.T
dW2 = h.T @ dlogits
db2 = dlogits.sum(0)
# h = tanh(hpreact): tanh' = 1 - tanh**2, and tanh(hpreact) is h
dhpreact = dh * (1 - h**2)
# hpreact = bngain * bnraw + bnbias: bngain and bnbias (1, 64) serve every row
dbngain = (dhpreact * bnraw).sum(0, keepdims=True)
dbnbias = dhpreact.sum(0, keepdims=True)
dbnraw = dhpreact * bngain
# bnraw = bndiff * bnvar_inv
dbnvar_inv = (dbnraw * bndiff).sum(0, keepdims=True)
# bnvar_inv = (bnvar + 1e-5)**-0.5: the power rule
dbnvar = dbnvar_inv * (-0.5 * (bnvar + 1e-5) ** -1.5)
# bnvar = 1/(n-1) * bndiff2.sum(0): every entry of a column gets the column's gradient, over n - 1
dbndiff2 = np.broadcast_to(dbnvar * (1 / (n - 1)), bndiff2.shape).copy()
# bndiff feeds bnraw and bndiff2 = bndiff**2
dbndiff = dbnraw * bnvar_inv
dbndiff += dbndiff2 * (2 * bndiff**1)
# bndiff = hprebn - bnmeani: -1, summed over the batch bnmeani was stretched across
dbnmeani = (-dbndiff).sum(0, keepdims=True)
# hprebn feeds bndiff, and bnmeani = 1/n * hprebn.sum(0)
dhprebn = dbndiff.copy()
dhprebn += np.broadcast_to(dbnmeani * (1 / n), hprebn.shape)
# hprebn = embcat @ W1 + b1
dembcat = dhprebn @ W1.T
dW1 = embcat.T @ dhprebn
db1 = dhprebn.sum(0)
# embcat = emb.reshape(n, -1): undo the reshape
demb = dembcat.reshape(emb.shape)
# emb = C[Xb]: every position sends its gradient to its character's row, and repeats add up
dC = np.zeros_like(C)
np.add.at(dC, Xb, demb)
# ---- end of the backward pass ----
