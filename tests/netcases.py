"""Shared test helpers: valid random targets, and the activations, losses and
optimizers to test, taken from the library's registries.

Importable from any test module (pyproject sets pythonpath = ["tests"]). Every list
of names here is built from ``ACTIVATIONS``, ``LOSSES`` or ``OPTIMIZERS``, so an
activation, loss or optimizer added to the library is tested without editing the
tests; only what cannot apply is left out, by name, with the reason beside it.
"""

from __future__ import annotations

import numpy as np

from glassnet.nn.activations import ACTIVATIONS
from glassnet.nn.losses import LOSSES
from glassnet.optim import OPTIMIZERS


def random_targets(loss: str, n: int, width: int, rng: np.random.Generator):
    """Valid targets for ``loss`` on a network with ``width`` outputs."""
    if loss == "mse":
        return rng.normal(size=(n, width))
    if loss == "binary_crossentropy":
        return rng.uniform(size=(n, width))  # soft targets in [0, 1] exercise more
    if loss == "cross_entropy":
        return rng.integers(0, width, size=n)
    raise ValueError(loss)


#: Every registered activation name.
ALL_ACTIVATIONS = list(ACTIVATIONS)

#: Every activation backprop can train through: all but "step", whose derivative is
#: 0 almost everywhere (its backward raises StepGradientError by design).
TRAINABLE_ACTIVATIONS = [name for name in ACTIVATIONS if name != "step"]

#: Every trainable activation with an elementwise derivative g'(z), as a hidden
#: layer uses it: all but "softmax", whose derivative is a Jacobian per row (it is
#: tested as an output, and through its Jacobian-vector product).
HIDDEN_ACTIVATIONS = [name for name in TRAINABLE_ACTIVATIONS if name != "softmax"]

#: Every registered loss name.
LOSS_NAMES = list(LOSSES)

#: Every registered optimizer name.
OPTIMIZER_NAMES = list(OPTIMIZERS)

#: The output activation each loss is normally paired with (the fused pairs), and the
#: unfused pairings that must work too. Which outputs suit a loss is knowledge the
#: registry does not hold, so each loss is listed here; a loss added to LOSSES without
#: an entry stops the import of this module with its name.
_OUTPUTS_FOR = {
    "mse": ["identity", "sigmoid", "tanh"],
    "binary_crossentropy": ["sigmoid"],
    "cross_entropy": ["softmax"],
}
_missing = sorted(set(LOSSES) - set(_OUTPUTS_FOR))
if _missing:
    raise LookupError(f"netcases: no output activations listed for losses {_missing}")
LOSS_OUTPUTS = {name: _OUTPUTS_FOR[name] for name in LOSSES}
