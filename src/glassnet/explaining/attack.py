"""The attack step of ``explain``: backpropagation carried one step further, to x.

After the forward pass, the loss and backpropagation, FGSM (Goodfellow, Shlens and
Szegedy 2014) moves every input value by eps in the direction that raises the loss::

    dL/dx = W1^T delta1                  (the first layer's input gradient)
    x_adv = clip(x + eps sign(dL/dx))    (every value moves by eps at most)

then walks x_adv forward through the network and states the prediction before and
after. The numbers are those of ``gn.attacks.fgsm``, bit for bit: dL/dx comes from the
very function the attack calls (``robustness.attacks.input_gradient``), and x_adv is
computed with the same operations in the same order.

Examples
--------
>>> import glassnet as gn
>>> net, X, y = gn.worked_example.seed003_example()
>>> trace = gn.explain(net, X, y, attack="fgsm", eps=0.5, clip=(0, 2))
>>> trace["x_adv"]
array([[0.5, 1.5]])
>>> trace.attack["class_before"], trace.attack["class_after"]
(array([1]), array([1]))
"""

from __future__ import annotations

import numpy as np

from ..nn.layers import ActivationLayer, Dense, Dropout
from ..robustness.attacks import (
    _check_inside,
    check_clip,
    check_eps,
    check_perturb,
    input_gradient,
    keep_fixed,
)
from ..training.tasks import output_task
from . import formulas as F
from .expr import Bin, Fn, Num, Partial, Q, Sym, T

#: The attacks ``explain`` can show.
ATTACKS = ("fgsm",)


def check_attack(attack, eps, clip, has_target: bool):
    """Validated (attack, eps, clip) for ``explain``: all None without an attack."""
    if attack is None:
        for name, value in (("eps", eps), ("clip", clip)):
            if value is not None:
                raise ValueError(
                    f'{name} is only used with an attack (attack="fgsm"), got '
                    f"{name}={value!r} and no attack"
                )
        return None, None, None
    if not isinstance(attack, str) or attack.lower() not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if eps is None:
        raise ValueError('attack="fgsm" needs eps, the size of the step (eps=0.1)')
    if not has_target:
        raise ValueError(
            "an attack needs a target y: it moves x to raise the loss against y"
        )
    return attack.lower(), check_eps(eps), check_clip(clip)


