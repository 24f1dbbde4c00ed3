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
eps = 1e-5  # BatchNorm's epsilon: keeps 1/sqrt(variance) finite

# ---- forward pass (given) ----
n = Xb.shape[0]  # 32, the batch size
emb = C[Xb]  # (32, 3, 10)  each character's embedding
embcat = emb.reshape(n, -1)  # (32, 30)  the three embeddings side by side
hprebn = embcat @ W1 + b1  # (32, 64)  linear layer 1
bnmeani = 1 / n * hprebn.sum(0, keepdims=True)  # (1, 64)  BatchNorm: the batch mean
bndiff = hprebn - bnmeani  # (32, 64)
bndiff2 = bndiff**2  # (32, 64)
bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdims=True)  # (1, 64)  the variance, with Bessel's n - 1
bnvar_inv = (bnvar + eps) ** -0.5  # (1, 64)
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
# bnvar_inv = (bnvar + eps)**-0.5: the power rule
dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)
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

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient, Probe  # noqa: E402


def _given(dataset):
    from ninjagrad.kata.data import atomic_batch

    return atomic_batch(dataset)


def _probe(ns, rng):
    """logit_maxes and b1 have ~0 gradients on real data (shifting a row of logits, or adding a constant
    before BatchNorm, changes no loss), so their lines run again on random upstream gradients, with logits
    that tie their row's maximum in every other row; each tie sits right of the first maximum, so the first
    maximum (autograd's pick) stays where it was."""
    import numpy as np

    logits = np.array(ns["logits"], dtype=np.float64)  # (n, 27)
    rows = np.arange(0, logits.shape[0], 2)
    top = logits[rows].argmax(1)
    rows, top = rows[top < logits.shape[1] - 1], top[top < logits.shape[1] - 1]
    other = rng.integers(top + 1, logits.shape[1])  # a column after the maximum
    logits[rows, other] = logits[rows, top]
    logit_maxes = logits.max(1, keepdims=True)  # (n, 1)
    return {
        "logits": logits,
        "logit_maxes": logit_maxes,
        "norm_logits": logits - logit_maxes,
        "dnorm_logits": rng.standard_normal(logits.shape),
        "dhprebn": rng.standard_normal(np.shape(ns["hprebn"])),
    }


_PRODUCT = "the local derivative of a product with respect to one factor is the other factor"
_SUM = "a sum passes its gradient unchanged to each of its terms"
_MATMUL = (
    "for a matrix product, the gradient of one factor is the upstream gradient multiplied by the other "
    "factor transposed; the shapes decide the order"
)
_BROADCAST = "a (1, H) input used by every row collects the gradient of every row: sum over the batch"
_LOOKUP = (
    "emb = C[Xb] copies row Xb[i, j] of C to position (i, j): each copy sends its gradient back to that row, "
    "and a character used several times collects all of them."
)

