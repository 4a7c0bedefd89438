"""gn.save / gn.load: bitwise round trips and one clear error per kind of bad file."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet.io import container
from netcases import ALL_ACTIVATIONS


# -- helpers ------------------------------------------------------------------------
def small_net(dtype="float32", seed=0):
    return gn.Sequential(
        gn.Dense(3, 4, activation="relu"),
        gn.Dropout(0.5),
        gn.Dense(4, 2, activation="softmax"),
        dtype=dtype,
        seed=seed,
    )


def parts(data: bytes):
    """(tensors, metadata) of a file, read with the safetensors library itself."""
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + n])["__metadata__"]
    return dict(safetensors.numpy.load(data)), meta


def rebuild(data: bytes, arch=None, meta=None, tensors=None) -> bytes:
    """A validly checksummed file with the architecture, metadata or tensors edited
    by the given functions (each takes the parsed value and returns the new one)."""
    t, m = parts(data)
    if arch is not None:
        m["architecture"] = json.dumps(arch(json.loads(m["architecture"])))
    if meta is not None:
        m = meta(m)
    if tensors is not None:
        t = tensors(t)
    return container.encode(t, m)


def raw_file(header: dict, buffer: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + buffer


def message_of(data: bytes, **kwargs) -> str:
    with pytest.raises(gn.ModelFormatError) as info:
        gn.io.from_bytes(data, **kwargs)
    return str(info.value)


# -- round trips --------------------------------------------------------------------
@st.composite
def networks(draw):
    dtype = draw(st.sampled_from(["float32", "float64"]))
    width = draw(st.integers(1, 6))
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["dense", "dense", "activation", "dropout"]))
        if kind == "dense" or not layers:
            out = draw(st.integers(1, 6))
            name = draw(st.sampled_from(ALL_ACTIVATIONS))
            activation = {
                "leaky_relu": gn.LeakyReLU(draw(st.floats(0.001, 0.5))),
                "elu": gn.ELU(draw(st.floats(0.1, 2.0))),
            }.get(name, name)
            layers.append(
                gn.Dense(
                    width,
                    out,
                    activation=activation,
                    use_bias=draw(st.booleans()),
                    init=draw(st.sampled_from([None, "he_uniform", "zeros"])),
                )
            )
            width = out
        elif kind == "activation":
            layers.append(gn.get_activation(draw(st.sampled_from(ALL_ACTIVATIONS))))
        else:
            layers.append(gn.Dropout(draw(st.floats(0.0, 0.9))))
    return gn.Sequential(*layers, dtype=dtype, seed=draw(st.integers(0, 2**32)))


@settings(max_examples=60, deadline=None)
@given(net=networks(), data=st.data())
def test_round_trip_is_bitwise(net, data):
    loaded = gn.io.from_bytes(gn.io.to_bytes(net))
    assert [repr(layer) for layer in loaded.layers] == [repr(x) for x in net.layers]
    assert [layer.config() for layer in loaded.layers] == [
        x.config() for x in net.layers
    ]
    assert loaded.dtype == net.dtype
    for (i, name, p), (j, name2, q) in zip(
        net.parameters(), loaded.parameters(), strict=True
    ):
        assert (i, name) == (j, name2) and p.dtype == q.dtype
        assert p.tobytes() == q.tobytes()  # bitwise, not approximately
    assert loaded.rng.bit_generator.state == net.rng.bit_generator.state
    seed = data.draw(st.integers(0, 1000))
    X = np.random.default_rng(seed).normal(size=(5, net.in_features))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        assert net.forward(X).tobytes() == loaded.forward(X).tobytes()
        # Dropout draws from the restored generator: training outputs agree too.
        assert (
            net.forward(X, training=True).tobytes()
            == loaded.forward(X, training=True).tobytes()
        )


def test_save_load_file_round_trip_and_metadata(tmp_path):
    net = small_net("float64", seed=3)
    path = tmp_path / "model.safetensors"
    extra = {"classes": ["cat", "dog"], "mean": [0.1, 1 / 3], "n": 7, "ok": None}
    assert gn.save(net, path, metadata=extra) == path
    loaded, meta = gn.load(path, return_metadata=True)
    assert meta == extra
    assert loaded.flat_params.tobytes() == net.flat_params.tobytes()
    assert gn.load(str(path)).flat_params.tobytes() == net.flat_params.tobytes()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_float32_standardisation_survives_json_exactly():
    mean = np.random.default_rng(0).normal(size=5).astype(np.float32)
    data = gn.io.to_bytes(small_net(), metadata={"mean": mean.tolist()})
    _, meta = gn.io.from_bytes(data, return_metadata=True)
    assert np.array(meta["mean"], dtype=np.float32).tobytes() == mean.tobytes()


def test_file_is_plain_safetensors_readable_by_the_library():
    net = small_net()
    tensors, meta = parts(gn.io.to_bytes(net))
    assert sorted(tensors) == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]
    assert (tensors["layers.0.W"] == net.layers[0].W).all()
    assert meta["format"] == "glassnet.model" and meta["format_version"] == "1"
    assert meta["glassnet_version"] == gn.__version__
    arch = json.loads(meta["architecture"])
    assert [layer["type"] for layer in arch["layers"]] == ["Dense", "Dropout", "Dense"]


def test_loaded_network_is_independent_and_writable():
    net = small_net()
    loaded = gn.io.from_bytes(gn.io.to_bytes(net))
    loaded.layers[0].W = np.zeros((4, 3))
    assert loaded.flat_params[:12].sum() == 0 and net.flat_params[:12].any()


def test_nonfinite_weights_rejected_unless_allowed():
    net = small_net()
    net.layers[2].W[1, 2] = np.nan
    data = gn.io.to_bytes(net)  # saving a diverged net is allowed (for inspection)
    message = message_of(data)
    assert "'layers.2.W' holds nan at index (1, 2)" in message
    assert "allow_nonfinite=True" in message
    loaded = gn.io.from_bytes(data, allow_nonfinite=True)
    assert np.isnan(loaded.layers[2].W[1, 2])
    net.layers[2].W[1, 2] = np.inf
    assert "holds inf" in message_of(gn.io.to_bytes(net))


# -- save-side errors ---------------------------------------------------------------
def test_save_rejects_non_network_and_bad_metadata(tmp_path):
    with pytest.raises(TypeError, match="net must be a glassnet Sequential, got list"):
        gn.save([1, 2], tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="string keys"):
        gn.save(small_net(), tmp_path / "x.safetensors", metadata={1: "a"})
    with pytest.raises(TypeError, match=r"JSON values.*\.tolist\(\)"):
        gn.save(small_net(), tmp_path / "x.safetensors", metadata={"a": np.ones(2)})
    with pytest.raises(TypeError, match="JSON values"):
        gn.save(small_net(), tmp_path / "x.safetensors", metadata={"a": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_custom_layers_and_activations():
    class MyDense(gn.Dense):
        pass

    class Cube(gn.Activation):
        name = "cube"

        def forward(self, Z):
            return Z**3

    with pytest.raises(TypeError, match="only the layer types.*not subclasses"):
        gn.io.to_bytes(gn.Sequential(MyDense(2, 1), seed=0))
    with pytest.raises(TypeError, match="not one of glassnet's registered activations"):
        gn.io.to_bytes(gn.Sequential(gn.Dense(2, 1, activation=Cube()), seed=0))


def test_save_to_missing_folder_or_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gn.save(small_net(), tmp_path / "nope" / "m.safetensors")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        gn.save(small_net(), tmp_path)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        gn.load(tmp_path / "missing.safetensors")


# -- one clear error per problem ----------------------------------------------------
def test_not_a_safetensors_file():
    assert "shorter than the 8-byte header length" in message_of(b"abc")
    text = b"hello, this is a text file and not a model at all"
    assert "header is too large" in message_of(text)
    assert "cannot hold a JSON object" in message_of(struct.pack("<Q", 0) + b"xx")
    assert "starting with '{'" in message_of(struct.pack("<Q", 4) + b"[12]")
    assert "not UTF-8" in message_of(struct.pack("<Q", 3) + b"{\xff}")
    zipped = b"PK\x03\x04" + bytes(100)
    assert "zip archive" in message_of(zipped)


def test_header_too_large_or_truncated():
    data = gn.io.to_bytes(small_net())
    huge = struct.pack("<Q", 2**40) + data[8:]
    assert "over the limit of 104,857,600" in message_of(huge)
    n = int.from_bytes(data[:8], "little")
    assert f"says {n:,} bytes but only 99 bytes follow" in message_of(data[:107])
    message = message_of(data[:-3])
    assert "truncated, or junk appended" in message
    assert "truncated, or junk appended" in message_of(data + b"junk")


def test_header_json_errors():
    broken = b'{"a": }'
    assert "header is not valid JSON" in message_of(struct.pack("<Q", 7) + broken)
    bad = b'{"a": 1, "a": 2}'
    assert "key 'a' appears twice" in message_of(struct.pack("<Q", len(bad)) + bad)
    nan = b'{"__metadata__": {}, "x": NaN}'
    assert "NaN" in message_of(struct.pack("<Q", len(nan)) + nan)
    deep = b"{" + b'"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in message_of(struct.pack("<Q", len(deep)) + deep)


def test_tensor_table_errors():
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    ok = raw_file({"w": entry}, bytes(8))
    assert "no glassnet metadata" in message_of(ok)
    assert "dtype 'F16' is not one glassnet reads" in message_of(
        raw_file({"w": {**entry, "dtype": "F16", "data_offsets": [0, 4]}}, bytes(4))
    )
    assert "shape [3] of F32 needs 12 bytes but its data_offsets [0, 8] span 8" in (
        message_of(raw_file({"w": {**entry, "shape": [3]}}, bytes(8)))
    )
    assert "expected an object with keys dtype, shape, data_offsets" in message_of(
        raw_file({"w": {**entry, "extra": 1}}, bytes(8))
    )
    assert "data_offsets must be [begin, end]" in message_of(
        raw_file({"w": {**entry, "data_offsets": [8, 0]}}, bytes(8))
    )
    two = {"w": entry, "v": {**entry, "data_offsets": [4, 12]}}
    assert "overlaps the previous one" in message_of(raw_file(two, bytes(12)))
    gap = {"w": entry, "v": {**entry, "data_offsets": [12, 20]}}
    assert "leaves a gap" in message_of(raw_file(gap, bytes(20)))
    assert "must map strings to strings" in message_of(
        raw_file({"__metadata__": {"a": 1}})
    )


def test_metadata_errors():
    data = gn.io.to_bytes(small_net())
    no_arch = rebuild(
        data, meta=lambda m: {k: v for k, v in m.items() if k != "architecture"}
    )
    assert "missing 'architecture'" in message_of(no_arch)
    not_json = rebuild(data, meta=lambda m: {**m, "architecture": "{oops"})
    assert "architecture is not valid JSON" in message_of(not_json)
    assert "unknown format version 2" in message_of(
        rebuild(data, meta=lambda m: {**m, "format_version": "2"})
    )
    assert "format_version must be a whole number, got 'one'" in message_of(
        rebuild(data, meta=lambda m: {**m, "format_version": "one"})
    )
    assert "unknown format 'keras'" in message_of(
        rebuild(data, meta=lambda m: {**m, "format": "keras"})
    )
    assert "metadata must be a JSON object, got list" in message_of(
        rebuild(data, meta=lambda m: {**m, "metadata": "[1]"})
    )
    assert "glassnet_version must look like" in message_of(
        rebuild(data, meta=lambda m: {**m, "glassnet_version": "os.system('x')"})
    )


def _set_layer(index, **changes):
    def edit(arch):
        arch["layers"][index]["config"].update(changes)
        return arch

    return edit


def test_architecture_errors():
    data = gn.io.to_bytes(small_net())

    def layer_type(name):
        def edit(arch):
            arch["layers"][1]["type"] = name
            return arch

        return edit

    assert "unknown layer type 'Conv2d'" in message_of(
        rebuild(data, arch=layer_type("Conv2d"))
    )
    assert "unknown activation 'swish'" in message_of(
        rebuild(data, arch=_set_layer(0, activation="swish"))
    )
    assert "in_features must be a positive integer, got 0" in message_of(
        rebuild(data, arch=_set_layer(0, in_features=0))
    )
    assert "use_bias must be true or false, got 1" in message_of(
        rebuild(data, arch=_set_layer(0, use_bias=1))
    )
    assert "unknown init 'orthogonal'" in message_of(
        rebuild(data, arch=_set_layer(0, init="orthogonal"))
    )
    assert "p must be in [0, 1), got 1.5" in message_of(
        rebuild(data, arch=_set_layer(1, p=1.5))
    )
    assert "config has unknown keys ['bias_init']" in message_of(
        rebuild(data, arch=_set_layer(0, bias_init="zeros"))
    )
    assert "activation 'relu'" in message_of(
        rebuild(data, arch=_set_layer(0, activation_config={"alpha": 2.0}))
    )
    assert "dtype must be one of ['float32', 'float64'], got 'float16'" in message_of(
        rebuild(data, arch=lambda a: {**a, "dtype": "float16"})
    )
    assert "unknown bit generator 'os.system'" in message_of(
        rebuild(data, arch=lambda a: {**a, "rng": {"bit_generator": "os.system"}})
    )
    assert "not a valid PCG64 state" in message_of(
        rebuild(
            data,
            arch=lambda a: {**a, "rng": {**a["rng"], "state": {"state": -1, "inc": 1}}},
        )
    )
    assert "layers must be a non-empty list" in message_of(
        rebuild(data, arch=lambda a: {**a, "layers": []})
    )
    first_dropout = rebuild(data, arch=lambda a: {**a, "layers": a["layers"][1:]})
    assert "the first layer must be Dense" in message_of(first_dropout)


def test_widths_that_do_not_connect():
    net = gn.Sequential(gn.Dense(3, 4), gn.Dense(4, 2), seed=0)
    data = gn.io.to_bytes(net)

    def widen(arch):
        arch["layers"][1]["config"]["in_features"] = 5
        return arch

    def tensors(t):
        return {**t, "layers.1.W": np.zeros((2, 5), np.float32)}

    message = message_of(rebuild(data, arch=widen, tensors=tensors))
    assert (
        "layer 1 (Dense): expects 5 inputs but the layers before it output 4" in message
    )


def test_tensor_missing_extra_wrong_dtype_or_shape():
    data = gn.io.to_bytes(small_net())
    missing = rebuild(
        data, tensors=lambda t: {k: v for k, v in t.items() if k != "layers.2.b"}
    )
    assert "tensor 'layers.2.b' is missing" in message_of(missing)
    assert "shape (2,)" in message_of(missing)
    extra = rebuild(
        data, tensors=lambda t: {**t, "layers.1.W": np.zeros(2, np.float32)}
    )
    assert "unexpected tensor 'layers.1.W'" in message_of(extra)
    f64 = rebuild(
        data, tensors=lambda t: {**t, "layers.0.W": t["layers.0.W"].astype(np.float64)}
    )
    assert "tensor 'layers.0.W' is F64 but the architecture says float32" in message_of(
        f64
    )
    wrong = rebuild(
        data, tensors=lambda t: {**t, "layers.0.b": np.zeros(5, np.float32)}
    )
    assert "tensor 'layers.0.b' has shape (5,) but the architecture needs (4,)" in (
        message_of(wrong)
    )


def test_checksum_catches_a_flipped_weight_bit():
    data = bytearray(gn.io.to_bytes(small_net()))
    data[-1] ^= 0x01  # the last byte of the last bias: still a finite float
    assert "checksum mismatch" in message_of(bytes(data))
    unsigned = rebuild(bytes(data), meta=lambda m: m)  # re-signed: loads
    gn.io.from_bytes(unsigned)
    _, m = parts(bytes(data))
    del m["checksum"]
    stripped = safetensors.numpy.save(parts(bytes(data))[0], metadata=m)
    assert "has no checksum" in message_of(stripped)


def test_load_of_a_checkpoint_gives_its_network(tmp_path):
    net = small_net()
    path = gn.save_checkpoint(tmp_path / "c.safetensors", net, None, None, None, 1, 5)
    assert gn.load(path).flat_params.tobytes() == net.flat_params.tobytes()
    with pytest.raises(
        gn.ModelFormatError, match="not a checkpoint: load it with gn.load"
    ):
        gn.load_checkpoint(gn.save(net, tmp_path / "m.safetensors"))


def test_every_bad_file_is_caught_by_except_value_error(tmp_path):
    """Callers that guard a load with ``except ValueError`` (as for any bad input)
    catch every kind of bad file, from every entry point, with its own message."""
    data = gn.io.to_bytes(small_net())
    flipped = bytearray(data)
    flipped[-1] ^= 0x01
    bad = {
        "short": (b"abc", "shorter than the 8-byte header length"),
        "pickle": (b"\x80\x04\x95" + bytes(40), "starts like a Python pickle"),
        "truncated": (data[:-3], "truncated, or junk appended"),
        "flipped": (bytes(flipped), "checksum mismatch"),
    }
    loaders = {
        "gn.load": gn.load,
        "gn.load_checkpoint": gn.load_checkpoint,
        "gn.io.from_bytes": lambda path: gn.io.from_bytes(path.read_bytes()),
    }
    for kind, (content, expected) in bad.items():
        path = tmp_path / f"{kind}.safetensors"
        path.write_bytes(content)
        for name, load in loaders.items():
            try:
                load(path)
            except ValueError as error:
                assert type(error) is gn.ModelFormatError, (kind, name)
                assert expected in str(error), (kind, name)
            else:
                raise AssertionError(f"{name} loaded the {kind} file")


# -- glassnet info ----------------------------------------------------------------------
def test_cli_info_prints_architecture_versions_and_metadata(tmp_path, capsys):
    from glassnet.cli import main

    net = small_net()
    path = gn.save(net, tmp_path / "m.safetensors", metadata={"classes": ["a", "b"]})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("glassnet model file (format version 1, written by glassnet")
    assert net.summary() in out
    assert f"Total parameters: {3 * 4 + 4 + 4 * 2 + 2}" in out
    assert 'Metadata: {"classes": ["a", "b"]}' in out
    assert "Training position" not in out


def test_cli_info_reports_nonfinite_weights(tmp_path, capsys):
    from glassnet.cli import main

    net = small_net()
    net.layers[0].b[0] = np.inf
    path = gn.save(net, tmp_path / "m.safetensors")
    assert main(["info", str(path)]) == 0
    assert "Warning: some weights are NaN or infinite" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "no such file: "),
        (b"garbage", "shorter than the 8-byte header length"),
        (b"\x80\x04\x95" + bytes(40), "starts like a Python pickle"),
    ],
)
def test_cli_info_errors_are_one_line(tmp_path, capsys, content, expected):
    from glassnet.cli import main

    path = tmp_path / "x.safetensors"
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glassnet info: error: ")
    assert expected in lines[0]


def test_cli_info_on_a_folder(tmp_path, capsys):
    from glassnet.cli import main

    assert main(["info", str(tmp_path)]) == 1
    assert "is a folder, not a model file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bit_generator",
    [np.random.MT19937, np.random.Philox, np.random.SFC64, np.random.PCG64DXSM],
)
def test_other_bit_generators_round_trip(bit_generator):
    net = gn.Sequential(
        gn.Dense(2, 3), gn.Dropout(0.5), seed=np.random.Generator(bit_generator(3))
    )
    net.rng.random(7)  # move the state away from the seed
    loaded = gn.io.from_bytes(gn.io.to_bytes(net))
    assert type(loaded.rng.bit_generator) is bit_generator
    assert loaded.layers[1].rng is loaded.rng  # dropout draws from the restored rng
    assert loaded.rng.random(4).tobytes() == net.rng.random(4).tobytes()
