"""``explain``: walk a network through one sample (or a small batch) and record every step.

The walk runs on a copy of the network, with glassnet's own layer, activation and loss
objects called exactly as ``Sequential.loss_and_grad`` calls them, so every number in the
trace is the number training uses (bit for bit), never a re-derivation.
"""

from __future__ import annotations

import numpy as np

from ..activations import Activation
from ..errors import StepGradientError
from ..layers import ActivationLayer, Dense, Dropout
from ..losses import CrossEntropyLoss, Loss, get_loss
from ..network import Sequential
from ..validation import as_float_array, check_input_matrix, check_number
from . import formulas as F
from .expr import Bin, Fn, Partial, Q, Sum, Sym, T
from .trace import Quantity, Step, Trace


def explain(
    net: Sequential,
    x,
    y=None,
    loss: str | Loss | None = None,
    lr: float | None = None,
) -> Trace:
    """Record the forward pass, the loss and backpropagation of ``net`` on ``x``.

    For each layer k: z_k = W_k a_(k-1) + b_k and a_k = g_k(z_k) (a_0 = x); the loss L;
    then backwards dL/da_k, da_k/dz_k, delta_k = dL/dz_k, dL/dW_k = delta_k a_(k-1)^T,
    dL/db_k = delta_k, and dL/da_(k-1) = W_k^T delta_k; with ``lr``, the gradient-descent
    step W_k - lr dL/dW_k (shown, not applied). ``net`` itself is never changed.

    Parameters
    ----------
    net : Sequential
    x : array-like, shape (in_features,) for one sample or (n_samples, in_features)
    y : targets shaped as ``net.loss_and_grad`` takes them (a scalar for one sample
        and one output; class labels for cross-entropy), or None for the forward
        pass alone.
    loss : name or Loss, optional
        By default chosen from the output: binary cross-entropy after a sigmoid,
        cross-entropy after a softmax, mean squared error otherwise.
    lr : float, optional
        Learning rate of the gradient-descent step to show.

    Returns
    -------
    Trace
        Numbers as arrays (``trace["2.dL/dW"]``, ``trace.grads``), equations as trees;
        ``to_text()``, ``to_markdown()``, ``to_html()``, ``to_json()`` render it.

    Examples
    --------
    >>> import glassnet as gn
    >>> net, X, y = gn.worked_example.seed003_example()
    >>> trace = gn.explain(net, X, y, lr=0.1)
    >>> round(trace.loss_value, 6), trace["2.dL/dz"].round(6)
    (0.063181, array([[-0.061226]]))
    >>> print(trace.to_text().splitlines()[0])
    glassnet explain · Sequential 2 → 2 (ReLU) → 1 (sigmoid)
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    work = (
        net.copy()
    )  # the walk fills caches and gradients: keep the caller's net clean
    X = _inputs(x, work)
    loss = _choose_loss(loss, work)
    if lr is not None:
        lr = check_number(lr, "lr", low=0.0, low_open=True)
    Y = None if y is None else _targets(y, X, work, loss)
    return _Walk(work, X, Y, loss, lr).run()


def _inputs(x, net: Sequential) -> np.ndarray:
    X = as_float_array(x, "x", net.dtype)
    if X.ndim == 0:
        X = X.reshape(1, 1)
    return check_input_matrix(X, net.in_features, net.dtype, name="x")


def _choose_loss(loss, net: Sequential) -> Loss:
    if loss is not None:
        return get_loss(loss)
    activation = net.layers[-1].output_activation
    name = getattr(activation, "name", "")
    return get_loss(
        {"sigmoid": "binary_crossentropy", "softmax": "cross_entropy"}.get(name, "mse")
    )


def _targets(y, X: np.ndarray, net: Sequential, loss: Loss) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    if X.shape[0] == 1 and y.ndim == 1 and y.shape[0] == net.out_features > 1:
        y = y.reshape(1, -1)  # one sample's target row, written flat
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"x and y have different numbers of samples: {X.shape[0]} and {y.shape[0]}"
        )
    return net.prepare_targets(y, loss)


def _a(k: int) -> Sym:
    """The symbol of layer k's output; a_0 is the input x."""
    return Sym("x") if k == 0 else Sym("a", str(k))


