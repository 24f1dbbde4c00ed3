"""Backprop kata "embedding": the gradient of an embedding lookup, a scatter-add.

The forward pass looks up one row of the table C (27 characters, 10 numbers each) for each of the 3
characters of 32 contexts, and lays the three side by side. `dembcat`, the gradient arriving from the first
linear layer, is given. Write demb, then dC. A character appears many times in a batch: its row of C was
used many times, and every use sends gradient back to it.

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge for that line
    ninjagrad kata check THIS_FILE --solution demb     the answer for one line (a spoiler)
"""

import numpy as np  # noqa: F401  (the backward lines use it)

from ninjagrad.kata import exercise_data

KATA = "embedding"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# The atomic exercise's embedding table and batch, and the gradient arriving from above (dembcat): the same
# every run.
C, Xb, dembcat = exercise_data(KATA)

# ---- forward pass (given) ----
n = Xb.shape[0]  # 32, the batch size
emb = C[Xb]  # (32, 3, 10)  row Xb[i, j] of C, for every position (i, j)
embcat = emb.reshape(n, -1)  # (32, 30)
# dembcat  (32, 30)  is given

# ---- backward pass: one line per gradient, in this order ----
# (the solution is the atomic exercise's lines for demb and dC: `backward_from` below)
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402


def _given(dataset):
    from ninjagrad.kata.data import atomic_chain

    chain = atomic_chain(dataset)
    return {"C": chain["C"], "Xb": chain["Xb"], "dembcat": chain["dembcat"]}


EXERCISE = Exercise(
    name="embedding",
    title="the embedding lookup's gradient: demb, then dC, a scatter-add over repeated characters",
    order=4,
    engine="tensor",
    batch_size="n",
    given=_given,
    outputs=(("embcat", "dembcat"),),
    backward_from="atomic",
    gradients=(
        Gradient(
            "emb", "embcat = emb.reshape(n, -1) only rearranges the numbers: rearrange the gradient back."
        ),
        Gradient(
            "C",
            "emb = C[Xb] copies row Xb[i, j] of C to position (i, j): each copy sends its gradient back to "
            "that row, and a character used several times collects all of them. Indexed += keeps only one "
            "of the repeats; look for a NumPy function that adds at indices.",
            scatter=("Xb", "demb"),
        ),
    ),
)
