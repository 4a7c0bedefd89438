"""ONNX nodes for a preprocessing record (version 2): raw table columns in, the
network's input matrix out.

A model trained on a table keeps a record of how each raw column becomes network
inputs (``glassnet.data.preprocessing``, stored as JSON). This module writes that
record as ONNX nodes, so the exported graph takes the raw columns themselves.

The input contract: one graph input per raw column, named by the column, shape
(batch, 1), its type set by the column (``input_kind``):

==========================================  ===========================================
column                                      graph input
==========================================  ===========================================
numeric                                     ``double``; a missing cell is NaN
text categories                             ``string``; a missing cell is ``""``
boolean categories [false, true]            ``bool``
integer categories                          ``int64`` (compared as integers)
decimal categories, and boolean or integer  ``double`` (compared as numbers; a missing
categories with a learned missing category  cell is NaN): bool and int64 tensors have
                                            no missing value
==========================================  ===========================================

Numeric inputs are double whatever the network's dtype: the steps run in float64 as
glassnet's own transform does, and the matrix is cast to the network's dtype at the
end, so the network sees the same numbers bitwise.

What each column becomes, in the record's column order, side by side (``Concat`` on
axis 1):

- numeric: x_f = Where(IsNaN(x), fill, x); z = (x_f - mean) / scale (``Sub``,
  ``Div``); then, with an indicator, m = Cast(IsNaN(x)) (1.0 where x was missing).
- categorical: first the category index c, an int64 (batch, 1): i for categories[i]
  (a missing cell is the null category, kept last, when training had one) and k =
  len(categories) for any other value, the unknown slot. Text and integers use
  ``LabelEncoder`` of the ``ai.onnx.ml`` domain (keys -> indices, default k);
  booleans are cast to int64 first; double inputs compare with ``Equal`` against
  each category (and ``IsNaN`` for the missing one) and sum i * [x == c_i], plus k
  where nothing matched. Then
    one-hot:   Cast(Equal(c, [0, 1, ..., k-1])): 1.0 in the row's category's place,
               all zeros for the unknown slot;
    embedding: Cast(c) to a float, the index the network's ``Embedding`` layer reads.

An unknown category gives zeros (one-hot) or the unknown slot (embedding), as in
glassnet, but a graph cannot warn: glassnet's transform counts and reports them, the
graph does not. Operators: IsNaN, Where, Sub, Div, Cast, Equal, Concat, ReduceSum,
Mul, Add of the default domain (opset 13 or newer) and LabelEncoder of ``ai.onnx.ml``
opset 2, all run by onnxruntime's CPU provider.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The ONNX domain of LabelEncoder, and the version used (string and int64 keys).
ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 2
#: The value of a missing cell in a text column's graph input.
MISSING_TEXT = ""
#: The record version these nodes translate.
RECORD_VERSION = 2
#: Name of the matrix the network reads, (batch, n_inputs) in its dtype.
FEATURES_NAME = "preprocessing.X"

_DOUBLE, _INT64, _BOOL, _STRING = 11, 7, 9, 8  # onnx.TensorProto element types


@dataclass(frozen=True)
class RawInput:
    """One graph input: a raw column, its ONNX element type and what it holds."""

    name: str
    kind: str  # "double", "string", "bool" or "int64"
    description: str


def input_kind(column: dict) -> str:
    """The graph input type of a record column (see the module docstring)."""
    if column["kind"] == "numeric":
        return "double"
    known = [c for c in column["categories"] if c is not None]
    missing = len(known) < len(column["categories"])
    if known and all(isinstance(c, str) for c in known):
        return "string"
    if any(isinstance(c, str) for c in known):
        raise ValueError(
            f"column {column['name']!r} mixes text and number categories; the ONNX "
            "graph takes one type per column"
        )
    if known and all(isinstance(c, bool) for c in known):
        return "double" if missing else "bool"
    if any(isinstance(c, bool) for c in known):
        raise ValueError(
            f"column {column['name']!r} mixes boolean and number categories; the "
            "ONNX graph takes one type per column"
        )
    if known and all(isinstance(c, int) for c in known):
        return "double" if missing else "int64"
    return "double"


def numeric_only(record: dict) -> bool:
    """True for a version-2 record of numeric columns without missing-value
    indicators: its network inputs are the raw columns themselves (filled and
    standardised), so the graph can keep one input matrix, as a plain network's."""
    return record.get("version") == RECORD_VERSION and all(
        c.get("kind") == "numeric" and not c.get("indicator")
        for c in record.get("columns") or ()
    )


