"""Activation functions a = g(z) and their derivatives, side by side.

Each activation is a small object with

- ``forward(Z) -> A``: the function, applied to a batch ``Z`` of shape (n, k);
- ``derivative(Z, A) -> da/dz``: the elementwise derivative, written in its cheapest
  stable form (from the output ``A`` where that is cheaper, e.g. sigmoid' = a(1 - a));
- ``backward(dA, Z, A) -> dZ``: the chain rule dL/dz = dL/da * da/dz.

``forward`` and ``backward`` take an optional ``out``: a preallocated array of Z's
shape that the result may be written into (the training loop reuses its arrays from
step to step). Activations that cannot work in place ignore it, so callers always use
the returned array.

Softmax is the one activation that mixes a row's entries, so its ``backward`` is a
Jacobian-vector product rather than an elementwise product.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> gn.get_activation("sigmoid").forward(np.array([[0.0, 2.0]]))
array([[0.5       , 0.88079708]])
"""

from __future__ import annotations

import math

import numpy as np

from .._fast import kernels
from ..errors import StepGradientError

try:  # scipy's erf is vectorised C; math.erf is exact too, just slower.
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only without scipy
    _erf = np.vectorize(math.erf, otypes=[float])


class Activation:
    """Base class: a = g(z) elementwise, dL/dz = dL/da * g'(z)."""

    name = "activation"
    #: Whether a_j depends on z_j only (all but softmax).
    elementwise = True
    #: Which weight initialiser suits a layer feeding this activation.
    init_family = "glorot"

    def forward(self, Z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, Z: np.ndarray, A: np.ndarray) -> np.ndarray:
        """da/dz elementwise, same shape as Z."""
        raise NotImplementedError

    def backward(self, dA, Z, A, out: np.ndarray | None = None) -> np.ndarray:
        return np.multiply(dA, self.derivative(Z, A), out=out)  # dL/dz = dL/da * da/dz

    def formula(self) -> str:
        """The defining equation, in plain text."""
        return ""

    def derivative_formula(self) -> str:
        return ""

    def config(self) -> dict:
        """Constructor arguments, for saving and printing."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.config().items()))))


class Identity(Activation):
    name = "identity"

    def forward(self, Z, out=None):
        return Z  # a = z (no copy: out is not needed)

    def derivative(self, Z, A):
        return np.ones_like(Z)  # a' = 1

    def backward(self, dA, Z, A, out=None):
        return dA

    def formula(self):
        return "a = z"

    def derivative_formula(self):
        return "da/dz = 1"


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, Z, out=None):
        # 1 / (1 + e^-z) overflows e^-z for z << 0; for those z use the equal form
        # e^z / (1 + e^z), so exp only ever sees non-positive numbers.
        E = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))

    def derivative(self, Z, A):
        return A * (1.0 - A)  # sigma'(z) = sigma(z) (1 - sigma(z)), from the output

    def formula(self):
        return "a = 1 / (1 + e^(-z))"

    def derivative_formula(self):
        return "da/dz = a (1 - a)"


class Tanh(Activation):
    name = "tanh"

    def forward(self, Z, out=None):
        return np.tanh(Z, out=out)

    def derivative(self, Z, A):
        return 1.0 - A * A  # tanh'(z) = 1 - tanh(z)^2, from the output

    def formula(self):
        return "a = tanh(z)"

    def derivative_formula(self):
        return "da/dz = 1 - a^2"


class ReLU(Activation):
    name = "relu"
    init_family = "he"

    def forward(self, Z, out=None):
        return np.maximum(Z, 0.0, out=out)  # a = max(0, z)

    def derivative(self, Z, A):
        # 1 for z > 0, else 0; at the kink z = 0 we take 0, as PyTorch does.
        return (Z > 0).astype(Z.dtype)

    def formula(self):
        return "a = max(0, z)"

    def derivative_formula(self):
        return "da/dz = 1 if z > 0 else 0"


class LeakyReLU(Activation):
    name = "leaky_relu"
    init_family = "he"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = float(negative_slope)

    def forward(self, Z, out=None):
        return np.where(Z > 0, Z, self.negative_slope * Z)

    def derivative(self, Z, A):
        return np.where(Z > 0, 1.0, self.negative_slope).astype(Z.dtype)

    def formula(self):
        return f"a = z if z > 0 else {self.negative_slope:g} z"

    def derivative_formula(self):
        return f"da/dz = 1 if z > 0 else {self.negative_slope:g}"

    def config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"
    init_family = "he"

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def forward(self, Z, out=None):
        # expm1 keeps precision near 0; min(z, 0) keeps exp from overflowing for z > 0.
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0.0)))

    def derivative(self, Z, A):
        return np.where(Z > 0, 1.0, A + self.alpha).astype(
            Z.dtype
        )  # a + alpha = alpha e^z

    def formula(self):
        return f"a = z if z > 0 else {self.alpha:g} (e^z - 1)"

    def derivative_formula(self):
        return f"da/dz = 1 if z > 0 else a + {self.alpha:g}"

    def config(self):
        return {"alpha": self.alpha}


class GELU(Activation):
    """Gaussian error linear unit, a = z Phi(z), exact (erf) as PyTorch's default."""

    name = "gelu"
    init_family = "he"

    def forward(self, Z, out=None):
        A = 0.5 * Z * (1.0 + _erf(Z / math.sqrt(2.0)))  # z Phi(z)
        return A.astype(Z.dtype, copy=False)

    def derivative(self, Z, A):
        cdf = 0.5 * (1.0 + _erf(Z / math.sqrt(2.0)))  # Phi(z)
        pdf = np.exp(-0.5 * Z * Z) / math.sqrt(2.0 * math.pi)  # phi(z)
        return (cdf + Z * pdf).astype(Z.dtype, copy=False)  # (z Phi)' = Phi + z phi

    def formula(self):
        return "a = z Phi(z) = z (1 + erf(z / sqrt 2)) / 2"

    def derivative_formula(self):
        return "da/dz = Phi(z) + z phi(z)"


