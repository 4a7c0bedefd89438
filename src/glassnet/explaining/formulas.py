"""The equations of each activation and loss, as templates over quantity symbols.

These are what a textbook writes (sigma(z) = 1 / (1 + e^-z), dL/da = (a - y) / (a(1 - a))).
The numbers themselves are always computed by glassnet's own Activation and Loss objects;
these templates only say how to write them down.

Examples
--------
>>> from glassnet.nn.activations import Sigmoid
>>> from glassnet.explaining.expr import Q
>>> activation_forward(Sigmoid(), Q("z"))
Frac(num=Num(value=1), den=Bin(op='+', left=Num(value=1), right=Pow(base=Sym(name='e', sub='', sup='', upright=True), exponent=Neg(arg=Q(key='z')))))
"""

from __future__ import annotations

from ..nn.activations import Activation
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, Loss, MSELoss
from .expr import Bin, Cases, Expr, Fn, Frac, Mean, Neg, Num, Paren, Pow, Sum, Sym, T

E = Sym("e", upright=True)
ONE, ZERO = Num(1), Num(0)

#: How each activation is named in headings.
DISPLAY_NAMES = {
    "identity": "identity",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "softplus": "softplus",
    "softmax": "softmax",
    "step": "step",
}

LOSS_NAMES = {
    "mse": "mean squared error",
    "binary_crossentropy": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
}


def output_symbol(k: int) -> Sym:
    """The symbol of layer k's output, a_k; a_0 is the input x."""
    return Sym("x") if k == 0 else Sym("a", str(k))


def display_name(activation: Activation) -> str:
    return DISPLAY_NAMES.get(activation.name, activation.name)


def loss_display_name(loss: Loss) -> str:
    name = LOSS_NAMES.get(loss.name, loss.name)
    return f"{name} (from logits)" if loss.from_logits else name


def _minus(a: Expr, b: Expr) -> Expr:
    return Bin("-", a, b)


def activation_forward(activation: Activation, z: Expr) -> Expr:
    """The right-hand side of a = g(z)."""
    name = activation.name
    if name == "identity":
        return z
    if name == "sigmoid":
        return Frac(ONE, Bin("+", ONE, Pow(E, Neg(z))))
    if name == "tanh":
        return Fn("tanh", (z,))
    if name == "relu":
        return Fn("max", (ZERO, z))
    if name == "leaky_relu":
        slope = Num(activation.negative_slope)
        return Cases(((z, Bin(">", z, ZERO)), (Bin("*", slope, z), None)))
    if name == "elu":
        alpha = Num(activation.alpha)
        return Cases(
            (
                (z, Bin(">", z, ZERO)),
                (Bin("*", alpha, Paren(_minus(Pow(E, z), ONE))), None),
            )
        )
    if name == "gelu":
        return Bin(
            "⊙",
            Frac(z, Num(2)),
            Paren(Bin("+", ONE, Fn("erf", (Frac(z, Sym("√2", upright=True)),)))),
        )
    if name == "softplus":
        return Fn("log", (Bin("+", ONE, Pow(E, z)),))
    if name == "softmax":
        return Frac(Pow(E, z), Sum(Pow(E, z), "j"))
    if name == "step":
        return Cases(((ONE, Bin(">=", z, ZERO)), (ZERO, None)))
    return Fn(name, (z,))


def activation_derivative(activation: Activation, z: Expr, a: Expr) -> Expr:
    """The right-hand side of da/dz = g'(z), elementwise (not for softmax)."""
    name = activation.name
    if name == "identity":
        return ONE
    if name == "sigmoid":
        return Bin("⊙", a, Paren(_minus(ONE, a)))
    if name == "tanh":
        return _minus(ONE, Pow(a, Num(2)))
    if name == "relu":
        return Cases(((ONE, Bin(">", z, ZERO)), (ZERO, None)))
    if name == "leaky_relu":
        return Cases(((ONE, Bin(">", z, ZERO)), (Num(activation.negative_slope), None)))
    if name == "elu":
        return Cases(
            ((ONE, Bin(">", z, ZERO)), (Bin("+", a, Num(activation.alpha)), None))
        )
    if name == "gelu":
        return Bin("+", Fn("Φ", (z,)), Bin("⊙", z, Fn("φ", (z,))))
    if name == "softplus":
        return Frac(ONE, Bin("+", ONE, Pow(E, Neg(z))))
    return Fn(f"{name}′", (z,))


