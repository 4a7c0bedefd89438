"""Optimizers (the update theta <- theta - step, for every parameter at once) and
learning-rate schedules.

>>> import numpy as np
>>> import glassnet as gn
>>> theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
>>> gn.SGD(lr=0.1).step(theta, g); theta          # theta - lr g
array([ 0.95, -2.05])
"""

from .optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    clip_by_global_norm,
    get_optimizer,
)
from .schedules import (
    CosineLR,
    ExponentialLR,
    Monitor,
    ReduceLROnPlateau,
    Schedule,
    StepLR,
)

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "CosineLR",
    "ExponentialLR",
    "Monitor",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "Schedule",
    "StepLR",
    "clip_by_global_norm",
    "get_optimizer",
]
