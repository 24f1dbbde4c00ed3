"""Backprop kata "layernorm": layer normalisation's backward, one operation per line, then in one formula.

LayerNorm (Ba, Kiros & Hinton, 2016) is BatchNorm turned sideways: each row (one example's 64 features) is
normalised by its own mean and variance, so the statistics run over axis 1, and the variance divides by D
(as PyTorch's nn.LayerNorm does), not D - 1. `dout`, the gradient arriving from the layers above, is given.

Write the atomic backward (one local rule per line, as in the atomic exercise), then dx_fused: the same
dx as a single formula of dout, gamma, xhat, var_inv and D, worked out on paper (the fused BatchNorm
exercise is the same algebra over the other axis).

Check your lines as you go (`python THIS_FILE` does the same):

    ninjagrad kata check THIS_FILE                     the table, and what is wrong with the first wrong line
    ninjagrad kata check THIS_FILE --hint              a nudge for that line
    ninjagrad kata check THIS_FILE --solution dxhat    the answer for one line (a spoiler)
"""

import numpy as np

from ninjagrad.kata import exercise_data

KATA = "layernorm"  # which exercise this is (the checker reads it)

if __name__ == "__main__":  # `python THIS_FILE` checks it, like `ninjagrad kata check THIS_FILE`
    from ninjagrad.kata import check_file

    raise SystemExit(check_file(__file__))

# 32 rows of 64 features, the layer's gain and bias, and the gradient arriving from above: the same every run.
x, gamma, beta, dout = exercise_data(KATA)
eps = 1e-5  # keeps 1/sqrt(variance) finite

# ---- forward pass (given) ----
n, D = x.shape  # 32 rows, D = 64 features
mu = 1 / D * x.sum(1, keepdims=True)  # (32, 1)  each row's mean
xdiff = x - mu  # (32, 64)
xdiff2 = xdiff**2  # (32, 64)
var = 1 / D * xdiff2.sum(1, keepdims=True)  # (32, 1)  each row's variance, over D (not D - 1)
var_inv = (var + eps) ** -0.5  # (32, 1)
xhat = xdiff * var_inv  # (32, 64)  each row: zero mean, unit variance
out = gamma * xhat + beta  # (32, 64)  gamma and beta (64,) are shared by every row
# dout  (32, 64)  is given

# ---- backward pass: one line per gradient, in this order ----
# out = gamma * xhat + beta: gamma and beta serve every row, so their gradients sum over the rows
dgamma = (dout * xhat).sum(0)
dbeta = dout.sum(0)
dxhat = dout * gamma
# xhat = xdiff * var_inv: var_inv (32, 1) serves a whole row
dvar_inv = (dxhat * xdiff).sum(1, keepdims=True)
# var_inv = (var + eps)**-0.5: the power rule
dvar = dvar_inv * (-0.5 * (var + eps) ** -1.5)
# var = 1/D * xdiff2.sum(1): every entry of a row gets the row's gradient, over D
dxdiff2 = np.broadcast_to(dvar * (1 / D), xdiff2.shape).copy()
# xdiff feeds xhat and xdiff2 = xdiff**2
dxdiff = dxhat * var_inv
dxdiff += dxdiff2 * (2 * xdiff)
# xdiff = x - mu: -1, summed over the row mu was stretched across
dmu = (-dxdiff).sum(1, keepdims=True)
# x feeds xdiff, and mu = 1/D * x.sum(1)
dx = dxdiff.copy()
dx += np.broadcast_to(dmu * (1 / D), x.shape)
# The same dx in one formula: directly, through the mean, through the variance.
dx_fused = (
    var_inv
    / D
    * (
        D * dout * gamma
        - (dout * gamma).sum(1, keepdims=True)
        - xhat * (dout * gamma * xhat).sum(1, keepdims=True)
    )
)
# ---- end of the backward pass ----

# ---- the exercise, for the checker (a workbook ends above this line) ----
from ninjagrad.kata.exercise import Exercise, Gradient  # noqa: E402


def _given(dataset):
    from ninjagrad.kata.data import random_data

    shapes = {"x": ("n", "H"), "gamma": ("H",), "beta": ("H",), "dout": ("n", "H")}
    scale = {"x": (0.5, 2.0), "gamma": (1.0, 0.1), "beta": (0.0, 0.1), "dout": (0.0, 0.05)}
    return random_data(dataset, shapes, scale)


_ROW = "a (32, 1) statistic serves its whole row: its gradient sums over the row, keeping the dimension"

EXERCISE = Exercise(
    name="layernorm",
    title="layer normalisation's backward, atomic then fused: 10 gradients (64 features, 32 rows)",
    order=5,
    engine="tensor",
    given=_given,
    outputs=(("out", "dout"),),
    gradients=(
        Gradient("gamma", "out = gamma * xhat + beta: gamma (64,) multiplies every row; sum over the rows."),
        Gradient("beta", "out = gamma * xhat + beta: a sum passes its gradient on; beta serves every row."),
        Gradient("xhat", "out = gamma * xhat + beta: the local derivative of a product is the other factor."),
        Gradient("var_inv", f"xhat = xdiff * var_inv: the other factor; and {_ROW}."),
        Gradient("var", "var_inv = (var + eps)**-0.5: the power rule, d(x**k)/dx = k * x**(k - 1)."),
        Gradient(
            "xdiff2",
            "var = 1/D * xdiff2.sum(1): each entry of a row receives the row's gradient, times the constant "
            "in front (1/D: LayerNorm's variance is the biased one).",
        ),
        Gradient("xdiff", "xdiff is used twice: in xhat and in xdiff2 = xdiff**2. Add both contributions."),
        Gradient("mu", f"xdiff = x - mu: the local derivative is -1; and {_ROW}."),
        Gradient(
            "x",
            "x is used twice: in xdiff (local derivative 1) and in mu = 1/D * x.sum(1), whose gradient "
            "reaches each entry of the row times 1/D.",
        ),
        Gradient(
            "x_fused",
            "Each x entry reaches out directly, through its row's mean and through its row's variance. Add "
            "the three; the result needs dout * gamma, its row sums and the row sums of dout * gamma * xhat.",
            of="x",
            reads_only=(),
            paths=(
                ("xdiff", "var_inv * dout * gamma"),
                ("mu", "-var_inv / D * (dout * gamma).sum(1, keepdims=True)"),
                ("var", "-var_inv / D * xhat * (dout * gamma * xhat).sum(1, keepdims=True)"),
            ),
        ),
    ),
)
