"""ONNX export: a glassnet ``Sequential`` as a graph of standard ONNX operators.

Every layer becomes the operators that compute its equation, batch rows first:

=====================  =================================================================
glassnet layer         ONNX nodes
=====================  =================================================================
``Dense``              ``Gemm(A, W, b, transB=1)``: Z = A W^T + b (W is (out, in); no
                       ``b`` input with ``use_bias=False``), then the activation
activation layer       the activation's operator(s) below
``Dropout``            ``Identity``: inverted dropout is the identity at inference
``Embedding``          ``Gather`` of the pass-through columns; per index column
                       ``Gather`` (the column), ``Cast`` to int64, ``Gather`` (its
                       table's rows): e = E[c]; then ``Concat``. The graph does not check
                       the indices (glassnet's forward does): an index out of range is
                       onnxruntime's error, and -1 reads the last (unknown, zero) row
=====================  =================================================================

Activations: where ONNX has an operator of its own (``NATIVE_OPERATORS``): ``Identity``,
``Relu``, ``Sigmoid``, ``Tanh``, ``Softmax(axis=-1)`` (each row), ``LeakyRelu(alpha)``,
``Elu(alpha)``, ``Softplus``, and ``Gelu`` from opset 20 (attributes read from the
activation's ``config()``). Everywhere else the exporter writes the activation's own
formula (``Activation.stable_formula``, the expression tree explain renders, in the
form that never overflows), node for node: a piecewise formula as ``Where``, a 1-or-0
one as the condition ``Cast`` to the float type. So step is
``Cast(GreaterOrEqual(Z, 0))`` (ONNX has no step operator), and GELU below opset 20 is
z/2 (1 + Erf(z / sqrt 2)).

float64 networks give a graph of ``double`` tensors. onnxruntime's CPU provider has no
double kernels for ``Elu``, ``Softplus``, ``Erf`` or ``Gelu`` (checked with
onnxruntime 1.31), and the float ``alpha`` attribute of ``LeakyRelu``/``Elu`` would round
a float64 slope to float32. So for float64 these four activations are written from
their formulas with elementary operators that have double kernels:

- leaky ReLU: Where(Z > 0, Z, slope Z);
- ELU: Where(Z > 0, Z, alpha (Exp(Min(Z, 0)) - 1));
- softplus: Max(Z, 0) + Log(1 + Exp(-|Z|)) (the overflow-free form);
- GELU: erf by its everywhere-convergent series of positive terms (Abramowitz & Stegun
  7.1.6), erf(x) = (2 / sqrt pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)),
  summed by Horner's rule to n = 100 with x clipped to [-6, 6] (1 - erf(6) = 2e-17);
  its error is below 1e-14 everywhere (about 200 nodes per GELU layer).

With ``standardize=(mean, scale)`` (a version-1 record's, older model files) the graph
starts with ``Sub(input, mean)`` and ``Div(., scale)``, z = (x - mean) / scale, so the
exported model takes raw features. With a preprocessing record of version 2
(``preprocessing=``, a model trained on a table) the graph instead takes one input
per raw column (numbers, text, booleans, integer categories, missing cells) and
starts with the nodes of ``onnx_preprocessing``: imputation, indicators,
standardisation, one-hot and embedding indices, as glassnet's ``record.transform``.

Otherwise the graph's input is named ``"input"``, shape (batch, in_features); its output
``"output"``, shape (batch, out_features); ``batch`` is a symbolic dimension, so one
exported model takes any number of rows.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._version import __version__
from ..io.atomic import atomic_write
from ..nn.activations import ACTIVATIONS, Activation
from ..nn.embedding import Embedding
from ..nn.formula import (
    ONE,
    ZERO,
    Abs,
    Bin,
    Cases,
    E,
    Expr,
    Fn,
    Frac,
    Neg,
    Num,
    Paren,
    Pow,
    Sum,
    Sym,
)
from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.network import Sequential
from . import onnx_preprocessing

#: Name of the graph input, shape (batch, in_features).
INPUT_NAME = "input"
#: Name of the graph output, shape (batch, out_features).
OUTPUT_NAME = "output"
#: Name of the symbolic batch dimension.
BATCH_DIM = "batch"
#: Opset used when none is asked for: onnxruntime reads it from version 1.13 (2022) on.
DEFAULT_OPSET = 17
#: Oldest opset supported: Softmax works on one axis from opset 13 on.
MIN_OPSET = 13
#: Opset from which the ``Gelu`` operator exists.
GELU_OPSET = 20

# erf(x) = (2/sqrt pi) x e^(-x^2) sum_n a_n w^n with w = x^2 / 36 in [0, 1] and
# a_n = 72^n / (3 5 ... (2n+1)) = 2^n 36^n / (1 3 ... (2n+1)), each rounded once.
# In powers of x^2 itself the coefficients would fall to 1e-160, and onnxruntime's
# no-op elimination (a default graph optimisation) drops "Add(S, c)" whenever c
# rounds to 0 in float32 (seen with onnxruntime 1.31), silently corrupting the sum;
# the a_n all lie in [4e-4, 5e13].
_ERF_TERMS = 100
_ERF_CLIP = 6.0
_ERF_COEFFICIENTS = [
    float(Fraction(72**n) / math.prod(range(1, 2 * n + 2, 2)))
    for n in range(_ERF_TERMS + 1)
]


@dataclass(frozen=True)
class NativeOperator:
    """An ONNX operator that computes an activation by itself."""

    op: str
    #: (ONNX attribute, key of the activation's config()) pairs.
    attributes: tuple[tuple[str, str], ...] = ()
    #: Attributes with a fixed value.
    fixed: tuple[tuple[str, object], ...] = ()
    #: The first opset that has the operator.
    min_opset: int = MIN_OPSET
    #: Whether it serves float64 networks: onnxruntime's CPU provider has a double
    #: kernel for it, and its attributes (float32 in ONNX) lose nothing.
    double: bool = True

    def serves(self, dtype: np.dtype, opset: int) -> bool:
        return opset >= self.min_opset and (self.double or dtype != np.float64)


#: Activations with an ONNX operator of their own, by name. Any other activation, and
#: these where the operator does not serve, is written from its formula.
NATIVE_OPERATORS = {
    "identity": NativeOperator("Identity"),
    "relu": NativeOperator("Relu"),
    "sigmoid": NativeOperator("Sigmoid"),
    "tanh": NativeOperator("Tanh"),
    "softmax": NativeOperator("Softmax", fixed=(("axis", -1),)),  # softmax of each row
    "leaky_relu": NativeOperator(
        "LeakyRelu", attributes=(("alpha", "negative_slope"),), double=False
    ),
    "elu": NativeOperator("Elu", attributes=(("alpha", "alpha"),), double=False),
    "softplus": NativeOperator("Softplus", double=False),
    "gelu": NativeOperator("Gelu", min_opset=GELU_OPSET, double=False),
}

#: How formula nodes become ONNX operators.
_BINARY_OPERATORS = {
    "+": "Add",
    "-": "Sub",
    "*": "Mul",  # elementwise in an activation's formula (scalar times array)
    "⊙": "Mul",
    "×": "Mul",
    "·": "Mul",
    ">": "Greater",
    ">=": "GreaterOrEqual",
    "<": "Less",
    "<=": "LessOrEqual",
}
_FUNCTIONS = {"max": "Max", "min": "Min", "tanh": "Tanh", "log": "Log", "exp": "Exp"}
_CONSTANTS = {"e": math.e, "√2": math.sqrt(2.0)}


def _import_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as error:
        raise ImportError(
            "ONNX export needs the 'onnx' package, which is not installed; install the "
            "onnx extra: pip install 'glassnet[onnx]'"
        ) from error
    return onnx, helper, numpy_helper


def export_onnx(
    net: Sequential,
    path,
    opset: int | None = None,
    *,
    standardize=None,
    preprocessing=None,
    metadata_props: dict[str, str] | None = None,
):
    """Write ``net`` as an ONNX model file: Z = A W^T + b and g(Z), layer by layer.

    Parameters
    ----------
    net : Sequential
        float32 networks give ``float`` tensors, float64 networks ``double`` ones.
    path : str or os.PathLike
        The file to write. It is written atomically: to a temporary file in the same
        folder, flushed to disk, then renamed over ``path``, so a crash never leaves a
        half-written model.
    opset : int, optional
        ONNX opset version, from 13 to the installed ``onnx``'s newest; default 17.
        GELU uses the ``Gelu`` operator from opset 20 on.
    standardize : (mean, scale), optional
        Arrays of shape (in_features,): the graph then starts with
        ``Div(Sub(input, mean), scale)``, z = (x - mean) / scale, so the ONNX model
        takes raw features (the standardisation ``glassnet train`` stores).
    preprocessing : dict or Preprocessing, optional
        The preprocessing record of a model trained on a table (``glassnet train``),
        or its JSON form ``record.to_metadata()``. Version 2 (text and categorical
        columns, missing cells): the graph takes one input per raw column, named by
        the column, shape (batch, 1), and computes the network's input from them
        (``glassnet.interop.onnx_preprocessing`` gives the input types and the
        operators). Version 1 is its standardisation, as ``standardize``.
    metadata_props : dict of str -> str, optional
        Extra entries for the model's ``metadata_props`` (e.g. class labels).

    Returns
    -------
    onnx.ModelProto
        The model written. Its input ``"input"`` has shape (batch, in_features) and its
        output ``"output"`` shape (batch, out_features); ``batch`` is dynamic.

    See the module docstring for how each layer and activation is translated (dropout
    is the identity at inference; step is ``Cast(GreaterOrEqual(Z, 0))``).

    Examples
    --------
    >>> import os, tempfile
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(4, 8, "relu"), gn.Dense(8, 3, "softmax"), seed=0)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     model = gn.export_onnx(net, os.path.join(folder, "net.onnx"))
    >>> [node.op_type for node in model.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Softmax']
    >>> model.graph.input[0].name, model.graph.output[0].name
    ('input', 'output')
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a file path (str or os.PathLike), got {type(path).__name__}"
        )
    model = to_onnx_model(
        net,
        opset,
        standardize=standardize,
        preprocessing=preprocessing,
        metadata_props=metadata_props,
    )
    atomic_write(path, model.SerializeToString())
    return model


