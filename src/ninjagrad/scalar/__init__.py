"""Scalar autograd (``Value``) and its tiny neural-network library (``ninjagrad.nn``).

Pure Python: no NumPy inside ``Value``, and importing this package imports neither torch, micrograd nor
matplotlib.
"""

from ninjagrad.scalar.engine import GRADIENT_RULES, Value, linear, sum_values
from ninjagrad.scalar.nn import (
    MLP,
    SGD,
    Layer,
    Module,
    Neuron,
    binary_cross_entropy,
    l2_penalty,
    max_margin_loss,
    mse_loss,
)

__all__ = [
    "GRADIENT_RULES",
    "MLP",
    "SGD",
    "Layer",
    "Module",
    "Neuron",
    "Value",
    "binary_cross_entropy",
    "l2_penalty",
    "linear",
    "max_margin_loss",
    "mse_loss",
    "sum_values",
]
