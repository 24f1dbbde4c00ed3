"""Backprop kata "cross_entropy": the gradient of the cross-entropy loss, in one formula.

In the atomic exercise the loss took eight lines (a row maximum, exp, a row sum, a reciprocal, log, ...) and
its gradient eight more. Here the forward pass is the same loss, `F.cross_entropy(logits, Yb)`, and the
backward is one gradient: dlogits, the gradient of `loss` with respect to the logits (n = 32 rows, 27
classes). Work it out on paper for one row first; it is short.

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge
    ninjagrad kata check THIS_FILE --solution dlogits  the answer for one line (a spoiler)
"""

import numpy as np

from ninjagrad.kata import exercise_data

KATA = "cross_entropy"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# The logits of the atomic exercise's batch, and the characters that really came next: the same every run.
logits, Yb = exercise_data(KATA)

# ---- forward pass (given) ----
n = logits.shape[0]  # 32, the batch size
logit_maxes = logits.max(1, keepdims=True)  # (32, 1)  subtracted so that exp cannot overflow
norm_logits = logits - logit_maxes  # (32, 27)
counts = np.exp(norm_logits)  # (32, 27)
probs = counts / counts.sum(1, keepdims=True)  # (32, 27)  softmax(logits), row by row
loss = -np.log(probs[np.arange(n), Yb]).mean()  # ()

# ---- backward pass: one line per gradient, in this order ----
# For one row: d(-log softmax(l)[y]) / dl_j = softmax(l)_j - [j == y]; the mean divides by n.
dlogits = probs.copy()
dlogits[np.arange(n), Yb] -= 1
dlogits /= n
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402


def _given(dataset):
    from ninjagrad.kata.data import atomic_chain

    chain = atomic_chain(dataset)
    return {"logits": chain["logits"], "Yb": chain["Yb"]}


EXERCISE = Exercise(
    name="cross_entropy",
    title="the cross-entropy's gradient in one formula: dlogits (batch 32, 27 classes)",
    order=2,
    engine="tensor",
    batch_size="n",
    given=_given,
    gradients=(
        Gradient(
            "logits",
            "Differentiate one row's -log(softmax(logits)[y]) by hand, for a column j != y and for j == y "
            "(the quotient rule on exp(l_j) / sum_k exp(l_k)); then remember the loss is a mean over n rows.",
        ),
    ),
)