class Softplus(Activation):
    name = "softplus"

    def forward(self, Z, out=None):
        # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): exp never sees a positive number.
        return np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))

    def derivative(self, Z, A):
        return Sigmoid().forward(Z)  # softplus'(z) = sigma(z)

    def formula(self):
        return "a = log(1 + e^z)"

    def derivative_formula(self):
        return "da/dz = 1 / (1 + e^(-z))"


class Softmax(Activation):
    """a_i = e^(z_i) / sum_j e^(z_j), over each row."""

    name = "softmax"
    elementwise = False

    def forward(self, Z, out=None):
        # Subtracting the row max changes nothing mathematically (it cancels in the
        # ratio) but keeps every exponent <= 0, so exp never overflows.
        fused = kernels.for_rows(Z) if out is None else kernels.for_rows(Z, out)
        if fused is None:
            E = np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
        else:  # the same shift, one pass per row (glassnet._fast.kernels)
            E = np.empty_like(Z) if out is None else out
            fused.shift_rows(Z, E)
        np.exp(E, out=E)  # e^(z - max)
        # a_i = e^(z_i - max) / sum_j e^(z_j - max)
        if fused is None:
            E /= E.sum(axis=1, keepdims=True)
        else:
            fused.normalise_rows(E, E.dtype.type(0))  # the same division, per row
        return E

    def derivative(self, Z, A):
        raise TypeError(
            "softmax has no elementwise derivative: each a_i depends on every z_j. "
            "Use backward(dA, Z, A), the Jacobian-vector product."
        )

    def backward(self, dA, Z, A, out=None):
        # Jacobian da_i/dz_j = a_i (delta_ij - a_j), so
        # dL/dz_j = a_j (dL/da_j - sum_i dL/da_i a_i).
        return A * (dA - (dA * A).sum(axis=1, keepdims=True))

    def formula(self):
        return "a_i = e^(z_i) / sum_j e^(z_j)"

    def derivative_formula(self):
        return "da_i/dz_j = a_i (delta_ij - a_j)"


class Step(Activation):
    """Heaviside step, a = 1 if z >= 0 else 0: the perceptron's activation."""

    name = "step"

    def forward(self, Z, out=None):
        return (Z >= 0).astype(Z.dtype)

    def derivative(self, Z, A):
        raise StepGradientError()

    def backward(self, dA, Z, A, out=None):
        raise StepGradientError()

    def formula(self):
        return "a = 1 if z >= 0 else 0"

    def derivative_formula(self):
        return "da/dz = 0 almost everywhere (no useful gradient)"


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (
        Identity,
        Sigmoid,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        GELU,
        Softplus,
        Softmax,
        Step,
    )
}
_ALIASES = {"linear": "identity", "none": "identity", "logistic": "sigmoid"}


def get_activation(activation: str | Activation | None) -> Activation:
    """An Activation from a name (see ``ACTIVATIONS``), an instance, or None (identity)."""
    if activation is None:
        return Identity()
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = _ALIASES.get(activation.lower(), activation.lower())
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]()
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}"
        )
    raise TypeError(
        f"activation must be a name or a glassnet Activation, got {type(activation).__name__}"
    )
