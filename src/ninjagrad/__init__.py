"""ninjagrad: learn, see and trust backpropagation.

The public surface:

- :class:`Value`: scalar autograd (``ninjagrad.scalar``; its tiny NN library is ``ninjagrad.nn``);
- :class:`Tensor`: NumPy-backed autograd with PyTorch's names. ``import ninjagrad as torch`` and
  ``import ninjagrad.functional as F`` run the makemore lectures' code: ``torch.tensor``, ``torch.zeros``,
  ``torch.randn(..., generator=g)``, ``torch.cat``, the dtype names (``torch.float32``, ``torch.long``...);
- :func:`no_grad`: a context (or decorator) in which tensor operations record no graph;
- :func:`draw_dot`: a graphviz drawing of either kind of graph;
- :func:`compare` and :func:`gradcheck`: check a gradient against a reference, or autograd against
  finite differences.

The makemore model and its hand-written backward pass live in ``ninjagrad.makemore``, the kata in
``ninjagrad.kata``; the ``ninjagrad`` command (``ninjagrad --help``) drives both.
"""

from ninjagrad.check import compare, gradcheck
from ninjagrad.scalar import Value
from ninjagrad.tensors import Tensor, is_grad_enabled, no_grad
from ninjagrad.tensors.api import abs as abs  # noqa: A004 (torch.abs)
from ninjagrad.tensors.api import (
    arange,
    cat,
    exp,
    full,
    histogram,
    linspace,
    log,
    ones,
    ones_like,
    relu,
    sigmoid,
    softmax,
    sqrt,
    stack,
    tanh,
    tensor,
    tril,
    unbind,
    where,
    zeros,
    zeros_like,
)
from ninjagrad.tensors.dtypes import bool_ as bool  # noqa: A004, F401 (torch.bool)
from ninjagrad.tensors.dtypes import float32, float64, int32, int64
from ninjagrad.tensors.random import Generator, manual_seed, multinomial, rand, randint, randn
from ninjagrad.viz import draw_dot

float = float32  # noqa: A001 (torch.float is float32)
double = float64
long = int64
int = int32  # noqa: A001 (torch.int is int32)

__version__ = "0.1.0"

# The builtins' names (bool, float, int, abs) stay out of `from ninjagrad import *`.
__all__ = [
    "Generator",
    "Tensor",
    "Value",
    "arange",
    "cat",
    "compare",
    "double",
    "draw_dot",
    "exp",
    "float32",
    "float64",
    "full",
    "gradcheck",
    "histogram",
    "int32",
    "int64",
    "is_grad_enabled",
    "linspace",
    "log",
    "long",
    "manual_seed",
    "multinomial",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "relu",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "tanh",
    "tensor",
    "tril",
    "unbind",
    "where",
    "zeros",
    "zeros_like",
]