EXERCISE = Exercise(
    name="atomic",
    title="the makemore MLP's backward, one operation per line: 26 gradients (n_hidden 64, batch 32)",
    order=1,
    engine="tensor",
    batch_size="n",
    given=_given,
    gradients=(
        Gradient(
            "logprobs",
            "loss is minus the mean of n entries of logprobs, one per row (column Yb[i]). A mean of n "
            "numbers passes 1/n back to each of them; the entries that were not picked do not move the loss.",
        ),
        Gradient("probs", "logprobs = log(probs), element by element: the derivative of log(x) is 1/x."),
        Gradient(
            "counts_sum_inv",
            "probs = counts * counts_sum_inv, and counts_sum_inv (n, 1) is stretched across each row's 27 "
            f"columns: {_PRODUCT}, and a stretched input collects the gradient of every column (keep its "
            "shape).",
        ),
        Gradient(
            "counts_sum", "counts_sum_inv = counts_sum**-1: the power rule, d(x**k)/dx = k * x**(k - 1)."
        ),
        Gradient(
            "counts",
            "counts is used twice: in probs = counts * counts_sum_inv and in counts_sum = counts.sum(1). Its "
            f"gradient adds both contributions; {_SUM}.",
        ),
        Gradient(
            "norm_logits",
            "counts = exp(norm_logits): exp is its own derivative, and exp(norm_logits) has a name.",
        ),
        Gradient(
            "logit_maxes",
            "norm_logits = logits - logit_maxes, with logit_maxes (n, 1) stretched across the row: the local "
            "derivative is -1, summed over the row. (It comes out ~0: the shift changes no probability.)",
            hidden=(
                "dlogit_maxes is ~0 there (shifting a row by its maximum changes no probability), so any "
                "line that gives ~0 would pass"
            ),
        ),
        Gradient(
            "logits",
            "logits is used twice: in norm_logits (local derivative 1) and in logit_maxes = logits.max(1), "
            "which passes its gradient to one position per row, where the maximum was.",
            ties_in="logits",
            hidden=(
                "the max path carries dlogit_maxes, ~0 there, so a line that drops it or sends it to the "
                "wrong place would pass"
            ),
        ),
        Gradient("h", f"logits = h @ W2 + b2: {_MATMUL}."),
        Gradient("W2", f"logits = h @ W2 + b2: {_MATMUL}; dW2 has W2's shape (H, 27)."),
        Gradient("b2", "b2 (27,) is added to every row: a broadcast input sums the gradient over the batch."),
        Gradient(
            "hpreact",
            "h = tanh(hpreact): the derivative of tanh(x) is 1 - tanh(x)**2, and tanh(hpreact) is h.",
        ),
        Gradient(
            "bngain",
            f"hpreact = bngain * bnraw + bnbias: {_PRODUCT}; and {_BROADCAST}, keeping the dimension.",
        ),
        Gradient(
            "bnbias", f"hpreact = bngain * bnraw + bnbias: {_SUM}; and {_BROADCAST}, keeping the dimension."
        ),
        Gradient("bnraw", f"hpreact = bngain * bnraw + bnbias: {_PRODUCT}."),
        Gradient(
            "bnvar_inv", f"bnraw = bndiff * bnvar_inv: {_PRODUCT}; and {_BROADCAST}, keeping the dimension."
        ),
        Gradient("bnvar", "bnvar_inv = (bnvar + eps)**-0.5: the power rule, d(x**k)/dx = k * x**(k - 1)."),
        Gradient(
            "bndiff2",
            "bnvar = 1/(n-1) * bndiff2.sum(0): each entry of a column receives the column's gradient, times "
            "the constant in front (1/(n-1) there: Bessel's correction, not 1/n).",
        ),
        Gradient(
            "bndiff",
            "bndiff is used twice: in bnraw = bndiff * bnvar_inv and in bndiff2 = bndiff**2 "
            "(d(x**2)/dx = 2x). Add both contributions.",
        ),
        Gradient(
            "bnmeani", f"bndiff = hprebn - bnmeani: the local derivative is -1; and {_BROADCAST}, keeping it."
        ),
        Gradient(
            "hprebn",
            "hprebn is used twice: in bndiff (local derivative 1) and in bnmeani = 1/n * hprebn.sum(0), "
            "which gives each entry its column's gradient times 1/n.",
        ),
        Gradient("embcat", f"hprebn = embcat @ W1 + b1: {_MATMUL}."),
        Gradient("W1", f"hprebn = embcat @ W1 + b1: {_MATMUL}; dW1 has W1's shape (30, H)."),
        Gradient(
            "b1",
            "b1 (H,) is added to every row: a broadcast input sums the gradient over the batch.",
            hidden=(
                "db1 is ~0 there (BatchNorm subtracts the batch mean, so b1 cannot change the loss), so any "
                "line that gives ~0 would pass"
            ),
        ),
        Gradient(
            "emb", "embcat = emb.reshape(n, -1) only rearranges the numbers: rearrange the gradient back."
        ),
        Gradient(
            "C",
            _LOOKUP + " Indexed += keeps only one of the repeats; look for a NumPy function that adds at "
            "indices.",
            scatter=("Xb", "demb"),
        ),
    ),
    probe=Probe(
        build=_probe,
        description="random upstream gradients, and logits with two equal maxima in about every other row",
    ),
)
