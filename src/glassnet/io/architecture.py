"""A network's architecture as JSON, and the registry that rebuilds it.

Saving writes, for each layer, its type name and its ``config()``; loading looks the
type name up in ``LAYERS`` and the activation names up in
``glassnet.nn.activations.ACTIVATIONS``, checks every value (type, range, width
connections) and only then constructs the layers. A name outside the registries is an
error: nothing from the file is ever imported, evaluated or executed.

    {"dtype": "float32",
     "layers": [{"type": "Dense", "config": {"in_features": 2, "out_features": 3,
                                             "activation": "relu", "use_bias": true}},
                {"type": "Dropout", "config": {"p": 0.5}}, ...],
     "rng": {"bit_generator": "PCG64", "state": {...}, ...}}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..nn.activations import ACTIVATIONS, Activation
from ..nn.embedding import Embedding
from ..nn.init import get_initializer
from ..nn.layers import ActivationLayer, Dense, Dropout, Layer
from ..nn.network import Sequential
from .errors import ModelFormatError

#: Layer types a file may name.
LAYERS: dict[str, type[Layer]] = {
    "Dense": Dense,
    "ActivationLayer": ActivationLayer,
    "Dropout": Dropout,
    "Embedding": Embedding,
}
#: Random bit generators whose state a file may hold.
BIT_GENERATORS = {
    cls.__name__: cls
    for cls in (
        np.random.PCG64,
        np.random.PCG64DXSM,
        np.random.MT19937,
        np.random.Philox,
        np.random.SFC64,
    )
}
DTYPE_NAMES = ("float32", "float64")
MAX_LAYERS = 10_000


@dataclass
class LayerSpec:
    """A validated layer description: how to build it and the parameters it needs."""

    make: Callable[[], Layer]
    param_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    in_features: int | None = None  # None: any width, passed through
    out_features: int | None = None


# -- saving -------------------------------------------------------------------------
def architecture_of(net: Sequential) -> dict:
    """The JSON-able description of ``net`` that ``build_network`` reads back."""
    layers = []
    for i, layer in enumerate(net.layers):
        name = type(layer).__name__
        if LAYERS.get(name) is not type(layer):
            raise TypeError(
                f"cannot save layer {i} ({layer!r}): glassnet files hold only the layer "
                f"types {sorted(LAYERS)}, not subclasses or custom layers"
            )
        activation = getattr(layer, "activation", None)
        if activation is not None and ACTIVATIONS.get(activation.name) is not type(
            activation
        ):
            raise TypeError(
                f"cannot save layer {i} ({layer!r}): its activation {activation!r} is "
                f"not one of glassnet's registered activations {sorted(ACTIVATIONS)}"
            )
        layers.append({"type": name, "config": layer.config()})
    return {
        "dtype": net.dtype.name,
        "layers": layers,
        "rng": rng_state_to_json(net.rng.bit_generator.state),
    }


def rng_state_to_json(state):
    """A bit generator's state with numpy arrays and scalars made plain JSON."""
    if isinstance(state, dict):
        return {str(k): rng_state_to_json(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [rng_state_to_json(v) for v in state]
    if isinstance(state, np.ndarray):
        return state.tolist()
    if isinstance(state, np.generic):
        return state.item()
    return state


# -- loading: checks ----------------------------------------------------------------
def _fail(where: str, message: str):
    raise ModelFormatError(f"{where}: {message}")


def _short(obj, limit: int = 60) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _keys(config, where: str, required: set[str], optional: set[str] = frozenset()):
    if not isinstance(config, dict):
        _fail(where, f"config must be a JSON object, got {_short(config)}")
    missing = required - set(config)
    if missing:
        _fail(where, f"config is missing {sorted(missing)}")
    unknown = set(config) - required - optional
    if unknown:
        _fail(
            where,
            f"config has unknown keys {sorted(unknown)[:5]}; expected "
            f"{sorted(required | optional)}",
        )


def _positive_int(value, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        _fail(where, f"{key} must be a positive integer, got {_short(value)}")
    return value


def _real(value, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, f"{key} must be a number, got {_short(value)}")
    if not math.isfinite(value):
        _fail(where, f"{key} must be finite, got {value}")
    return float(value)


def activation_from(name, config, where: str) -> Activation:
    """An activation from a registered name and its config (numbers only)."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        _fail(
            where,
            f"unknown activation {_short(name)}; a glassnet file may name only "
            f"{sorted(ACTIVATIONS)}",
        )
    cls = ACTIVATIONS[name]
    config = {} if config is None else config
    allowed = set(cls().config())  # the constructor's keyword arguments
    _keys(config, f"{where}, activation {name!r}", set(), allowed)
    kwargs = {k: _real(v, where, f"activation {name!r} {k}") for k, v in config.items()}
    return cls(**kwargs)


def _dense(config, where: str) -> LayerSpec:
    _keys(
        config,
        where,
        {"in_features", "out_features", "activation", "use_bias"},
        {"activation_config", "init"},
    )
    n_in = _positive_int(config["in_features"], where, "in_features")
    n_out = _positive_int(config["out_features"], where, "out_features")
    activation = activation_from(
        config["activation"], config.get("activation_config"), where
    )
    use_bias = config["use_bias"]
    if not isinstance(use_bias, bool):
        _fail(where, f"use_bias must be true or false, got {_short(use_bias)}")
    init = config.get("init")
    if init is not None:
        try:
            get_initializer(init)
        except (TypeError, ValueError) as error:
            _fail(where, str(error))
    shapes = {"W": (n_out, n_in)}
    if use_bias:
        shapes["b"] = (n_out,)
    return LayerSpec(
        make=lambda: Dense(n_in, n_out, activation, use_bias=use_bias, init=init),
        param_shapes=shapes,
        in_features=n_in,
        out_features=n_out,
    )


def _activation_layer(config, where: str) -> LayerSpec:
    _keys(config, where, {"activation"}, {"activation_config"})
    activation = activation_from(
        config["activation"], config.get("activation_config"), where
    )
    return LayerSpec(make=lambda: ActivationLayer(activation))


def _dropout(config, where: str) -> LayerSpec:
    _keys(config, where, {"p"})
    p = _real(config["p"], where, "p")
    if not 0.0 <= p < 1.0:
        _fail(where, f"p must be in [0, 1), got {p}")
    return LayerSpec(make=lambda: Dropout(p))


def _embedding(config, where: str) -> LayerSpec:
    _keys(config, where, {"index_columns", "n_categories", "dims", "in_features"})
    lists = {}
    for key, low in (("index_columns", 0), ("n_categories", 1), ("dims", 1)):
        values = config[key]
        if not isinstance(values, list) or not values:
            _fail(where, f"{key} must be a non-empty list, got {_short(values)}")
        for v in values:
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                _fail(where, f"{key} must hold integers >= {low}, got {_short(v)}")
        lists[key] = values
    d = _positive_int(config["in_features"], where, "in_features")
    try:  # lengths, distinct columns, columns inside the input
        Embedding(**lists, in_features=d)
    except ValueError as error:
        _fail(where, str(error))
    sizes = zip(lists["n_categories"], lists["dims"], strict=True)
    shapes = {f"E{j}": (K + 1, dim) for j, (K, dim) in enumerate(sizes)}
    return LayerSpec(
        make=lambda: Embedding(**lists, in_features=d),
        param_shapes=shapes,
        in_features=d,
        out_features=d - len(lists["index_columns"]) + sum(lists["dims"]),
    )


_SPEC_OF = {
    "Dense": _dense,
    "ActivationLayer": _activation_layer,
    "Dropout": _dropout,
    "Embedding": _embedding,
}


def parse_architecture(arch) -> tuple[str, list[LayerSpec], dict | None]:
    """(dtype, layer specs, rng state) from the architecture JSON, fully checked."""
    where = "architecture"
    _keys(arch, where, {"dtype", "layers"}, {"rng"})
    dtype = arch["dtype"]
    if dtype not in DTYPE_NAMES:
        _fail(where, f"dtype must be one of {list(DTYPE_NAMES)}, got {_short(dtype)}")
    layers = arch["layers"]
    if not isinstance(layers, list) or not layers:
        _fail(where, f"layers must be a non-empty list, got {_short(layers)}")
    if len(layers) > MAX_LAYERS:
        _fail(where, f"{len(layers):,} layers is over the limit of {MAX_LAYERS:,}")
    specs = []
    for i, item in enumerate(layers):
        at = f"layer {i}"
        _keys(item, at, {"type", "config"})
        kind = item["type"]
        if not isinstance(kind, str) or kind not in LAYERS:
            _fail(
                at,
                f"unknown layer type {_short(kind)}; a glassnet file may name only "
                f"{sorted(LAYERS)}",
            )
        specs.append(_SPEC_OF[kind](item["config"], f"{at} ({kind})"))
    _check_widths(specs)
    rng = arch.get("rng")
    if rng is not None:
        check_rng_state(rng, "architecture rng")
    return dtype, specs, rng


def _check_widths(specs: list[LayerSpec]) -> None:
    if specs[0].in_features is None:
        _fail("layer 0", "the first layer must be Dense (it fixes the input width)")
    width = specs[0].in_features
    for i, spec in enumerate(specs):
        if spec.in_features is not None:
            if spec.in_features != width:
                _fail(
                    f"layer {i} (Dense)",
                    f"expects {spec.in_features} inputs but the layers before it "
                    f"output {width}: consecutive widths do not connect",
                )
            width = spec.out_features


_U32 = 2**32
_U64 = 2**64
_U128 = 2**128
#: Each bit generator's state, field by field: ``(kind, count, bound)`` for a field
#: under ``state`` (kind "int": one integer in [0, bound); kind "array": a list of
#: ``count`` integers, each in [0, bound)) plus its top-level fields. numpy's own
#: setters cast without range checks, and an out-of-range buffer position (Philox
#: ``buffer_pos = -2**31``) makes the first draw read outside its buffer, so nothing
#: reaches numpy before every field is checked here.
_RNG_FIELDS: dict[str, tuple[dict, dict]] = {
    "PCG64": (
        {"state": ("int", None, _U128), "inc": ("int", None, _U128)},
        {"has_uint32": ("int", None, 2), "uinteger": ("int", None, _U32)},
    ),
    "PCG64DXSM": (
        {"state": ("int", None, _U128), "inc": ("int", None, _U128)},
        {"has_uint32": ("int", None, 2), "uinteger": ("int", None, _U32)},
    ),
    "MT19937": (
        {"key": ("array", 624, _U32), "pos": ("int", None, 625)},
        {},
    ),
    "Philox": (
        {"counter": ("array", 4, _U64), "key": ("array", 2, _U64)},
        {
            "buffer": ("array", 4, _U64),
            "buffer_pos": ("int", None, 5),
            "has_uint32": ("int", None, 2),
            "uinteger": ("int", None, _U32),
        },
    ),
    "SFC64": (
        {"state": ("array", 4, _U64)},
        {"has_uint32": ("int", None, 2), "uinteger": ("int", None, _U32)},
    ),
}


def _rng_field(value, where: str, key: str, kind: str, count, bound: int):
    """One checked field: a Python int, or a numpy array of the generator's dtype."""
    if kind == "int":
        if (
            not isinstance(value, (int, np.integer))
            or isinstance(value, (bool, np.bool_))
            or not 0 <= int(value) < bound
        ):
            _fail(
                where,
                f"{key} must be an integer in [0, {bound - 1}], got {_short(value)}",
            )
        return int(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu" or value.ndim != 1:
            _fail(
                where,
                f"{key} must be {count} integers, got a {value.dtype} array of shape "
                f"{value.shape}",
            )
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != count:
        length = len(value) if isinstance(value, (list, tuple)) else None
        _fail(
            where,
            f"{key} must be a list of {count} integers, got "
            f"{_short(value) if length is None else f'{length} items'}",
        )
    for i, item in enumerate(value):
        if (
            not isinstance(item, (int, np.integer))
            or isinstance(item, (bool, np.bool_))
            or not 0 <= int(item) < bound
        ):
            _fail(
                where,
                f"{key}[{i}] must be an integer in [0, {bound - 1}], got "
                f"{_short(item)}",
            )
    dtype = np.uint32 if bound == _U32 else np.uint64
    return np.array([int(item) for item in value], dtype=dtype)


def rng_state_checked(state, where: str) -> dict:
    """A bit generator's state rebuilt from checked parts.

    Every field of the registered generator is checked (type, length, range: Philox
    ``0 <= buffer_pos <= 4``, MT19937 ``0 <= pos <= 624``, ``has_uint32`` 0 or 1,
    words within their unsigned width); unknown or missing keys are refused. The
    result holds only values numpy can use as they are.

    Examples
    --------
    >>> state = np.random.Philox(1).state
    >>> rng_state_checked(state, "rng")["buffer_pos"]
    4
    >>> state["buffer_pos"] = -5
    >>> try:
    ...     rng_state_checked(state, "rng")
    ... except ModelFormatError as error:
    ...     print(error)
    rng: not a valid Philox state: buffer_pos must be an integer in [0, 4], got -5
    """
    if not isinstance(state, dict):
        _fail(where, f"must be a JSON object, got {_short(state)}")
    name = state.get("bit_generator")
    if not isinstance(name, str) or name not in BIT_GENERATORS:
        _fail(
            where,
            f"unknown bit generator {_short(name)}; expected one of "
            f"{sorted(BIT_GENERATORS)}",
        )
    inner_fields, outer_fields = _RNG_FIELDS[name]
    where = f"{where}: not a valid {name} state"
    _keys(state, where, {"bit_generator", "state", *outer_fields})
    _keys(state["state"], f"{where}, state", set(inner_fields))
    checked = {"bit_generator": name}
    checked["state"] = {
        key: _rng_field(state["state"][key], where, f"state.{key}", *spec)
        for key, spec in inner_fields.items()
    }
    for key, spec in outer_fields.items():
        checked[key] = _rng_field(state[key], where, key, *spec)
    return checked


def check_rng_state(state, where: str) -> np.random.BitGenerator:
    """A bit generator from a registered name with ``state`` applied, every field
    checked first (``rng_state_checked``)."""
    checked = rng_state_checked(state, where)
    bit_generator = BIT_GENERATORS[checked["bit_generator"]]()
    try:
        bit_generator.state = checked
    except (TypeError, ValueError, KeyError, OverflowError, IndexError) as error:
        _fail(
            where,
            f"not a valid {checked['bit_generator']} state: {_short(str(error), 120)}",
        )
    return bit_generator


# -- loading: build -----------------------------------------------------------------
def expected_tensors(specs: list[LayerSpec]) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, for the parameters the architecture implies."""
    return {
        f"layers.{i}.{name}": shape
        for i, spec in enumerate(specs)
        for name, shape in spec.param_shapes.items()
    }


def build_network(dtype: str, specs: list[LayerSpec], params, rng_state) -> Sequential:
    """The network, with its parameters set from ``params`` (name -> array, already
    checked against ``expected_tensors``) and its generator restored. With ``params``
    None the parameters are left uninitialised, for the caller to read them in place
    (``net.layers[i].params``)."""
    layers = []
    for i, spec in enumerate(specs):
        layer = spec.make()
        # Set before Sequential builds the layer, so it keeps these instead of drawing
        # (and allocating) fresh initial weights. np.empty pages are never touched
        # (Sequential copies them into its flat buffer), so they take no memory.
        layer.params = {
            name: (
                np.empty(shape, dtype=dtype)
                if params is None
                else np.array(params[f"layers.{i}.{name}"], dtype=dtype)
            )
            for name, shape in spec.param_shapes.items()
        }
        layers.append(layer)
    seed = None
    if rng_state is not None:
        seed = np.random.Generator(check_rng_state(rng_state, "architecture rng"))
    return Sequential(*layers, dtype=dtype, seed=seed)
