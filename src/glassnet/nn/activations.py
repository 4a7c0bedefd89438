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

from .._fast import ops
from ..errors import StepGradientError
from ..validation import check_number
from .formula import (
    ONE,
    SQRT2,
    ZERO,
    Abs,
    Bin,
    Cases,
    E,
    Expr,
    Fn,
    Frac,
    Neg,
    Num,
    Paren,
    Pow,
    Sum,
    T,
    minus,
)

try:  # scipy's erf is vectorised C; math.erf is exact too, just slower.
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - exercised only without scipy
    _erf = np.vectorize(math.erf, otypes=[float])


class Activation:
    """Base class: a = g(z) elementwise, dL/dz = dL/da * g'(z)."""

    name = "activation"
    #: How the explanations name it in headings (default: ``name``).
    display_name = ""
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

    # -- the formula, written once: explain renders it, ONNX export translates it ------
    def formula(self, z: Expr) -> Expr:
        """The right-hand side of a = g(z), as an expression tree in ``z`` (the
        vocabulary of ``glassnet.nn.formula``): the equation the explanations show.

        A custom activation that writes no formula is shown as g(z) by its name.
        """
        return Fn(self.name, (z,))

    def stable_formula(self, z: Expr) -> Expr:
        """The same function as ``formula``, written the way ``forward`` computes it,
        so that no intermediate overflows for any finite z. The ONNX exporter writes
        this form wherever ONNX has no operator of its own for the activation."""
        return self.formula(z)

    def derivative_formula(self, z: Expr, a: Expr) -> Expr:
        """The right-hand side of da/dz, in z and the output a (in the form
        ``derivative`` computes: from a where that is cheaper)."""
        return Fn(f"{self.name}′", (z,))

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

    def formula(self, z):
        return z

    def derivative_formula(self, z, a):
        return ONE


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, Z, out=None):
        # 1 / (1 + e^-z) overflows e^-z for z << 0; for those z use the equal form
        # e^z / (1 + e^z), so exp only ever sees non-positive numbers.
        E = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))

    def derivative(self, Z, A):
        return A * (1.0 - A)  # sigma'(z) = sigma(z) (1 - sigma(z)), from the output

    def formula(self, z):
        return Frac(ONE, Bin("+", ONE, Pow(E, Neg(z))))  # 1 / (1 + e^-z)

    def stable_formula(self, z):
        e = Pow(E, Neg(Abs(z)))  # e^-|z| <= 1: the forward pass's two branches
        return Cases(
            (
                (Frac(ONE, Bin("+", ONE, e)), Bin(">=", z, ZERO)),
                (Frac(e, Bin("+", ONE, e)), None),
            )
        )

    def derivative_formula(self, z, a):
        return Bin("⊙", a, Paren(minus(ONE, a)))  # a (1 - a)


class Tanh(Activation):
    name = "tanh"

    def forward(self, Z, out=None):
        return np.tanh(Z, out=out)

    def derivative(self, Z, A):
        return 1.0 - A * A  # tanh'(z) = 1 - tanh(z)^2, from the output

    def formula(self, z):
        return Fn("tanh", (z,))

    def derivative_formula(self, z, a):
        return minus(ONE, Pow(a, Num(2)))  # 1 - a^2


@ops.stock_relu  # the Dense + ReLU loops stand in for these methods as written
class ReLU(Activation):
    name = "relu"
    display_name = "ReLU"
    init_family = "he"

    def forward(self, Z, out=None):
        return np.maximum(Z, 0.0, out=out)  # a = max(0, z)

    def derivative(self, Z, A):
        # 1 for z > 0, else 0; at the kink z = 0 we take 0, as PyTorch does.
        return (Z > 0).astype(Z.dtype)

    def formula(self, z):
        return Fn("max", (ZERO, z))

    def derivative_formula(self, z, a):
        return Cases(((ONE, Bin(">", z, ZERO)), (ZERO, None)))


