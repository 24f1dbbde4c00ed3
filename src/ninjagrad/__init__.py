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

# Imported on first use (PEP 562), so that `import ninjagrad` is instant: the `ninjagrad` command starts
# without NumPy, and a Ctrl-C while it starts up gets the command's own exit, not a traceback.
_FROM = {
    "ninjagrad.check": ("compare", "gradcheck"),
    "ninjagrad.scalar": ("Value",),
    "ninjagrad.tensors": ("Tensor", "is_grad_enabled", "no_grad"),
    "ninjagrad.tensors.api": (
        "abs", "arange", "cat", "exp", "full", "histogram", "linspace", "log", "ones", "ones_like", "relu",
        "sigmoid", "softmax", "sqrt", "stack", "tanh", "tensor", "tril", "unbind", "where", "zeros",
        "zeros_like",
    ),
    "ninjagrad.tensors.dtypes": ("float32", "float64", "int32", "int64"),
    "ninjagrad.tensors.random": ("Generator", "manual_seed", "multinomial", "rand", "randint", "randn"),
    "ninjagrad.viz": ("draw_dot",),
}  # fmt: skip
# torch's other names for the same things: torch.bool, torch.float (float32), torch.int (int32) ...
_ALIASES = {
    "bool": ("ninjagrad.tensors.dtypes", "bool_"),
    "float": ("ninjagrad.tensors.dtypes", "float32"),
    "double": ("ninjagrad.tensors.dtypes", "float64"),
    "long": ("ninjagrad.tensors.dtypes", "int64"),
    "int": ("ninjagrad.tensors.dtypes", "int32"),
}
_WHERE = {name: (module, name) for module, names in _FROM.items() for name in names} | _ALIASES


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'ninjagrad' has no attribute {name!r}")
    import importlib

    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once: the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
