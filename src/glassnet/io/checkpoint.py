"""Checkpoints: everything needed to resume training as if it had never stopped.

A checkpoint is a model file (format "glassnet.checkpoint") that also holds

- the optimizer: its ``config()`` (name and hyperparameters) and its ``state_dict()``
  (arrays such as momentum buffers or Adam's moments as tensors named
  ``optimizer.<key>``, Python scalars such as the step count in JSON);
- the training history, as the plain record ``History.to_dict()`` gives (JSON);
- the random generator's state (``rng.bit_generator.state``) and the position
  (epoch, step) at which training stopped.

Optimizers are rebuilt by name through ``glassnet.optim.get_optimizer`` (a registry):
nothing in the file is executed. The history stays plain data here, checked and
returned as that dict; ``glassnet.training.checkpoint`` (``gn.load_checkpoint``)
makes it a ``History`` again, since the fit loop, one layer up, owns that class.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..nn.network import Sequential
from ..optim import get_optimizer
from . import container
from .architecture import check_rng_state, rng_state_to_json
from .atomic import atomic_write
from .errors import ModelFormatError
from .model import (
    CHECKPOINT_FORMAT,
    GlassnetFile,
    check_finite,
    decode_file,
    encode_network,
    read_model_file,
)

OPTIMIZER_PREFIX = "optimizer."


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns.

    ``history`` is the history's plain record (a dict, as ``History.to_dict()``
    writes it) from this module, and a ``History`` from ``gn.load_checkpoint``.
    """

    net: Sequential
    optimizer: object | None
    history: object | None
    rng_state: dict | None
    epoch: int
    step: int
    metadata: dict = field(default_factory=dict)
    glassnet_version: str = ""