class LeakyReLU(Activation):
    name = "leaky_relu"
    display_name = "leaky ReLU"
    init_family = "he"

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_number(negative_slope, "negative_slope")

    def forward(self, Z, out=None):
        return np.where(Z > 0, Z, self.negative_slope * Z)

    def derivative(self, Z, A):
        return np.where(Z > 0, 1.0, self.negative_slope).astype(Z.dtype)

    def formula(self, z):
        slope = Num(self.negative_slope)
        return Cases(((z, Bin(">", z, ZERO)), (Bin("*", slope, z), None)))

    def derivative_formula(self, z, a):
        return Cases(((ONE, Bin(">", z, ZERO)), (Num(self.negative_slope), None)))

    def config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"
    display_name = "ELU"
    init_family = "he"

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_number(alpha, "alpha")

    def forward(self, Z, out=None):
        # expm1 keeps precision near 0; min(z, 0) keeps exp from overflowing for z > 0.
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0.0)))

    def derivative(self, Z, A):
        return np.where(Z > 0, 1.0, A + self.alpha).astype(
            Z.dtype
        )  # a + alpha = alpha e^z

    def formula(self, z):
        return self._piecewise(z, Pow(E, z))  # z if z > 0 else alpha (e^z - 1)

    def stable_formula(self, z):
        return self._piecewise(z, Pow(E, Fn("min", (z, ZERO))))  # e^min(z, 0) <= 1

    def _piecewise(self, z, exp_z):
        negative = Bin("*", Num(self.alpha), Paren(minus(exp_z, ONE)))
        return Cases(((z, Bin(">", z, ZERO)), (negative, None)))

    def derivative_formula(self, z, a):
        return Cases(((ONE, Bin(">", z, ZERO)), (Bin("+", a, Num(self.alpha)), None)))

    def config(self):
        return {"alpha": self.alpha}


class GELU(Activation):
    """Gaussian error linear unit, a = z Phi(z), exact (erf) as PyTorch's default."""

    name = "gelu"
    display_name = "GELU"
    init_family = "he"

    def forward(self, Z, out=None):
        A = 0.5 * Z * (1.0 + _erf(Z / math.sqrt(2.0)))  # z Phi(z)
        return A.astype(Z.dtype, copy=False)

    def derivative(self, Z, A):
        cdf = 0.5 * (1.0 + _erf(Z / math.sqrt(2.0)))  # Phi(z)
        pdf = np.exp(-0.5 * Z * Z) / math.sqrt(2.0 * math.pi)  # phi(z)
        return (cdf + Z * pdf).astype(Z.dtype, copy=False)  # (z Phi)' = Phi + z phi

    def formula(self, z):
        erf = Fn("erf", (Frac(z, SQRT2),))
        return Bin("⊙", Frac(z, Num(2)), Paren(Bin("+", ONE, erf)))  # z/2 (1 + erf)

    def derivative_formula(self, z, a):
        return Bin("+", Fn("Φ", (z,)), Bin("⊙", z, Fn("φ", (z,))))  # Phi + z phi


class Softplus(Activation):
    name = "softplus"

    def forward(self, Z, out=None):
        # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): exp never sees a positive number.
        return np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))

    def derivative(self, Z, A):
        return Sigmoid().forward(Z)  # softplus'(z) = sigma(z)

    def formula(self, z):
        return Fn("log", (Bin("+", ONE, Pow(E, z)),))

    def stable_formula(self, z):
        # max(z, 0) + log(1 + e^-|z|), as forward: exp never sees a positive number
        tail = Fn("log", (Bin("+", ONE, Pow(E, Neg(Abs(z)))),))
        return Bin("+", Fn("max", (z, ZERO)), tail)

    def derivative_formula(self, z, a):
        return Frac(ONE, Bin("+", ONE, Pow(E, Neg(z))))  # sigma(z)


class Softmax(Activation):
    """a_i = e^(z_i) / sum_j e^(z_j), over each row."""

    name = "softmax"
    elementwise = False

    @ops.softmax_rows  # the shift and the division: compiled row loops
    def forward(self, Z, out=None):  # Z: (n, k)
        # Subtracting the row max changes nothing mathematically (it cancels in the
        # ratio) but keeps every exponent <= 0, so exp never overflows.
        E = np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)  # z - max    (n, k)
        np.exp(E, out=E)  # e^(z - max)                                        (n, k)
        E /= E.sum(axis=1, keepdims=True)  # a_i = e^(z_i - max) / sum_j e^(z_j - max)
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

    def formula(self, z):
        return Frac(Pow(E, z), Sum(Pow(E, z), "j"))

    def derivative_formula(self, z, a):
        # One sample's Jacobian, a a column: J = diag(a) - a a^T,
        # da_i/dz_j = a_i (delta_ij - a_j).
        return minus(Fn("diag", (a,)), Bin("*", a, T(a)))


class Step(Activation):
    """Heaviside step, a = 1 if z >= 0 else 0: the perceptron's activation."""

    name = "step"

    def forward(self, Z, out=None):
        return (Z >= 0).astype(Z.dtype)

    def derivative(self, Z, A):
        raise StepGradientError()

    def backward(self, dA, Z, A, out=None):
        raise StepGradientError()

    def formula(self, z):
        return Cases(((ONE, Bin(">=", z, ZERO)), (ZERO, None)))

    def derivative_formula(self, z, a):
        raise StepGradientError()


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
