"""ONNX export: the exported graph, run in onnxruntime, computes what net.forward does.

Every comparison runs the written file in onnxruntime's CPU provider on random inputs
(several batch sizes through one session: the batch dimension is dynamic) and compares
with glassnet's forward pass; the GELU tails are also checked against math.erf directly.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.io import atomic

ACTIVATION_CASES = [gn.get_activation(name) for name in gn.ACTIVATIONS] + [
    gn.LeakyReLU(0.2),
    gn.ELU(0.7),
]
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
BATCH_SIZES = (1, 7, 64)


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(sess, X):
    return sess.run(None, {"input": X})[0]


def inputs(rng, n, width, dtype):
    """Random rows, plus rows of large magnitude that reach the activations' tails."""
    X = rng.normal(scale=2.0, size=(n, width))
    if n >= 7:
        X[:3] *= 15.0
    return X.astype(dtype)


def three_layer_net(activation, dtype, seed=0):
    return gn.Sequential(
        gn.Dense(5, 16, activation),
        gn.Dense(16, 8, activation, use_bias=False),
        gn.Dense(8, 4, activation),
        dtype=dtype,
        seed=seed,
    )


# -- numerics: every activation, both dtypes, several batch sizes ----------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATION_CASES, ids=repr)
def test_every_activation_matches_forward(activation, dtype, tmp_path):
    net = three_layer_net(activation, dtype)
    path = tmp_path / "net.onnx"
    gn.export_onnx(net, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = session(path)
    rng = np.random.default_rng(1)
    for n in BATCH_SIZES:
        X = inputs(rng, n, 5, dtype)
        got = run(sess, X)
        assert got.dtype == np.dtype(dtype) and got.shape == (n, 4)
        np.testing.assert_allclose(got, net.forward(X), rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("opset", [13, 17, 20, 21])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_at_each_opset(opset, dtype, tmp_path):
    net = three_layer_net("gelu", dtype)
    model = gn.export_onnx(net, tmp_path / "gelu.onnx", opset=opset)
    ops = {node.op_type for node in model.graph.node}
    if dtype == "float32" and opset >= 20:
        assert "Gelu" in ops and "Erf" not in ops
    elif dtype == "float32":
        assert "Erf" in ops and "Gelu" not in ops
    else:  # onnxruntime has no double Erf/Gelu kernel: the series is used
        assert not ops & {"Erf", "Gelu"}
    X = inputs(np.random.default_rng(2), 64, 5, dtype)
    got = run(session(tmp_path / "gelu.onnx"), X)
    np.testing.assert_allclose(got, net.forward(X), rtol=0, atol=TOLERANCE[dtype])


def gelu_reference(z: float) -> float:
    return 0.5 * z * (1.0 + math.erf(z / math.sqrt(2.0)))  # z Phi(z), stdlib erf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_tails_against_math_erf(dtype, tmp_path):
    """Regression: onnxruntime's no-op elimination dropped the series' tiny
    coefficients (Add(S, 1e-160) treated as Add(S, 0)), giving GELU(8) = 7.42."""
    net = gn.Sequential(gn.Dense(1, 1), gn.GELU(), dtype=dtype)
    net.layers[0].W = [[1.0]]
    net.layers[0].b = [0.0]
    gn.export_onnx(net, tmp_path / "g.onnx")
    Z = np.linspace(-15.0, 15.0, 6001)
    got = run(session(tmp_path / "g.onnx"), Z[:, None].astype(dtype))[:, 0]
    expected = np.array([gelu_reference(z) for z in Z])
    atol = {"float32": 1e-5, "float64": 1e-13}[dtype]
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def test_softplus_elu_sigmoid_do_not_overflow_in_onnx(tmp_path):
    """Large |z| must give finite, correct values (the overflow-free forms)."""
    for dtype in ("float32", "float64"):
        for activation, reference in (
            ("softplus", lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z)))),
            ("elu", lambda z: z if z > 0 else math.expm1(z)),
            ("sigmoid", lambda z: 0.5 * (1.0 + math.tanh(0.5 * z))),
        ):
            net = gn.Sequential(gn.Dense(1, 1, activation), dtype=dtype)
            net.layers[0].W = [[1.0]]
            net.layers[0].b = [0.0]
            gn.export_onnx(net, tmp_path / "t.onnx")
            Z = np.array([-700.0, -80.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 80.0, 700.0])
            if dtype == "float32":
                Z = Z[np.abs(Z) < 100]
            got = run(session(tmp_path / "t.onnx"), Z[:, None].astype(dtype))[:, 0]
            expected = np.array([reference(z) for z in Z])
            assert np.isfinite(got).all()
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_step_is_greater_or_equal_and_cast(tmp_path):
    net = gn.Sequential(gn.Dense(3, 3, "step"), dtype="float32")
    net.layers[0].W = np.eye(3)
    net.layers[0].b = [0.0, 0.0, 0.0]
    model = gn.export_onnx(net, tmp_path / "step.onnx")
    assert [n.op_type for n in model.graph.node] == ["Gemm", "GreaterOrEqual", "Cast"]
    X = np.array([[0.0, -0.0, 1e-30], [-1e-30, 5.0, -5.0]], dtype="float32")
    got = run(session(tmp_path / "step.onnx"), X)
    np.testing.assert_array_equal(
        got, [[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]
    )  # 1 iff z >= 0
    np.testing.assert_array_equal(got, net.forward(X))


def test_activation_layers_dropout_and_no_bias(tmp_path):
    net = gn.Sequential(
        gn.Dense(6, 12, use_bias=False),
        gn.ReLU(),
        gn.Dropout(0.5),
        gn.Dense(12, 9),
        gn.Tanh(),
        gn.Dense(9, 3, use_bias=False),
        gn.Softmax(),
        seed=3,
    )
    model = gn.export_onnx(net, tmp_path / "net.onnx")
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Gemm", "Relu", "Identity", "Gemm", "Tanh", "Gemm", "Softmax"]
    no_bias = model.graph.node[0]
    assert len(no_bias.input) == 2  # A, W: no bias input
    assert {a.name: a.i for a in no_bias.attribute}["transB"] == 1
    assert {a.name: a.i for a in model.graph.node[-1].attribute}["axis"] == -1
    sess = session(tmp_path / "net.onnx")
    rng = np.random.default_rng(4)
    for n in BATCH_SIZES:
        X = rng.normal(size=(n, 6)).astype("float32")
        np.testing.assert_allclose(run(sess, X), net.forward(X), rtol=0, atol=1e-5)
        np.testing.assert_allclose(run(sess, X).sum(axis=1), 1.0, rtol=0, atol=1e-6)


# -- the graph's interface ------------------------------------------------------------
@pytest.mark.parametrize(
    ("dtype", "elem_type"),
    [("float32", "FLOAT"), ("float64", "DOUBLE")],
)
def test_named_input_output_with_dynamic_batch(dtype, elem_type, tmp_path):
    net = gn.Sequential(gn.Dense(4, 3, "relu"), gn.Dense(3, 2), dtype=dtype)
    model = gn.export_onnx(net, tmp_path / "m.onnx")
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    assert loaded == model
    for value, width in ((loaded.graph.input[0], 4), (loaded.graph.output[0], 2)):
        tensor_type = value.type.tensor_type
        assert tensor_type.elem_type == getattr(onnx.TensorProto, elem_type)
        batch, features = tensor_type.shape.dim
        assert batch.dim_param == "batch" and not batch.HasField("dim_value")
        assert features.dim_value == width
    assert [v.name for v in loaded.graph.input] == ["input"]
    assert [v.name for v in loaded.graph.output] == ["output"]
    for initializer in loaded.graph.initializer:
        assert initializer.data_type == getattr(onnx.TensorProto, elem_type)
    W = onnx.numpy_helper.to_array(
        next(i for i in loaded.graph.initializer if i.name == "layer0.W")
    )
    np.testing.assert_array_equal(W, net.layers[0].W)  # stored (out, in), bitwise
    assert loaded.producer_name == "glassnet"


def test_default_and_explicit_opsets(tmp_path):
    net = gn.Sequential(gn.Dense(2, 2, "tanh"))
    assert gn.export_onnx(net, tmp_path / "a.onnx").opset_import[0].version == 17
    newest = onnx.defs.onnx_opset_version()
    model = gn.export_onnx(net, tmp_path / "b.onnx", opset=newest)
    assert model.opset_import[0].version == newest
    onnx.checker.check_model(model, full_check=True)
    assert gn.export_onnx(net, tmp_path / "c.onnx", opset=13).ir_version == 7


def test_file_is_written_atomically(tmp_path, monkeypatch):
    net = gn.Sequential(gn.Dense(2, 2))
    path = tmp_path / "m.onnx"
    gn.export_onnx(net, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temp left
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        gn.export_onnx(gn.Sequential(gn.Dense(2, 5), gn.Dense(5, 2)), path)
    assert path.read_bytes() == before  # the old model survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


# -- bad input --------------------------------------------------------------------------
def test_not_a_sequential(tmp_path):
    with pytest.raises(TypeError, match="needs a glassnet Sequential, got Dense"):
        gn.export_onnx(gn.Dense(2, 2), tmp_path / "m.onnx")


class Doubler(gn.Layer):
    def forward(self, A_prev, training=False):
        return 2 * A_prev


class Cube(gn.Activation):
    name = "relu"  # a custom activation borrowing a built-in name is still refused

    def forward(self, Z):
        return Z**3


def test_unknown_layer_and_activation(tmp_path):
    net = gn.Sequential(gn.Dense(2, 3), Doubler())
    with pytest.raises(
        TypeError, match=r"layer 1 \(.*Doubler\) has no ONNX translation"
    ):
        gn.export_onnx(net, tmp_path / "m.onnx")
    net = gn.Sequential(gn.Dense(2, 3, Cube()))
    with pytest.raises(TypeError, match=r"layer 0: activation .*Cube.* no ONNX"):
        gn.export_onnx(net, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("opset", "error", "message"),
    [
        (12, ValueError, "opset must be between 13 and"),
        (10_000, ValueError, "got 10000"),
        ("17", TypeError, "opset must be an integer, got '17'"),
        (True, TypeError, "opset must be an integer"),
    ],
)
def test_bad_opset(opset, error, message, tmp_path):
    with pytest.raises(error, match=message):
        gn.export_onnx(gn.Sequential(gn.Dense(2, 2)), tmp_path / "m.onnx", opset=opset)


def test_unwritable_paths(tmp_path):
    net = gn.Sequential(gn.Dense(2, 2))
    missing = tmp_path / "no_such_folder" / "m.onnx"
    with pytest.raises(
        FileNotFoundError, match="folder .*no_such_folder.* does not exist"
    ):
        gn.export_onnx(net, missing)
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        gn.export_onnx(net, tmp_path)
    with pytest.raises(TypeError, match="path must be a file path .*got int"):
        gn.export_onnx(net, 3)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[onnx\]'"):
        gn.export_onnx(gn.Sequential(gn.Dense(2, 2)), tmp_path / "m.onnx")


def test_import_glassnet_needs_neither_onnx_nor_torch():
    code = (
        "import sys\n"
        "for name in ('onnx', 'onnxruntime', 'torch'):\n"
        "    sys.modules[name] = None\n"
        "import glassnet as gn\n"
        "net = gn.Sequential(gn.Dense(2, 1))\n"
        "try:\n"
        "    gn.to_torch(net)\n"
        "except ImportError as error:\n"
        "    print('torch:', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "torch: PyTorch interchange needs torch" in result.stdout


# -- glassnet export ----------------------------------------------------------------------
def saved_model(tmp_path, activation="relu", dtype="float32"):
    net = gn.Sequential(
        gn.Dense(4, 6, activation), gn.Dense(6, 3, "softmax"), dtype=dtype, seed=0
    )
    path = tmp_path / "model.safetensors"
    gn.save(net, path)
    return net, path


def test_cli_export_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    net, path = saved_model(tmp_path, dtype="float64")
    assert main(["export", str(path), "--format", "onnx"]) == 0
    out = tmp_path / "model.onnx"  # default: the model's name with .onnx
    printed = capsys.readouterr().out
    assert f"wrote {out}: input 'input' (batch, 4) -> output 'output' (batch, 3)" in (
        printed
    )
    assert "float64, opset 17" in printed
    X = np.random.default_rng(0).normal(size=(10, 4))
    np.testing.assert_allclose(run(session(out), X), net.forward(X), rtol=0, atol=1e-12)


def test_cli_export_out_opset_and_check(tmp_path, capsys):
    net, path = saved_model(tmp_path, activation="gelu")
    out = tmp_path / "exported" / "net.onnx"
    out.parent.mkdir()
    argv = ["export", str(path), "--out", str(out), "--opset", "20", "--check"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "opset 20" in printed
    difference = float(printed.rsplit("= ", 1)[1])
    assert difference <= 1e-5
    assert "Gelu" in {node.op_type for node in onnx.load(str(out)).graph.node}


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["--opset", "5"], "opset must be between 13 and"),
        (["--out", "{model}"], "is the model file itself"),
        (["--out", "{tmp}/missing/x.onnx"], "does not exist"),
    ],
)
def test_cli_export_errors_are_one_line(tmp_path, capsys, argv_tail, message):
    _, path = saved_model(tmp_path)
    argv_tail = [a.format(model=path, tmp=tmp_path) for a in argv_tail]
    assert main(["export", str(path), *argv_tail]) == 1
    err = capsys.readouterr().err
    assert err.startswith("glassnet export: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_export_bad_model_files(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.safetensors")]) == 1
    assert "no such model file" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all")
    assert main(["export", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("glassnet export: error: ") and err.count("\n") == 1
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_export_without_onnx_names_the_extra(tmp_path, capsys, monkeypatch):
    _, path = saved_model(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(path)]) == 1
    assert "pip install 'glassnet[onnx]'" in capsys.readouterr().err


def test_cli_export_has_no_torch_format_and_says_why(capsys):
    assert main(["export", "m.safetensors", "--format", "torch"]) == 2
    assert "invalid choice: 'torch'" in capsys.readouterr().err
    assert main(["export", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "pickles" in help_text and "gn.to_torch(net)" in help_text
    assert "example: glassnet export model.safetensors" in help_text
