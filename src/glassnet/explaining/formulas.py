"""The equations of each activation and loss, as templates over quantity symbols.

These are what a textbook writes (sigma(z) = 1 / (1 + e^-z), dL/da = (a - y) / (a(1 - a))).
The numbers themselves are always computed by glassnet's own Activation and Loss objects;
these templates only say how to write them down. An activation writes its own formula
(``Activation.formula``, the same tree the ONNX exporter translates); the losses' are here,
as the explanation lays them out (a mean over the entries or over the samples).

Examples
--------
>>> from glassnet.nn.activations import Sigmoid
>>> from glassnet.explaining.expr import Q
>>> activation_forward(Sigmoid(), Q("z"))
Frac(num=Num(value=1), den=Bin(op='+', left=Num(value=1), right=Pow(base=Sym(name='e', sub='', sup='', upright=True), exponent=Neg(arg=Q(key='z')))))
"""

from __future__ import annotations

from ..nn.activations import Activation
from ..nn.formula import ONE, minus
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, Loss, MSELoss
from .expr import Bin, Expr, Fn, Frac, Mean, Neg, Num, Paren, Pow, Sum, Sym

LOSS_NAMES = {
    "mse": "mean squared error",
    "binary_crossentropy": "binary cross-entropy",
    "cross_entropy": "cross-entropy",
}


def output_symbol(k: int) -> Sym:
    """The symbol of layer k's output, a_k; a_0 is the input x."""
    return Sym("x") if k == 0 else Sym("a", str(k))


def display_name(activation: Activation) -> str:
    """How headings name the activation: "leaky ReLU" for leaky_relu."""
    return getattr(activation, "display_name", "") or activation.name


def loss_display_name(loss: Loss) -> str:
    name = LOSS_NAMES.get(loss.name, loss.name)
    return f"{name} (from logits)" if loss.from_logits else name


def activation_forward(activation: Activation, z: Expr) -> Expr:
    """The right-hand side of a = g(z): the activation's own formula."""
    return activation.formula(z)


def activation_derivative(activation: Activation, z: Expr, a: Expr) -> Expr:
    """The right-hand side of da/dz = g'(z): elementwise, or for softmax one sample's
    Jacobian J = diag(a) - a a^T."""
    return activation.derivative_formula(z, a)


def _output(loss: Loss, a: Expr) -> Expr:
    """The probabilities the loss compares with y: a, or sigma(a)/softmax(a) on logits."""
    if not loss.from_logits:
        return a
    return Fn("σ" if isinstance(loss, BinaryCrossEntropyLoss) else "softmax", (a,))


def loss_value(loss: Loss, a: Expr, y: Expr, count: int, n_samples: int) -> Expr:
    """L as a formula in a and y; ``count`` = how many terms the mean runs over."""
    p = _output(loss, a)
    if isinstance(loss, MSELoss):
        body = Pow(Paren(minus(a, y)), Num(2))
        return body if count == 1 else Mean(body)
    if isinstance(loss, BinaryCrossEntropyLoss):
        body = Bin(
            "+",
            Bin("⊙", y, Fn("log", (p,))),
            Bin("⊙", Paren(minus(ONE, y)), Fn("log", (minus(ONE, p),))),
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
        return Bin("*", two, Paren(minus(a, y)))
    if isinstance(loss, BinaryCrossEntropyLoss):
        if loss.from_logits:
            return fused_gradient(Fn("σ", (a,)), y, count)
        return over_count(Frac(minus(a, y), Bin("⊙", a, Paren(minus(ONE, a)))))
    if isinstance(loss, CrossEntropyLoss):
        if loss.from_logits:
            return fused_gradient(Fn("softmax", (a,)), y, count)
        return Neg(over_count(Frac(y, a)))
    return Fn(f"∂{loss.name}", (a, y))


def fused_gradient(a: Expr, y: Expr, count: Expr | None) -> Expr:
    """dL/dz = (a - y) / N: sigmoid with binary cross-entropy, softmax with
    cross-entropy."""
    difference = minus(a, y)
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
