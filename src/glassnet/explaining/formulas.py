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

import numpy as np

from ..nn.activations import Activation
from ..nn.formula import ONE, E, minus
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, Loss, MSELoss
from .expr import Abs, Bin, Expr, Fn, Frac, Mean, Neg, Num, Paren, Pow, Sum, Sym

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


#: The largest x whose e^x a float64 holds: past it the textbook forms overflow.
EXP_LIMIT = float(np.log(np.finfo(np.float64).max))


def stable_activation_forward(activation: Activation, z: Expr) -> Expr | None:
    """The right-hand side of a = g(z) as ``forward`` computes it, where it differs
    from the textbook form: softmax as e^(z − max z) / Σ e^(z − max z), the others their
    own ``stable_formula``. None when the two forms are one."""
    if activation.name == "softmax":
        shifted = minus(z, Fn("max", (z,)))  # e^(...) brackets its exponent itself
        return Frac(Pow(E, shifted), Sum(Pow(E, shifted), "j"))
    stable = activation.stable_formula(z)
    return None if stable == activation.formula(z) else stable


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


def stable_loss_value(loss: Loss, z: Expr, y: Expr, count: int, n_samples: int) -> Expr:
    """L as glassnet computes it from the logits z when the loss fuses with the output
    activation: max(z, 0) − z y + log(1 + e^(−|z|)) for sigmoid with binary
    cross-entropy, −Σ y (z − max z − log Σ e^(z − max z)) (the stable log-sum-exp) for
    softmax with cross-entropy. No exponent is positive and no log is of 0."""
    if isinstance(loss, BinaryCrossEntropyLoss):
        body = Bin(
            "+",
            minus(Fn("max", (z, Num(0))), Bin("⊙", z, y)),
            Fn("log", (Bin("+", ONE, Pow(E, Neg(Abs(z)))),)),
        )
        return body if count == 1 else Mean(body)
    shifted = minus(z, Fn("max", (z,)))
    log_sum = Fn("log", (Sum(Pow(E, shifted), "c"),))
    body = Sum(Bin("⊙", y, Paren(minus(shifted, log_sum))), "c")
    return Neg(body if n_samples == 1 else Mean(body, "s"))


def textbook_loss_holds(loss: Loss, A, Y, value: float) -> bool:
    """Whether ``loss_value``'s form, evaluated in floating point on the outputs A,
    gives the value glassnet computed (in the stable form) to within rounding: not
    where a log of 0 (a rounded to 0 or 1) makes it inf or nan."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(loss, BinaryCrossEntropyLoss):
            textbook = -(Y * np.log(A) + (1.0 - Y) * np.log(1.0 - A)).mean()
        else:
            textbook = -(Y * np.log(A)).sum(axis=1).mean()
    tolerance = np.sqrt(np.finfo(A.dtype).eps) * max(abs(float(value)), 1.0)
    return bool(np.isfinite(textbook) and abs(textbook - value) <= tolerance)


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
