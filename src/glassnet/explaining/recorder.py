"""``explain``: walk a network through one sample (or a small batch) and record every step.

The walk runs on a copy of the network, with glassnet's own layer, activation and loss
objects called exactly as ``Sequential.loss_and_grad`` calls them, so every number in the
trace is the number training uses (bit for bit), never a re-derivation.
"""

from __future__ import annotations

import numpy as np

from ..errors import StepGradientError
from ..nn.activations import Activation
from ..nn.embedding import Embedding
from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.losses import (
    CrossEntropyLoss,
    Loss,
    check_loss_suits_output,
    get_loss,
)
from ..nn.network import Sequential
from ..nn.neuron import Perceptron
from ..validation import as_float_array, check_input_matrix, check_number
from . import formulas as F
from .attack import AttackSteps, check_attack
from .backprop import BackwardSteps
from .expr import Bin, Fn, Frac, Q, Sym, Symbolic
from .optimizer_steps import OptimizerSteps, check_optimizer
from .perceptron import explain_perceptron
from .preprocessing_steps import preprocessing_steps
from .record import Quantity, Step
from .trace import Trace


def explain(
    net: Sequential,
    x,
    y=None,
    loss: str | Loss | None = None,
    lr: float | None = None,
    attack: str | None = None,
    eps: float | None = None,
    clip: tuple[float, float] | None = None,
    preprocessing=None,
    optimizer=None,
    steps: int | None = None,
) -> Trace:
    """Record the forward pass, the loss and backpropagation of ``net`` on ``x``.

    For each layer k: z_k = W_k a_(k-1) + b_k and a_k = g_k(z_k) (a_0 = x); the loss L;
    then backwards dL/da_k, da_k/dz_k, delta_k = dL/dz_k, dL/dW_k = delta_k a_(k-1)^T,
    dL/db_k = delta_k, and dL/da_(k-1) = W_k^T delta_k; with ``lr``, the gradient-descent
    step W_k - lr dL/dW_k (shown, not applied). ``net`` itself is never changed. After
    the forward pass of a classifier (a softmax, or one sigmoid output) a line states
    the predicted class and its probability. A loss the output cannot feed (binary
    cross-entropy without outputs in (0, 1), cross-entropy without a softmax), a
    target of the wrong width and ``lr`` without ``y`` are refused with a ValueError.

    Parameters
    ----------
    net : Sequential, or Perceptron
        A ``gn.Perceptron`` is walked through its learning rule on (x, y) with its
        ``lr`` and ``max_epochs``: ``explain_perceptron`` (``explaining.perceptron``).
    x : array-like, shape (in_features,) for one sample or (n_samples, in_features)
    y : targets shaped as ``net.loss_and_grad`` takes them (a scalar for one sample
        and one output; class labels for cross-entropy), or None for the forward
        pass alone.
    loss : name or Loss, optional
        By default chosen from the output: binary cross-entropy after a sigmoid,
        cross-entropy after a softmax, mean squared error otherwise.
    lr : float, optional
        Learning rate of the gradient-descent step to show.
    attack : "fgsm", optional
        Carry backpropagation on to the input and show the attack step (needs ``y``):
        dL/dx = W_1^T delta_1, x_adv = clip(x + eps sign(dL/dx)), then x_adv walked
        forward and the prediction before and after; the numbers are
        ``gn.attacks.fgsm``'s, bit for bit (``explaining.attack``).
    eps : float >= 0, with ``attack``: the size of the step.
    clip : (lo, hi), optional, with ``attack``: the valid input range.
    preprocessing : glassnet.tabular.Preprocessing, optional
        The record a model file keeps (``glassnet.tabular.load_model``): ``x`` is then
        a raw row, standardised first, x_std = (x - mean) / scale (shown as a step),
        and the predicted class is named from its ``classes``.
    optimizer : Optimizer or name, optional
        Show ``steps`` full-batch optimizer steps after backpropagation instead of
        the plain step: ``gn.SGD(lr, momentum=...)``, ``gn.Adam(...)``,
        ``gn.AdamW(...)``, ``gn.RMSprop(...)`` (a copy is stepped), or a name built
        with ``lr``. Each step writes the optimizer's equations for every parameter
        tensor, with the state (velocity; m, v; square_avg) carried from step to
        step; the numbers are ``fit``'s, bit for bit (``explaining.optimizer_steps``).
        ``trace.optimizer`` holds the losses, the final parameters and state.
    steps : int >= 1, with ``optimizer`` (default 1).

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
    if isinstance(net, Perceptron):  # trained by its own rule, not by gradients
        extra = [
            k
            for k, v in dict(
                loss=loss,
                attack=attack,
                eps=eps,
                clip=clip,
                preprocessing=preprocessing,
                optimizer=optimizer,
                steps=steps,
            ).items()
            if v is not None
        ]
        if y is None or extra:
            raise ValueError(
                "a Perceptron is explained by its learning rule on x and y (and lr): "
                + (f"{', '.join(extra)} do not apply" if extra else "y is missing")
            )
        lr = net.lr if lr is None else lr
        return explain_perceptron(x, y, lr=lr, epochs=net.max_epochs)
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    work = (
        net.copy()
    )  # the walk fills caches and gradients: keep the caller's net clean
    cells = None
    if preprocessing is not None and isinstance(x, dict):  # raw cells: text, empty
        cells = x
        x = preprocessing.transform(cells, "x", standardize=False)[0]
    X = _inputs(x, work)
    loss = _choose_loss(loss, work)
    if lr is not None:
        lr = check_number(lr, "lr", low=0.0, low_open=True)
        if y is None:
            raise ValueError(
                f"lr={lr:g} needs a target y: the gradient-descent step follows the "
                "gradient of the loss, and without y there is no loss"
            )
    if y is not None:
        check_loss_suits_output(loss, work.layers[-1].output_activation)
    Y = None if y is None else _targets(y, X, work, loss)
    attack, eps, clip = check_attack(attack, eps, clip, Y is not None)
    optimizer = check_optimizer(optimizer, lr, steps, Y is not None, attack)
    if optimizer is not None:
        lr = None  # the optimizer's learning rate; no plain step besides
    if preprocessing is not None and attack is not None:
        raise ValueError("attack cannot be shown on a standardised input yet")
    walk = _Walk(work, X, Y, loss, lr)
    if preprocessing is not None:
        walk.standardize(preprocessing, x, cells)
    trace = walk.run()
    if attack is not None:
        AttackSteps(walk, eps, clip).run()
    if optimizer is not None:
        OptimizerSteps(walk, optimizer).run()
    return trace


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
    k = net.out_features
    if (
        X.shape[0] == 1
        and y.ndim == 1
        and k > 1
        and not isinstance(loss, CrossEntropyLoss)
    ):
        raise ValueError(
            f"y has {y.shape[0]} target entries but the network has {k} outputs: "
            f"one sample's target needs {k} numbers"
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"x and y have different numbers of samples: {X.shape[0]} and {y.shape[0]}"
        )
    return net.prepare_targets(y, loss)


class _Walk(BackwardSteps):
    """The recording itself: one method per phase, appending to ``self.trace``."""

    def __init__(self, net, X, Y, loss, lr):
        self.net, self.X, self.Y, self.loss, self.lr = net, X, Y, loss, lr
        self.n = X.shape[0]
        self.raw, self.input_key, self.classes = None, "x", None
        layers = net.layers
        self.trace = Trace(
            title=describe_network(net),
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
        return self.input_key if k == 0 else f"{k}.a"

    def standardize(self, record, x, cells=None) -> None:
        """Walk the raw rows ``x`` through the record's standardisation first
        (``cells``: the raw cells ``x`` was encoded and filled from, if any)."""
        self.raw = self.X
        self.cells, self.record = cells, record
        # from the float64 rows, then the network's dtype, as glassnet predict does;
        # one-hot, indicator and index inputs have mean 0 and scale 1
        x = np.asarray(x, dtype=np.float64).reshape(self.X.shape)
        Z = (x - record.mean) / record.scale
        self.X = Z.astype(self.net.dtype)
        self.input_key = "x_std"
        self.classes = None if record.classes is None else list(record.classes)
        self.record_stats = (record.mean, record.scale)

    # -- the walk -----------------------------------------------------------------------
    def run(self) -> Trace:
        self.notes()
        if self.raw is None:
            self.quantity("x", "x", None, Sym("x"), self.X)
        else:
            if self.cells is not None:
                self.preprocessing_step()
            self.standardization_step()
        cache = self.net.forward(self.X, return_all=True)
        for i, (layer, step) in enumerate(zip(self.net.layers, cache, strict=True)):
            self.forward(i, layer, step)
        self.prediction(cache[-1]["A"])
        if self.Y is None:
            return self.trace
        self.loss_step(cache[-1]["A"])
        try:
            self.backward(cache[-1]["A"])
        except StepGradientError as error:
            self.trace.stopped = str(error)
            self.trace.grads = [{} for _ in self.net.layers]
            note = str(error)
            if self.lr is not None:
                note += " (So no gradient-descent step is shown either.)"
            self.step(
                "backward", self.stop_layer, "Backpropagation stops here", note=note
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
            a = self.quantity(f"{k}.a", "a", i, F.output_symbol(k), A)
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
        elif isinstance(layer, Embedding):
            self.embedding_steps(i, layer, self.trace[prev.key], A)
        else:
            a = self.quantity(f"{k}.a", "a", i, F.output_symbol(k), A)
            self.step(
                "forward", i, f"{type(layer).__name__}", a, (Fn(repr(layer), (prev,)),)
            )

    def embedding_steps(self, i: int, layer: Embedding, X, A) -> None:
        """e = E[c] for each index column (the looked-up row, as numbers), then
        the layer's output: the other columns followed by every e."""
        k = i + 1
        C = layer.categories(X)  # (n, n_index)
        for j, (column, K) in enumerate(
            zip(layer.index_columns, layer.n_categories, strict=True)
        ):
            E = layer.tables[j]
            e = self.quantity(f"{k}.e{j + 1}", "e", i, Sym("e", str(j + 1)), E[C[:, j]])
            rows_read = ", ".join(
                f"{c}" + (" (unknown: zeros)" if c == K else "") for c in C[:, j]
            )
            self.step(
                "forward",
                i,
                f"Lookup of column {column}: e = E[c]",
                e,
                (Sym(f"E{j + 1}[c]"),),
                note=f"c = x[{column}] = {rows_read}: the row of the table E{j + 1} "
                f"({K} categories and the unknown row, {E.shape[1]} numbers each). "
                "Indices are not differentiable: no gradient flows back to x here.",
            )
        looked_up = [Q(f"{k}.e{j + 1}") for j in range(len(layer.index_columns))]
        a = self.quantity(f"{k}.a", "a", i, F.output_symbol(k), A)
        self.step(
            "forward",
            i,
            "Embedding output",
            a,
            (Fn("concat", (Sym("x", "other"), *looked_up)),),
            note="The columns that are not indices, unchanged, then each looked-up "
            "row in order.",
        )

    def preprocessing_step(self) -> None:
        """From the raw cells to x: empty cells filled, categories encoded, one
        equation per column (preprocessing_steps.py)."""
        self.step(
            "forward",
            None,
            "Preprocessing (stored with the model)",
            note="Each raw column j becomes its block x_j of the input x, as in "
            "training: the steps below, column by column.",
        )
        preprocessing_steps(self, self.record, self.cells, self.raw)

    def standardization_step(self) -> None:
        x = self.quantity("x", "x", None, Sym("x"), self.raw)
        mean, scale = self.record_stats
        m = self.quantity("mean", "mean", None, Sym("μ"), mean, "param")
        s = self.quantity("scale", "scale", None, Sym("σ"), scale, "param")
        z = self.quantity("x_std", "x_std", None, Sym("x", "", "std"), self.X)
        self.step(
            "forward",
            None,
            "Standardisation (stored with the model)",
            z,
            (Frac(Bin("-", x, m), s),),
            note="Each feature is centred and scaled with the mean μ and standard "
            "deviation σ of the training rows, as in training; the division is entry "
            "by entry."
            + (
                ""
                if self.record.plain
                else " One-hot, missing-indicator and category-index inputs have μ = 0 "
                "and σ = 1: they pass unchanged."
            ),
        )

    def prediction(self, A) -> None:
        """The predicted class of a classifier output: argmax of a softmax, a ≥ 0.5
        for one sigmoid."""
        name = getattr(self.net.layers[-1].output_activation, "name", "")
        if name == "softmax":
            labels, probs = A.argmax(axis=1), A.max(axis=1)
        elif name == "sigmoid" and A.shape[1] == 1:
            labels = (A[:, 0] >= 0.5).astype(int)
            probs = np.where(labels == 1, A[:, 0], 1 - A[:, 0])
        else:
            return
        out = f"a{len(self.net.layers)}"
        parts = []
        for label, p in zip(labels, probs, strict=True):
            named = f"class {int(label)}"
            if self.classes is not None:
                named = f"{self.classes[int(label)]} (class {int(label)})"
            parts.append(f"{named}, probability {float(p):.6g}")
        rule = (
            f"the largest entry of {out}"
            if name == "softmax"
            else f"class 1 where {out} ≥ 0.5, else class 0"
        )
        if self.n == 1:
            text = f"Predicted class: {parts[0]} ({rule})."
        else:
            listed = "; ".join(f"sample {s}: {t}" for s, t in enumerate(parts, 1))
            text = f"Predicted classes ({rule}): {listed}."
        self.step("forward", None, "Prediction", note=text)

    def activation_step(self, i: int, activation: Activation, z: Q, A) -> None:
        k = i + 1
        a = self.quantity(f"{k}.a", "a", i, F.output_symbol(k), A)
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
        rhs = (F.activation_forward(activation, z),)
        stable = F.stable_activation_forward(activation, z)
        if stable is not None and np.abs(Z).max() > F.EXP_LIMIT:
            rhs = (Symbolic(rhs[0]), stable)  # e^z of the first form would overflow
            note = (
                f"{z_name} reaches {np.abs(Z).max():.6g} in size, past where e^{z_name} "
                f"overflows to inf: the numbers are those of the second form, the one "
                f"glassnet computes, equal to the first and free of overflow."
            )
        self.step("forward", i, title, a, rhs, note=note)

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
        rhs = (F.loss_value(loss, Q(self.a_key(L)), y, count, n),)
        if loss.fuses_with(last.output_activation) and not F.textbook_loss_holds(
            loss, A, Y, value
        ):  # the textbook form with these numbers takes log 0: show the stable one
            z = Q(f"{L}.z" if f"{L}.z" in self.trace.quantities else self.a_key(L - 1))
            rhs = (Symbolic(rhs[0]), F.stable_loss_value(loss, z, y, count, n))
            notes.append(
                f"Here a{L} has rounded to exactly 0 or 1 in floating point, so the "
                f"first form as numbers would take log 0: the numbers are those of "
                f"the stable form."
            )
        title = f"Loss: {F.loss_display_name(loss)}"
        self.step("loss", None, title, Lq, rhs, note=" ".join(notes))

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


def describe_network(net: Sequential) -> str:
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
