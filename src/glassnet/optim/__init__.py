"""Optimizers (the update theta <- theta - step, for every parameter at once) and
learning-rate schedules.

One module per optimizer, its update written as in its paper: ``sgd``, ``adam``
(Adam, AdamW), ``rmsprop``; the base class and gradient clipping in ``base``, the
names in ``registry``.

>>> import numpy as np
>>> import glassnet as gn
>>> theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
>>> gn.SGD(lr=0.1).step(theta, g); theta          # theta - lr g
array([ 0.95, -2.05])
"""

from .adam import Adam, AdamW
from .base import Optimizer, clip_by_global_norm
from .registry import OPTIMIZERS, get_optimizer
from .rmsprop import RMSprop
from .schedules import (
    CosineLR,
    ExponentialLR,
    Monitor,
    ReduceLROnPlateau,
    Schedule,
    StepLR,
)
from .sgd import SGD

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