# -- writing ------------------------------------------------------------------------
def _check_position(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _encode_scalar(key: str, value):
    """A Python scalar as [type, value]: ints and floats keep their type, and floats
    are written with repr (exact, and inf/nan survive)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return ["none", None]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, str):
        return ["str", value]
    raise TypeError(
        f"optimizer state {key!r} must be a numpy array or an int, float, bool, str or "
        f"None, got {type(value).__name__}"
    )


def _split_state(state) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    if not isinstance(state, dict):
        raise TypeError(
            f"optimizer.state_dict() must return a dict, got {type(state).__name__}"
        )
    arrays, scalars = {}, {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"optimizer state keys must be strings, got {key!r}")
        if isinstance(value, np.ndarray):
            arrays[OPTIMIZER_PREFIX + key] = value
        else:
            scalars[key] = _encode_scalar(key, value)
    return arrays, scalars


def _history_json(history) -> str | None:
    """The history's JSON text, from its record (a dict), the text itself, or
    anything with ``to_dict()`` giving the record (a History)."""
    if history is None:
        return None
    record = history.to_dict() if hasattr(history, "to_dict") else history
    if isinstance(record, dict):
        try:
            return json.dumps(record, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"history record is not JSON-able: {error}") from None
    text = record
    if not isinstance(text, str):
        raise TypeError(
            "history must be a History, its record (History.to_dict()) or its JSON "
            f"text, got {type(history).__name__}"
        )
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise ValueError(f"history JSON text is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise ValueError(
            f"history JSON must be an object (History.to_json()), got "
            f"{type(parsed).__name__}"
        )
    return text


def checkpoint_bytes(
    net, optimizer, history, rng_state, epoch, step, metadata=None
) -> bytes:
    """The bytes ``save_checkpoint`` writes."""
    epoch = _check_position(epoch, "epoch")
    step = _check_position(step, "step")
    if rng_state is None:
        rng_state = net.rng.bit_generator.state
    rng_state = rng_state_to_json(rng_state)
    net_generator = type(net.rng.bit_generator).__name__
    if (
        not isinstance(rng_state, dict)
        or rng_state.get("bit_generator") != net_generator
    ):
        raise ValueError(
            f"rng_state must be a {net_generator} state (net.rng.bit_generator.state), "
            f"got {str(rng_state)[:80]}"
        )
    arrays, scalars, config = {}, {}, None
    if optimizer is not None:
        config = optimizer.config()
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise TypeError(
                f"optimizer.config() must return a dict with a 'name', got {config!r}"
            )
        arrays, scalars = _split_state(optimizer.state_dict())
    training = {
        "epoch": epoch,
        "step": step,
        "optimizer": config,
        "optimizer_scalars": scalars,
        "optimizer_arrays": sorted(arrays),
        "rng_state": rng_state,
    }
    try:
        training_text = json.dumps(training, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"optimizer config and rng_state must be JSON-able: {error}"
        ) from None
    extra_metadata = {"training": training_text}
    history_text = _history_json(history)
    if history_text is not None:
        extra_metadata["history"] = history_text
    return encode_network(
        net,
        metadata,
        format=CHECKPOINT_FORMAT,
        extra_tensors=arrays,
        extra_metadata=extra_metadata,
    )


def save_checkpoint(
    path, net, optimizer, history, rng_state, epoch, step, metadata=None
) -> Path:
    """Saves a training checkpoint to ``path``, atomically; returns the path.

    The parameters are those of ``gn.save_checkpoint``, which hands over to this
    function with the history as its plain record.

    Parameters
    ----------
    path : str or PathLike
    net : Sequential
    optimizer : glassnet optimizer or None
        Stored as ``config()`` and ``state_dict()``.
    history : dict (``History.to_dict()``), its JSON text, a History, or None
    rng_state : dict or None
        The generator state to resume from (``net.rng.bit_generator.state``; None
        takes that).
    epoch, step : int
        Epochs completed, and optimizer steps taken so far.
    metadata : dict, optional
        Extra JSON-able information, as for ``gn.save``.

    Examples
    --------
    >>> import tempfile, os
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> record = {"history": {"loss": [0.5]}, "epoch": [0]}
    >>> _ = gn.io.save_checkpoint(path, net, None, record, None, 1, 8)
    >>> ckpt = gn.io.load_checkpoint(path)
    >>> ckpt.epoch, ckpt.step, ckpt.history["history"]
    (1, 8, {'loss': [0.5]})
    """
    data = checkpoint_bytes(net, optimizer, history, rng_state, epoch, step, metadata)
    return atomic_write(path, data)


# -- reading ------------------------------------------------------------------------
def _decode_scalar(key: str, item):
    where = f"optimizer state {key[:60]!r}"
    if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
        raise ModelFormatError(f"{where}: expected [type, value], got {str(item)[:60]}")
    kind, value = item
    if kind == "none" and value is None:
        return None
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind in ("int", "float") and isinstance(value, str) and len(value) <= 400:
        try:
            return int(value) if kind == "int" else float(value)
        except ValueError:
            pass
    raise ModelFormatError(f"{where}: {str(item)[:60]} is not a valid {kind[:20]}")


def parse_training(meta: dict[str, str], tensors: dict[str, np.ndarray], net) -> dict:
    """The checked training record of a checkpoint's metadata."""
    if "training" not in meta:
        raise ModelFormatError("the checkpoint metadata is missing 'training'")
    training = container.strict_json(meta["training"], "training record")
    keys = {
        "epoch",
        "step",
        "optimizer",
        "optimizer_scalars",
        "optimizer_arrays",
        "rng_state",
    }
    if not isinstance(training, dict) or set(training) != keys:
        found = sorted(training)[:8] if isinstance(training, dict) else training
        raise ModelFormatError(
            f"training record must have keys {sorted(keys)}, got {str(found)[:80]}"
        )
    for key in ("epoch", "step"):
        value = training[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelFormatError(
                f"training {key} must be a non-negative integer, got {str(value)[:40]}"
            )
    config = training["optimizer"]
    if config is not None and (
        not isinstance(config, dict) or not isinstance(config.get("name"), str)
    ):
        raise ModelFormatError(
            f"optimizer config must be an object with a 'name', got {str(config)[:80]}"
        )
    scalars = training["optimizer_scalars"]
    if not isinstance(scalars, dict):
        raise ModelFormatError("optimizer_scalars must be a JSON object")
    state = {key: _decode_scalar(key, item) for key, item in scalars.items()}
    names = training["optimizer_arrays"]
    present = sorted(n for n in tensors if n.startswith(OPTIMIZER_PREFIX))
    if not isinstance(names, list) or sorted(map(str, names)) != present:
        raise ModelFormatError(
            f"the optimizer tensors in the file ({present[:5]}) do not match those "
            f"the training record lists ({str(names)[:80]})"
        )
    for name in present:
        key = name[len(OPTIMIZER_PREFIX) :]
        array = tensors[name]
        if array.shape != (net.n_params,) or array.dtype != net.dtype:
            raise ModelFormatError(
                f"optimizer tensor {name[:60]!r} is {array.dtype} of shape "
                f"{array.shape}; moment buffers must be {net.dtype.name} of shape "
                f"({net.n_params},), one entry per parameter"
            )
        if key in state:
            raise ModelFormatError(
                f"optimizer state {key!r} is both a scalar and an array"
            )
        state[key] = np.array(tensors[name])  # a writable copy
    if config is None and state:
        raise ModelFormatError("optimizer state is present but no optimizer config")
    rng_state = training["rng_state"]
    if rng_state is not None:  # numpy sees only the state rebuilt from checked parts
        rng_state = check_rng_state(rng_state, "training rng_state").state
    return {
        "epoch": training["epoch"],
        "step": training["step"],
        "optimizer_config": config,
        "optimizer_state": state,
        "rng_state": rng_state,
    }


def _rebuild_optimizer(config: dict, state: dict):
    kwargs = {k: v for k, v in config.items() if k != "name"}
    try:
        optimizer = get_optimizer(config["name"], **kwargs)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ModelFormatError(
            f"cannot rebuild optimizer {config['name'][:40]!r} from its config: {error}"
        ) from None
    try:
        optimizer.load_state_dict(state)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ModelFormatError(
            f"optimizer {config['name'][:40]!r} rejected its saved state: {error}"
        ) from None
    return optimizer


def _check_history(data) -> dict:
    """The structure ``History.to_dict`` writes, checked so that ``History.from_dict``
    accepts it: a checkpoint that loads here loads with its History too."""

    def bad(what):
        raise ModelFormatError(f"history: {what}")

    if not isinstance(data, dict):
        bad(f"expected a JSON object, got {type(data).__name__}")
    series, epochs = data.get("history"), data.get("epoch")
    if not isinstance(series, dict) or not all(
        isinstance(v, list) for v in series.values()
    ):
        bad("'history' must map names to lists")
    if not isinstance(epochs, list) or not all(_is_count(e) for e in epochs):
        bad("'epoch' must be a list of non-negative integers")
    lengths = sorted({len(v) for v in series.values()} - {len(epochs)})
    if lengths:
        bad(f"each list must have one entry per epoch ({len(epochs)}), got {lengths}")
    for key in ("next_epoch", "next_step"):
        if key in data and not _is_count(data[key]):
            bad(f"{key!r} must be a non-negative integer")
    if data.get("seed") is not None and not _is_count(data["seed"]):
        bad("'seed' must be a non-negative integer or null")
    if data.get("params") is not None and not isinstance(data["params"], dict):
        bad("'params' must be a JSON object")
    if data.get("stop_reason") is not None and not isinstance(data["stop_reason"], str):
        bad("'stop_reason' must be a string or null")
    return data


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def checkpoint_from_bytes(data: bytes, *, allow_nonfinite: bool = False) -> Checkpoint:
    """The checkpoint in ``data``; see ``load_checkpoint``."""
    return _checkpoint_of(
        decode_file(data, allow_nonfinite=allow_nonfinite), allow_nonfinite
    )


def _checkpoint_of(loaded: GlassnetFile, allow_nonfinite: bool) -> Checkpoint:
    """The checkpoint in a decoded glassnet file (its training record checked)."""
    if loaded.format != CHECKPOINT_FORMAT:
        raise ModelFormatError(
            f"this is a {loaded.format!r} file, not a checkpoint: load it with gn.load"
        )
    record = parse_training(loaded.header.metadata, loaded.tensors, loaded.net)
    state = record["optimizer_state"]
    if not allow_nonfinite:
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                check_finite(OPTIMIZER_PREFIX + key, value)
            elif isinstance(value, float) and not math.isfinite(value):
                raise ModelFormatError(
                    f"optimizer state {key!r} is {value}; pass allow_nonfinite=True "
                    "to load it anyway"
                )
    config = record["optimizer_config"]
    optimizer = None if config is None else _rebuild_optimizer(config, state)
    history_text = loaded.header.metadata.get("history")
    history = (
        None
        if history_text is None
        else _check_history(container.strict_json(history_text, "history"))
    )
    rng_state = record["rng_state"]
    if rng_state is not None:  # resume from the generator state the caller saved
        if rng_state["bit_generator"] != type(loaded.net.rng.bit_generator).__name__:
            raise ModelFormatError(
                f"training rng_state is a {rng_state['bit_generator']} state but the "
                f"network's generator is {type(loaded.net.rng.bit_generator).__name__}"
            )
        loaded.net.rng.bit_generator.state = rng_state
    return Checkpoint(
        net=loaded.net,
        optimizer=optimizer,
        history=history,
        rng_state=rng_state,
        epoch=record["epoch"],
        step=record["step"],
        metadata=loaded.metadata,
        glassnet_version=loaded.glassnet_version,
    )


def load_checkpoint(path, *, allow_nonfinite: bool = False) -> Checkpoint:
    """The checkpoint saved at ``path``: net, optimizer, history (its plain record,
    a dict), rng_state, epoch, step (and metadata), validated like ``gn.load``.
    ``gn.load_checkpoint`` returns the same with the history as a ``History``.

    Raises ``ModelFormatError`` for a bad file or a plain model file.
    """
    loaded = read_model_file(path, allow_nonfinite=allow_nonfinite)
    return _checkpoint_of(loaded, allow_nonfinite)


def _position(path: Path) -> tuple[int, int, int] | None:
    """(epoch, step, mtime) from a checkpoint's header, or None if it is not one."""
    try:
        header = container.read_header_of_file(path)
        if header.metadata.get("format") != CHECKPOINT_FORMAT:
            return None
        training = container.strict_json(
            header.metadata.get("training", ""), "training"
        )
        epoch, step = training["epoch"], training["step"]
        if not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (epoch, step)
        ):
            return None
        return epoch, step, path.stat().st_mtime_ns
    except (ModelFormatError, OSError, TypeError, KeyError):
        return None


def latest_checkpoint(folder, pattern: str = "*.safetensors") -> Path | None:
    """The checkpoint in ``folder`` furthest into training that loads cleanly.

    Candidates are ordered by (epoch, step), then modification time; corrupt or
    unreadable files, model files and temporary files are skipped. Returns None if
    there is no good checkpoint (or no folder).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import glassnet as gn
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> net = gn.Sequential(gn.Dense(2, 1), seed=0)
    >>> for epoch in (1, 2):
    ...     _ = gn.save_checkpoint(folder / f"e{epoch}.safetensors", net, None, None,
    ...                            None, epoch, 10 * epoch)
    >>> _ = (folder / "e3.safetensors").write_bytes(b"torn")
    >>> gn.io.latest_checkpoint(folder).name
    'e2.safetensors'
    """
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        return None
    candidates = []
    for path in folder.glob(pattern):
        if path.name.startswith(".") or not path.is_file():
            continue
        position = _position(path)
        if position is not None:
            candidates.append((position, path))
    for _, path in sorted(candidates, key=lambda item: item[0], reverse=True):
        try:
            load_checkpoint(path)
        except (ModelFormatError, OSError):
            continue
        return path
    return None
