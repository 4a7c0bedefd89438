"""The single neuron of seeds 002 and 004, and Rosenblatt's perceptron that learns one.

Neuron:      z = w_1 x_1 + ... + w_n x_n + b,   a = g(z)
Perceptron:  y_hat = step(w . x + b),   w <- w + lr (y - y_hat) x,   b <- b + lr (y - y_hat)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..validation import (
    as_float_array,
    check_input_matrix,
    check_number,
    check_positive_int,
    check_same_length,
)
from .activations import get_activation


@dataclass(frozen=True)
class NeuronOutput:
    """One neuron's computation on one input: the terms, the sum z, the output a."""

    x: np.ndarray
    w: np.ndarray
    b: float
    z: float
    a: float
    activation: str

    def __float__(self) -> float:
        return self.a

    def __str__(self) -> str:
        terms = " + ".join(f"{w:g}*{x:g}" for w, x in zip(self.w, self.x, strict=True))
        return (
            f"z = {terms} + {self.b:g} = {self.z:.6g}\n"
            f"a = {self.activation}(z) = {self.a:.6g}"
        )


class Neuron:
    """A single neuron: z = w . x + b, a = g(z).

    Examples
    --------
    >>> import glassnet as gn
    >>> out = gn.Neuron([0.2, 0.4], 0.3, "relu").forward([1, 2])
    >>> print(out)
    z = 0.2*1 + 0.4*2 + 0.3 = 1.3
    a = relu(z) = 1.3
    """

    def __init__(self, w, b=0.0, activation="sigmoid"):
        self.w = as_float_array(w, "w", np.float64, ndim=1)
        self.b = check_number(b, "b")
        self.activation = get_activation(activation)

    def weighted_sum(self, x) -> float:
        x = self._check_x(x)
        return float(np.dot(self.w, x) + self.b)  # z = sum_i w_i x_i + b

    def forward(self, x) -> NeuronOutput:
        """The neuron on one input x of shape (n_features,): returns z, a and the terms."""
        x = self._check_x(x)
        z = self.weighted_sum(x)
        a = float(self.activation.forward(np.array([[z]]))[0, 0])  # a = g(z)
        return NeuronOutput(
            x=x, w=self.w, b=self.b, z=z, a=a, activation=self.activation.name
        )

    def _check_x(self, x):
        x = as_float_array(x, "x", np.float64, ndim=1)
        if x.shape != self.w.shape:
            raise ValueError(f"x must have {self.w.size} features like w, got {x.size}")
        return x

    def __repr__(self):
        return f"Neuron(w={self.w.tolist()}, b={self.b:g}, activation={self.activation.name!r})"


class NotLinearlySeparableWarning(UserWarning):
    """The perceptron did not find a separating line (hyperplane)."""


class Perceptron:
    """Rosenblatt's perceptron: a step-activated neuron trained by the perceptron rule.

    For each sample in order: y_hat = step(w . x + b), then
    w <- w + lr (y - y_hat) x and b <- b + lr (y - y_hat). Labels are 0/1.

    On linearly separable data the rule stops making mistakes after finitely many
    updates (Novikoff 1962), so an epoch without mistakes ends training. On data that is
    not separable it never stops: if the weights ever return to a state seen at the end
    of an earlier epoch, the (deterministic) rule is in a cycle that repeats forever, which
    proves the data is not linearly separable; ``fit`` then stops and says so.

    Examples
    --------
    >>> import glassnet as gn
    >>> p = gn.Perceptron(2).fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1])  # AND
    >>> p.predict([[0, 0], [0, 1], [1, 0], [1, 1]]).tolist(), p.converged_
    ([0, 0, 0, 1], True)
    """

    def __init__(self, n_features: int, lr: float = 1.0, max_epochs: int = 100):
        self.n_features = check_positive_int(n_features, "n_features")
        self.lr = check_number(lr, "lr", low=0.0, low_open=True)
        self.max_epochs = check_positive_int(max_epochs, "max_epochs")
        self.w = np.zeros(self.n_features)
        self.b = 0.0

    def predict(self, X) -> np.ndarray:
        X = check_input_matrix(X, self.n_features, np.float64)
        return (X @ self.w + self.b >= 0).astype(np.int64)  # step(w . x + b)

    def fit(self, X, y) -> Perceptron:
        X = check_input_matrix(X, self.n_features, np.float64)
        check_same_length(X, y)
        y = as_float_array(y, "y", np.float64, ndim=1)
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(
                f"Perceptron labels must be 0 or 1, got {np.unique(y)[:5]}"
            )
        self.w = np.zeros(self.n_features)
        self.b = 0.0
        self.mistakes_per_epoch_: list[int] = []
        self.converged_ = False
        self.separable_ = None  # True, False (proved by a cycle) or None (unknown)
        seen = {self._state()}
        for epoch in range(1, self.max_epochs + 1):
            mistakes = 0
            for x_i, y_i in zip(X, y, strict=True):
                y_hat = 1.0 if x_i @ self.w + self.b >= 0 else 0.0  # step(w . x + b)
                if y_hat != y_i:
                    self.w += self.lr * (y_i - y_hat) * x_i  # w <- w + lr (y - y_hat) x
                    self.b += self.lr * (y_i - y_hat)  # b <- b + lr (y - y_hat)
                    mistakes += 1
            self.mistakes_per_epoch_.append(mistakes)
            self.n_epochs_ = epoch
            if mistakes == 0:
                self.converged_ = self.separable_ = True
                self.message_ = (
                    f"converged after {epoch} epoch(s): the data is linearly separable"
                )
                return self
            state = self._state()
            if state in seen:
                self.separable_ = False
                self.message_ = (
                    f"the data is not linearly separable: after epoch {epoch} the weights "
                    "returned to an earlier state, so the perceptron rule would cycle "
                    "forever. Use a network with a hidden layer (gn.Sequential) instead."
                )
                warnings.warn(self.message_, NotLinearlySeparableWarning, stacklevel=2)
                return self
            seen.add(state)
        self.message_ = (
            f"did not converge in max_epochs={self.max_epochs} epochs "
            f"({self.mistakes_per_epoch_[-1]} mistakes in the last): the data is probably "
            "not linearly separable (or needs more epochs)"
        )
        warnings.warn(self.message_, NotLinearlySeparableWarning, stacklevel=2)
        return self

    def _state(self) -> bytes:
        return self.w.tobytes() + np.float64(self.b).tobytes()

    def __repr__(self):
        return f"Perceptron(n_features={self.n_features}, lr={self.lr:g}, max_epochs={self.max_epochs})"
