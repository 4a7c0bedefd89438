"""A training step's path, decided once per batch shape instead of at every call.

At each step of ``fit``, every Dense + ReLU layer asks the same questions twice (in
its forward and its backward): are the compiled loops on, is its activation the
stock ReLU as written, which work arrays belong to this batch size, does each method
take ``reuse``. The answers change only when the batch shape, the loops' switch or
the layer itself changes. A ``StepPlan`` keeps them: for each layer of a network
either the stock Dense + ReLU path (the product on the thread rule of ``ops.matmul``,
then the compiled loops of ``glassnet._fast.fused`` on the work arrays found once),
or the layer's own methods, called as ``Sequential._forward`` and ``_backward`` call
them. The equations stay in ``glassnet.nn.layers``: a planned layer runs the same
products and the same loops, in the same order, on the same arrays, so its numbers
are bitwise those of the unplanned step (``tests/test_step_plan.py``).

A plan is checked at every step by identity only (the loops, the loss, each planned
layer's activation and work arrays, no method patched on the layer, its activation
or the ReLU class): anything else changed makes a new plan, so a subclass, a patched
method or ``kernels.enable(False)`` runs its own code from the next step on.
"""

from __future__ import annotations

import weakref

from . import fused, kernels, ops

#: The Dense class whose methods, as written, a plan may run (``@stock_dense``).
_dense_class: type | None = None
_dense_methods: tuple = ()
#: The methods a planned layer must not have patched on the instance.
_PLANNED = (
    "forward",
    "backward",
    "backward_from_z",
    "_add_bias_and_activate",
    "_dZ_and_db",
    "_weights_backward",
)


def stock_dense(cls: type) -> type:
    """Class decorator: the Dense layer whose ReLU path a plan runs directly."""
    global _dense_class, _dense_methods
    _dense_class = cls
    _dense_methods = tuple(getattr(cls, name) for name in _PLANNED)
    return cls


class _ReluDense:
    """A stock Dense layer with the stock ReLU: Dense.forward and Dense.backward
    with the choices of ``ops.bias_relu`` and ``ops.relu_backward`` made."""

    __slots__ = ("layer", "activation", "owner", "work")

    def __init__(self, layer):
        self.layer, self.activation, self.owner = layer, layer.activation, layer._work
        self.work = None  # the layer's work arrays for this batch size, at first use

    def current(self) -> bool:
        layer, activation = self.layer, self.activation
        return (
            layer.activation is activation
            and layer._work is self.owner
            and not vars(activation)
            and _PLANNED_SET.isdisjoint(vars(layer))
            and _relu_as_written(type(activation))
        )

    def forward(self, loops, A_prev, training):  # Dense.forward, as planned
        layer, work = self.layer, self.work
        if work is None:
            work = self.work = layer._work.batch(layer, A_prev, True)
        layer._A_prev = A_prev
        Z = ops.matmul(A_prev, layer.params["W"].T, out=work.Z)  # Z = A_prev W^T
        A = fused.bias_relu(loops, layer, Z, work.A)  # Z += b, A = max(Z, 0)
        layer._Z, layer._A = Z, A
        layer._forward_done = True
        return A

    def backward(self, loops, dA, more):  # Dense.backward, as planned
        layer, work = self.layer, self.work
        Z = layer._Z
        if dA.dtype != Z.dtype or dA.shape != Z.shape:  # as ops.relu_backward asks
            return ops.with_reuse(layer.backward, dA, more, reuse=True)
        dZ = fused.relu_backward(loops, layer, dA, work.dZ)  # dZ = dA * (Z > 0), db
        return layer._weights_backward(dZ, more, work)  # dW and dA_prev


class _Own:
    """Any other layer: its own methods, called as the network calls them."""

    __slots__ = ("layer",)

    def __init__(self, layer):
        self.layer = layer

    def current(self) -> bool:
        return True

    def forward(self, loops, A, training):
        return ops.with_reuse(self.layer.forward, A, training, reuse=True)

    def backward(self, loops, dA, more):
        return ops.with_reuse(self.layer.backward, dA, more, reuse=True)