def to_onnx_model(
    net: Sequential,
    opset: int | None = None,
    *,
    standardize=None,
    preprocessing=None,
    metadata_props: dict[str, str] | None = None,
):
    """The ONNX model of ``net`` (an ``onnx.ModelProto``), checked, not written."""
    onnx, helper, _ = _import_onnx()
    if not isinstance(net, Sequential):
        raise TypeError(
            f"export_onnx needs a glassnet Sequential, got {type(net).__name__}"
        )
    opset = _check_opset(opset, onnx)
    graph = _GraphBuilder(net.dtype, opset)
    name = INPUT_NAME
    record = _record_json(preprocessing)
    if record is not None and record.get("version") == 1:
        if standardize is not None:
            raise ValueError("give standardize or preprocessing, not both")
        standardize, record = (record.get("mean"), record.get("scale")), None
    fill = None
    if record is not None and onnx_preprocessing.numeric_only(record):
        # Numbers only, no indicators: the graph keeps the one input matrix of a
        # plain network (as version 1 did), and fills a missing cell as glassnet does.
        if standardize is not None:
            raise ValueError("give standardize or preprocessing, not both")
        columns, record = record["columns"], None
        fill = [c["fill"] for c in columns]
        standardize = ([c["mean"] for c in columns], [c["scale"] for c in columns])
    if record is not None:
        if standardize is not None:
            raise ValueError("give standardize or preprocessing, not both")
        # raw columns -> the network's input matrix     (batch, n_inputs)
        name = onnx_preprocessing.add_nodes(graph, record)
        n_inputs = len(record.get("features") or ())
        if n_inputs != net.in_features:
            raise ValueError(
                f"the preprocessing record gives {n_inputs} network inputs but the "
                f"network takes {net.in_features}"
            )
    if standardize is not None:
        mean, scale = _check_standardize(standardize, net.in_features)
        if fill is not None:  # x~ = fill where x is missing (NaN), else x
            missing = graph.node("IsNaN", [name], "impute.missing", name="impute.isnan")
            name = graph.node(
                "Where", [missing, graph.tensor("impute.fill", np.asarray(fill)), name],
                "impute.x", name="impute.where",
            )  # fmt: skip
        # z = (x - mean) / scale, before the first layer   (batch, in_features)
        centred = graph.node(
            "Sub", [name, graph.tensor("standardize.mean", mean)], "standardize.x_c",
            name="standardize.sub",
        )  # fmt: skip
        name = graph.node(
            "Div", [centred, graph.tensor("standardize.scale", scale)], "standardize.z",
            name="standardize.div",
        )  # fmt: skip
    last = len(net.layers) - 1
    for i, layer in enumerate(net.layers):
        A = OUTPUT_NAME if i == last else f"layer{i}.A"
        if isinstance(layer, Dense):
            Z = A if layer.activation.name == "identity" else f"layer{i}.Z"
            graph.dense(layer, name, Z, prefix=f"layer{i}")
            if Z != A:
                graph.activation(layer.activation, Z, A, prefix=f"layer{i}", index=i)
        elif isinstance(layer, ActivationLayer):
            graph.activation(layer.activation, name, A, prefix=f"layer{i}", index=i)
        elif isinstance(layer, Dropout):
            graph.node("Identity", [name], A, name=f"layer{i}.dropout")
        elif isinstance(layer, Embedding):
            graph.embedding(layer, name, A, prefix=f"layer{i}")
        else:
            raise TypeError(
                f"layer {i} ({layer!r}, type {type(layer).__name__}) has no ONNX "
                "translation; export_onnx supports Dense, activation layers, Dropout "
                "and Embedding"
            )
        name = A

    elem_type = helper.np_dtype_to_tensor_dtype(net.dtype)
    inputs = [
        helper.make_tensor_value_info(
            INPUT_NAME, elem_type, [BATCH_DIM, net.in_features]
        )
    ]
    opsets = [helper.make_opsetid("", opset)]
    doc = (
        f"glassnet Sequential: input '{INPUT_NAME}' ({BATCH_DIM}, "
        f"{net.in_features}) -> output '{OUTPUT_NAME}' ({BATCH_DIM}, "
        f"{net.out_features}), {net.dtype.name}"
    )
    if record is not None:  # the raw columns are the inputs
        inputs = [
            helper.make_tensor_value_info(
                raw.name, _RAW_TYPES[raw.kind], [BATCH_DIM, 1], raw.description
            )
            for raw in onnx_preprocessing.raw_inputs(record)
        ]
        _check_input_names(graph, inputs)
        if onnx_preprocessing.uses_ml_domain(record):
            opsets.append(
                helper.make_opsetid(
                    onnx_preprocessing.ML_DOMAIN, onnx_preprocessing.ML_OPSET
                )
            )
        doc = (
            f"glassnet Sequential on raw table columns -> output '{OUTPUT_NAME}' "
            f"({BATCH_DIM}, {net.out_features}), {net.dtype.name}\n"
            + onnx_preprocessing.describe(record)
        )
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "glassnet_sequential",
            inputs,
            [
                helper.make_tensor_value_info(
                    OUTPUT_NAME, elem_type, [BATCH_DIM, net.out_features]
                )
            ],
            initializer=graph.initializers,
            doc_string=net.summary(),
        ),
        opset_imports=opsets,
        producer_name="glassnet",
        producer_version=__version__,
        doc_string=doc,
    )
    if record is not None:  # the record, to read a table into the graph's inputs
        metadata_props = {
            "glassnet.preprocessing": json.dumps(record),
            **(metadata_props or {}),
        }
    if metadata_props:
        helper.set_model_props(
            model, {str(k): str(v) for k, v in metadata_props.items()}
        )
    # The oldest IR version that carries this opset, so older runtimes can load it.
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model, full_check=True)
    return model


