"""ONNX import: a feed-forward ONNX model as a glassnet ``Sequential``.

The graph is walked node by node along the one tensor that flows from the input to
the output (the stream, a single vector per batch row); every other input of a node
must be a constant (an initializer, also when it is listed among the graph inputs as
older exporters do, or a ``Constant`` node). What each node becomes:

======================================  ============================================
ONNX nodes                              glassnet
======================================  ============================================
``Gemm(x, B, C)``                       ``Dense``: W = alpha B (transB=1) or
                                        alpha B^T (transB=0), b = beta C; transA=0
``MatMul(x, B)``, B stored (in, out)    ``Dense`` with W = B^T, no bias yet
``MatMul(A, x)``, x a column (in, 1)    ``Dense`` with W = A
``Add``/``Sub``/``Mul``/``Div`` by a    right after a linear layer: folded into its
constant (per feature, or a scalar)     W and b (an ``Add`` is its bias, exactly);
                                        before one (input normalisation such as
                                        (x - mean) / std): folded into its W and b
``Relu``, ``Sigmoid``, ``Tanh``,        the activation of the Dense before it, or an
``LeakyRelu(alpha)``                    activation layer
``Softmax`` on the feature axis         the output activation (last node only)
``Flatten``, ``Reshape``, ``Squeeze``,  nothing, when they only reshape the vector
``Unsqueeze``, ``Identity``,            (the batch row stays one vector of the same
``Dropout`` (inference)                 length)
======================================  ============================================

Anything else (a convolution, a weight computed from the input, a broadcast that
enlarges the vector, a branch) is refused with a ``ModelFormatError`` naming the node
and its operator.

Folding and rounding: an elementwise step x' = s x + t folded into the next layer
gives W' = W diag(s) and b' = b + W t, computed in float64 and stored once in the
model's dtype; folded after a layer, W' = diag(s) W and b' = s b + t. The imported
network computes the same real-valued function as the graph, but with different
roundings: the graph rounds x' before the product, the folded layer rounds W' and b'
once. The two differ by a few units in the last place of the dtype relative to
sum_j |W_ij x'_j| (for float32 about 1e-7 of that sum, for float64 about 2e-16).
A bias ``Add`` after ``MatMul`` and ``Gemm`` with alpha = beta = 1 are exact.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..io.errors import ModelFormatError
from ..nn.layers import ActivationLayer, Dense
from ..nn.network import Sequential

#: The opset versions of the default ONNX domain whose operators are read here.
MIN_OPSET = 9

_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
_RESHAPES = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div"}


@dataclass
class _Linear:
    """One affine step z = W a + b, in float64: W (out, in), b (out,)."""

    W: np.ndarray
    b: np.ndarray


@dataclass
class _Activation:
    name: str
    config: dict = field(default_factory=dict)


def from_onnx(path_or_model) -> Sequential:
    """A ``Sequential`` computing the same function as a feed-forward ONNX model.

    Parameters
    ----------
    path_or_model : str, os.PathLike or onnx.ModelProto
        An ONNX file, or a model already loaded. Its one real input may have a shape
        such as (batch, n), (1, n), (1, 1, 1, n) or (1, n, 1): every dimension but
        one holds a single entry (the first may be a symbolic batch size).

    Returns
    -------
    Sequential
        In the dtype of the model's weights (float32 models stay float32), taking
        rows of n features and giving rows of the output's width.

    Raises
    ------
    ModelFormatError
        For a file that is not ONNX, and for any node outside the feed-forward
        subset (see the module docstring), naming the node and its operator.

    Examples
    --------
    >>> import glassnet as gn
    >>> from glassnet.interop.onnx_export import to_onnx_model
    >>> net = gn.Sequential(gn.Dense(3, 4, "relu"), gn.Dense(4, 2), seed=0)
    >>> back = gn.from_onnx(to_onnx_model(net))
    >>> back.summary() == net.summary()
    True
    """
    onnx, numpy_helper = _import_onnx()
    model = _load(path_or_model, onnx)
    return _Importer(model, numpy_helper).network()


def _import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as error:
        raise ImportError(
            "ONNX import needs the 'onnx' package, which is not installed; install the "
            "onnx extra: pip install 'glassnet[onnx]'"
        ) from error
    return onnx, numpy_helper


def _load(path_or_model, onnx):
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    if not isinstance(path_or_model, (str, os.PathLike)):
        raise TypeError(
            "from_onnx needs a file path or an onnx.ModelProto, got "
            f"{type(path_or_model).__name__}"
        )
    path = os.fspath(path_or_model)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such ONNX file: {path}")
    try:
        return onnx.load(path)
    except Exception as error:  # protobuf's DecodeError and friends
        raise ModelFormatError(
            f"{path} is not a readable ONNX model ({type(error).__name__}: {error})"
        ) from None


class _Importer:
    """Walks the graph along the stream, collecting linear and activation steps."""

    def __init__(self, model, numpy_helper):
        self.graph = model.graph
        self.opset = self._opset(model)
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in self.graph.initializer
        }
        self._numpy_helper = numpy_helper
        self.steps: list = []
        # x' = s x + t waiting for the next linear step (None: nothing pending)
        self.pending: tuple[np.ndarray, np.ndarray] | None = None
        self.dtype = None

    @staticmethod
    def _opset(model) -> int:
        versions = {o.domain: o.version for o in model.opset_import}
        opset = versions.get("", versions.get("ai.onnx"))
        if opset is None or opset < MIN_OPSET:
            raise ModelFormatError(
                f"ONNX import reads opset {MIN_OPSET} or newer of the default domain, "
                f"got {opset if opset is not None else 'none'}"
            )
        return int(opset)

    # -- the graph's input and output -------------------------------------------------
    def _input(self):
        real = [i for i in self.graph.input if i.name not in self.constants]
        self._refuse_raw_columns(real)
        if len(real) != 1:
            raise ModelFormatError(
                "ONNX import needs exactly one input that is not a constant, got "
                f"{len(real)}: {[i.name for i in real]}"
            )
        value = real[0]
        tensor = value.type.tensor_type
        dtype = _dtype(tensor.elem_type, f"input '{value.name}'")
        dims = [
            d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim
        ]
        if not dims:
            raise ModelFormatError(f"input '{value.name}' has no shape")
        # a symbolic dimension is the batch; the stream is traced for one row
        shape = tuple(1 if d is None or d == 0 else d for d in dims)
        _check_vector(shape, f"input '{value.name}'")
        return value.name, shape, dtype

    def _refuse_raw_columns(self, inputs) -> None:
        """A graph whose inputs are text, boolean or integer columns starts with
        preprocessing (glassnet's export of a model trained on a table, or an
        scikit-learn pipeline): it is not a plain network."""
        from onnx import TensorProto

        floats = (TensorProto.FLOAT, TensorProto.DOUBLE)
        raw = [
            f"'{i.name}' ({TensorProto.DataType.Name(i.type.tensor_type.elem_type)})"
            for i in inputs
            if i.type.tensor_type.elem_type not in floats
        ]
        if not raw:
            return
        steps = sorted(
            {n.op_type for n in self.graph.node if n.domain not in ("", "ai.onnx")}
            | {
                n.op_type
                for n in self.graph.node
                if n.op_type in ("IsNaN", "Where", "Equal", "Concat", "Cast")
            }
        )
        raise ModelFormatError(
            f"the graph takes raw table columns {', '.join(raw)} and computes the "
            f"network's input from them ({', '.join(steps) or 'preprocessing'}): "
            "it is not a plain network; ONNX import reads graphs whose one input is "
            "a float or double tensor of features"
        )

    def network(self) -> Sequential:
        stream, shape, self.dtype = self._input()
        n_in = int(np.prod(shape))
        self.n_in = n_in
        users: dict[str, int] = {}
        for node in self.graph.node:
            for name in node.input:
                users[name] = users.get(name, 0) + 1
        for node in self.graph.node:
            where = f"node '{node.name or '(unnamed)'}' ({node.op_type})"
            if node.domain not in ("", "ai.onnx"):
                raise ModelFormatError(
                    f"{where}: operator of domain '{node.domain}' is not supported"
                )
            if node.op_type == "Constant":
                self.constants[node.output[0]] = self._constant_node(node, where)
                continue
            if stream not in node.input:
                raise ModelFormatError(
                    f"{where} does not take the network's running vector "
                    f"'{stream}'; only a single chain of layers can be imported"
                )
            if users.get(stream, 0) > 1:
                raise ModelFormatError(
                    f"'{stream}' feeds several nodes (a branch) at {where}; only a "
                    "single chain of layers can be imported"
                )
            shape = self._node(node, stream, shape, where)
            stream = node.output[0]
        outputs = [o.name for o in self.graph.output]
        if outputs != [stream]:
            raise ModelFormatError(
                f"the graph's outputs {outputs} are not the end of the chain '{stream}'"
            )
        return self._build(shape)

    # -- one node ---------------------------------------------------------------------
    def _node(self, node, stream, shape, where):
        op = node.op_type
        attrs = {a.name: self._attr(a) for a in node.attribute}
        others = [name for name in node.input if name != stream and name]
        if op == "Gemm":
            return self._gemm(node, stream, shape, attrs, where)
        if op == "MatMul":
            return self._matmul(node, stream, shape, where)
        if op in _ELEMENTWISE:
            return self._elementwise(node, stream, shape, where)
        if op in _ACTIVATIONS or op == "LeakyRelu":
            self._no_pending(where)
            if op == "LeakyRelu":
                alpha = float(attrs.get("alpha", 0.01))
                self.steps.append(_Activation("leaky_relu", {"negative_slope": alpha}))
            else:
                self.steps.append(_Activation(_ACTIVATIONS[op]))
            return shape
        if op == "Softmax":
            self._no_pending(where)
            self._check_softmax(shape, attrs, where)
            self.steps.append(_Activation("softmax"))
            return shape
        if op in _RESHAPES:
            if op == "Dropout" and len(node.output) > 1 and node.output[1]:
                raise ModelFormatError(
                    f"{where}: a dropout mask output is not supported"
                )
            new_shape = self._reshape(op, node, shape, attrs, others, where)
            _check_vector(new_shape, where)
            return new_shape
        raise ModelFormatError(
            f"{where}: operator {op} is not supported; ONNX import reads feed-forward "
            "networks of Gemm, MatMul, Add/Sub/Mul/Div by constants, Relu, Sigmoid, "
            "Tanh, LeakyRelu, a final Softmax and reshapes"
        )

    def _attr(self, attribute):
        from onnx import helper

        return helper.get_attribute_value(attribute)

    def _constant(self, name, where) -> np.ndarray:
        if name not in self.constants:
            raise ModelFormatError(
                f"{where}: input '{name}' is not a constant (an initializer or a "
                "Constant node); weights computed from the input are not supported"
            )
        return self.constants[name]

    def _constant_node(self, node, where) -> np.ndarray:
        for attribute in node.attribute:
            if attribute.name == "value":
                return self._numpy_helper.to_array(attribute.t)
            if attribute.name in ("value_float", "value_int"):
                return np.array(self._attr(attribute))
            if attribute.name in ("value_floats", "value_ints"):
                return np.array(self._attr(attribute))
        raise ModelFormatError(f"{where}: this kind of Constant is not supported")

    def _weight(self, array, where) -> np.ndarray:
        if array.dtype != self.dtype:
            raise ModelFormatError(
                f"{where}: weights of dtype {array.dtype}, but the input is "
                f"{np.dtype(self.dtype).name}"
            )
        return array.astype(np.float64)

    # -- linear steps -----------------------------------------------------------------
    def _gemm(self, node, stream, shape, attrs, where):
        if node.input[0] != stream:
            raise ModelFormatError(f"{where}: the running vector must be Gemm's A")
        if int(attrs.get("transA", 0)) != 0:
            raise ModelFormatError(f"{where}: transA=1 is not supported")
        if len(shape) != 2:
            raise ModelFormatError(f"{where}: Gemm needs a 2-D input, got {shape}")
        B = self._weight(self._constant(node.input[1], where), where)
        if B.ndim != 2:
            raise ModelFormatError(f"{where}: B must be a matrix, got {B.shape}")
        W = B if int(attrs.get("transB", 0)) == 1 else B.T  # W: (out, in)
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        out = W.shape[0]
        if W.shape[1] != shape[1]:
            raise ModelFormatError(
                f"{where}: weights for {W.shape[1]} inputs, the vector has {shape[1]}"
            )
        b = np.zeros(out)
        if len(node.input) > 2 and node.input[2]:
            C = self._weight(self._constant(node.input[2], where), where)
            if np.broadcast_shapes(C.shape, (1, out)) != (1, out):
                raise ModelFormatError(
                    f"{where}: C of shape {C.shape} is not a bias for {out} outputs"
                )
            b = beta * np.broadcast_to(C, (1, out)).ravel()
        # Y = alpha A B' + beta C: alpha and beta folded into W and b
        self._linear(_Linear(alpha * W, b), where)
        return (shape[0], out)

    def _matmul(self, node, stream, shape, where):
        left, right = node.input[0], node.input[1]
        if left == stream and right != stream:  # x B, B: (in, out)
            B = self._weight(self._constant(right, where), where)
            if B.ndim != 2 or B.shape[0] != shape[-1]:
                raise ModelFormatError(
                    f"{where}: MatMul of a vector of shape {shape} by a constant of "
                    f"shape {B.shape}: needs a ({shape[-1]}, out) matrix"
                )
            self._linear(_Linear(B.T, np.zeros(B.shape[1])), where)
            return shape[:-1] + (B.shape[1],)
        if right == stream and left != stream:  # A x, x a column (in, 1)
            A = self._weight(self._constant(left, where), where)
            if (
                A.ndim != 2
                or len(shape) < 2
                or shape[-1] != 1
                or A.shape[1] != shape[-2]
            ):
                raise ModelFormatError(
                    f"{where}: MatMul of a constant of shape {A.shape} by a vector of "
                    f"shape {shape}: needs a column vector ({A.shape[-1]}, 1)"
                )
            self._linear(_Linear(A, np.zeros(A.shape[0])), where)
            return shape[:-2] + (A.shape[0], 1)
        raise ModelFormatError(f"{where}: MatMul of the vector by itself")

    def _linear(self, step: _Linear, where):
        if self.pending is not None:  # x' = s x + t before it: W x' + b = W' x + b'
            s, t = self.pending
            if s.size != step.W.shape[1]:
                raise ModelFormatError(
                    f"{where}: the elementwise step before it has {s.size} entries, "
                    f"the layer {step.W.shape[1]} inputs"
                )
            step.b = step.b + step.W @ t
            step.W = step.W * s
            self.pending = None
        self.steps.append(step)

    def _elementwise(self, node, stream, shape, where):
        op = node.op_type
        stream_first = node.input[0] == stream
        other = node.input[1] if stream_first else node.input[0]
        if other == stream:
            raise ModelFormatError(f"{where}: {op} of the vector with itself")
        c = self._weight(self._constant(other, where), where)
        if np.broadcast_shapes(c.shape, shape) != tuple(shape):
            raise ModelFormatError(
                f"{where}: {op} by a constant of shape {c.shape} broadcasts the vector "
                f"of shape {shape} to {np.broadcast_shapes(c.shape, shape)}; only a "
                "scalar or one value per entry (a bias) can be imported"
            )
        c = np.broadcast_to(c, shape).ravel()
        one, zero = np.ones_like(c), np.zeros_like(c)
        # the step as x' = s x + t
        if op == "Add":
            s, t = one, c
        elif op == "Mul":
            s, t = c, zero
        elif op == "Sub":
            s, t = (one, -c) if stream_first else (-one, c)
        else:  # Div
            if not stream_first:
                raise ModelFormatError(f"{where}: a constant divided by the vector")
            if np.any(c == 0):
                raise ModelFormatError(f"{where}: division by zero")
            s, t = 1.0 / c, zero
        last = self.steps[-1] if self.steps else None
        if self.pending is None and isinstance(last, _Linear):
            # after the layer: s (W x + b) + t = (diag(s) W) x + (s b + t)
            last.W, last.b = s[:, None] * last.W, s * last.b + t
        elif self.pending is None:
            self.pending = (s, t)
        else:  # s2 (s1 x + t1) + t2
            s1, t1 = self.pending
            self.pending = (s * s1, s * t1 + t)
        return shape

    def _no_pending(self, where):
        if self.pending is not None:
            raise ModelFormatError(
                f"{where}: an elementwise Add/Sub/Mul/Div must be next to a linear "
                "layer (Gemm or MatMul) to be folded into it"
            )

    # -- shapes -----------------------------------------------------------------------
    def _reshape(self, op, node, shape, attrs, others, where):
        size = int(np.prod(shape))
        if op in ("Identity", "Dropout"):
            return shape
        if op == "Flatten":
            axis = int(attrs.get("axis", 1)) % (len(shape) + 1)
            return (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        if op == "Reshape":
            target = [int(v) for v in self._constant(node.input[1], where).ravel()]
            allowzero = int(attrs.get("allowzero", 0))
            dims = [
                shape[i] if v == 0 and not allowzero and i < len(shape) else v
                for i, v in enumerate(target)
            ]
            if dims.count(-1) == 1:
                known = int(np.prod([d for d in dims if d != -1]))
                dims[dims.index(-1)] = size // known if known else 0
            new = tuple(dims)
        else:  # Squeeze / Unsqueeze: axes as an attribute (opset < 13) or an input
            axes = attrs.get("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = self._constant(node.input[1], where).ravel().tolist()
            if op == "Squeeze":
                if axes is None:
                    new = tuple(d for d in shape if d != 1)
                else:
                    drop = {int(a) % len(shape) for a in axes}
                    new = tuple(d for i, d in enumerate(shape) if i not in drop)
            else:
                if axes is None:
                    raise ModelFormatError(f"{where}: Unsqueeze without axes")
                rank = len(shape) + len(axes)
                new_axes = {int(a) % rank for a in axes}
                rest = iter(shape)
                new = tuple(1 if i in new_axes else next(rest) for i in range(rank))
        if int(np.prod(new)) != size or any(d < 1 for d in new):
            raise ModelFormatError(
                f"{where}: {op} turns shape {shape} into {new}, which does not keep "
                f"the {size} entries of one vector"
            )
        return new

    def _check_softmax(self, shape, attrs, where):
        big = [i for i, d in enumerate(shape) if d != 1]
        rank = len(shape)
        if self.opset >= 13:
            axis = int(attrs.get("axis", -1)) % rank
            ok = big == [] or big == [axis]
        else:  # before opset 13: over all dimensions from axis on
            axis = int(attrs.get("axis", 1)) % rank
            ok = all(i >= axis for i in big)
        if not ok:
            raise ModelFormatError(
                f"{where}: softmax over axis {axis} of shape {shape} is not over the "
                "vector's entries"
            )

    # -- the network ------------------------------------------------------------------
    def _build(self, shape) -> Sequential:
        self._no_pending("the end of the graph")
        if not self.steps or not isinstance(self.steps[0], _Linear):
            raise ModelFormatError(
                "ONNX import needs a linear layer (Gemm or MatMul) first"
            )
        softmax_at = [i for i, s in enumerate(self.steps) if _is_softmax(s)]
        if softmax_at and softmax_at != [len(self.steps) - 1]:
            raise ModelFormatError("a Softmax is only supported as the last node")
        layers, weights = [], []
        i = 0
        while i < len(self.steps):
            step = self.steps[i]
            if isinstance(step, _Linear):
                following = self.steps[i + 1] if i + 1 < len(self.steps) else None
                activation = None
                if isinstance(following, _Activation):
                    activation = _activation(following)
                    i += 1
                out, n_in = step.W.shape
                layers.append(Dense(n_in, out, activation))
                weights.append(step)
            else:
                layers.append(ActivationLayer(_activation(step)))
            i += 1
        net = Sequential(*layers, dtype=np.dtype(self.dtype).name)
        dense = [layer for layer in net.layers if isinstance(layer, Dense)]
        for layer, step in zip(dense, weights, strict=True):
            layer.W, layer.b = step.W, step.b  # stored in the model's dtype, once
        if int(np.prod(shape)) != net.out_features:  # pragma: no cover - traced
            raise ModelFormatError("the output's shape does not match the network")
        return net


def _is_softmax(step) -> bool:
    return isinstance(step, _Activation) and step.name == "softmax"


def _activation(step: _Activation):
    from ..nn.activations import get_activation

    if step.name == "leaky_relu":
        from ..nn.activations import LeakyReLU

        return LeakyReLU(step.config["negative_slope"])
    return get_activation(step.name)


def _dtype(elem_type: int, what: str):
    from onnx import TensorProto

    if elem_type == TensorProto.FLOAT:
        return np.float32
    if elem_type == TensorProto.DOUBLE:
        return np.float64
    raise ModelFormatError(
        f"{what} has element type {TensorProto.DataType.Name(elem_type)}; ONNX import "
        "reads float and double models"
    )


def _check_vector(shape, where):
    if sum(d != 1 for d in shape) > 1:
        raise ModelFormatError(
            f"{where}: shape {tuple(shape)} is not one vector per batch row (only one "
            "dimension may hold more than one entry)"
        )
