"""The tensor level of ninjagrad: NumPy arrays with reverse-mode autograd and PyTorch's names.

``Tensor`` and ``no_grad`` are in ``tensor.py`` (the node and the backward walk), every op's forward and
backward in ``ops.py``, the one ``unbroadcast`` in ``broadcast.py``, PyTorch's dtype promotion in
``dtypes.py``, its top-level functions in ``api.py`` (creation, ``cat``, ``histogram``) and ``random.py``
(NumPy-backed generators), and the fused losses and normalisations in ``functional.py`` (import it as
``import ninjagrad.functional as F``).
"""

from ninjagrad.tensors import functional
from ninjagrad.tensors.tensor import MaxResult, MinResult, Tensor, is_grad_enabled, no_grad

__all__ = ["MaxResult", "MinResult", "Tensor", "functional", "is_grad_enabled", "no_grad"]
