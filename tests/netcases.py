"""Shared test helpers: valid random targets and the activation/loss pairings to test.

Importable from any test module (pyproject sets pythonpath = ["tests"]).
"""

from __future__ import annotations

import numpy as np


def random_targets(loss: str, n: int, width: int, rng: np.random.Generator):
    """Valid targets for ``loss`` on a network with ``width`` outputs."""
    if loss == "mse":
        return rng.normal(size=(n, width))
    if loss == "binary_crossentropy":
        return rng.uniform(size=(n, width))  # soft targets in [0, 1] exercise more
    if loss == "cross_entropy":
        return rng.integers(0, width, size=n)
    raise ValueError(loss)


#: The output activation each loss is normally paired with (the fused pairs), and the
#: unfused pairings that must work too.
LOSS_OUTPUTS = {
    "mse": ["identity", "sigmoid", "tanh"],
    "binary_crossentropy": ["sigmoid"],
    "cross_entropy": ["softmax"],
}
#: Every activation that can sit in a hidden layer and be trained by backprop.
HIDDEN_ACTIVATIONS = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "softplus",
]
