"""Backprop kata "attention": self-attention's causal softmax, and its backward.

In a GPT's self-attention (Vaswani et al., 2017; the lecture "Let's build GPT"), each position t mixes the
values v of the positions up to t: the scores q @ k.T / sqrt(head_size) are masked so that no position sees
the future (-inf there, so exp gives 0), turned into weights by a softmax over the last axis, and the
weights multiply v. Here a batch of 4 sequences of 8 positions, head size 16; `scores`, `v` and `dout`,
the gradient arriving from above, are given.

Write dwei and dv (a batched matrix product's backward: `x.swapaxes(-1, -2)` transposes the last two
axes), then datt: the softmax's backward, in one line (for each row, the weights times the gradient minus
its weighted mean), then dscores, through the mask.

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge for that line
    ninjagrad kata check THIS_FILE --solution datt     the answer for one line (a spoiler)
"""

import numpy as np

from ninjagrad.kata import exercise_data

KATA = "attention"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# The attention scores of 4 sequences of 8 positions, the values, and the gradient arriving from above.
scores, v, dout = exercise_data(KATA)

# ---- forward pass (given) ----
B, T, head_size = v.shape  # 4 sequences, T = 8 positions, head size 16
causal = np.tril(np.ones((T, T), dtype=bool))  # (8, 8)  position t sees positions 0..t
att = np.where(causal, scores, -np.inf)  # (4, 8, 8)  the future masked out
att_maxes = att.max(-1, keepdims=True)  # (4, 8, 1)  subtracted so that exp cannot overflow
att_exp = np.exp(att - att_maxes)  # (4, 8, 8)  0 where masked
wei = att_exp / att_exp.sum(-1, keepdims=True)  # (4, 8, 8)  softmax over the last axis: each row sums to 1
out = wei @ v  # (4, 8, 16)  each position's mix of the values it sees
# dout  (4, 8, 16)  is given

# ---- backward pass: one line per gradient, in this order ----
# out = wei @ v, one matrix product per sequence: the shapes fix each product
dwei = dout @ v.swapaxes(-1, -2)
dv = wei.swapaxes(-1, -2) @ dout
# wei = softmax(att) over the last axis: dwei minus its weighted mean, times the weights
datt = wei * (dwei - (dwei * wei).sum(-1, keepdims=True))
# att = scores where causal, -inf elsewhere: the masked scores do not reach the output
dscores = np.where(causal, datt, 0.0)
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402

_SIZES = ((4, 8, 16), (3, 5, 7))  # (batch, positions, head size) of data set 0 and 1


def _given(dataset):
    import numpy as np

    rng = np.random.default_rng(20 + dataset)
    B, T, head_size = _SIZES[dataset]
    return {
        "scores": rng.standard_normal((B, T, T)).astype(np.float32),
        "v": rng.standard_normal((B, T, head_size)).astype(np.float32),
        "dout": (0.1 * rng.standard_normal((B, T, head_size))).astype(np.float32),
    }


_MATMUL = (
    "out = wei @ v, a matrix product per sequence: the gradient of one factor is the upstream gradient times "
    "the other factor with its last two axes swapped; the shapes decide the order"
)

EXERCISE = Exercise(
    name="attention",
    title="self-attention's causal softmax and its backward: dwei, dv, datt, dscores (4 x 8 x 8)",
    order=6,
    engine="tensor",
    given=_given,
    outputs=(("out", "dout"),),
    gradients=(
        Gradient("wei", f"{_MATMUL}."),
        Gradient("v", f"{_MATMUL}."),
        Gradient(
            "att",
            "wei_j = exp(att_j) / sum_k exp(att_k) along the last axis: "
            "d wei_j / d att_i = wei_j * ([i == j] - wei_i). "
            "Multiply by dwei and sum over j; the result needs only wei and dwei.",
        ),
        Gradient(
            "scores",
            "att takes each score where causal is True and -inf elsewhere: the gradient passes where the "
            "score was used, and nothing reaches a masked one.",
        ),
    ),
)
