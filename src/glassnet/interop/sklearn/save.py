"""A fitted scikit-learn Pipeline ending in a glassnet estimator, as ONE model file.

``save(pipeline, path)`` writes the estimator's network with a preprocessing record
(``glassnet.data.preprocessing``, version 2) that does what the pipeline's steps do,
column by column and by name, so that ``glassnet predict`` on a table whose columns
come in any order gives ``pipeline.predict`` (the labels) and ``predict_proba``
within float rounding.

The steps known, and what each becomes, for a raw column x:

- ``SimpleImputer`` (mean, median, most_frequent, constant; missing_values NaN):
  the record's fill, x~ = fill where x is missing, with its strategy; add_indicator:
  the record's indicator input m = [x missing];
- ``StandardScaler``: z = (x~ - mean) / scale (with_mean False: mean 0; with_std
  False: scale 1); a column without one has mean 0, scale 1; a scaler after an
  imputer, or on one-hot and indicator columns, is kept too (below);
- ``OneHotEncoder`` (drop=None, no infrequent categories): a categorical column of
  the record whose categories are categories_ (sorted as the record sorts them); a
  NaN/None category of the encoder, or the category an imputer before it fills in,
  is the record's missing category (null, last);
- ``ColumnTransformer`` of these (nested Pipelines per column group, "passthrough",
  "drop", remainder "drop" or "passthrough" of numeric columns), and Pipelines of them.

Anything else (PCA, PolynomialFeatures, FunctionTransformer, ...) is refused with an
InputError naming the step and its class. The columns are those the pipeline was
fitted on (feature_names_in_); fitted on a numpy array, they are named x0 .. x{d-1}
as scikit-learn names them (a CSV with those headers, or ``np.savez(path, x=X)``).

Folding into the first layer. The pipeline hands the network s = A r + c, where r
are the record's inputs (the z of each numeric column, its indicator m, the one-hot
e of each categorical column) and A, c follow from the steps: A is a 0/1 selection
when the steps only standardise, fill and encode (the pipeline's order of the
columns, and of its indicator columns, which SimpleImputer puts after all the
others, becomes the record's); a StandardScaler applied to a one-hot or indicator
column, or an imputer's fill aliased to the missing category, gives other entries.
The first Dense layer W s + b = (W A) r + (W c + b), so it keeps W' = W A and
b' = b + W c: a selection copies the weights bit for bit.

Differences from the pipeline, deliberate:
- OneHotEncoder(handle_unknown="error") raises on a category not seen in fitting;
  the saved model encodes it as all zeros (as "ignore" does) and glassnet predict
  warns with a count per column.
- A numeric column with no imputer in the pipeline gets the strategy "none": an
  empty cell is refused, as scikit-learn refuses it (ONNX export fills it with the
  column's mean, z = 0: a graph cannot refuse).
- Two classes: glassnet predict takes P(classes_[1]) >= 0.5, scikit-learn's argmax
  of [1 - p, p] takes classes_[0] at exactly p = 0.5.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...data.column_stats import _tag, is_missing
from ...data.preprocessing import (
    METADATA_KEY,
    CategoricalColumn,
    NumericColumn,
    Preprocessing,
)
from ...errors import InputError
from ...io import save as save_model
from ...nn.layers import Dense
from ...nn.network import Sequential
from .preprocessor import TablePreprocessor

_STRATEGIES = ("mean", "median", "most_frequent", "constant")
_UNKNOWN = ("ignore", "infrequent_if_exist", "error", "warn")


@dataclass
class _Cell:
    """A raw column x after the steps so far: u = (x~ - mean) / scale, x~ = fill
    where x is missing (fill None: not imputed yet, the NaN goes on)."""

    name: str
    mean: float = 0.0
    scale: float = 1.0
    fill: object = None
    strategy: str | None = None
    scaled: bool = False


@dataclass
class _Linear:
    """sum_k coef_k r_k + const over record inputs r_k: ("ind", column) for the
    indicator m, ("cat", column, key) for a one-hot input (key None: missing)."""

    terms: dict
    const: float = 0.0


@dataclass
class _Encoded:
    """A column a OneHotEncoder took: its categories (in the encoder's order) and
    the fill an imputer before it put in its empty cells (None: none did)."""

    categories: list
    fill: object = None


@dataclass
class _Trace:
    encoded: dict = field(default_factory=dict)  # column name -> _Encoded
    n_train: int = 0


def save(estimator, path, *, target=None, metadata=None) -> Path:
    """Saves a fitted glassnet ``MLPClassifier``/``MLPRegressor``, or a Pipeline of
    known steps ending in one, as one glassnet model file; returns the path.

    The file holds the network with the steps folded into a preprocessing record
    (see the module's docstring), so ``glassnet predict MODEL DATA`` reads DATA's
    columns by name and writes the pipeline's labels.

    Parameters
    ----------
    estimator : Pipeline or glassnet.sklearn estimator, fitted
    path : str or PathLike
    target : str, optional
        The name of the column the model predicts, for ``glassnet evaluate`` (which
        otherwise needs ``--target``) and ``glassnet info``.
    metadata : dict, optional
        Extra JSON-able information kept with the model (not the key
        "preprocessing", which the record takes).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from glassnet.sklearn import MLPClassifier, save
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> pipe = make_pipeline(StandardScaler(), MLPClassifier(
    ...     hidden_layer_sizes=(16,), learning_rate=0.01, max_iter=1000,
    ...     random_state=0)).fit(X, y)
    >>> path = save(pipe, os.path.join(tempfile.mkdtemp(), "iris.safetensors"))
    >>> from glassnet.tabular import load_model
    >>> net, record, _ = load_model(path)
    >>> record.names[:2], record.classes
    (['sepal length (cm)', 'sepal width (cm)'], [0, 1, 2])
    >>> X_net, _ = record.transform({k: X[k].to_numpy() for k in X.columns[::-1]})
    >>> bool((net.predict_proba(X_net).argmax(1) == pipe.predict(X)).all())
    True
    """
    steps, model = _split(estimator)
    if metadata is not None and not isinstance(metadata, dict):
        raise InputError(f"metadata must be a dict, got {type(metadata).__name__}")
    if metadata and METADATA_KEY in metadata:
        raise InputError(
            f"metadata may not hold the key {METADATA_KEY!r}: save writes the "
            "preprocessing record there"
        )
    names = _input_names(estimator)
    if target is not None and (not isinstance(target, str) or target in names):
        raise InputError(
            f"target must be the name of the predicted column, not one of the "
            f"{len(names)} input columns, got {target!r}"
        )
    if len(steps) == 1 and isinstance(steps[0][1], TablePreprocessor):
        record, net = _own_record(steps[0][1], model), model.net_
    else:
        trace = _Trace()
        features = [_Cell(name) for name in names]
        for label, step in steps:
            features = _apply(step, features, label, trace)
        if len(features) != model.n_features_in_:
            raise InputError(
                f"the steps give {len(features)} columns but the estimator was fitted "
                f"on {model.n_features_in_}: save cannot follow this pipeline"
            )
        record, A, c = _record(features, trace, model)
        net = _folded(model.net_, A, c)
    record.target = target
    Preprocessing.from_metadata({METADATA_KEY: record.to_metadata()}, net)  # checked
    from sklearn import __version__

    info = {
        "steps": [type(step).__name__ for _, step in steps + [("", model)]],
        "scikit-learn": __version__,
    }
    out = {**(metadata or {}), METADATA_KEY: record.to_metadata(), "sklearn": info}
    return save_model(net, path, metadata=out)


# -- what is saved ---------------------------------------------------------------------------
def _split(estimator):
    """(the transformer steps as (label, step), the final glassnet estimator)."""
    from sklearn.pipeline import Pipeline

    from .base import BaseMLP

    if isinstance(estimator, Pipeline):
        *steps, (label, model) = estimator.steps
        given = f"its last step {label!r} is a {type(model).__name__}"
    else:
        steps, model = [], estimator
        given = f"got a {type(model).__name__}"
    if not isinstance(model, BaseMLP):
        wrapped = getattr(model, "best_estimator_", None)
        hint = (
            f"; pass its best_estimator_ ({type(wrapped).__name__})"
            if wrapped is not None
            else ""
        )
        raise InputError(
            "save needs a fitted glassnet MLPClassifier or MLPRegressor, or a "
            f"Pipeline ending in one; {given}{hint}"
        )
    if not hasattr(model, "net_"):
        raise InputError(
            f"the {type(model).__name__} is not fitted yet: call fit before save"
        )
    if getattr(model, "_multilabel", False):
        raise InputError(
            "a multilabel MLPClassifier cannot be saved with a preprocessing record "
            "(its outputs are independent labels, not classes); use gn.save(est.net_)"
        )
    if getattr(model, "out_activation_", None) == "exp":
        raise InputError(
            "an MLPRegressor with loss='poisson' predicts exp(z) of the network's "
            "output z, which a glassnet model file does not apply; save "
            "squared_error regressors only, or gn.save(est.net_) and take exp"
        )
    return [(name, step) for name, step in steps], model


def _input_names(estimator) -> list[str]:
    """The columns the pipeline was fitted on; x0 .. x{d-1} for a numpy array, as
    scikit-learn names them."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    d = getattr(estimator, "n_features_in_", None)
    if d is None:
        raise InputError(
            f"the {type(estimator).__name__}'s first step is not fitted (or takes no "
            "columns): fit the pipeline before save"
        )
    return [f"x{j}" for j in range(d)]


# -- the steps -------------------------------------------------------------------------------
def _apply(step, features: list, label: str, trace: _Trace) -> list:
    """The features after ``step``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        StandardScaler,
    )

    if step is None or (isinstance(step, str) and step == "passthrough"):
        return features
    if type(step) is FunctionTransformer and step.func is None:
        return features  # the identity (a fitted remainder="passthrough" is one)
    if isinstance(step, Pipeline):
        for name, inner in step.steps:
            features = _apply(inner, features, f"{label}/{name}", trace)
        return features
    if type(step) is ColumnTransformer:
        return _columns(step, features, label, trace)
    if type(step) is StandardScaler:
        return _scaler(step, features, label, trace)
    if type(step) is SimpleImputer:
        return _imputer(step, features, label)
    if type(step) is OneHotEncoder:
        return _encoder(step, features, label, trace)
    raise InputError(
        f"step {label!r} is a {type(step).__name__}, which save cannot write into a "
        "glassnet preprocessing record; it knows StandardScaler, SimpleImputer, "
        "OneHotEncoder, and ColumnTransformer and Pipeline of those"
    )


def _columns(ct, features: list, label: str, trace: _Trace) -> list:
    """A ColumnTransformer: each group's features, in the order of its output."""
    if not hasattr(ct, "transformers_"):
        raise InputError(f"step {label!r}, a ColumnTransformer, is not fitted")
    # each group's input columns, resolved at fit (names, masks, selectors alike)
    where = getattr(ct, "_transformer_to_input_indices", None)
    if where is None or not hasattr(ct, "output_indices_"):
        raise InputError(
            f"step {label!r}: this scikit-learn version's ColumnTransformer does not "
            "say which columns each group took (_transformer_to_input_indices)"
        )
    used: dict[int, str] = {}
    groups = []
    for name, transformer, _ in ct.transformers_:
        indices = list(where.get(name, []))
        if (isinstance(transformer, str) and transformer == "drop") or not indices:
            continue
        for i in indices:
            if i in used and isinstance(features[i], _Cell):
                raise InputError(
                    f"step {label!r}: column {features[i].name!r} goes to both "
                    f"{used[i]!r} and {name!r}; a glassnet record reads each column "
                    "once"
                )
            used[i] = name
        out = _apply(transformer, [features[i] for i in indices], f"{label}/{name}",
                     trace)  # fmt: skip
        span = ct.output_indices_[name]
        if len(out) != span.stop - span.start:
            raise InputError(
                f"step {label!r}/{name!r} gives {span.stop - span.start} columns, "
                f"save expected {len(out)}: cannot follow it"
            )
        groups.append((span.start, out))
    return [f for _, out in sorted(groups, key=lambda g: g[0]) for f in out]


def _scaler(scaler, features: list, label: str, trace: _Trace) -> list:
    """u' = (u - m) / s per column: for a column (x~ - mean) / scale that is
    (x~ - (mean + m scale)) / (scale s)."""
    seen = np.max(np.atleast_1d(getattr(scaler, "n_samples_seen_", 0)))
    trace.n_train = max(trace.n_train, int(seen))
    out = []
    for j, f in enumerate(features):
        m = float(scaler.mean_[j]) if scaler.with_mean else 0.0
        s = float(scaler.scale_[j]) if scaler.with_std else 1.0
        if isinstance(f, _Cell):
            if f.fill is not None and not _is_number(f.fill):
                raise InputError(
                    f"step {label!r} scales column {f.name!r}, which holds text "
                    f"(filled with {f.fill!r}): save cannot follow that"
                )
            out.append(
                _Cell(f.name, f.mean + m * f.scale, f.scale * s, f.fill, f.strategy,
                      scaled=True)
            )  # fmt: skip
        else:
            terms = {key: coef / s for key, coef in f.terms.items()}
            out.append(_Linear(terms, (f.const - m) / s))
    return out


def _imputer(imputer, features: list, label: str) -> list:
    """x~ = statistic where x is missing, then the indicator columns m = [x missing]
    of the columns that had missing cells in fitting, after all the others."""
    if imputer.strategy not in _STRATEGIES:
        raise InputError(
            f"step {label!r}: SimpleImputer(strategy={imputer.strategy!r}) is not "
            f"supported; save takes strategy {', '.join(map(repr, _STRATEGIES))}"
        )
    marker = imputer.missing_values
    if not (isinstance(marker, float) and math.isnan(marker)):
        raise InputError(
            f"step {label!r}: SimpleImputer(missing_values={marker!r}) is not "
            "supported; save takes missing_values=np.nan (the empty cells of a table)"
        )
    out = []
    for j, f in enumerate(features):
        value = imputer.statistics_[j]
        if isinstance(f, _Cell) and f.fill is None:
            if is_missing(value):
                raise InputError(
                    f"step {label!r}: column {f.name!r} was empty in every row the "
                    "imputer was fitted on, so it has no fill value; drop the column"
                )
            if _is_number(value):
                fill = f.mean + float(value) * f.scale  # back in x's units
            elif f.scaled:
                raise InputError(
                    f"step {label!r} fills the scaled column {f.name!r} with text "
                    f"{value!r}: save cannot follow that"
                )
            else:
                fill = _category(value, f.name, label)
            f = _Cell(f.name, f.mean, f.scale, fill, imputer.strategy, f.scaled)
        out.append(f)
    if imputer.add_indicator:
        for j in imputer.indicator_.features_:
            f = features[j]
            if not isinstance(f, _Cell):
                raise InputError(
                    f"step {label!r}: a missing-value indicator of an encoded or "
                    "indicator column: save cannot follow that"
                )
            out.append(_Linear({("ind", f.name): 1.0}))
    return out


def _encoder(encoder, features: list, label: str, trace: _Trace) -> list:
    """e_k per category k of each column, in the encoder's order."""
    if encoder.drop is not None:
        raise InputError(
            f"step {label!r}: OneHotEncoder(drop={encoder.drop!r}) is not supported "
            "(a glassnet record keeps every category); use drop=None"
        )
    if encoder.handle_unknown not in _UNKNOWN:
        raise InputError(
            f"step {label!r}: OneHotEncoder(handle_unknown="
            f"{encoder.handle_unknown!r}) is not supported"
        )
    if getattr(encoder, "_infrequent_enabled", False) and any(
        group is not None for group in encoder.infrequent_categories_
    ):
        raise InputError(
            f"step {label!r}: the OneHotEncoder grouped infrequent categories "
            f"(min_frequency={encoder.min_frequency!r}, max_categories="
            f"{encoder.max_categories!r}), which a glassnet record does not; fit it "
            "without them"
        )
    out = []
    for j, f in enumerate(features):
        if not isinstance(f, _Cell) or f.scaled:
            what = "a scaled" if isinstance(f, _Cell) else "an encoded or indicator"
            raise InputError(
                f"step {label!r} one-hot encodes {what} column: save encodes raw "
                "columns only (put the encoder first in its column's steps)"
            )
        categories = [_category(v, f.name, label) for v in encoder.categories_[j]]
        keys = [None if v is None else _tag(v) for v in categories]
        if len(set(keys)) != len(keys):
            raise InputError(
                f"step {label!r}: column {f.name!r} has categories that a glassnet "
                f"record cannot tell apart: {categories!r:.200}"
            )
        trace.encoded[f.name] = _Encoded(categories, f.fill)
        out += [_Linear({("cat", f.name, key): 1.0}) for key in keys]
    return out


# -- the record and the folded network -------------------------------------------------------
def _record(features: list, trace: _Trace, model):
    """(record, A (d, n_inputs), c (d,)): the estimator's input s = A r + c."""
    order: list[str] = []
    cells: dict[str, _Cell] = {}
    flagged: set[str] = set()
    for f in features:
        if isinstance(f, _Cell):
            if f.name in cells:
                raise InputError(f"column {f.name!r} reaches the network twice")
            cells[f.name] = f
            mentioned = [f.name]
        else:
            mentioned = [key[1] for key in f.terms]
            flagged.update(key[1] for key in f.terms if key[0] == "ind")
        order += [name for name in mentioned if name not in order]
    columns, at = [], {}  # at: record input key -> index
    for name in order:
        if name in trace.encoded:
            spec = _categorical(name, trace.encoded[name], name in flagged)
            keys = [("cat", name, None if v is None else _tag(v))
                    for v in spec.categories]  # fmt: skip
        elif name in cells:
            cell = cells[name]
            fill, strategy = cell.fill, cell.strategy
            if fill is None:  # no imputer: refused at predict, as the pipeline does
                fill, strategy = cell.mean, "none"
            spec = NumericColumn(name, float(fill), name in flagged, cell.mean,
                                 cell.scale, strategy)  # fmt: skip
            keys = [("num", name)] + [("ind", name)] * spec.indicator
        else:
            raise InputError(
                f"column {name!r} reaches the network only through its missing-value "
                "indicator: save cannot write that"
            )
        for key in keys:
            at[key] = len(at)
        columns.append(spec)
    A = np.zeros((len(features), len(at)))
    c = np.zeros(len(features))
    for s, f in enumerate(features):
        if isinstance(f, _Cell):
            A[s, at[("num", f.name)]] = 1.0
            continue
        c[s] = f.const
        for key, coef in f.terms.items():
            for r in _inputs_of(key, trace, at):
                A[s, r] += coef
    if hasattr(model, "classes_"):
        task, classes = "classification", [_label(v) for v in model.classes_]
    else:
        task, classes = "regression", None
    return Preprocessing(columns, task, None, classes, trace.n_train), A, c


def _own_record(preprocessor, model) -> Preprocessing:
    """glassnet's own record, fitted by ``TablePreprocessor``, with the estimator's
    task and classes: the network takes its inputs as they are."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(preprocessor, "record_")
    if hasattr(model, "classes_"):
        task, classes = "classification", [_label(v) for v in model.classes_]
    else:
        task, classes = "regression", None
    return dataclasses.replace(preprocessor.record_, task=task, classes=classes)


def _categorical(name: str, encoded: _Encoded, flagged: bool) -> CategoricalColumn:
    """Sorted known categories, then null when a missing cell is told apart: the
    encoder's own NaN category, the category an imputer fills in, or an indicator."""
    known = sorted((v for v in encoded.categories if v is not None), key=_tag)
    fill_known = encoded.fill is not None and _tag(encoded.fill) in {
        _tag(v) for v in known
    }
    missing = None in encoded.categories or fill_known or flagged
    return CategoricalColumn(name, known + [None] * missing, "onehot", missing)


def _inputs_of(key, trace: _Trace, at: dict) -> list[int]:
    """The record inputs whose value a term's input equals (its missing category
    too, where an imputer's fill or an indicator stands for a missing cell)."""
    kind, name = key[0], key[1]
    encoded = trace.encoded.get(name)
    if kind == "ind":
        return [at[("cat", name, None)] if encoded else at[("ind", name)]]
    inputs = [at[key]]
    fill = encoded.fill
    if key[2] is not None and fill is not None and _tag(fill) == key[2]:
        inputs.append(at[("cat", name, None)])  # missing -> the fill's category
    return inputs


def _folded(net, A: np.ndarray, c: np.ndarray) -> Sequential:
    """The network with W' = W A and b' = b + W c in its first Dense layer."""
    first = net.layers[0]
    if not isinstance(first, Dense):
        raise InputError(
            f"the network's first layer is a {type(first).__name__}, not Dense"
        )
    W = np.asarray(first.W, dtype=np.float64)  # (out, d)
    W_new = W @ A  # (out, n_inputs): a 0/1 column of A copies W's column exactly
    layer = Dense(A.shape[1], first.out_features, first.activation,
                  use_bias=first.use_bias, init=first.init)  # fmt: skip
    copied = net.copy()  # its own rng state too (dropout layers share it)
    folded = Sequential(layer, *copied.layers[1:], dtype=net.dtype, seed=copied.rng)
    layer.W = W_new
    if first.use_bias:
        layer.b = np.asarray(first.b, dtype=np.float64) + W @ c
    elif np.any(c):
        raise InputError("a first Dense layer without bias cannot absorb the shift")
    return folded


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _category(value, column: str, label: str):
    """A category as a JSON scalar (None for a missing one)."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"step {label!r}: column {column!r} has category {value}")
    if not isinstance(value, (str, int, float, bool)):
        raise InputError(
            f"step {label!r}: column {column!r} has a category of type "
            f"{type(value).__name__} ({value!r:.60}); a glassnet record takes text, "
            "numbers and booleans"
        )
    return value


def _label(value):
    return value.item() if isinstance(value, np.generic) else value