# onnx.TensorProto element types of the raw-column inputs
_RAW_TYPES = {"double": 11, "string": 8, "bool": 9, "int64": 7}


def _record_json(preprocessing) -> dict | None:
    """A preprocessing record as its JSON form (None stays None)."""
    if preprocessing is None or isinstance(preprocessing, dict):
        return preprocessing
    to_metadata = getattr(preprocessing, "to_metadata", None)
    if to_metadata is None:
        raise TypeError(
            "preprocessing must be a preprocessing record or its JSON form (a dict), "
            f"got {type(preprocessing).__name__}"
        )
    return to_metadata()


def _check_input_names(graph, inputs) -> None:
    """A raw column must not share its name with a tensor the graph computes."""
    taken = {t.name for t in graph.initializers}
    taken.update(out for node in graph.nodes for out in node.output)
    taken.add(OUTPUT_NAME)
    for value in inputs:
        if value.name in taken:
            raise ValueError(
                f"the column name {value.name!r} is also the name of a tensor inside "
                "the exported graph; rename the column to export this model"
            )


def _check_standardize(standardize, in_features: int):
    """(mean, scale) as float64 arrays of shape (in_features,), checked."""
    if not isinstance(standardize, (tuple, list)) or len(standardize) != 2:
        raise TypeError(
            f"standardize must be a pair (mean, scale), got {type(standardize).__name__}"
        )
    mean, scale = (np.asarray(a, dtype=np.float64) for a in standardize)
    for what, array in (("mean", mean), ("scale", scale)):
        if array.shape != (in_features,):
            raise ValueError(
                f"standardize {what} must have shape ({in_features},), one value per "
                f"input feature, got {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"standardize {what} must be finite")
    if (scale <= 0).any():
        raise ValueError("standardize scale must be positive")
    return mean, scale


def _check_opset(opset, onnx) -> int:
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be between {MIN_OPSET} and {newest} (the newest the installed "
            f"onnx {onnx.__version__} knows), got {opset}"
        )
    return int(opset)


class _GraphBuilder:
    """Collects nodes and initializers; each method writes one equation's nodes."""

    def __init__(self, dtype: np.dtype, opset: int):
        _, self._helper, self._numpy_helper = _import_onnx()
        self.dtype = dtype
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._constants: dict[float, str] = {}
        self._count = 0

    # -- building blocks --------------------------------------------------------------
    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs):
        """Append one node; returns the name of its output."""
        self._count += 1
        name = attrs.pop("name", None) or f"{op.lower()}_{self._count}"
        output = output or f"{name}.out"
        self.nodes.append(
            self._helper.make_node(op, inputs, [output], name=name, **attrs)
        )
        return output

    def tensor(self, name: str, value: np.ndarray) -> str:
        array = np.ascontiguousarray(value, dtype=self.dtype)
        self.initializers.append(self._numpy_helper.from_array(array, name))
        return name

    def const(self, value: float) -> str:
        """A scalar of the network's dtype (broadcasts against any tensor)."""
        value = float(value)
        if value not in self._constants:
            self._constants[value] = self.tensor(f"const_{value!r}", np.array(value))
        return self._constants[value]

    # -- layers -----------------------------------------------------------------------
    def dense(self, layer: Dense, A_prev: str, Z: str, prefix: str) -> None:
        inputs = [A_prev, self.tensor(f"{prefix}.W", layer.W)]  # W: (out, in)
        if layer.use_bias:
            inputs.append(self.tensor(f"{prefix}.b", layer.b))  # b: (out,)
        # Z = A_prev W^T + b    (batch, out)
        self.node("Gemm", inputs, Z, name=f"{prefix}.dense", transB=1)

    def embedding(self, layer: Embedding, A_prev: str, A: str, prefix: str) -> None:
        def indices(name, value):  # int64 initializers: column and row numbers
            array = np.asarray(value, dtype=np.int64)
            self.initializers.append(self._numpy_helper.from_array(array, name))
            return name

        parts = []
        other = [c for c in range(layer.in_features) if c not in layer.index_columns]
        if other:  # x_other: the pass-through columns, in order     (batch, d - k)
            columns = indices(f"{prefix}.other_columns", other)
            parts.append(
                self.node("Gather", [A_prev, columns], name=f"{prefix}.other", axis=1)
            )
        for j, (column, table) in enumerate(
            zip(layer.index_columns, layer.tables, strict=True)
        ):
            at = f"{prefix}.e{j}"
            x = self.node(  # a scalar index drops the axis: x_j      (batch,)
                "Gather", [A_prev, indices(f"{at}.column", column)], name=f"{at}.x",
                axis=1,
            )  # fmt: skip
            c = self.node("Cast", [x], name=f"{at}.c", to=7)  # 7: INT64
            E = self.tensor(f"{prefix}.E{j}", table)  # (K_j + 1, dims[j])
            # e_j = E_j[c_j]                                           (batch, dims[j])
            parts.append(self.node("Gather", [E, c], name=f"{at}.lookup", axis=0))
        self.node("Concat", parts, A, name=f"{prefix}.concat", axis=1)

    def activation(
        self, activation: Activation, Z: str, A: str, prefix: str, index: int
    ) -> None:
        name = activation.name
        if ACTIVATIONS.get(name) is not type(activation):
            raise TypeError(
                f"layer {index}: activation {activation!r} (type "
                f"{type(activation).__name__}) has no ONNX translation; export_onnx "
                f"supports glassnet's built-in activations {sorted(ACTIVATIONS)}"
            )
        op_name = f"{prefix}.{name}"
        native = NATIVE_OPERATORS.get(name)
        if native is not None and native.serves(self.dtype, self.opset):
            config = activation.config()
            attrs = dict(native.fixed)
            attrs.update({key: config[field] for key, field in native.attributes})
            self.node(native.op, [Z], A, name=op_name, **attrs)
        else:  # a = g(z), from the formula explain shows
            formula = activation.stable_formula(Sym("z"))
            result = self.formula(formula, {"z": Z}, A, op_name)
            if result != A:  # a bare symbol: a = z
                self.node("Identity", [result], A, name=op_name)

    # -- formulas ---------------------------------------------------------------------
    def formula(self, expr: Expr, tensors: dict[str, str], output=None, name=None):
        """The nodes that compute ``expr``, a ``glassnet.nn.formula`` tree whose
        symbols name the tensors in ``tensors``; returns the result's name (``output``
        if the tree has an operator at its top)."""
        if isinstance(expr, Paren):
            return self.formula(expr.arg, tensors, output, name)
        if isinstance(expr, Sym) and expr.name in tensors:
            return tensors[expr.name]
        if isinstance(expr, Sym) and expr.name in _CONSTANTS:
            return self.const(_CONSTANTS[expr.name])
        if isinstance(expr, Num):
            return self.const(expr.value)

        def op(op_type: str, *args: Expr, **attrs) -> str:
            inputs = [self.formula(arg, tensors) for arg in args]
            return self.node(op_type, inputs, output, name=name, **attrs)

        if isinstance(expr, Bin) and expr.op in _BINARY_OPERATORS:
            return op(_BINARY_OPERATORS[expr.op], expr.left, expr.right)
        if isinstance(expr, Frac):
            return op("Div", expr.num, expr.den)
        if isinstance(expr, Neg):
            return op("Neg", expr.arg)
        if isinstance(expr, Abs):
            return op("Abs", expr.arg)
        if isinstance(expr, Pow) and expr.base == E:
            return op("Exp", expr.exponent)
        if isinstance(expr, Pow):
            return op("Pow", expr.base, expr.exponent)
        if isinstance(expr, Fn) and expr.name in _FUNCTIONS:
            return op(_FUNCTIONS[expr.name], *expr.args)
        if isinstance(expr, Fn) and expr.name == "erf" and len(expr.args) == 1:
            if self.dtype == np.float64:  # no double Erf kernel in onnxruntime
                series = self._erf_series(self.formula(expr.args[0], tensors))
                if output is None:
                    return series
                return self.node("Identity", [series], output, name=name)
            return op("Erf", expr.args[0])
        if isinstance(expr, Sum) and expr.index == "j":  # over a sample's entries
            axes = self._axes_last()
            body = self.formula(expr.body, tensors)
            return self.node("ReduceSum", [body, axes], output, name=name, keepdims=1)
        if isinstance(expr, Cases):
            return self._cases(expr.pieces, tensors, output, name)
        raise TypeError(f"no ONNX translation for the formula node {expr!r}")

    def _cases(self, pieces, tensors, output, name) -> str:
        """Where(condition, value, the later pieces); 1 where the condition holds and
        0 otherwise is the condition itself, cast to the float type."""
        (value, condition), rest = pieces[0], pieces[1:]
        if condition is None:
            return self.formula(value, tensors, output, name)
        test = self.formula(condition, tensors)
        if value == ONE and rest == ((ZERO, None),):
            elem_type = self._helper.np_dtype_to_tensor_dtype(self.dtype)
            return self.node("Cast", [test], output, name=name, to=elem_type)
        chosen = self.formula(value, tensors)
        otherwise = self._cases(rest, tensors, None, None)
        return self.node("Where", [test, chosen, otherwise], output, name=name)

    def _axes_last(self) -> str:
        """The int64 axes input [-1] (ReduceSum takes its axes as a tensor)."""
        if "axes_last" not in {t.name for t in self.initializers}:
            axes = np.array([-1], dtype=np.int64)
            self.initializers.append(self._numpy_helper.from_array(axes, "axes_last"))
        return "axes_last"

    def _erf_series(self, X: str) -> str:
        """erf(x) = (2/sqrt pi) x e^(-x^2) sum_n a_n (x^2/36)^n, double kernels only."""
        # Beyond |x| = 6, erf(x) = +-1 to double precision, and the series would need
        # more terms: clip there.
        X = self.node("Clip", [X, self.const(-_ERF_CLIP), self.const(_ERF_CLIP)])
        U = self.node("Mul", [X, X])  # u = x^2
        W = self.node("Mul", [U, self.const(1.0 / _ERF_CLIP**2)])  # w = x^2 / 36
        S = self.const(_ERF_COEFFICIENTS[-1])
        for a in reversed(_ERF_COEFFICIENTS[:-1]):
            # Horner: S = S w + a_n; every term is positive, so nothing cancels
            S = self.node("Add", [self.node("Mul", [S, W]), self.const(a)])
        gauss = self.node("Exp", [self.node("Neg", [U])])  # e^(-x^2)
        scaled_X = self.node("Mul", [X, self.const(2.0 / math.sqrt(math.pi))])
        return self.node("Mul", [self.node("Mul", [scaled_X, gauss]), S])
