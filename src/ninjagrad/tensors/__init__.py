"""The tensor level of ninjagrad: NumPy arrays with reverse-mode autograd and PyTorch's names.

``Tensor`` and ``no_grad`` are in ``tensor.py`` (the node and the backward walk), every op's forward and
backward in ``ops.py``, the one ``unbroadcast`` in ``broadcast.py``, and the fused losses and normalisations
in ``functional.py`` (import it as ``import ninjagrad.functional as F``).
"""

from ninjagrad.tensors import functional
from ninjagrad.tensors.tensor import MaxResult, Tensor, is_grad_enabled, no_grad

__all__ = ["MaxResult", "Tensor", "functional", "is_grad_enabled", "no_grad"]
