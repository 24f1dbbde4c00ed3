"""Backprop kata "batchnorm": the gradient of batch normalisation, in one formula.

The forward pass is BatchNorm in training mode (Ioffe & Szegedy, 2015), with the variance divided by n - 1
as in the lecture: hpreact = bngain * (hprebn - mean) / sqrt(var + 1e-5) + bnbias, statistics over the
batch of n = 32 rows, for 64 hidden units. `dhpreact`, the gradient arriving from the layers above, is
given. Write dhprebn, the gradient with respect to the layer's input, as one expression.

Each entry of hprebn reaches the output directly, through the batch mean and through the batch variance.
Work the sum of the three out on paper; the result is one line.

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge
    ninjagrad kata check THIS_FILE --solution dhprebn  the answer for one line (a spoiler)
"""

from ninjagrad.kata import exercise_data

KATA = "batchnorm"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# The atomic exercise's hidden layer before BatchNorm, BatchNorm's gain and bias, and the gradient arriving
# from above (dhpreact): the same every run.
hprebn, bngain, bnbias, dhpreact = exercise_data(KATA)

# ---- forward pass (given) ----
n = hprebn.shape[0]  # 32, the batch size
bnmean = hprebn.mean(0, keepdims=True)  # (1, 64)
bnvar = hprebn.var(0, keepdims=True, ddof=1)  # (1, 64)  divided by n - 1 (Bessel's correction)
bnvar_inv = (bnvar + 1e-5) ** -0.5  # (1, 64)
bnraw = (hprebn - bnmean) * bnvar_inv  # (32, 64)  zero mean, unit variance per column
hpreact = bngain * bnraw + bnbias  # (32, 64)
# dhpreact  (32, 64)  is given

# ---- backward pass: one line per gradient, in this order ----
# The three paths, added: directly (n * dhpreact), through the mean (its sum), through the variance (n - 1).
dhprebn = (bngain * bnvar_inv / n) * (
    n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)
)
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402


def _given(dataset):
    from ninjagrad.kata.data import atomic_chain

    chain = atomic_chain(dataset)
    return {name: chain[name] for name in ("hprebn", "bngain", "bnbias", "dhpreact")}


EXERCISE = Exercise(
    name="batchnorm",
    title="batch normalisation's gradient in one formula: dhprebn (n_hidden 64, batch 32)",
    order=3,
    engine="tensor",
    batch_size="n",
    given=_given,
    outputs=(("hpreact", "dhpreact"),),
    gradients=(
        Gradient(
            "hprebn",
            "Each hprebn entry reaches the output three ways: directly, through the batch mean, and through "
            "the variance (which divides by n - 1). Add the three; the result needs only dhpreact.sum(0) and "
            "(dhpreact * bnraw).sum(0) besides bngain, bnvar_inv and bnraw.",
            paths=(
                ("hprebn - bnmean", "bngain * bnvar_inv * dhpreact"),
                ("bnmean", "-bngain * bnvar_inv / n * dhpreact.sum(0)"),
                ("bnvar", "-bngain * bnvar_inv / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)"),
            ),
        ),
    ),
)