_PLANNED_SET = frozenset(_PLANNED)


def _relu_as_written(cls) -> bool:
    return (
        cls is ops._relu_class
        and (cls.forward, cls.derivative, cls.backward) == ops._relu_methods
    )


def _plans_relu(layer, n_out: int) -> bool:
    """Whether ``layer`` is the stock Dense with the stock ReLU, as written, wide
    enough for the loops (``ops._relu_loops`` asks the same)."""
    cls = type(layer)
    return (
        cls is _dense_class
        and tuple(getattr(cls, name) for name in _PLANNED) == _dense_methods
        and _PLANNED_SET.isdisjoint(vars(layer))
        and _relu_as_written(type(layer.activation))
        and not vars(layer.activation)
        and n_out >= 2
    )


class StepPlan:
    """The path of one training step of ``net`` for one batch shape and loss."""

    def __init__(self, net, loss, X, loops):
        self.loops, self.loss, self.key = loops, loss, (X.shape, X.dtype)
        self.layers = list(net.layers)
        self.steps = []
        width = X.shape[1]
        for layer in self.layers:
            width = layer.output_features(width)
            relu = _plans_relu(layer, width)
            self.steps.append(_ReluDense(layer) if relu else _Own(layer))
        #: Whether the plan runs any layer differently from the network's loop.
        self.useful = any(type(step) is _ReluDense for step in self.steps)

    def current(self, net, loss, X, loops) -> bool:
        if (
            loops is not self.loops
            or loss is not self.loss
            or (X.shape, X.dtype) != self.key
            or net.layers != self.layers
        ):
            return False
        for step in self.steps:
            if not step.current():
                return False
        return True

    def forward(self, net, X, training=True):
        """``net._forward(X, training, reuse=True)``."""
        loops = self.loops
        outputs = []
        A = X
        for step in self.steps:
            A = step.forward(loops, A, training)  # A[l] (n, k_l)
            outputs.append(A)
        net._layer_outputs = outputs
        return A

    def backward(self, net, loss, A, Y):
        """``net._backward(loss, A, Y, reuse=True)`` (no sample weights, no
        ``after_layer``)."""
        loops, steps = self.loops, self.steps
        last = steps[-1].layer
        value = net._loss_of_output(loss, A, Y, None, last)
        work = net._loss_work.batch(net, A, True)
        more = len(steps) > 1
        if loss.fuses_with(last.output_activation):
            dZ = ops.with_out(loss.grad_from_logits, A, Y, None, out=work.dA)
            grad = ops.with_reuse(last.backward_from_z, dZ, more, reuse=True)
        else:
            dA = ops.with_out(loss.grad, A, Y, None, out=work.dA)  # dL/dA[L]
            grad = steps[-1].backward(loops, dA, more)
        for i in range(len(steps) - 2, -1, -1):
            grad = steps[i].backward(loops, grad, i > 0)  # dL/dA[i-1]
        return value


#: {network: {(batch shape, dtype): StepPlan}}; a network's plans go with it.
_plans: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Batch shapes whose plans a network keeps at once (e.g. the full and the last).
KEPT = 4


def for_step(net, loss, X, sample_weight) -> StepPlan | None:
    """The plan of a training step of ``net`` on the batch X, or None when the step
    runs unplanned: the loops off, sample weights, or no layer a plan would run
    differently from the network."""
    if sample_weight is not None:
        return None
    loops = kernels.get()
    if loops is None:
        return None
    kept = _plans.get(net)
    if kept is None:
        kept = _plans[net] = {}
    key = (X.shape, X.dtype)
    plan = kept.get(key)
    if plan is None or not plan.current(net, loss, X, loops):
        if plan is None and len(kept) >= KEPT:
            kept.pop(next(iter(kept)))
        plan = kept[key] = StepPlan(net, loss, X, loops)
    return plan if plan.useful else None
