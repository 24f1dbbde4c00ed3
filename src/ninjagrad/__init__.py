"""ninjagrad: learn, see and trust backpropagation.

The public surface is small on purpose:

- :class:`Value`: scalar autograd (``ninjagrad.scalar``; its tiny NN library is ``ninjagrad.nn``);
- :class:`Tensor`: NumPy-backed autograd with PyTorch's names (``import ninjagrad.functional as F``);
- :func:`no_grad`: a context in which tensor operations record no graph;
- :func:`draw_dot`: a graphviz drawing of either kind of graph;
- :func:`compare` and :func:`gradcheck`: check a gradient against a reference, or autograd against
  finite differences.

The makemore model and its hand-written backward pass live in ``ninjagrad.makemore``, the kata in
``ninjagrad.kata``; the ``ninjagrad`` command (``ninjagrad --help``) drives both.
"""

from ninjagrad.check import compare, gradcheck
from ninjagrad.scalar import Value
from ninjagrad.tensors import Tensor, no_grad
from ninjagrad.viz import draw_dot

__version__ = "0.1.0"

__all__ = ["Tensor", "Value", "compare", "draw_dot", "gradcheck", "no_grad"]
