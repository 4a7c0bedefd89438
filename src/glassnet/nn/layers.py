"""Layers: each keeps its forward and backward pass side by side.

Batch convention (PyTorch's and scikit-learn's): samples are rows. For a batch
A_prev of shape (n, in) a dense layer computes Z = A_prev W^T + b, which is the seeds'
z = W x + b applied to every row x at once; W keeps the seeds' shape (out, in).

A layer's parameters live in ``layer.params`` and their gradients in ``layer.grads``
(dicts of arrays keyed "W", "b"). Inside a ``Sequential`` both are views into one flat
buffer each, so an optimizer updates every parameter with one vectorised operation.

Work arrays: called with ``reuse=True`` (the training loop and predict do), a layer
writes Z, A and the gradients it passes back into arrays it keeps per batch size
(``work.Z``, ... from ``glassnet._fast.work``), instead of allocating new ones every
step. Those arrays are overwritten by the next call with the same batch size; without
``reuse`` every ``work.<name>`` is None and every call returns new arrays.

The machinery (BLAS threads per product, work arrays, the compiled loops that may
stand in for the numpy code of a ReLU layer) is in ``glassnet._fast.ops``: here each
line is one equation.
"""

from __future__ import annotations

import numpy as np

from .._fast import ops
from .._fast.work import WorkArrays
from ..errors import NotBuiltError
from ..validation import check_number, check_positive_int
from .activations import Activation, get_activation
from .init import DEFAULT_FOR_FAMILY, get_initializer


class Layer:
    """Base class. Subclasses set ``params``/``grads`` in ``build`` if they have any."""

    #: The activation this layer ends with, if any (used to fuse loss gradients).
    output_activation: Activation | None = None

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._forward_done = False
        self._work = WorkArrays()

    def _work_shapes(self, A_prev: np.ndarray) -> dict:
        """{name: (shape, dtype)} of the work arrays for the batch ``A_prev``."""
        return {}

    # -- shape ------------------------------------------------------------------------
    @property
    def in_features(self) -> int | None:
        """Width of the input, or None for layers that take any width."""
        return None

    def output_features(self, in_features: int) -> int:
        return in_features

    # -- parameters -------------------------------------------------------------------
    def build(self, in_features: int, dtype, rng: np.random.Generator, init_hint=None):
        """Create parameters (if not already set) for inputs of ``in_features``."""

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    # -- computation ------------------------------------------------------------------
    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dA: np.ndarray, need_input_grad: bool = True):
        """dL/dA of this layer's output -> dL/dA of its input (None if not needed)."""
        raise NotImplementedError

    def _require_forward(self) -> None:
        if not self._forward_done:
            raise RuntimeError(
                f"{self!r}: backward called before forward; run forward on a batch first"
            )

    def clear_cache(self) -> None:
        """Forget the last forward pass (frees the batch arrays it held)."""
        self._forward_done = False
        self._work = WorkArrays()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_work"] = WorkArrays()  # scratch, not state: never pickled nor shared
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._work = WorkArrays()  # also for pickles whose layers kept a plain dict

    def config(self) -> dict:
        return {}

    def describe(self) -> str:
        """Short text for summaries: the activation's name, if any."""
        return ""


