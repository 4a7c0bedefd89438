"""Sequential: a feed-forward network, layer after layer.

Forward propagation, for l = 1..L:   A[l] = g[l](A[l-1] W[l]^T + b[l]),  A[0] = X.
Backpropagation walks the chain rule back from dL/dA[L]:
    dZ[l] = dA[l] * g[l]'(Z[l]),   dW[l] = dZ[l]^T A[l-1],   db[l] = sum dZ[l],
    dA[l-1] = dZ[l] W[l].

Every parameter of every layer is a view into ``net.flat_params`` and every gradient a
view into ``net.flat_grads``: the optimizer updates the whole network at once.
"""

from __future__ import annotations

import contextlib
import copy
import html
import threading

import numpy as np

from .._fast import ops
from .._fast.work import WorkArrays, check_memory
from ..errors import ConcurrentUseError
from ..validation import (
    as_generator,
    check_dtype,
    check_input_matrix,
    check_same_length,
    check_sample_weight,
)
from .layers import Dense, Layer, as_layer
from .losses import Loss, get_loss

#: Guards the lazy creation of a network's usage record (one per network).
_CREATING = threading.Lock()


class _Usage:
    """Who uses a network now: the thread fitting it, and the inference passes
    (predict, evaluate) running in each thread. ``fit`` may not overlap anything
    done from another thread; inference passes may overlap each other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fitter: int | None = None  # the thread running fit
        self._fits = 0  # nested fits in that thread (a callback may fit)
        self._passes: dict[int, int] = {}  # thread -> inference passes running

    @contextlib.contextmanager
    def fitting(self):
        me = threading.get_ident()
        with self._lock:
            if self._fitter not in (None, me):
                raise ConcurrentUseError(
                    "this network is being fitted in another thread: fit one network "
                    "from one thread at a time (fit a copy, net.copy(), to train two)"
                )
            if any(thread != me for thread in self._passes):
                raise ConcurrentUseError(
                    "this network is predicting or evaluating in another thread: fit "
                    "it only when no other thread uses it (or fit a copy, net.copy())"
                )
            self._fitter, self._fits = me, self._fits + 1
        try:
            yield
        finally:
            with self._lock:
                self._fits -= 1
                if self._fits == 0:
                    self._fitter = None

    def inference(self) -> _InferencePass:
        """The section of one inference pass of the calling thread (a plain class,
        not a generator: predict on one row enters it at every call)."""
        return _InferencePass(self)

    def _start_pass(self, me: int) -> None:
        with self._lock:
            if self._fitter not in (None, me):
                raise ConcurrentUseError(
                    "this network is being fitted in another thread: predict and "
                    "evaluate only after fit returns (or predict with a copy made "
                    "before, net.copy())"
                )
            self._passes[me] = self._passes.get(me, 0) + 1

    def _end_pass(self, me: int) -> None:
        with self._lock:
            self._passes[me] -= 1
            if not self._passes[me]:
                del self._passes[me]


class _InferencePass:
    """``with usage.inference():`` counts an inference pass of this thread while
    the block runs (``_Usage``)."""

    __slots__ = ("_usage", "_me")

    def __init__(self, usage: _Usage) -> None:
        self._usage = usage
        self._me = threading.get_ident()

    def __enter__(self) -> None:
        self._usage._start_pass(self._me)

    def __exit__(self, *exc) -> None:
        self._usage._end_pass(self._me)


def network_memory(
    widths, dtype="float32", batch_size: int = 0, optimizer_slots: int = 0, dense=None
) -> int:
    """Bytes a network of Dense layers ``widths[i] -> widths[i + 1]`` needs: while it
    is built, each parameter four times (the initial draw, its array, the flat buffer
    and the gradient); to train, ``optimizer_slots`` more (Adam keeps 2: m and v) and
    the work arrays of a batch of ``batch_size`` rows (Z, A, dZ of each layer and
    the gradient passed back to its input). ``dense`` lists the layers with
    parameters (default: all).

    Examples
    --------
    >>> network_memory([2, 3], "float64")  # 9 parameters x 4 copies x 8 bytes
    288
    >>> network_memory([2, 3], "float64", batch_size=10, optimizer_slots=2)
    1312
    """
    size = np.dtype(dtype).itemsize
    layers = range(len(widths) - 1) if dense is None else dense
    params = sum(widths[i] * widths[i + 1] + widths[i + 1] for i in layers)
    rows = sum(3 * widths[i + 1] + widths[i] for i in layers) * batch_size
    return (params * (4 + optimizer_slots) + rows) * size


class Sequential:
    """A feed-forward network.

    Parameters
    ----------
    *layers : Layer or Activation
        The layers in order (a single list is accepted too). The first must have a
        fixed input width (a ``Dense``), or be an ``Embedding`` followed by a layer
        that has one.
    dtype : "float32" (default) or "float64"
        The dtype of every parameter and computation.
    seed : int, numpy Generator or None
        All randomness (initial weights, dropout masks, shuffling in ``fit``) is drawn
        from ``net.rng``, made from this seed: the same seed gives the same weights.

    Threads: ``predict``, ``predict_proba``, ``predict_classes`` and ``evaluate`` may
    be called from any number of threads at once on one network (each thread runs
    on work arrays of its own; the parameters are only read). ``fit`` must not
    overlap anything done with the network in another thread: it raises
    ``ConcurrentUseError`` when another thread is fitting, predicting or evaluating,
    and so do predict and evaluate while another thread fits. ``forward``,
    ``loss_and_grad`` and ``input_grad`` keep the pass on the layers (for
    inspection) and belong to one thread at a time.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 2, activation="relu"),
    ...                     gn.Dense(2, 1, activation="sigmoid"), dtype="float64", seed=0)
    >>> net.layers[0].W = [[0.2, 0.4], [0.1, 0.6]]; net.layers[0].b = [0.3, 0.5]
    >>> net.layers[1].W = [[0.7, 0.9]]; net.layers[1].b = [0.2]
    >>> net.forward(np.array([[1.0, 2.0]])).round(6)
    array([[0.938774]])
    >>> loss, grads = net.loss_and_grad([[1.0, 2.0]], [1.0], loss="binary_crossentropy")
    >>> round(loss, 6), grads[1]["W"].round(6)
    (0.063181, array([[-0.079594, -0.110207]]))
    """

    def __init__(self, *layers, dtype="float32", seed=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        self.dtype = check_dtype(dtype)
        self.rng = as_generator(seed)
        self.layers: list[Layer] = [as_layer(layer) for layer in layers]
        self._widths = self._check_widths()
        check_memory(
            network_memory(self._widths, self.dtype, dense=self._dense_layers()),
            f"a network of {self._n_weights():,} parameters",
        )
        for i, layer in enumerate(self.layers):
            layer.build(self._widths[i], self.dtype, self.rng, self._init_hint(i))
        self._bind_parameters()

    # -- construction -----------------------------------------------------------------
    def _check_widths(self) -> list[int]:
        """Widths of each layer's input, then the output; raise if layers don't connect."""
        first = self.layers[0]
        width = first.in_features
        infer = getattr(first, "input_features_for", None)
        if width is None and infer is not None and len(self.layers) > 1:
            # a first layer that can tell its input width from the next layer's
            # (an Embedding: d = width - sum(dims) + number of index columns)
            after = self.layers[1].in_features
            width = None if after is None else infer(after)
        if width is None or width < 1:
            raise ValueError(
                f"the first layer must fix the input width (e.g. gn.Dense(in, out)), "
                f"got {first!r}"
            )
        widths = [width]
        for i, layer in enumerate(self.layers):
            if layer.in_features is not None and layer.in_features != widths[-1]:
                raise ValueError(
                    f"layer {i} ({layer!r}) expects inputs of shape (n, {layer.in_features}) "
                    f"but layer {i - 1} ({self.layers[i - 1]!r}) outputs shape "
                    f"(n, {widths[-1]})"
                )
            widths.append(layer.output_features(widths[-1]))
        return widths

    def _dense_layers(self) -> list[int]:
        """Indices of the Dense layers (the ones with parameters)."""
        return [i for i, layer in enumerate(self.layers) if isinstance(layer, Dense)]

    def _n_weights(self) -> int:
        w = self._widths
        return sum(w[i] * w[i + 1] + w[i + 1] for i in self._dense_layers())

    def _init_hint(self, i: int):
        """For a Dense with no activation of its own, the activation layer after it,
        so that the default initialiser suits the nonlinearity that follows."""
        layer = self.layers[i]
        if isinstance(layer, Dense) and layer.activation.name == "identity":
            following = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if following is not None and following.output_activation is not None:
                return following.output_activation
        return None

    def _bind_parameters(self) -> None:
        """Move every parameter and gradient into one flat buffer each, as views."""
        entries = [
            (layer, name, p)
            for layer in self.layers
            for name, p in layer.params.items()
        ]
        total = sum(p.size for _, _, p in entries)
        self.flat_params = np.empty(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        offset = 0
        for layer, name, p in entries:
            view = self.flat_params[offset : offset + p.size].reshape(p.shape)
            view[...] = p
            layer.params[name] = view
            layer.grads[name] = self.flat_grads[offset : offset + p.size].reshape(
                p.shape
            )
            offset += p.size

    # -- shape ------------------------------------------------------------------------
    @property
    def in_features(self) -> int:
        return self._widths[0]

    @property
    def out_features(self) -> int:
        return self._widths[-1]

    @property
    def n_params(self) -> int:
        return int(self.flat_params.size)

    def parameters(self):
        """(layer index, name, array) for every parameter, in flat-buffer order."""
        return [
            (i, name, p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.params.items()
        ]

    # -- forward ----------------------------------------------------------------------
    def forward(self, X, return_all: bool = False, training: bool = False):
        """The network's output for a batch X of shape (n_samples, in_features).

        With ``return_all=True`` returns a list aligned with ``layers``: for each layer
        a dict with "Z" (its pre-activation, or input for layers without weights) and
        "A" (its output).
        """
        X = check_input_matrix(X, self.in_features, self.dtype)
        A = self._forward(X, training)
        if not return_all:
            return A
        return [
            {"Z": getattr(layer, "_Z", None), "A": layer_output}
            for layer, layer_output in zip(
                self.layers, self._layer_outputs, strict=True
            )
        ]

    __call__ = forward

    def _forward(self, X: np.ndarray, training: bool, reuse: bool = False):
        """Forward pass on an already validated batch (the training hot path).

        With ``reuse`` the layers write into the work arrays they keep for this batch
        size (see ``glassnet.nn.layers``): the output is overwritten by the next such
        call, so callers that keep it copy it.
        """
        outputs = []
        A = X
        for layer in self.layers:
            A = ops.with_reuse(layer.forward, A, training, reuse=reuse)  # A[l] (n, k_l)
            outputs.append(A)
        self._layer_outputs = outputs
        return A

    # -- inference from any thread ------------------------------------------------------
    @property
    def _usage(self) -> _Usage:
        usage = self.__dict__.get("_usage_record")
        if usage is None:
            with _CREATING:  # two threads' first calls must share one record
                usage = self.__dict__.setdefault("_usage_record", _Usage())
        return usage

    def _inference_layers(self) -> list[Layer]:
        """The layers as the calling thread runs an inference pass on them: for each,
        a shallow copy sharing everything (parameters included) but the work arrays
        and the stored pass, which belong to this thread."""
        local = self.__dict__.get("_thread_local")
        if local is None:
            with _CREATING:
                local = self.__dict__.setdefault("_thread_local", threading.local())
        layers = self.layers
        known = getattr(local, "layers", ())
        if len(known) != len(layers) or any(
            a is not b for a, b in zip(known, layers, strict=True)
        ):
            local.layers = tuple(layers)
            local.work = [WorkArrays() for _ in layers]
        views = []
        for layer, work in zip(layers, local.work, strict=True):
            view = object.__new__(type(layer))
            view.__dict__.update(layer.__dict__)
            view._work = work
            views.append(view)
        return views

    @staticmethod
    def _infer(X: np.ndarray, layers: list[Layer]) -> np.ndarray:
        """Inference pass (dropout off) on a validated batch through ``layers`` (from
        ``_inference_layers``), into their work arrays: the output is overwritten by
        the next pass of this thread with the same batch size."""
        A = X
        for layer in layers:
            A = ops.with_reuse(layer.forward, A, False, reuse=True)  # A[l] (n, k_l)
        return A

    # -- loss and backward ------------------------------------------------------------
    def prepare_targets(self, y, loss: Loss) -> np.ndarray:
        """Targets validated and shaped like the output, for ``loss``. Boolean
        labels are the classes 0 and 1 (numpy would read them as a mask)."""
        if getattr(y, "dtype", None) == np.bool_ and np.ndim(y) == 1:
            y = np.asarray(y, dtype=np.int64)
        return loss.prepare_targets(y, self.out_features, self.dtype)

    def _checked_batch(self, X, y, loss, sample_weight):
        """Validate a batch at the boundary: (loss object, X, Y shaped like the
        output, sample weights or None)."""
        loss = get_loss(loss)
        X = check_input_matrix(X, self.in_features, self.dtype)
        check_same_length(X, y)
        Y = self.prepare_targets(y, loss)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        return loss, X, Y, sample_weight

    def loss_and_grad(
        self, X, y, loss="mse", training: bool = False, sample_weight=None
    ):
        """The loss on (X, y) and its gradient with respect to every parameter.

        Returns
        -------
        loss : float
        grads : list aligned with ``layers``; for each layer a dict of arrays keyed like
            its ``params`` ({"W": dL/dW, "b": dL/db} for Dense, {} without parameters).
            The arrays are copies: later calls do not change them.
        """
        loss, X, Y, sample_weight = self._checked_batch(X, y, loss, sample_weight)
        A = self._forward(X, training)
        value = self._backward(loss, A, Y, sample_weight)
        return value, [
            {name: g.copy() for name, g in layer.grads.items()} for layer in self.layers
        ]

    def loss_value(self, X, y, loss="mse", sample_weight=None, training: bool = False):
        """The loss L on (X, y), without gradients."""
        loss, X, Y, sample_weight = self._checked_batch(X, y, loss, sample_weight)
        return self._loss_of_output(loss, self._forward(X, training), Y, sample_weight)

    def input_grad(self, X, y, loss="mse", sample_weight=None) -> np.ndarray:
        """dL/dX: the loss's gradient with respect to the inputs, shape of X (n, in).

        Backpropagation carried one step past the first layer, dL/dX = dZ[1] W[1]
        (the gradient adversarial attacks follow, see ``glassnet.attacks``). Computed
        in inference mode (dropout off). The parameter gradients ``flat_grads`` are left
        as they were: they are saved before and restored after the backward pass.

        Examples
        --------
        >>> import glassnet as gn
        >>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
        >>> net.layers[0].W = [[0.5, -1.0]]; net.layers[0].b = [0.0]
        >>> net.input_grad([[0.0, 0.0]], [1.0], loss="binary_crossentropy")
        array([[-0.25,  0.5 ]])
        """
        loss, X, Y, sample_weight = self._checked_batch(X, y, loss, sample_weight)
        saved_grads = self.flat_grads.copy()
        A = self._forward(X, training=False)
        _, dX = self._backward(loss, A, Y, sample_weight, need_input_grad=True)
        self.flat_grads[...] = saved_grads  # in place: layers' grads are views into it
        return dX

    def _loss_of_output(self, loss: Loss, A, Y, sample_weight=None, last=None):
        """The loss of the output A (from the logits of ``last``, by default the
        output layer, when the loss fuses with its activation)."""
        last = self.layers[-1] if last is None else last
        if loss.fuses_with(last.output_activation):
            return loss.value_from_logits(last.preactivation, Y, sample_weight)
        return loss.value(A, Y, sample_weight)

    def _backward(
        self,
        loss: Loss,
        A,
        Y,
        sample_weight=None,
        need_input_grad=False,
        reuse=False,
        after_layer=None,
    ):
        """Loss value; fills every layer's ``grads`` (views into ``flat_grads``).

        When the output activation and the loss fuse (sigmoid + binary cross-entropy,
        softmax + cross-entropy) backpropagation starts from dL/dZ = (A - Y)/n, skipping
        the activation's derivative, which cancels exactly; the loss itself is then
        computed from the logits Z, so it stays finite when A saturates at 0 or 1.

        With ``reuse`` the gradients passed between layers go into kept work arrays
        (as in ``_forward``). Returns the loss, and dL/dX as well when
        ``need_input_grad``. ``after_layer(value, i)``, if given, is called as soon
        as layer i's gradients are final (the fit loop may start its update then,
        glassnet._fast.overlap), last layer first.
        """
        last, w = self.layers[-1], sample_weight
        value = self._loss_of_output(loss, A, Y, w)
        work = self._loss_work.batch(self, A, reuse)
        more = need_input_grad or len(self.layers) > 1
        if loss.fuses_with(last.output_activation):
            dZ = ops.with_out(loss.grad_from_logits, A, Y, w, out=work.dA)  # dL/dZ[L]
            grad = ops.with_reuse(last.backward_from_z, dZ, more, reuse=reuse)
        else:
            dA = ops.with_out(loss.grad, A, Y, w, out=work.dA)  # dL/dA[L]
            grad = ops.with_reuse(last.backward, dA, more, reuse=reuse)
        if after_layer is not None:
            after_layer(value, len(self.layers) - 1)
        for i in range(len(self.layers) - 2, -1, -1):
            more = need_input_grad or i > 0
            layer = self.layers[i]
            grad = ops.with_reuse(layer.backward, grad, more, reuse=reuse)  # dL/dA[i-1]
            if after_layer is not None:
                after_layer(value, i)
        return (value, grad) if need_input_grad else value

    @property
    def _loss_work(self) -> WorkArrays:
        """The kept arrays for dL/dA[L] (or dL/dZ[L]), per batch size."""
        work = self.__dict__.get("_loss_arrays")
        if work is None:
            work = self.__dict__["_loss_arrays"] = WorkArrays()
        return work

    def _work_shapes(self, A) -> dict:
        return {"dA": (A.shape, A.dtype)}

    # -- training and prediction (bodies in glassnet.training) -------------------------
    @staticmethod
    def _training():
        """glassnet.training: the one import of a higher layer in nn/ (the declared
        exception of the layer rules), made on call, so that the math imports
        nothing from the fit loop and the package imports without a cycle."""
        from .. import training

        return training

    def fit(self, X, y=None, **kwargs):
        """Train on (X, y); returns a History. See ``glassnet.training.fit``."""
        return self._training().fit(self, X, y, **kwargs)

    def evaluate(self, X, y, **kwargs) -> dict:
        """{"loss": ..., metric: ...} on (X, y). See ``glassnet.training.evaluate``."""
        return self._training().evaluate(self, X, y, **kwargs)

    def predict(self, X, batch_size=None):
        """Outputs for every row of X, computed in batches, dropout off."""
        return self._training().predict(self, X, batch_size)

    def predict_classes(self, X, batch_size=None, loss=None):
        """Class labels (argmax, or threshold 0.5 for one sigmoid output; pass the
        training ``loss`` for a network trained on logits)."""
        return self._training().predict_classes(self, X, batch_size, loss=loss)

    def predict_proba(self, X, batch_size=None, loss=None):
        """Class probabilities, shape (n, n_classes), rows summing to 1 (pass the
        training ``loss`` for a network trained on logits)."""
        return self._training().predict_proba(self, X, batch_size, loss=loss)

    # -- conveniences -----------------------------------------------------------------
    def copy(self, dtype=None) -> Sequential:
        """An independent copy (optionally cast to another dtype), same rng state."""
        new = copy.copy(self)
        new.dtype = check_dtype(dtype or self.dtype)
        new.rng = copy.deepcopy(self.rng)
        new.layers = []
        for layer in self.layers:
            clone = copy.copy(layer)
            clone.clear_cache()
            clone.params = {k: v.astype(new.dtype) for k, v in layer.params.items()}
            clone.grads = {k: np.zeros_like(v) for k, v in clone.params.items()}
            if hasattr(clone, "rng"):
                clone.rng = new.rng
            new.layers.append(clone)
        new._layer_outputs = []
        new._loss_arrays = WorkArrays()
        new._bind_parameters()
        return new

    def _summary_rows(self) -> list[tuple[str, ...]]:
        """The summary table's header and one row per layer, as strings."""
        rows = [("#", "Layer", "Output shape", "Params", "Activation")]
        for i, layer in enumerate(self.layers):
            rows.append(
                (
                    str(i),
                    repr(layer),
                    f"(n, {self._widths[i + 1]})",
                    f"{layer.n_params:,}",
                    layer.describe(),
                )
            )
        return rows

    def _summary_footer(self) -> str:
        return (
            f"Total parameters: {self.n_params:,}   input: (n, {self.in_features})"
            f"   dtype: {self.dtype.name}"
        )

    def summary(self) -> str:
        """A table of the layers: type, output shape, parameter count, activation."""
        rows = self._summary_rows()
        widths = [max(len(row[c]) for row in rows) for c in range(5)]
        line = "-" * (sum(widths) + 8)

        def fmt(row):
            return "  ".join(
                cell.rjust(w) if c in (0, 3) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )

        body = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
        body.append(self._summary_footer())
        return "\n".join(line.rstrip() for line in body)

    def _repr_html_(self) -> str:
        """The summary table as HTML, for Jupyter (every cell escaped, no scripts).

        Examples
        --------
        >>> import glassnet as gn
        >>> net = gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 1, "sigmoid"))
        >>> "<td>(n, 3)</td>" in net._repr_html_()
        True
        """
        head, *rows = self._summary_rows()

        def cells(row, tag):
            return "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row)

        body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
        return (
            '<table class="glassnet-summary">'
            f"<caption>Sequential, {len(self.layers)} layers</caption>"
            f"<thead><tr>{cells(head, 'th')}</tr></thead><tbody>{body}</tbody>"
            f'<tfoot><tr><td colspan="5">{html.escape(self._summary_footer())}'
            "</td></tr></tfoot></table>"
        )

    def _repr_markdown_(self) -> str:
        """The summary table as Markdown."""
        head, *rows = self._summary_rows()

        def line(row):
            cells = (c.replace("|", "\\|") for c in row)
            return "| " + " | ".join(cells) + " |"

        table = [line(head), "|---:|---|---|---:|---|", *(line(r) for r in rows)]
        return "\n".join(table) + "\n\n" + self._summary_footer() + "\n"

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner},\n  dtype={self.dtype.name!r}\n)"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_loss_arrays", None)  # scratch arrays, not state: never pickled
        state.pop("_thread_local", None)  # per-thread scratch of inference passes
        state.pop("_usage_record", None)  # a copy is used independently
        return state

    def __setstate__(self, state: dict) -> None:
        # Pickling (and copy.deepcopy) stores each view as an array of its own, so
        # after loading, W and b no longer live in flat_params and an optimizer
        # stepping flat_params would change nothing. Rebind them (into new, writable
        # buffers, even when the pickle was loaded as a read-only memory map).
        # copy.copy comes here too, with the original's layers: those are still views
        # into the (shared) buffers and must stay so.
        self.__dict__.update(state)
        if all(
            np.shares_memory(p, self.flat_params)
            and np.shares_memory(layer.grads[name], self.flat_grads)
            for layer in self.layers
            for name, p in layer.params.items()
        ):
            return
        grads = np.array(self.flat_grads, copy=True)
        self._bind_parameters()
        self.flat_grads[...] = grads

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]
