"""Backprop kata "scalar": the first two examples of the micrograd lecture, differentiated by hand.

Part 1 is the expression L = (a*b + c) * f, part 2 a neuron o = tanh(x1*w1 + x2*w2 + bias). Every variable is
a plain float, and its value is in the comment beside it.

For each variable x, write dx: the derivative of the output (L in part 1, o in part 2) with respect to x.
Start at the output and walk back, one line per variable, in the order below: each line multiplies the local
derivative of one forward line by the gradient that has already reached it (the chain rule). Numbers worked
out on paper are fine, and so are expressions of the forward variables (`dd = f * dL`).

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge for that line
    ninjagrad kata check THIS_FILE --solution dd       the answer for one line (a spoiler)
"""

import math

KATA = "scalar"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# ---- forward pass (given) ----
# Part 1: L = (a*b + c) * f
a = 2.0
b = -3.0
c = 10.0
e = a * b  # -6.0
d = e + c  # 4.0
f = -2.0
L = d * f  # -8.0

# Part 2: a neuron with two inputs, o = tanh(x1*w1 + x2*w2 + bias)
x1 = 2.0
x2 = 0.0
w1 = -3.0
w2 = 1.0
bias = 6.8813735870195432  # chosen so that o comes out as 0.7071..., a round number for its derivative
x1w1 = x1 * w1  # -6.0
x2w2 = x2 * w2  # 0.0
x1w1x2w2 = x1w1 + x2w2  # -6.0
n = x1w1x2w2 + bias  # 0.8813...
o = math.tanh(n)  # 0.7071...

# ---- backward pass: one line per gradient, in this order ----
dL = 1.0  # dL/dL: the output with respect to itself
dd = f * dL  # L = d * f: the other factor, times the gradient from above
df = d * dL
de = dd  # d = e + c: a sum passes the gradient through unchanged
dc = dd
da = b * de  # e = a * b
db = a * de
do = 1.0  # do/do
dn = (1 - o**2) * do  # o = tanh(n): tanh'(n) = 1 - tanh(n)**2 = 1 - o**2
dbias = dn  # n = x1w1x2w2 + bias: a sum
dx1w1x2w2 = dn
dx1w1 = dx1w1x2w2  # x1w1x2w2 = x1w1 + x2w2: a sum
dx2w2 = dx1w1x2w2
dx1 = w1 * dx1w1  # x1w1 = x1 * w1: a product
dw1 = x1 * dx1w1
dx2 = w2 * dx2w2  # x2w2 = x2 * w2: a product
dw2 = x2 * dx2w2
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402

_LECTURE = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0, "x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0}
_LECTURE["bias"] = 6.8813735870195432


def _given(dataset):
    """Data set 0 is the lecture's numbers; the others are random points, which only help the diagnosis
    (a number worked out on paper is right at the lecture's point alone)."""
    import numpy as np

    if dataset == 0:
        return dict(_LECTURE)
    rng = np.random.default_rng(100 + dataset)
    return {name: float(np.round(rng.uniform(-3, 3), 3)) for name in _LECTURE}


_PRODUCT = "the local derivative of a product with respect to one factor is the other factor"
_SUM = "a sum passes its gradient unchanged to each of its terms"

EXERCISE = Exercise(
    name="scalar",
    title="the lecture's L = (a*b + c)*f and the tanh neuron, by hand with plain floats",
    order=0,
    engine="value",
    given=_given,
    outputs=(("L", None), ("o", None)),
    datasets=4,
    graded_datasets=1,
    gradients=(
        Gradient("L", "The derivative of L with respect to L itself: the start of every backward pass."),
        Gradient("d", f"L = d * f: {_PRODUCT}; multiply it by the gradient arriving from above, dL."),
        Gradient("f", f"L = d * f: {_PRODUCT}; multiply it by dL."),
        Gradient("e", f"d = e + c: {_SUM}."),
        Gradient("c", f"d = e + c: {_SUM}."),
        Gradient("a", f"e = a * b: {_PRODUCT}; multiply it by de."),
        Gradient("b", f"e = a * b: {_PRODUCT}; multiply it by de."),
        Gradient("o", "The derivative of o with respect to o itself."),
        Gradient(
            "n", "o = tanh(n): the derivative of tanh(x) is 1 - tanh(x)**2, and tanh(n) is already known."
        ),
        Gradient("bias", f"n = x1w1x2w2 + bias: {_SUM}."),
        Gradient("x1w1x2w2", f"n = x1w1x2w2 + bias: {_SUM}."),
        Gradient("x1w1", f"x1w1x2w2 = x1w1 + x2w2: {_SUM}."),
        Gradient("x2w2", f"x1w1x2w2 = x1w1 + x2w2: {_SUM}."),
        Gradient("x1", f"x1w1 = x1 * w1: {_PRODUCT}; multiply it by dx1w1."),
        Gradient("w1", f"x1w1 = x1 * w1: {_PRODUCT}; multiply it by dx1w1."),
        Gradient("x2", f"x2w2 = x2 * w2: {_PRODUCT}; multiply it by dx2w2."),
        Gradient("w2", f"x2w2 = x2 * w2: {_PRODUCT}; multiply it by dx2w2."),
    ),
)
