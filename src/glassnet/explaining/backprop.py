"""The backward half of the explain walk: backpropagation, step by step.

Mirrors ``Sequential._backward`` call for call: the loss's dL/dA (or the fused dL/dZ),
then for each layer from the last, ``activation.backward`` and ``backward_from_z`` on
the very arrays the walk recorded, so every gradient is bitwise the one training uses.
Alongside, it records what a teacher writes: the activation's slope (the softmax's
Jacobian), the chain rule, and the weight, bias and input gradients.
"""

from __future__ import annotations

import numpy as np

from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
from . import formulas as F
from .expr import Bin, Fn, Partial, Q, Sum, Sym, Symbolic, T

#: Activations whose slope is never 0 in exact arithmetic, only once a rounds to a limit.
_SATURATING = ("sigmoid", "tanh")


class BackwardSteps:
    """Mixed into the walk: uses its ``quantity``, ``step``, ``a_key``, ``trace``,
    ``net``, ``loss``, ``Y``, ``n`` and ``count_symbol``."""

    def backward(self, A) -> None:
        net, loss, Y = self.net, self.loss, self.Y
        layers = net.layers
        last = len(layers) - 1
        L = last + 1
        count = self.count_symbol()
        fused = loss.fuses_with(layers[-1].output_activation)
        self.stop_layer = last
        dA = loss.grad(A, Y)  # dL/dA[L], as in Sequential._backward
        note = ""
        textbook = _unclamped_loss_gradient(loss, A, Y)
        if fused and textbook is not None:
            # loss.grad keeps a = 0 or 1 finite with a floor; the fused δ below never
            # uses this value, so the trace shows what the formula gives in floating
            # point rather than the floor's 1e+12.
            dA = textbook
            note = _saturation_note(loss, L)
        da = self.quantity(
            f"{L}.dL/da", "dL/da", last, Partial(Sym("L"), F.output_symbol(L)), dA
        )
        rhs = F.loss_gradient(loss, Q(self.a_key(L)), Q("y"), count)
        self.step(
            "backward", last, "How the loss changes with the output", da, (rhs,), note
        )
        for i in range(last, -1, -1):
            self.stop_layer = i
            layer = layers[i]
            need = i > 0  # Sequential._backward: no dL/dx for the first layer
            if isinstance(layer, (Dense, ActivationLayer)):
                dZ = self.delta(i, layer, fused and i == last, count)
                if isinstance(layer, Dense):
                    dA = layer.backward_from_z(dZ, need)
                    self.parameter_gradients(i, layer, dA)
                else:
                    dA = layer.backward_from_z(dZ, need)
            elif isinstance(layer, Dropout):
                dA = layer.backward(dA, need)
                if need:
                    got = self.quantity(
                        f"{i}.dL/da",
                        "dL/da",
                        i - 1,
                        Partial(Sym("L"), F.output_symbol(i)),
                        dA,
                    )
                    self.step(
                        "backward",
                        i - 1,
                        "Gradient through dropout (switched off)",
                        got,
                        (Q(f"{i + 1}.dL/da"),),
                    )
            else:
                dA = layer.backward(self.trace[f"{i + 1}.dL/da"], need)
                if need:
                    got = self.quantity(
                        f"{i}.dL/da",
                        "dL/da",
                        i - 1,
                        Partial(Sym("L"), F.output_symbol(i)),
                        dA,
                    )
                    self.step(
                        "backward",
                        i - 1,
                        f"Gradient through {type(layer).__name__}",
                        got,
                        (Fn(f"backward of {layer!r}", (Q(f"{i + 1}.dL/da"),)),),
                    )
        self.trace.grads = [
            {name: g.copy() for name, g in layer.grads.items()} for layer in layers
        ]

    def delta(self, i: int, layer, fused: bool, count) -> np.ndarray:
        """Record da/dz and dL/dz of layer i (index), and return dL/dz as computed by
        the library: the fused (A - Y)/N, or activation.backward(dA, Z, A)."""
        k = i + 1
        activation = layer.activation
        is_dense = isinstance(layer, Dense)
        z_key = f"{k}.z" if is_dense else self.a_key(k - 1)
        z_sym = Sym("z", str(k)) if is_dense else F.output_symbol(k - 1)
        Z, A = self.trace[z_key], self.trace[f"{k}.a"]
        dA = self.trace[f"{k}.dL/da"]
        a, z, dL_da = Q(f"{k}.a"), Q(z_key), Q(f"{k}.dL/da")
        if is_dense:
            delta_key, delta_sym = f"{k}.dL/dz", Sym("δ", str(k))
        else:  # an activation layer's input is a_(k-1): its dL/dz is dL/da_(k-1)
            delta_key, delta_sym = (
                f"{k - 1}.dL/da",
                Partial(Sym("L"), F.output_symbol(k - 1)),
            )
        slope = self.slope_step(i, activation, z, z_sym, a, Z, A)  # may raise (step)
        if fused:
            dZ = self.loss.grad_from_logits(A, self.Y)  # dL/dZ[L], exact, finite
            softmax = activation.name == "softmax"
            chain = Bin("*" if softmax else "⊙", *_chain(slope, dL_da, softmax))
            note = F.fused_reason(self.loss, k)
            if not _chain_holds(self.trace[f"{k}.da/dz"], dA, dZ, softmax):
                chain = Symbolic(chain)  # as numbers it reads 0/0 or x · 0 here
                note += (
                    f" Here a{k} has rounded to exactly 0 or 1 in floating point, so "
                    f"the chain rule's factors as numbers are x/0 and 0 (their product "
                    f"0/0): δ{k} is shown, and computed, directly as a{k} − y."
                )
            rhs = (Partial(Sym("L"), z_sym), chain, F.fused_gradient(a, Q("y"), count))
            if count is not None:
                note += " The 1/N of the mean carries through unchanged."
        else:
            dZ = activation.backward(dA, Z, A)  # dL/dz = dL/da * g'(z) (softmax: J^T v)
            note = ""
            if activation.name == "identity":
                rhs = (Partial(Sym("L"), z_sym), dL_da)
                note = f"With no activation a{k} = z{k}, so ∂a/∂z = 1."
            else:
                softmax = activation.name == "softmax"
                chain = Bin("*" if softmax else "⊙", *_chain(slope, dL_da, softmax))
                rhs = (Partial(Sym("L"), z_sym), chain)
        d = self.quantity(
            delta_key,
            "dL/dz" if is_dense else "dL/da",
            i - (not is_dense),
            delta_sym,
            dZ,
        )
        if not is_dense:
            rhs = rhs[1:]  # "dL/da_(k-1) = dL/da_k ⊙ da_k/da_(k-1)"
        title = "Error signal δ (chain rule)" if is_dense else "Gradient passed back"
        self.step("backward", i, title, d, rhs, note)
        return dZ

    def slope_step(self, i, activation, z: Q, z_sym, a: Q, Z, A) -> Q:
        """da/dz: elementwise slope, or the softmax Jacobian (per sample)."""
        k = i + 1
        derivative_sym = Partial(F.output_symbol(k), z_sym)
        if activation.name == "softmax":
            J = Z.shape[1]
            jac = np.einsum("si,ij->sij", A, np.eye(J, dtype=A.dtype)) - np.einsum(
                "si,sj->sij", A, A
            )  # J_s = diag(a_s) - a_s a_s^T, per sample s
            q = self.quantity(
                f"{k}.da/dz", "da/dz", i, Sym("J", str(k)), jac, "jacobian"
            )
            if self.n == 1:
                self.step(
                    "backward",
                    i,
                    "Slope of the softmax: its Jacobian",
                    q,
                    (derivative_sym, activation.derivative_formula(z, a)),
                    note="Each a_i depends on every z_j, so the slope is a matrix, "
                    "J_ij = ∂a_i/∂z_j = a_i (δ_ij − a_j); J is symmetric, and the chain "
                    "rule multiplies it with the gradient vector.",
                )
            else:
                for s in range(min(self.n, 3)):
                    a_s = self.quantity(
                        f"{k}.a({s + 1})",
                        "a",
                        i,
                        Sym("a", str(k), f"({s + 1})"),
                        A[s : s + 1].T,
                        "matrix",
                    )
                    js = self.quantity(
                        f"{k}.J({s + 1})",
                        "J",
                        i,
                        Sym("J", str(k), f"({s + 1})"),
                        jac[s],
                        "matrix",
                    )
                    self.step(
                        "backward",
                        i,
                        f"Softmax Jacobian of sample {s + 1}",
                        js,
                        (activation.derivative_formula(z, a_s),),
                        note=""
                        if s
                        else "Each sample has its own Jacobian "
                        "J_ij = a_i (δ_ij − a_j); δ is J times the gradient, column by column."
                        + (
                            f" (The first 3 of {self.n} are shown; the JSON has all.)"
                            if self.n > 3
                            else ""
                        ),
                    )
            return q
        if activation.name == "identity":
            return None
        slope = activation.derivative(Z, A)  # raises StepGradientError for step
        q = self.quantity(f"{k}.da/dz", "da/dz", i, derivative_sym, slope)
        name = F.display_name(activation)
        note = ""
        if activation.name in _SATURATING and np.any(slope == 0):
            limits = "0 or 1" if activation.name == "sigmoid" else "−1 or 1"
            note = (
                f"Where a{k} has rounded to exactly {limits} in floating point (large "
                f"|z{k}|), this slope is 0: the true slope is positive but smaller than "
                f"the rounding of a{k}. No gradient passes through there (saturation)."
            )
        self.step(
            "backward",
            i,
            f"Slope of the {name}",
            q,
            (F.activation_derivative(activation, z, a),),
            note,
        )
        return q

    def parameter_gradients(self, i: int, layer: Dense, dA_prev) -> None:
        k = i + 1
        delta = Q(f"{k}.dL/dz")
        prev = Q(self.a_key(k - 1))
        dW = self.quantity(
            f"{k}.dL/dW",
            "dL/dW",
            i,
            Partial(Sym("L"), Sym("W", str(k))),
            layer.dW,
            "param",
        )
        self.step(
            "backward",
            i,
            "Weight gradient",
            dW,
            (Bin("*", delta, T(prev)),),
            note="" if self.n == 1 else "The matrix product sums over the samples.",
        )
        if layer.use_bias:
            db = self.quantity(
                f"{k}.dL/db",
                "dL/db",
                i,
                Partial(Sym("L"), Sym("b", str(k))),
                layer.db,
                "param",
            )
            rhs = delta if self.n == 1 else Sum(delta, "s")
            self.step("backward", i, "Bias gradient", db, (rhs,))
        if dA_prev is not None:
            got = self.quantity(
                f"{k - 1}.dL/da",
                "dL/da",
                i - 1,
                Partial(Sym("L"), F.output_symbol(k - 1)),
                dA_prev,
            )
            self.step(
                "backward",
                i - 1,
                f"Gradient passed back from layer {k}",
                got,
                (Bin("*", T(Q(f"{k}.W")), delta),),
            )