class Dense(Layer):
    """A fully connected layer: z = W x + b, a = g(z), for every sample x of a batch.

    Parameters
    ----------
    in_features, out_features : int
        Widths of the input x and the output a. W has shape (out_features, in_features).
    activation : str or Activation, default "identity"
        g, applied elementwise (softmax: over each row).
    use_bias : bool, default True
        Whether to add b.
    init : str, optional
        Weight initialiser name (see ``glassnet.nn.init``); by default He for the ReLU
        family and Glorot otherwise. Biases start at zero.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> layer = gn.Dense(2, 2, activation="relu")
    >>> layer.build(2, "float64", np.random.default_rng(0))
    >>> layer.W = [[0.2, 0.4], [0.1, 0.6]]
    >>> layer.b = [0.3, 0.5]
    >>> layer.forward(np.array([[1.0, 2.0]]))
    array([[1.3, 1.8]])
    """

    def __init__(
        self, in_features, out_features, activation=None, *, use_bias=True, init=None
    ):
        super().__init__()
        self._in = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.activation = get_activation(activation)
        self.output_activation = self.activation
        self.use_bias = bool(use_bias)
        if init is not None:
            get_initializer(init)  # fail now on an unknown name, not at build time
        self.init = init

    @property
    def in_features(self):
        return self._in

    def output_features(self, in_features):
        return self.out_features

    # -- parameters -------------------------------------------------------------------
    def build(self, in_features, dtype, rng, init_hint=None):
        if self.params:
            return
        family = (init_hint or self.activation).init_family
        initializer = get_initializer(self.init or DEFAULT_FOR_FAMILY[family])
        shape = (self.out_features, self._in)
        self.params["W"] = initializer(shape, rng).astype(dtype)
        self.grads["W"] = np.zeros(shape, dtype=dtype)
        if self.use_bias:
            self.params["b"] = np.zeros(self.out_features, dtype=dtype)
            self.grads["b"] = np.zeros(self.out_features, dtype=dtype)

    def _param(self, name):
        if name not in self.params:
            if name == "b" and not self.use_bias:
                return None
            raise NotBuiltError(
                f"{self!r} has no parameters yet: put it in a gn.Sequential or call "
                "build(in_features, dtype, rng)"
            )
        return self.params[name]

    def _set_param(self, name, value):
        target = self._param(name)
        if target is None:
            raise ValueError(f"{self!r} was created with use_bias=False; it has no b")
        value = np.asarray(value, dtype=target.dtype)
        if value.shape != target.shape:
            raise ValueError(
                f"{name} of {self!r} must have shape {target.shape}, got {value.shape}"
            )
        target[...] = value  # in place: W and b stay views into the network's buffer

    W = property(
        lambda self: self._param("W"),
        lambda self, v: self._set_param("W", v),
        doc="Weights, shape (out_features, in_features).",
    )
    b = property(
        lambda self: self._param("b"),
        lambda self, v: self._set_param("b", v),
        doc="Biases, shape (out_features,), or None without bias.",
    )
    dW = property(lambda self: self.grads.get("W"), doc="dL/dW from the last backward.")
    db = property(lambda self: self.grads.get("b"), doc="dL/db from the last backward.")

    # -- computation ------------------------------------------------------------------
    def forward(self, A_prev, training=False, *, reuse=False):  # A_prev: (n, in)
        W = self._param("W")
        work = self._work.batch(self, A_prev, reuse)
        self._A_prev = A_prev
        Z = ops.matmul(A_prev, W.T, out=work.Z)  # Z = A_prev W^T              (n, out)
        A = self._add_bias_and_activate(Z, work.A)  # Z += b, A = g(Z)          (n, out)
        self._Z, self._A = Z, A
        self._forward_done = True
        return A

    @ops.bias_relu  # a ReLU layer: both lines in one compiled pass
    def _add_bias_and_activate(self, Z, out):  # Z: (n, out)
        if self.use_bias:
            Z += self.params["b"]  # Z = A_prev W^T + b (b added to each row)  (n, out)
        return ops.with_out(self.activation.forward, Z, out=out)  # A = g(Z)    (n, out)

    def backward(self, dA, need_input_grad=True, *, reuse=False):  # dA: (n, out)
        self._require_forward()
        work = self._work.batch(self, self._A_prev, reuse)
        dZ = self._dZ_and_db(dA, work.dZ)  # dL/dZ = dA * g'(Z), dL/db          (n, out)
        return self._weights_backward(dZ, need_input_grad, work)

    @ops.relu_backward  # a ReLU layer: both lines in one compiled pass
    def _dZ_and_db(self, dA, out):  # dA = dL/dA: (n, out)
        Z, A, g = self._Z, self._A, self.activation
        dZ = ops.with_out(g.backward, dA, Z, A, out=out)  # dL/dZ = dA * g'(Z) (n, out)
        if self.use_bias:
            dZ.sum(axis=0, out=self.grads["b"])  # dL/db = sum_i dZ_i          (out,)
        return dZ

    def backward_from_z(self, dZ, need_input_grad=True, *, reuse=False):
        """The linear part's backward pass, given dL/dZ (n, out) (used directly when
        the loss's gradient already went through the activation)."""
        self._require_forward()
        work = self._work.batch(self, self._A_prev, reuse)
        if self.use_bias:
            dZ.sum(axis=0, out=self.grads["b"])  # dL/db = sum_i dZ_i          (out,)
        return self._weights_backward(dZ, need_input_grad, work)

    def _weights_backward(self, dZ, need_input_grad, work):  # dZ: (n, out)
        """dL/dW and, if needed, dL/dA_prev from dL/dZ (db is done by the caller)."""
        W, A_prev, dW = self.params["W"], self._A_prev, self.grads["W"]
        ops.matmul(dZ.T, A_prev, out=dW)  # dL/dW = dZ^T A_prev               (out, in)
        if not need_input_grad:
            return None
        return ops.matmul(dZ, W, out=work.dA_prev)  # dL/dA_prev = dZ W        (n, in)

    def _work_shapes(self, A_prev):
        n, dtype = A_prev.shape[0], self.params["W"].dtype
        Z = ((n, self.out_features), dtype)
        return {"Z": Z, "A": Z, "dZ": Z, "dA_prev": (A_prev.shape, dtype)}

    @property
    def preactivation(self):
        """Z from the last forward pass."""
        self._require_forward()
        return self._Z

    def clear_cache(self):
        super().clear_cache()
        self._A_prev = self._Z = self._A = None

    def config(self):
        config = {
            "in_features": self._in,
            "out_features": self.out_features,
            "activation": self.activation.name,
            "use_bias": self.use_bias,
        }
        if self.activation.config():
            config["activation_config"] = self.activation.config()
        if self.init is not None:
            config["init"] = self.init
        return config

    def describe(self):
        return self.activation.name

    def __repr__(self):
        extra = (
            "" if self.activation.name == "identity" else f", {self.activation.name!r}"
        )
        bias = "" if self.use_bias else ", use_bias=False"
        return f"Dense({self._in}, {self.out_features}{extra}{bias})"