def raw_inputs(record: dict) -> list[RawInput]:
    """The graph inputs of a version-2 record (as ``record.to_metadata()`` gives it),
    one per raw column in the record's order."""
    _check(record)
    inputs = []
    for column in record["columns"]:
        kind = input_kind(column)
        if column["kind"] == "numeric":
            text = "numbers, NaN where missing"
        else:
            k = len(column["categories"])
            how = {
                "string": f"text, {MISSING_TEXT!r} where missing",
                "bool": "true or false",
                "int64": "integers",
                "double": "numbers, NaN where missing",
            }
            encoding = column["encoding"]
            unknown = "zeros" if encoding == "onehot" else f"index {k}"
            text = f"{how[kind]}; {k} categories, {encoding}, unknown -> {unknown}"
        inputs.append(RawInput(column["name"], kind, text))
    return inputs


def describe(record: dict) -> str:
    """The input contract in words, for the model's doc_string."""
    lines = [
        "Inputs: one per raw column, shape (batch, 1):",
        *(f"  {i.name!r}: {i.kind}, {i.description}" for i in raw_inputs(record)),
    ]
    return "\n".join(lines)


def add_nodes(graph, record: dict) -> str:
    """Append the nodes of ``record``'s steps to ``graph`` (onnx_export's builder:
    ``node``, ``initializers``, ``dtype``); returns the name of the matrix they
    compute, (batch, n_inputs) in the graph's dtype."""
    from onnx import numpy_helper

    def constant(name: str, value) -> str:
        graph.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    blocks = []
    for j, column in enumerate(_check(record)["columns"]):
        x, p = column["name"], f"preprocessing.{j}"
        if column["kind"] == "numeric":
            nan = graph.node("IsNaN", [x], f"{p}.missing", name=f"{p}.isnan")
            fill = constant(f"{p}.fill", np.float64(column["fill"]))
            filled = graph.node(
                "Where", [nan, fill, x], f"{p}.filled", name=f"{p}.fill"
            )
            mean = constant(f"{p}.mean", np.float64(column["mean"]))
            scale = constant(f"{p}.scale", np.float64(column["scale"]))
            # z = (x_f - mean) / scale     (batch, 1) float64, as glassnet computes it
            centred = graph.node("Sub", [filled, mean], f"{p}.centred", name=f"{p}.sub")
            blocks.append(
                graph.node("Div", [centred, scale], f"{p}.z", name=f"{p}.div")
            )
            if column["indicator"]:  # m = 1.0 where x was missing, not standardised
                blocks.append(
                    graph.node("Cast", [nan], f"{p}.m", name=f"{p}.indicator", to=_DOUBLE)
                )  # fmt: skip
            continue
        c = _index(graph, column, x, p, constant)  # (batch, 1) int64
        k = len(column["categories"])
        if column["encoding"] == "onehot":
            slots = constant(f"{p}.slots", np.arange(k, dtype=np.int64))
            hot = graph.node("Equal", [c, slots], f"{p}.hot", name=f"{p}.slot_equal")
            blocks.append(
                graph.node("Cast", [hot], f"{p}.onehot", name=f"{p}.onehot", to=_DOUBLE)
            )
        else:
            blocks.append(
                graph.node("Cast", [c], f"{p}.index", name=f"{p}.index", to=_DOUBLE)
            )
    out = FEATURES_NAME if graph.dtype == np.float64 else "preprocessing.X64"
    graph.node("Concat", blocks, out, name="preprocessing.concat", axis=1)
    if out != FEATURES_NAME:  # a float32 network: rounded once, as predict does
        from onnx import helper

        to = helper.np_dtype_to_tensor_dtype(np.dtype(graph.dtype))
        graph.node("Cast", [out], FEATURES_NAME, name="preprocessing.cast", to=to)
    return FEATURES_NAME


def uses_ml_domain(record: dict) -> bool:
    """Whether the nodes include LabelEncoder (the ``ai.onnx.ml`` domain)."""
    return any(
        column["kind"] == "categorical"
        and input_kind(column) in ("string", "int64", "bool")
        for column in _check(record)["columns"]
    )


