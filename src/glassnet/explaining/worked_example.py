"""The 2-2-1 network that seed 003 walks through by hand.

W1 = [[0.2, 0.4], [0.1, 0.6]], b1 = [0.3, 0.5], ReLU; W2 = [[0.7, 0.9]], b2 = [0.2],
sigmoid; input x = [1, 2], target y = 1, binary cross-entropy.

The seed's own arithmetic slips: it computes z2 = 3.18 but then uses 2.73 (2.73 is
right: 0.7 * 1.3 + 0.9 * 1.8 + 0.2), writes sigma(2.73) = 0.938 and later 0.96
(0.938 is right), and backpropagates dL/dz2 = -0.039936 into the hidden layer after
finding -0.062 (the right value is -0.06123, i.e. a - y). glassnet computes every number
afresh; ``glassnet explain`` prints the whole walk.
"""

from __future__ import annotations

import numpy as np

from ..nn.layers import Dense
from ..nn.network import Sequential

W1 = [[0.2, 0.4], [0.1, 0.6]]
b1 = [0.3, 0.5]
W2 = [[0.7, 0.9]]
b2 = [0.2]
x = [1.0, 2.0]
y = 1.0


def seed003_network(dtype="float64") -> Sequential:
    """The seed 003 network with its hand-picked weights."""
    net = Sequential(
        Dense(2, 2, activation="relu"),
        Dense(2, 1, activation="sigmoid"),
        dtype=dtype,
        seed=0,
    )
    net.layers[0].W, net.layers[0].b = W1, b1
    net.layers[1].W, net.layers[1].b = W2, b2
    return net


def seed003_example(dtype="float64"):
    """(net, X, y) for the seed 003 walk: X of shape (1, 2), y of shape (1,)."""
    return (
        seed003_network(dtype),
        np.array([x], dtype=dtype),
        np.array([y], dtype=dtype),
    )
