"""ninjagrad: learn, see and trust backpropagation.

The public surface is small on purpose:

- :class:`Value`: scalar autograd (``ninjagrad.scalar``; its tiny NN library is ``ninjagrad.nn``);
- :class:`Tensor`: NumPy-backed autograd with PyTorch-like names (``ninjagrad.functional`` as ``F``);
- :func:`draw_dot`: a graphviz drawing of either kind of graph;
- :func:`no_grad`: a context in which tensor operations record no graph.
"""

__version__ = "0.1.0"