class _Walk:
    """The recording itself: one method per phase, appending to ``self.trace``."""

    def __init__(self, net, X, Y, loss, lr):
        self.net, self.X, self.Y, self.loss, self.lr = net, X, Y, loss, lr
        self.n = X.shape[0]
        layers = net.layers
        self.trace = Trace(
            title=_title(net),
            layer_titles=[_layer_title(k, layer) for k, layer in enumerate(layers, 1)],
            loss_name=loss.name if Y is not None else None,
            loss_label=F.loss_display_name(loss) if Y is not None else None,
            loss_value=None,
            lr=lr,
            dtype=net.dtype.name,
            n_samples=self.n,
            grads=[{} for _ in layers],
        )

    # -- helpers ------------------------------------------------------------------------
    def quantity(self, key, name, layer, symbol, value, layout="batch") -> Q:
        value = np.array(value, copy=True)  # the trace owns its numbers
        self.trace.add(Quantity(key, name, layer, symbol, value, layout))
        return Q(key)

    def step(self, phase, layer, title, lhs=None, rhs=(), note="", numbers=True):
        result = lhs.key if isinstance(lhs, Q) else None
        self.trace.steps.append(
            Step(phase, layer, title, lhs, tuple(rhs), result, note, numbers)
        )

    def a_key(self, k: int) -> str:
        return "x" if k == 0 else f"{k}.a"

    # -- the walk -----------------------------------------------------------------------
    def run(self) -> Trace:
        self.notes()
        self.quantity("x", "x", None, Sym("x"), self.X)
        cache = self.net.forward(self.X, return_all=True)
        for i, (layer, step) in enumerate(zip(self.net.layers, cache, strict=True)):
            self.forward(i, layer, step)
        if self.Y is None:
            return self.trace
        self.loss_step(cache[-1]["A"])
        try:
            self.backward(cache[-1]["A"])
        except StepGradientError as error:
            self.trace.stopped = str(error)
            self.trace.grads = [{} for _ in self.net.layers]
            self.step(
                "backward",
                self.stop_layer,
                "Backpropagation stops here",
                note=str(error),
            )
            return self.trace
        if self.lr is not None:
            self.update()
        return self.trace

    def notes(self) -> None:
        notes = self.trace.notes
        if self.n == 1:
            notes.append("Vectors are columns, as in z = W x + b.")
        else:
            notes.append(
                f"Vectors are columns, one column per sample ({self.n} samples), so "
                "z = W x + b holds for the whole batch at once; b is added to every "
                "column. (glassnet and the JSON store samples as rows.)"
            )
        L = len(self.net.layers)
        outputs = ", ".join(f"a{k}" for k in range(1, L + 1))
        notes.append(
            f"x is the input and {outputs} the outputs of layers 1 to {L}; "
            f"a{L} is the prediction."
        )
        if self.Y is not None:
            dense = [
                str(k)
                for k, layer in enumerate(self.net.layers, 1)
                if isinstance(layer, Dense)
            ]
            notes.append(
                f"δk = ∂L/∂zk (k = {', '.join(dense)}) is layer k's error signal. ⊙ "
                "multiplies entry by entry; side by side is the matrix product."
            )
            if self.n > 1:
                notes.append(
                    "Σ_s sums over the samples (the columns): the gradient of a mean "
                    "loss adds up every sample's share, the 1/N being inside δ."
                )
        notes.append("The network itself is not changed: explain works on a copy.")

    def forward(self, i: int, layer, cache: dict) -> None:
        k = i + 1
        prev = Q(self.a_key(k - 1))
        A = cache["A"]
        if isinstance(layer, Dense):
            W = self.quantity(f"{k}.W", "W", i, Sym("W", str(k)), layer.W, "param")
            z = self.quantity(f"{k}.z", "z", i, Sym("z", str(k)), cache["Z"])
            product = Bin("*", W, prev)
            if layer.use_bias:
                b = self.quantity(f"{k}.b", "b", i, Sym("b", str(k)), layer.b, "param")
                product = Bin("+", product, b)
            self.step("forward", i, "Weighted sum", z, (product,))
            self.activation_step(i, layer.activation, z, A)
        elif isinstance(layer, ActivationLayer):
            self.activation_step(i, layer.activation, prev, A)
        elif isinstance(layer, Dropout):
            a = self.quantity(f"{k}.a", "a", i, _a(k), A)
            self.step(
                "forward",
                i,
                "Dropout, switched off",
                a,
                (prev,),
                note=f"Dropout(p={layer.p:g}) is off outside training, and explain "
                "walks the network as it predicts: it passes its input through "
                f"unchanged. (In training it would zero each entry with probability "
                f"{layer.p:g} and scale the rest by 1/(1 − p).)",
            )
        else:
            a = self.quantity(f"{k}.a", "a", i, _a(k), A)
            self.step(
                "forward", i, f"{type(layer).__name__}", a, (Fn(repr(layer), (prev,)),)
            )

    def activation_step(self, i: int, activation: Activation, z: Q, A) -> None:
        k = i + 1
        a = self.quantity(f"{k}.a", "a", i, _a(k), A)
        note = ""
        Z = self.trace[z.key]
        z_name = (
            f"z{k}" if z.key.endswith(".z") else ("x" if z.key == "x" else f"a{k - 1}")
        )
        if activation.name in ("relu", "step") and (Z <= 0).any():
            off = (
                int((Z <= 0).sum()) if activation.name == "relu" else int((Z < 0).sum())
            )
            if activation.name == "relu":
                note = (
                    f"{off} of {Z.size} entries of {z_name} are ≤ 0: ReLU outputs 0 there, "
                    "and no gradient flows back through them."
                )
            elif off:
                note = f"{off} of {Z.size} entries of {z_name} are < 0: the step outputs 0 there."
        elif activation.name == "softmax":
            note = (
                "Computed as e^(z − max z) / Σ e^(z − max z): subtracting each column's "
                "largest z cancels in the ratio and keeps e^z from overflowing."
            )
        title = f"Activation: {F.display_name(activation)}"
        rhs = F.activation_forward(activation, z)
        self.step("forward", i, title, a, (rhs,), note=note)

    def loss_step(self, A) -> None:
        loss, Y, n = self.loss, self.Y, self.n
        L = len(self.net.layers)
        y = self.quantity("y", "y", None, Sym("y"), Y)
        count = self.count()
        last = self.net.layers[-1]
        value = self.net._loss_of_output(
            loss, A, Y
        )  # as loss_and_grad: fused if it can
        self.trace.loss_value = value
        Lq = self.quantity(
            "L", "L", None, Sym("L"), np.asarray(value, dtype=A.dtype), "scalar"
        )
        notes = []
        if isinstance(loss, CrossEntropyLoss):
            notes.append(
                "y is one-hot: 1 for the true class, 0 elsewhere; Σ_c sums over the classes."
            )
        if count > 1:
            what = (
                f"the {n} samples"
                if isinstance(loss, CrossEntropyLoss)
                else f"all {n} × {Y.shape[1]} entries"
            )
            notes.append(f"The mean runs over {what}.")
        if loss.fuses_with(last.output_activation):
            stable = (
                "max(z, 0) − zy + log(1 + e^(−|z|))"
                if last.output_activation.name == "sigmoid"
                else "−Σ y (z − max z − log Σ e^(z − max z))"
            )
            notes.append(
                f"glassnet computes this value from z{L} in the equivalent stable form "
                f"{stable}, which never takes log 0."
            )
        rhs = F.loss_value(loss, Q(self.a_key(L)), y, count, n)
        title = f"Loss: {F.loss_display_name(loss)}"
        self.step("loss", None, title, Lq, (rhs,), note=" ".join(notes))

    def count(self) -> int:
        """N, the number of terms the loss averages: n (cross-entropy) or n k."""
        if isinstance(self.loss, CrossEntropyLoss):
            return self.n
        return self.n * self.Y.shape[1]

    def count_symbol(self):
        N = self.count()
        if N == 1:
            return None
        return self.quantity("N", "N", None, Sym("N"), np.asarray(N), "scalar")

    # -- backward -----------------------------------------------------------------------
    def backward(self, A) -> None:
        net, loss, Y = self.net, self.loss, self.Y
        layers = net.layers
        last = len(layers) - 1
        L = last + 1
        count = self.count_symbol()
        fused = loss.fuses_with(layers[-1].output_activation)
        self.stop_layer = last
        dA = loss.grad(A, Y)  # dL/dA[L], as in Sequential._backward
        da = self.quantity(f"{L}.dL/da", "dL/da", last, Partial(Sym("L"), _a(L)), dA)
        rhs = F.loss_gradient(loss, Q(self.a_key(L)), Q("y"), count)
        self.step("backward", last, "How the loss changes with the output", da, (rhs,))
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
                        f"{i}.dL/da", "dL/da", i - 1, Partial(Sym("L"), _a(i)), dA
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
                        f"{i}.dL/da", "dL/da", i - 1, Partial(Sym("L"), _a(i)), dA
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
        z_sym = Sym("z", str(k)) if is_dense else _a(k - 1)
        Z, A = self.trace[z_key], self.trace[f"{k}.a"]
        dA = self.trace[f"{k}.dL/da"]
        a, z, dL_da = Q(f"{k}.a"), Q(z_key), Q(f"{k}.dL/da")
        if is_dense:
            delta_key, delta_sym = f"{k}.dL/dz", Sym("δ", str(k))
        else:  # an activation layer's input is a_(k-1): its dL/dz is dL/da_(k-1)
            delta_key, delta_sym = f"{k - 1}.dL/da", Partial(Sym("L"), _a(k - 1))
        slope = self.slope_step(i, activation, z, z_sym, a, Z, A)  # may raise (step)
        if fused:
            dZ = self.loss.grad_from_logits(A, self.Y)  # dL/dZ[L], exact, finite
            softmax = activation.name == "softmax"
            chain = Bin("*" if softmax else "⊙", *_chain(slope, dL_da, softmax))
            rhs = (Partial(Sym("L"), z_sym), chain, F.fused_gradient(a, Q("y"), count))
            note = F.fused_reason(self.loss, k)
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
        derivative_sym = Partial(_a(k), z_sym)
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
                    (derivative_sym, F.softmax_jacobian(a)),
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
                        (F.softmax_jacobian(a_s),),
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
        self.step(
            "backward",
            i,
            f"Slope of the {name}",
            q,
            (F.activation_derivative(activation, z, a),),
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
                f"{k - 1}.dL/da", "dL/da", i - 1, Partial(Sym("L"), _a(k - 1)), dA_prev
            )
            self.step(
                "backward",
                i - 1,
                f"Gradient passed back from layer {k}",
                got,
                (Bin("*", T(Q(f"{k}.W")), delta),),
            )

    # -- update -------------------------------------------------------------------------
    def update(self) -> None:
        lr = self.quantity("lr", "lr", None, Sym("η"), np.asarray(self.lr), "scalar")
        for i, layer in enumerate(self.net.layers):
            k = i + 1
            for name in layer.params:
                old = Q(f"{k}.{name}")
                if old.key not in self.trace.quantities:
                    continue
                new_value = layer.params[name] - self.lr * layer.grads[name]
                new = self.quantity(
                    f"{k}.{name}_new",
                    f"{name}_new",
                    i,
                    Sym(name, str(k), "new"),
                    new_value,
                    "param",
                )
                self.step(
                    "update",
                    i,
                    f"New {'weights' if name == 'W' else 'biases'}",
                    new,
                    (Bin("-", old, Bin("*", lr, Q(f"{k}.dL/d{name}"))),),
                )