def _index(graph, column: dict, x: str, p: str, constant) -> str:
    """The category index c, (batch, 1) int64: i for categories[i], k for unknown."""
    categories = column["categories"]
    k = len(categories)
    kind = input_kind(column)
    if kind in ("string", "int64", "bool"):
        keys = [MISSING_TEXT if c is None else c for c in categories]
        if kind == "bool":  # false -> 0, true -> 1, then as integers
            x = graph.node("Cast", [x], f"{p}.as_int", name=f"{p}.as_int", to=_INT64)
            keys = [int(c) for c in keys]
        field = "keys_strings" if kind == "string" else "keys_int64s"
        return graph.node(
            "LabelEncoder", [x], f"{p}.c", name=f"{p}.encode", domain=ML_DOMAIN,
            **{field: keys}, values_int64s=list(range(k)), default_int64=k,
        )  # fmt: skip
    # double: hits_i = [x == c_i] (and [x is NaN] for the missing category, last);
    # c = sum_i i hits_i + k (1 - sum_i hits_i): at most one hit, categories distinct
    known = [float(c) for c in categories if c is not None]
    values = constant(f"{p}.categories", np.array(known, dtype=np.float64))
    hits = graph.node("Equal", [x, values], f"{p}.equal", name=f"{p}.equal")
    if len(known) < k:
        nan = graph.node("IsNaN", [x], f"{p}.missing", name=f"{p}.isnan")
        hits = graph.node("Concat", [hits, nan], f"{p}.hits", name=f"{p}.hits", axis=1)
    hits = graph.node("Cast", [hits], f"{p}.hits64", name=f"{p}.hits64", to=_INT64)
    ranks = constant(f"{p}.ranks", np.arange(k, dtype=np.int64))
    axis = constant(f"{p}.axis1", np.array([1], dtype=np.int64))
    weighted = graph.node("Mul", [hits, ranks], f"{p}.weighted", name=f"{p}.weighted")
    found = graph.node("ReduceSum", [weighted, axis], f"{p}.found", name=f"{p}.found",
                       keepdims=1)  # fmt: skip
    matched = graph.node("ReduceSum", [hits, axis], f"{p}.matched", name=f"{p}.matched",
                         keepdims=1)  # fmt: skip
    unknown = graph.node(
        "Sub", [constant(f"{p}.one", np.int64(1)), matched], f"{p}.unknown",
        name=f"{p}.unknown",
    )  # fmt: skip
    slot = graph.node(
        "Mul", [unknown, constant(f"{p}.k", np.int64(k))], f"{p}.slot", name=f"{p}.slot"
    )
    return graph.node("Add", [found, slot], f"{p}.c", name=f"{p}.index_sum")


def _check(record: dict) -> dict:
    """The fields these nodes read, checked: a malformed record raises ValueError
    naming the field (the full validation is ``Preprocessing.from_metadata``)."""

    def bad(what: str):
        raise ValueError(f"the preprocessing record is invalid for ONNX export: {what}")

    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        bad(f"expected an object with version {RECORD_VERSION}")
    columns = record.get("columns")
    if not isinstance(columns, list) or not columns:
        bad("'columns' must be a non-empty list")
    names = set()
    for j, column in enumerate(columns):
        where = f"column {j}"
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            bad(f"{where} must be an object with a 'name'")
        name = column["name"]
        if not name or name in names:
            bad(f"{where} name {name!r} is empty or repeated")
        names.add(name)
        if column.get("kind") == "numeric":
            for field in ("fill", "mean", "scale"):
                value = column.get(field)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or not math.isfinite(value)
                ):
                    bad(f"{where} ({name!r}) '{field}' must be a finite number")
            if column["scale"] <= 0:
                bad(f"{where} ({name!r}) 'scale' must be positive")
            if not isinstance(column.get("indicator"), bool):
                bad(f"{where} ({name!r}) 'indicator' must be true or false")
        elif column.get("kind") == "categorical":
            categories = column.get("categories")
            if not isinstance(categories, list) or not categories:
                bad(f"{where} ({name!r}) 'categories' must be a non-empty list")
            if column.get("encoding") not in ("onehot", "embedding"):
                bad(f"{where} ({name!r}) 'encoding' must be 'onehot' or 'embedding'")
            if None in categories[:-1]:
                bad(f"{where} ({name!r}) the missing category (null) must be last")
            if MISSING_TEXT in categories:
                bad(
                    f"{where} ({name!r}) holds the empty string as a category, which "
                    "the graph reads as a missing cell"
                )
            if any(isinstance(c, float) and not math.isfinite(c) for c in categories):
                bad(f"{where} ({name!r}) 'categories' must be finite")
        else:
            bad(f"{where} ({name!r}) 'kind' must be 'numeric' or 'categorical'")
    return record