def softmax_jacobian(a: Expr) -> Expr:
    """J = diag(a) - a a^T: da_i/dz_j = a_i (delta_ij - a_j)."""
    return _minus(Fn("diag", (a,)), Bin("*", a, T(a)))


def _output(loss: Loss, a: Expr) -> Expr:
    """The probabilities the loss compares with y: a, or sigma(a)/softmax(a) on logits."""
    if not loss.from_logits:
        return a
    return Fn("σ" if isinstance(loss, BinaryCrossEntropyLoss) else "softmax", (a,))


def loss_value(loss: Loss, a: Expr, y: Expr, count: int, n_samples: int) -> Expr:
    """L as a formula in a and y; ``count`` = how many terms the mean runs over."""
    p = _output(loss, a)
    if isinstance(loss, MSELoss):
        body = Pow(Paren(_minus(a, y)), Num(2))
        return body if count == 1 else Mean(body)
    if isinstance(loss, BinaryCrossEntropyLoss):
        body = Bin(
            "+",
            Bin("⊙", y, Fn("log", (p,))),
            Bin("⊙", Paren(_minus(ONE, y)), Fn("log", (_minus(ONE, p),))),
        )
        return Neg(Paren(body, square=True) if count == 1 else Mean(body))
    if isinstance(loss, CrossEntropyLoss):
        body = Sum(Bin("⊙", y, Fn("log", (p,))), "c")
        return Neg(body if n_samples == 1 else Mean(body, "s"))
    return Fn(loss.name, (a, y))


def loss_gradient(loss: Loss, a: Expr, y: Expr, count: Expr | None) -> Expr:
    """dL/da, as glassnet computes it; ``count`` is the N of the mean (None if 1)."""

    def over_count(expr: Expr) -> Expr:
        return expr if count is None else Bin("*", Frac(ONE, count), expr)

    if isinstance(loss, MSELoss):
        two = Num(2) if count is None else Frac(Num(2), count)
        return Bin("*", two, Paren(_minus(a, y)))
    if isinstance(loss, BinaryCrossEntropyLoss):
        if loss.from_logits:
            return fused_gradient(Fn("σ", (a,)), y, count)
        return over_count(Frac(_minus(a, y), Bin("⊙", a, Paren(_minus(ONE, a)))))
    if isinstance(loss, CrossEntropyLoss):
        if loss.from_logits:
            return fused_gradient(Fn("softmax", (a,)), y, count)
        return Neg(over_count(Frac(y, a)))
    return Fn(f"∂{loss.name}", (a, y))


def fused_gradient(a: Expr, y: Expr, count: Expr | None) -> Expr:
    """dL/dz = (a - y) / N: sigmoid with binary cross-entropy, softmax with
    cross-entropy."""
    difference = _minus(a, y)
    return difference if count is None else Frac(difference, count)


def fused_reason(loss: Loss, k: int) -> str:
    """Why dL/dz has the simple fused form, in words."""
    if isinstance(loss, BinaryCrossEntropyLoss):
        return (
            f"Why a{k} − y: the chain rule multiplies ∂L/∂a{k} = (a − y)/(a(1 − a)) by "
            f"the sigmoid's slope a(1 − a), which cancels exactly. glassnet uses this "
            f"fused form: the same number, and it stays finite when a{k} saturates at "
            f"0 or 1 (where the separate factors would divide 0 by 0)."
        )
    return (
        f"Why a{k} − y: ∂L/∂z_j = Σ_i (−y_i/a_i) a_i (δ_ij − a_j) = a_j Σ_i y_i − y_j "
        f"= a_j − y_j, because each target column sums to 1. glassnet uses this fused "
        f"form: the same number, finite even when some a_j rounds to 0."
    )
