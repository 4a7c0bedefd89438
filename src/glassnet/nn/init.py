"""Weight initialisers for a weight matrix W of shape (fan_out, fan_in).

Each keeps the variance of z = W a + b near that of a, so signals neither vanish nor
explode through depth:

- Glorot (Xavier) 2010, for sigmoid/tanh/softmax:  Var(w) = 2 / (fan_in + fan_out)
- He (Kaiming) 2015, for the ReLU family:          Var(w) = 2 / fan_in
- LeCun 1998:                                      Var(w) = 1 / fan_in

A uniform U(-l, l) has variance l^2 / 3, hence the limits sqrt(3 Var) below.

Examples
--------
>>> import numpy as np
>>> from glassnet.nn.init import get_initializer
>>> W = get_initializer("he_normal")((256, 784), np.random.default_rng(0))
>>> round(float(W.std() * np.sqrt(784 / 2)), 1)
1.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple[int, int], np.random.Generator], np.ndarray]


def he_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape, rng):
    fan_out, fan_in = shape
    limit = np.sqrt(6.0 / fan_in)  # sqrt(3 * 2 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def glorot_uniform(shape, rng):
    fan_out, fan_in = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))  # sqrt(3 * 2 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def lecun_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)


def zeros(shape, rng):
    return np.zeros(shape)


INITIALIZERS: dict[str, Initializer] = {
    f.__name__: f
    for f in (he_normal, he_uniform, glorot_normal, glorot_uniform, lecun_normal, zeros)
}
#: The default initialiser for a layer feeding each family of activation.
DEFAULT_FOR_FAMILY = {"he": "he_normal", "glorot": "glorot_uniform"}
_ALIASES = {
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
    "xavier_normal": "glorot_normal",
    "xavier_uniform": "glorot_uniform",
}


def get_initializer(name: str) -> Initializer:
    if not isinstance(name, str):
        raise TypeError(f"init must be an initialiser name, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in INITIALIZERS:
        raise ValueError(
            f"unknown init {name!r}; expected one of {sorted(INITIALIZERS)}"
        )
    return INITIALIZERS[key]