def feeds(record: dict, columns: dict) -> dict:
    """onnxruntime's input dict for raw columns (name -> 1-D array, as glassnet reads
    a table: NaN or None where a cell is missing): each column as its graph input's
    type, shape (n, 1).

    Examples
    --------
    >>> record = {"version": 2, "columns": [
    ...     {"name": "x", "kind": "numeric", "fill": 0.0, "indicator": True,
    ...      "mean": 0.0, "scale": 1.0},
    ...     {"name": "city", "kind": "categorical", "categories": ["a", "b"],
    ...      "encoding": "onehot", "missing": False}]}
    >>> inputs = feeds(record, {"x": np.array([1.5, np.nan]),
    ...                         "city": np.array(["b", None], dtype=object)})
    >>> inputs["x"].tolist(), inputs["city"].tolist()
    ([[1.5], [nan]], [['b'], ['']])
    """
    out = {}
    for raw in raw_inputs(record):
        if raw.name not in columns:
            raise ValueError(f"no column {raw.name!r}, which the model reads")
        values = np.asarray(columns[raw.name]).reshape(-1)
        empty = np.array([_is_empty(v) for v in values.tolist()], dtype=bool)
        if raw.kind == "string":
            cells = [
                MISSING_TEXT if e else str(v)
                for v, e in zip(values.tolist(), empty, strict=True)
            ]
            array = np.array(cells, dtype=object)
        elif raw.kind == "double":
            array = np.full(len(values), np.nan)
            for i, (v, e) in enumerate(zip(values.tolist(), empty, strict=True)):
                try:
                    array[i] = np.nan if e else float(v)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"column {raw.name!r} row {i + 1} holds {v!r}, not a number; "
                        "its graph input takes numbers (NaN where missing)"
                    ) from None
        else:
            if empty.any():
                raise ValueError(
                    f"column {raw.name!r} has a missing cell in row "
                    f"{int(np.argmax(empty)) + 1}, which its {raw.kind} graph input "
                    "cannot hold (it had no missing cells in training)"
                )
            wanted = (bool, np.bool_) if raw.kind == "bool" else (int, np.integer)
            for i, v in enumerate(values.tolist()):
                if not isinstance(v, wanted) or (
                    raw.kind != "bool" and isinstance(v, bool)
                ):
                    raise ValueError(
                        f"column {raw.name!r} row {i + 1} holds {v!r}; its graph input "
                        f"takes {raw.kind} values"
                    )
            array = values.astype(np.bool_ if raw.kind == "bool" else np.int64)
        out[raw.name] = array.reshape(-1, 1)
    return out


def _is_empty(value) -> bool:
    """None, NaN or a pandas NA: a missing cell."""
    from ..data.column_stats import is_missing

    return is_missing(value)


def example_columns(record: dict, n: int, seed: int = 0) -> dict:
    """``n`` random rows of raw columns for ``record`` (name -> 1-D array, as glassnet
    reads a table), to check an export: numbers around each column's mean, known
    categories, and where the column's graph input can hold them, about 5% missing
    cells and 5% categories not seen in training."""
    rng = np.random.default_rng(seed)
    columns = {}
    for raw, column in zip(raw_inputs(record), record["columns"], strict=True):
        hole = rng.random(n) < 0.05
        if column["kind"] == "numeric":
            x = column["mean"] + column["scale"] * rng.normal(size=n)
            columns[raw.name] = np.where(hole, np.nan, x)
            continue
        known = [c for c in column["categories"] if c is not None]
        cells = [known[i] for i in rng.integers(len(known), size=n)]
        odd = rng.random(n) < 0.05
        if raw.kind == "string":
            cells = [None if h else "(unseen)" if o else c
                     for c, h, o in zip(cells, hole, odd, strict=True)]  # fmt: skip
        elif raw.kind == "int64":
            cells = [
                max(known) + 1 if o else c for c, o in zip(cells, odd, strict=True)
            ]
        elif raw.kind == "double" and not all(isinstance(c, bool) for c in known):
            unseen = max(known) + 0.5
            cells = [math.nan if h else unseen if o else float(c)
                     for c, h, o in zip(cells, hole, odd, strict=True)]  # fmt: skip
        elif raw.kind == "double":  # booleans with a missing category
            cells = [None if h else c for c, h in zip(cells, hole, strict=True)]
        dtype = {"bool": bool, "int64": np.int64}.get(raw.kind, object)
        if raw.kind == "double" and not all(isinstance(c, bool) for c in known):
            dtype = np.float64
        columns[raw.name] = np.array(cells, dtype=dtype)
    return columns