def _chain(slope: Q, dL_da: Q, softmax: bool):
    """The chain rule's two factors as written: J dL/da (a matrix times a vector) for
    softmax, dL/da ⊙ da/dz (entry by entry) for every other activation."""
    return (slope, dL_da) if softmax else (dL_da, slope)


def _unclamped_loss_gradient(loss, A, Y):
    """dL/da as its formula gives it in floating point, where ``loss.grad`` had to
    floor a denominator (a = 0 or 1 exactly): inf or nan there. None when the floor
    changed nothing, so the library's value is the formula's."""
    if loss.from_logits or not isinstance(
        loss, (BinaryCrossEntropyLoss, CrossEntropyLoss)
    ):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(loss, BinaryCrossEntropyLoss):
            denominator = A * (1.0 - A)
            if not np.any(denominator < 1e-12):  # the floor in loss.grad
                return None
            return (1.0 / A.shape[0] / A.shape[1]) * (A - Y) / denominator
        if not np.any(A < np.finfo(A.dtype).tiny):
            return None
        return -(1.0 / A.shape[0]) * Y / A


def _saturation_note(loss, L: int) -> str:
    if isinstance(loss, BinaryCrossEntropyLoss):
        where = f"a{L}(1 − a{L}) is 0 where a{L} has rounded to exactly 0 or 1"
    else:
        where = f"some a{L} has rounded to exactly 0"
    return (
        f"In floating point {where}, so this quotient is not finite there (inf, or "
        f"nan for 0/0). glassnet never uses it: the fused δ{L} below is computed "
        f"directly and is exact."
    )


def _chain_holds(slope, dA, dZ, softmax: bool) -> bool:
    """Whether the chain rule with these numbers, dL/da ⊙ da/dz (J dL/da for softmax),
    equals the fused dL/dz the library computed, to within rounding."""
    with np.errstate(all="ignore"):
        if softmax:
            chain = np.einsum("sij,sj->si", slope, dA)
            scale = np.einsum("sij,sj->si", np.abs(slope), np.abs(dA))
        else:
            chain = dA * slope
            scale = np.abs(chain)
    if not (np.all(np.isfinite(chain)) and np.all(np.isfinite(scale))):
        return False
    tolerance = np.sqrt(np.finfo(dZ.dtype).eps) * np.maximum(scale, np.abs(dZ))
    return bool(np.all(np.abs(chain - dZ) <= tolerance))