def _chain(slope: Q, dL_da: Q, softmax: bool):
    """The chain rule's two factors as written: J dL/da (a matrix times a vector) for
    softmax, dL/da ⊙ da/dz (entry by entry) for every other activation."""
    return (slope, dL_da) if softmax else (dL_da, slope)


def _title(net: Sequential) -> str:
    """The network in one line: Sequential 2 → 2 (ReLU) → 1 (sigmoid)."""
    widths = [str(net.in_features)]
    for layer, width in zip(net.layers, net._widths[1:], strict=True):
        if isinstance(layer, Dense):
            widths.append(f"{width} ({F.display_name(layer.activation)})")
        elif isinstance(layer, ActivationLayer):
            widths[-1] += f" → {F.display_name(layer.activation)}"
        elif isinstance(layer, Dropout):
            widths[-1] += f" → dropout {layer.p:g}"
        else:
            widths.append(f"{width} ({type(layer).__name__})")
    return "Sequential " + " → ".join(widths)


def _layer_title(k: int, layer) -> str:
    if isinstance(layer, Dense):
        bias = "" if layer.use_bias else ", no bias"
        return (
            f"Layer {k} · Dense({layer.in_features} → {layer.out_features}{bias}) · "
            f"{F.display_name(layer.activation)}"
        )
    if isinstance(layer, ActivationLayer):
        return f"Layer {k} · activation layer · {F.display_name(layer.activation)}"
    if isinstance(layer, Dropout):
        return f"Layer {k} · Dropout(p={layer.p:g})"
    return f"Layer {k} · {layer!r}"
