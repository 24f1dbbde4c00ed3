"""``from ninjagrad.nn import MLP`` works as ``from micrograd.nn import MLP`` does.

The code lives in ``ninjagrad.scalar.nn``; this module only re-exports it under micrograd's name.
"""

from ninjagrad.scalar.engine import Value
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
    "MLP",
    "SGD",
    "Layer",
    "Module",
    "Neuron",
    "Value",
    "binary_cross_entropy",
    "l2_penalty",
    "max_margin_loss",
    "mse_loss",
]