class AttackSteps:
    """Records the FGSM step on a finished walk (``recorder._Walk``): uses its
    ``quantity``, ``step``, ``net``, ``X``, ``Y``, ``loss`` and ``trace``."""

    def __init__(self, walk, eps: float, clip):
        self.walk, self.eps, self.clip = walk, eps, clip

    def run(self) -> None:
        walk, eps, clip = self.walk, self.eps, self.clip
        trace, net = walk.trace, walk.net
        _check_inside(walk.X, clip)
        if trace.stopped is not None:
            walk.step(
                "attack",
                None,
                "No attack step",
                note="FGSM follows the input gradient dL/dx, which needs "
                "backpropagation; it stopped above, so the attack cannot be shown.",
            )
            return
        dX = input_gradient(net, walk.X, walk.Y, walk.loss)  # as gn.attacks.fgsm
        sign = np.sign(dX)
        X_adv = walk.X + eps * sign  # the same operations as attacks.fgsm_step
        if clip is not None:
            np.clip(X_adv, clip[0], clip[1], out=X_adv)
        keep_fixed(X_adv, walk.X, check_perturb(net))  # category indices stay
        trace.attack = {"name": "fgsm", "eps": eps, "clip": clip}
        self.gradient_step(dX)
        e = walk.quantity("eps", "eps", None, Sym("ε"), np.asarray(eps), "scalar")
        s = walk.quantity("sign", "sign", None, Sym("s"), sign)
        walk.step(
            "attack",
            None,
            "Direction of the step: the sign of the gradient",
            s,
            (Fn("sign", (Q("dL/dx"),)),),
            note="+1 where raising that input value raises the loss, −1 where "
            "lowering it does, 0 where the loss does not depend on it.",
        )
        moved = Bin("+", Q("x"), Bin("*", e, s))
        adv = walk.quantity("x_adv", "x_adv", None, Sym("x", "", "adv"), X_adv)
        if clip is None:
            rhs, note = (moved,), ""
        else:
            rhs = (Fn("clip", (moved, Num(clip[0]), Num(clip[1]))),)
            note = (
                f"clip keeps every value in the valid range [{clip[0]:g}, "
                f"{clip[1]:g}]: each value moves by at most ε = {eps:g}."
            )
        walk.step("attack", None, "The adversarial input (FGSM)", adv, rhs, note=note)
        self.forward_again(X_adv)

    def gradient_step(self, dX) -> None:
        walk = self.walk
        first = walk.net.layers[0]
        got = walk.quantity("dL/dx", "dL/dx", None, Partial(Sym("L"), Sym("x")), dX)
        if isinstance(first, Dense):
            rhs = (Bin("*", T(Q("1.W")), Q("1.dL/dz")),)
        elif isinstance(first, ActivationLayer):
            rhs = (Q("0.dL/da"),)
        elif isinstance(first, Dropout):
            rhs = (Q("1.dL/da"),)
        else:
            rhs = (Fn(f"backward of {first!r}", (Q("1.dL/da"),)),)
        walk.step(
            "attack",
            None,
            "Input gradient: backpropagation one step further",
            got,
            rhs,
            note="How the loss changes with each input value: the same rule that "
            "passes the gradient from layer to layer, applied to the first layer.",
        )

    def forward_again(self, X_adv) -> None:
        """Walk x_adv through the network (outputs only) and compare predictions."""
        walk = self.walk
        net = walk.net
        cache = net.forward(X_adv, return_all=True)
        loss_adv = net._loss_of_output(walk.loss, cache[-1]["A"], walk.Y)
        self.walk.trace.attack["loss_adv"] = loss_adv
        prev = Q("x_adv")
        for k, (layer, step) in enumerate(zip(net.layers, cache, strict=True), 1):
            a = walk.quantity(
                f"adv.{k}.a", "a_adv", None, Sym("a", str(k), "adv"), step["A"]
            )
            if isinstance(layer, Dense):
                z = Bin("*", Q(f"{k}.W"), prev)
                if layer.use_bias:
                    z = Bin("+", z, Q(f"{k}.b"))
                name = layer.activation.name
                rhs = (z,) if name == "identity" else (Fn(_fn_name(layer), (z,)),)
            elif isinstance(layer, ActivationLayer):
                rhs = (Fn(_fn_name(layer), (prev,)),)
            else:
                rhs = (prev,)  # dropout is off outside training
            walk.step("attack", None, f"Layer {k} on the adversarial input", a, rhs)
            prev = Q(f"adv.{k}.a")
        walk.step(
            "attack",
            None,
            "Prediction before and after",
            note=self.verdict(walk.trace[f"{len(net.layers)}.a"], cache[-1]["A"])
            + f" The loss: L = {walk.trace.loss_value:.6g} on x, "
            f"{loss_adv:.6g} on x_adv.",
        )

    def verdict(self, A, A_adv) -> str:
        walk = self.walk
        task = output_task(walk.net, walk.loss)
        L = len(walk.net.layers)
        if not task.is_classification:
            before, after = _vector(A), _vector(A_adv)
            walk.trace.attack.update(output_before=A, output_after=A_adv)
            return f"Output a{L} before: {before}; after: {after}."
        before, after = task.labels(A), task.labels(A_adv)
        walk.trace.attack.update(class_before=before, class_after=after)
        if walk.n == 1:
            b, a = _label(before[0]), _label(after[0])
            outcome = (
                "the attack flipped the prediction."
                if b != a
                else "the prediction holds against this ε."
            )
            return f"Predicted class before: {b}; after: {a}: {outcome}"
        flipped = (
            int((before != after).any(axis=1).sum())
            if before.ndim == 2
            else int((before != after).sum())
        )
        return (
            f"Predicted classes before: {_labels(before)}; after: {_labels(after)}: "
            f"{flipped} of {walk.n} predictions flipped."
        )


def _fn_name(layer) -> str:
    """The activation as a function name: σ for the sigmoid, its name otherwise."""
    name = layer.activation.name
    return {"sigmoid": "σ", "leaky_relu": "leaky ReLU", "relu": "ReLU"}.get(
        name, F.display_name(layer.activation)
    )


def _label(value) -> str:
    return " ".join(str(int(v)) for v in np.ravel(value))


def _labels(values) -> str:
    return ", ".join(_label(v) for v in values)


def _vector(A) -> str:
    return "; ".join(", ".join(f"{v:.6g}" for v in row) for row in np.asarray(A))
