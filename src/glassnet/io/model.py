"""gn.save and gn.load: a network in one safetensors file.

The file holds the parameters as raw tensors named ``layers.<i>.<W|b>`` and, in the
safetensors metadata (a str -> str map):

    format            "glassnet.model" (or "glassnet.checkpoint")
    format_version    "1"
    glassnet_version  the library version that wrote it
    architecture      JSON: dtype, each layer's type and config, the generator state
    metadata          JSON: whatever the caller passed as ``metadata=``
    checksum          SHA-256 of everything else

Loading checks all of it (see ``container`` and ``architecture``) and raises
``ModelFormatError`` for anything wrong; nothing in the file is ever executed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._version import __version__
from ..nn.network import Sequential
from . import container
from .architecture import (
    architecture_of,
    build_network,
    expected_tensors,
    parse_architecture,
)
from .atomic import atomic_write
from .errors import ModelFormatError

MODEL_FORMAT = "glassnet.model"
CHECKPOINT_FORMAT = "glassnet.checkpoint"
FORMAT_VERSION = 1
_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*[0-9A-Za-z.+-]{0,30}")


@dataclass
class GlassnetFile:
    """A decoded, validated glassnet file."""

    format: str
    format_version: int
    glassnet_version: str
    net: Sequential
    metadata: dict
    header: container.Header
    tensors: dict[str, np.ndarray]  # every tensor, parameters included


# -- writing ------------------------------------------------------------------------
def metadata_json(metadata) -> str:
    """The caller's extra metadata as JSON text (a dict with string keys)."""
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(
            f"metadata must be a dict with string keys, got {type(metadata).__name__}"
        )
    try:
        return json.dumps(metadata, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise TypeError(
            "metadata must hold only JSON values (dict, list, str, finite int/float, "
            f"bool, None; convert numpy arrays with .tolist()): {error}"
        ) from None


def encode_network(
    net: Sequential,
    metadata=None,
    *,
    format: str = MODEL_FORMAT,
    extra_tensors: dict[str, np.ndarray] | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> bytes:
    """The bytes of a glassnet file for ``net`` (and, for checkpoints, more)."""
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    tensors = {
        f"layers.{i}.{name}": array
        for i, layer in enumerate(net.layers)
        for name, array in layer.params.items()
    }
    tensors.update(extra_tensors or {})
    meta = {
        "format": format,
        "format_version": str(FORMAT_VERSION),
        "glassnet_version": __version__,
        "architecture": json.dumps(architecture_of(net), allow_nan=False),
        "metadata": metadata_json(metadata),
    }
    meta.update(extra_metadata or {})
    return container.encode(tensors, meta)


def to_bytes(net: Sequential, metadata=None) -> bytes:
    """The model file ``gn.save`` would write, as bytes.

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1), seed=0)
    >>> data = gn.io.to_bytes(net)
    >>> bool((gn.io.from_bytes(data).layers[0].W == net.layers[0].W).all())
    True
    """
    return encode_network(net, metadata)


def save(net: Sequential, path, metadata=None) -> Path:
    """Saves ``net`` to ``path`` as safetensors, atomically; returns the path.

    The weights are stored raw (bit for bit), the architecture and the random
    generator's state as JSON. The write goes to a temporary file first, so a crash
    never leaves a half-written file or loses the previous one.

    Parameters
    ----------
    net : Sequential
    path : str or PathLike
        Conventionally ``*.safetensors``.
    metadata : dict, optional
        Extra JSON-able information kept with the model (for example feature
        standardisation or class labels; convert arrays with ``.tolist()``: floats
        come back exactly). ``gn.load(path, return_metadata=True)`` returns it.

    Examples
    --------
    >>> import tempfile, os
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 3, activation="relu"), gn.Dense(3, 1), seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> _ = gn.save(net, path, metadata={"classes": ["no", "yes"]})
    >>> loaded, meta = gn.load(path, return_metadata=True)
    >>> meta
    {'classes': ['no', 'yes']}
    >>> bool((loaded.flat_params == net.flat_params).all())
    True
    """
    return atomic_write(path, to_bytes(net, metadata))


# -- reading ------------------------------------------------------------------------
def _format_of(meta: dict[str, str]) -> tuple[str, int]:
    fmt = meta.get("format")
    if fmt is None:
        raise ModelFormatError(
            "this safetensors file has no glassnet metadata (no 'format' key; found "
            f"{sorted(meta)[:8]}): it was not written by gn.save or gn.save_checkpoint"
        )
    if fmt not in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        raise ModelFormatError(
            f"unknown format {fmt[:60]!r}; expected {MODEL_FORMAT!r} or "
            f"{CHECKPOINT_FORMAT!r}"
        )
    version = meta.get("format_version")
    if version is None or not version.isascii() or not version.isdigit():
        raise ModelFormatError(
            f"format_version must be a whole number, got {str(version)[:30]!r}"
        )
    if int(version[:30]) != FORMAT_VERSION:
        raise ModelFormatError(
            f"unknown format version {version[:30]}: this glassnet ({__version__}) "
            f"reads version {FORMAT_VERSION}; a newer glassnet may read it"
        )
    return fmt, FORMAT_VERSION


def _required(meta: dict[str, str], key: str) -> str:
    if key not in meta:
        raise ModelFormatError(f"the glassnet metadata is missing {key!r}")
    return meta[key]


def check_finite(name: str, array: np.ndarray) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        value = array[tuple(bad)]
        raise ModelFormatError(
            f"tensor {name!r} holds {value} at index {tuple(int(i) for i in bad)}: the "
            "saved weights are not finite (training diverged?); pass "
            "allow_nonfinite=True to load them anyway"
        )


@dataclass
class _Checked:
    """What the header says, checked: everything but the tensor bytes."""

    format: str
    format_version: int
    glassnet_version: str
    dtype: str
    specs: list
    rng_state: dict | None
    metadata: dict
    expected: dict[str, tuple[int, ...]]


def _check_header(header: container.Header) -> _Checked:
    """The metadata, the architecture and the tensor table checked against each
    other; no tensor byte is needed."""
    meta = header.metadata
    fmt, version = _format_of(meta)
    library_version = _required(meta, "glassnet_version")
    if len(library_version) > 64 or not _VERSION.fullmatch(library_version):
        raise ModelFormatError(
            f"glassnet_version must look like '1.2.3', got {library_version[:40]!r}"
        )
    arch = container.strict_json(_required(meta, "architecture"), "architecture")
    dtype, specs, rng_state = parse_architecture(arch)
    extra = container.strict_json(_required(meta, "metadata"), "metadata")
    if not isinstance(extra, dict):
        raise ModelFormatError(
            f"metadata must be a JSON object, got {type(extra).__name__}"
        )

    expected = expected_tensors(specs)
    code = container.CODE_OF_DTYPE[np.dtype(dtype)]
    for name, shape in expected.items():
        if name not in header.entries:
            raise ModelFormatError(
                f"tensor {name!r} is missing: the architecture needs it with shape "
                f"{shape} ({dtype})"
            )
        entry = header.entries[name]
        if entry.dtype != code:
            raise ModelFormatError(
                f"tensor {name!r} is {entry.dtype} but the architecture says {dtype} "
                f"({code})"
            )
        if entry.shape != shape:
            raise ModelFormatError(
                f"tensor {name!r} has shape {entry.shape} but the architecture needs "
                f"{shape}"
            )
    allowed_prefix = "optimizer." if fmt == CHECKPOINT_FORMAT else None
    for name in header.entries:
        if name not in expected and not (
            allowed_prefix and name.startswith(allowed_prefix)
        ):
            raise ModelFormatError(
                f"unexpected tensor {name[:60]!r}: the architecture has no such "
                "parameter"
            )
    return _Checked(
        fmt, version, library_version, dtype, specs, rng_state, extra, expected
    )


def decode_file(data: bytes, *, allow_nonfinite: bool = False) -> GlassnetFile:
    """Validates a whole glassnet file and rebuilds its network."""
    data = bytes(data)  # one immutable copy for parsing, tensors and the checksum
    header, tensors = container.decode(data)
    checked = _check_header(header)
    if not allow_nonfinite:
        for name in checked.expected:
            check_finite(name, tensors[name])
    container.verify_checksum(data, header)
    net = build_network(checked.dtype, checked.specs, tensors, checked.rng_state)
    return GlassnetFile(
        checked.format,
        checked.format_version,
        checked.glassnet_version,
        net,
        checked.metadata,
        header,
        tensors,
    )


def read_model_file(path, *, allow_nonfinite: bool = False) -> GlassnetFile:
    """Validates the glassnet file at ``path`` and rebuilds its network, reading the
    file as a stream: the header is checked first, then the checksum over the tensor
    bytes read piece by piece (a corrupted file is refused before anything large is
    allocated), then the parameters are read straight into the network's flat buffer.
    Peak memory is about the parameters' size once."""
    with container.open_regular(path) as f:
        header = container.read_header(f)
        checked = _check_header(header)
        container.verify_checksum_streamed(f, header)
        net = build_network(checked.dtype, checked.specs, None, checked.rng_state)
        targets = {
            f"layers.{i}.{name}": array
            for i, layer in enumerate(net.layers)
            for name, array in layer.params.items()
        }
        tensors = container.read_tensors_into(f, header, targets)
    if not allow_nonfinite:
        for name in checked.expected:
            check_finite(name, tensors[name])
    return GlassnetFile(
        checked.format,
        checked.format_version,
        checked.glassnet_version,
        net,
        checked.metadata,
        header,
        tensors,
    )


def from_bytes(data: bytes, *, allow_nonfinite: bool = False, return_metadata=False):
    """The network in ``data`` (the bytes of a model or checkpoint file); see ``load``."""
    loaded = decode_file(data, allow_nonfinite=allow_nonfinite)
    return (loaded.net, loaded.metadata) if return_metadata else loaded.net


def load(path, *, allow_nonfinite: bool = False, return_metadata: bool = False):
    """The network saved at ``path`` by ``gn.save`` (or ``gn.save_checkpoint``).

    Rebuilt from the registries of known layers and activations only; parameters and
    the random generator's state come back bit for bit.

    Parameters
    ----------
    path : str or PathLike
    allow_nonfinite : bool, default False
        Load weights holding NaN or inf instead of raising.
    return_metadata : bool, default False
        Return ``(net, metadata)``, the dict passed to ``gn.save(metadata=...)``.

    Raises
    ------
    ModelFormatError
        For any file that is not a valid glassnet file, naming what is wrong, and
        for a path that is not a regular file (a FIFO or a device would hang).
    FileNotFoundError
        If there is no file at ``path``.

    The checksum is verified as the file is streamed, before the parameters are
    allocated; they are then read straight into the network's buffer (peak memory
    about the file's size).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import glassnet as gn
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "bad.safetensors"
    >>> _ = path.write_bytes(b"not a model")
    >>> gn.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glassnet.io.errors.ModelFormatError: not a safetensors file, or its header is too large: ...
    """
    loaded = read_model_file(path, allow_nonfinite=allow_nonfinite)
    return (loaded.net, loaded.metadata) if return_metadata else loaded.net