class ActivationLayer(Layer):
    """An activation used as a layer of its own: A = g(Z), with Z the previous output.

    ``Sequential`` wraps activation objects (``gn.ReLU()``, ...) in this automatically.
    """

    def __init__(self, activation):
        super().__init__()
        self.activation = get_activation(activation)
        self.output_activation = self.activation

    def forward(self, A_prev, training=False, *, reuse=False):  # A_prev = Z: (n, k)
        work = self._work.batch(self, A_prev, reuse)
        self._Z = Z = A_prev
        g = self.activation
        self._A = ops.with_out(g.forward, Z, out=work.A)  # A = g(Z)            (n, k)
        self._forward_done = True
        return self._A

    def backward(self, dA, need_input_grad=True, *, reuse=False):  # dA: (n, k)
        self._require_forward()
        Z, A, g = self._Z, self._A, self.activation
        work = self._work.batch(self, Z, reuse)
        return ops.with_out(g.backward, dA, Z, A, out=work.dZ)  # dL/dZ = dA * g'(Z)

    def backward_from_z(self, dZ, need_input_grad=True, *, reuse=False):
        return dZ  # this layer's input *is* Z, so dL/dZ is already its input gradient

    def _work_shapes(self, A_prev):
        return {"A": (A_prev.shape, A_prev.dtype), "dZ": (A_prev.shape, A_prev.dtype)}

    @property
    def preactivation(self):
        self._require_forward()
        return self._Z

    def clear_cache(self):
        super().clear_cache()
        self._Z = self._A = None

    def config(self):
        config = {"activation": self.activation.name}
        if self.activation.config():
            config["activation_config"] = self.activation.config()
        return config

    def describe(self):
        return self.activation.name

    def __repr__(self):
        return repr(self.activation)


class Dropout(Layer):
    """Inverted dropout: in training, A = A_prev * m / (1 - p), m_ij ~ Bernoulli(1 - p).

    Dividing by 1 - p keeps the expected activation unchanged, so nothing needs
    rescaling at inference, where dropout is the identity. The mask comes from the
    network's seeded generator.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = check_number(p, "p", low=0.0, high=1.0, high_open=True)
        self.rng: np.random.Generator | None = None

    def build(self, in_features, dtype, rng, init_hint=None):
        self.rng = rng

    def forward(self, A_prev, training=False, *, reuse=False):
        if training and self.p > 0:
            if self.rng is None:
                raise NotBuiltError(
                    f"{self!r} has no random generator: put it in a Sequential"
                )
            keep = self.rng.random(A_prev.shape) >= self.p
            self._mask = keep.astype(A_prev.dtype) / (1.0 - self.p)  # m / (1 - p)
            A = A_prev * self._mask
        else:
            self._mask = None
            A = A_prev
        self._forward_done = True
        return A

    def backward(self, dA, need_input_grad=True, *, reuse=False):
        self._require_forward()
        return (
            dA if self._mask is None else dA * self._mask
        )  # dL/dA_prev = dL/dA * m/(1-p)

    def clear_cache(self):
        super().clear_cache()
        self._mask = None

    def config(self):
        return {"p": self.p}

    def describe(self):
        return f"p={self.p:g}"

    def __repr__(self):
        return f"Dropout(p={self.p:g})"


def as_layer(obj) -> Layer:
    """A layer from a Layer or an Activation (wrapped in an ActivationLayer)."""
    if isinstance(obj, Layer):
        return obj
    if isinstance(obj, Activation):
        return ActivationLayer(obj)
    raise TypeError(
        f"Sequential takes glassnet layers (Dense, Dropout, gn.ReLU(), ...), "
        f"got {type(obj).__name__}"
    )
