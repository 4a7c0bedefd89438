"""Hostile files: each is refused with ModelFormatError and runs nothing.

Every payload here would create a sentinel file if anything in it were executed (or
unpickled); each test checks the sentinel never appears. The test builds the pickles
with the standard library but never unpickles them.
"""

from __future__ import annotations

import json
import pickle
import pickletools
import struct
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import glassnet as gn
from glassnet.cli import main
from glassnet.io import container


class _CreatesSentinel:
    """Unpickling this calls builtins.open(path, "w"), creating the file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickle_payload(sentinel, protocol) -> bytes:
    data = pickle.dumps({"state_dict": _CreatesSentinel(sentinel)}, protocol=protocol)
    listing = []
    pickletools.dis(data, out=_Lines(listing))
    text = "\n".join(listing)
    # A real payload: it names builtins.open and reduces it (statically checked).
    assert "open" in text and "REDUCE" in text
    return data


class _Lines:
    def __init__(self, sink):
        self.sink = sink

    def write(self, text):
        self.sink.append(text)


def _sign(tensors, meta) -> bytes:
    """A file with a valid glassnet checksum, so only the hostile part is wrong."""
    return container.encode(tensors, meta)


def _parts(data):
    n = int.from_bytes(data[:8], "little")
    return dict(safetensors.numpy.load(data)), json.loads(data[8 : 8 + n])[
        "__metadata__"
    ]


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a payload ran"


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_renamed_to_safetensors(tmp_path, sentinel, protocol):
    path = tmp_path / "model.safetensors"
    path.write_bytes(_pickle_payload(sentinel, protocol))
    with pytest.raises(gn.ModelFormatError, match="starts like a Python pickle"):
        gn.load(path)
    with pytest.raises(gn.ModelFormatError):
        gn.load_checkpoint(path)
    assert gn.io.latest_checkpoint(tmp_path) is None
    assert main(["info", str(path)]) == 1


def test_protocol_0_pickle_is_refused(tmp_path, sentinel):
    path = tmp_path / "model.safetensors"
    path.write_bytes(_pickle_payload(sentinel, 0))  # text protocol: no magic byte
    with pytest.raises(gn.ModelFormatError, match="not a safetensors file"):
        gn.load(path)


def test_torch_save_zip_renamed(tmp_path, sentinel):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.safetensors"
    torch.save({"weights": _CreatesSentinel(sentinel)}, path)
    with pytest.raises(gn.ModelFormatError, match="zip archive"):
        gn.load(path)


def _base():
    net = gn.Sequential(gn.Dense(2, 3, activation="relu"), gn.Dense(3, 1), seed=0)
    return _parts(gn.io.to_bytes(net))


def _with_activation(name):
    tensors, meta = _base()
    arch = json.loads(meta["architecture"])
    arch["layers"][0]["config"]["activation"] = name
    meta["architecture"] = json.dumps(arch)
    return _sign(tensors, meta)


def _with_layer_type(name):
    tensors, meta = _base()
    arch = json.loads(meta["architecture"])
    arch["layers"][1]["type"] = name
    meta["architecture"] = json.dumps(arch)
    return _sign(tensors, meta)


def _command(sentinel):
    return f"__import__('os').system('touch {sentinel}')"


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "posix.system",
        "subprocess.Popen",
        "builtins.eval",
        "glassnet.nn.activations.ReLU",
        "ReLU",  # a class name, not a registered activation name
        "__class__",
        "__init__",
        "RELU",  # registry names are exact: no case folding from a file
        "linear",  # an alias the API accepts, never written to files
        "COMMAND",
    ],
)
def test_activation_named_by_module_path_is_unknown(name, sentinel):
    name = _command(sentinel) if name == "COMMAND" else name
    with pytest.raises(gn.ModelFormatError, match="unknown activation"):
        gn.io.from_bytes(_with_activation(name))


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "glassnet.nn.layers.Dense",
        "Layer",
        "Sequential",
        "dense",
        "__builtins__",
        "COMMAND",
    ],
)
def test_layer_type_named_by_module_path_is_unknown(name, sentinel):
    name = _command(sentinel) if name == "COMMAND" else name
    with pytest.raises(gn.ModelFormatError, match="unknown layer type"):
        gn.io.from_bytes(_with_layer_type(name))


def test_activation_config_cannot_smuggle_arguments(sentinel):
    tensors, meta = _base()
    arch = json.loads(meta["architecture"])
    arch["layers"][0]["config"]["activation"] = "leaky_relu"
    for config, match in (
        ({"negative_slope": _command(sentinel)}, "must be a number"),
        ({"__class__": "os.system"}, "unknown keys"),
        ({"negative_slope": 0.1, "callback": "os.system"}, "unknown keys"),
    ):
        arch["layers"][0]["config"]["activation_config"] = config
        meta["architecture"] = json.dumps(arch)
        with pytest.raises(gn.ModelFormatError, match=match):
            gn.io.from_bytes(_sign(tensors, meta))


def test_bit_generator_and_optimizer_named_by_module_path(sentinel):
    tensors, meta = _base()
    arch = json.loads(meta["architecture"])
    arch["rng"] = {"bit_generator": "os.system", "state": _command(sentinel)}
    meta["architecture"] = json.dumps(arch)
    with pytest.raises(gn.ModelFormatError, match="unknown bit generator"):
        gn.io.from_bytes(_sign(tensors, meta))
    net = gn.Sequential(gn.Dense(2, 1), seed=0)
    tensors, meta = _parts(
        gn.io.checkpoint.checkpoint_bytes(net, None, None, None, 0, 0)
    )
    training = json.loads(meta["training"])
    for name in ("os.system", "glassnet.optim.SGD", _command(sentinel)):
        training["optimizer"] = {"name": name, "lr": 0.1}
        meta["training"] = json.dumps(training)
        with pytest.raises(gn.ModelFormatError, match="cannot rebuild optimizer"):
            gn.io.checkpoint.checkpoint_from_bytes(_sign(tensors, meta))


def _raw(table: dict, buffer: bytes) -> bytes:
    text = json.dumps(table).encode()
    return struct.pack("<Q", len(text)) + text + buffer


@pytest.mark.parametrize("dtype", ["O", "object", "|O", "<U8", "V8", "c16", "F16"])
def test_object_and_other_dtypes_are_refused(dtype):
    table = {"layers.0.W": {"dtype": dtype, "shape": [1], "data_offsets": [0, 8]}}
    with pytest.raises(gn.ModelFormatError, match="is not one glassnet reads"):
        gn.io.from_bytes(_raw(table, bytes(8)))


def test_object_arrays_cannot_be_saved():
    with pytest.raises(TypeError, match="cannot save tensor 'x' of dtype object"):
        container.encode({"x": np.array([None, 1], dtype=object)}, {})


@pytest.mark.parametrize(
    "shape",
    [
        [2**62, 2**62],  # 2^124 elements: overflows any 64-bit size computation
        [2**32, 2**32],  # 2^64 elements: wraps to 0 in u64 arithmetic
        [2**61, 8],  # 2^64 / 4 elements * 4 bytes: wraps to 0 bytes
        [0, 2**70],  # zero elements, but a dimension no u64 holds
        [2**63 - 1, 2, 2],
        [1] * 9,  # too many dimensions
        [-1, 4],
    ],
)
def test_shape_whose_byte_size_overflows(shape):
    table = {"layers.0.W": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}}
    tracemalloc.start()
    try:
        with pytest.raises(gn.ModelFormatError, match="tensor 'layers.0.W'"):
            gn.io.from_bytes(_raw(table, b""))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # nothing near the claimed size was allocated


def test_huge_claimed_architecture_allocates_nothing():
    """A header claiming Dense(10**9, 10**9) with a tiny tensor is refused before
    the network (which would allocate 4 GB) is built."""
    tensors, meta = _base()
    arch = json.loads(meta["architecture"])
    arch["layers"][0]["config"].update(in_features=10**9, out_features=10**9)
    arch["layers"][1]["config"]["in_features"] = 10**9
    meta["architecture"] = json.dumps(arch)
    data = _sign(tensors, meta)
    tracemalloc.start()
    try:
        with pytest.raises(gn.ModelFormatError, match="has shape"):
            gn.io.from_bytes(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_header_length_claiming_a_huge_header_reads_nothing(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 90 * 2**20) + b"{" + bytes(100))
    with pytest.raises(gn.ModelFormatError, match="only 101 bytes follow"):
        gn.load(path)


def test_deeply_nested_json_is_refused_not_a_crash():
    deep = b'{"__metadata__": {"architecture": "x"}, "a": ' + b"[" * 50_000
    deep += b"]" * 50_000 + b"}"
    with pytest.raises(gn.ModelFormatError, match="nested too deeply"):
        gn.io.from_bytes(struct.pack("<Q", len(deep)) + deep)
    tensors, meta = _base()
    meta["architecture"] = "[" * 100_000 + "]" * 100_000
    with pytest.raises(gn.ModelFormatError, match="architecture is not valid JSON"):
        gn.io.from_bytes(_sign(tensors, meta))


def test_huge_integers_in_json_are_refused():
    tensors, meta = _base()
    meta["format_version"] = "1" * 5000
    with pytest.raises(gn.ModelFormatError, match="unknown format version"):
        gn.io.from_bytes(_sign(tensors, meta))
    arch = json.loads(meta["architecture"])
    meta["format_version"] = "1"
    meta["architecture"] = json.dumps(arch).replace(
        '"in_features": 2', '"in_features": ' + "9" * 5000
    )
    with pytest.raises(gn.ModelFormatError, match="architecture is not valid JSON"):
        gn.io.from_bytes(_sign(tensors, meta))
