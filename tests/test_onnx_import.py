"""gn.from_onnx: generated ONNX graphs of each supported pattern, run by onnxruntime
and by the imported Sequential on the same random rows; and the refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.interop.onnx_export import to_onnx_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(0)
TOL = {
    np.float32: {"rtol": 2e-5, "atol": 2e-6},
    np.float64: {"rtol": 1e-12, "atol": 1e-13},
}


def _elem(dtype):
    return TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE


def make_model(nodes, constants, in_shape, out_shape, dtype=np.float32, opset=17,
               list_constants_as_inputs=False):  # fmt: skip
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()]
    inputs = [helper.make_tensor_value_info("x", _elem(dtype), in_shape)]
    if list_constants_as_inputs:  # as older exporters do
        inputs += [
            helper.make_tensor_value_info(
                k, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v)
            )
            for k, v in constants.items()
        ]
    graph = helper.make_graph(
        nodes,
        "g",
        inputs,
        [helper.make_tensor_value_info("y", _elem(dtype), out_shape)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 8)
    return model


def check_against_ort(model, n_in, dtype=np.float32, scale=1.0):
    net = gn.from_onnx(model)
    assert net.dtype == dtype
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    for _ in range(5):
        x = (scale * RNG.normal(size=n_in)).astype(dtype)
        (expected,) = session.run(None, {"x": x.reshape(shape)})
        got = net.predict(x[None, :])
        np.testing.assert_allclose(got.ravel(), expected.ravel(), **TOL[dtype])
    return net


def w(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_with_alpha_beta_and_trans_b(dtype, trans_b):
    B1 = w(3, 5, dtype=dtype) if trans_b else w(5, 3, dtype=dtype)
    constants = {"B1": B1, "C1": w(3, dtype=dtype), "B2": w(2, 3, dtype=dtype),
                 "C2": w(1, 2, dtype=dtype)}  # fmt: skip
    nodes = [
        helper.make_node(
            "Gemm", ["x", "B1", "C1"], ["z1"], transB=trans_b, alpha=0.5, beta=2.0
        ),  # fmt: skip
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("Gemm", ["a1", "B2", "C2"], ["y"], transB=1),
    ]
    model = make_model(nodes, constants, ["N", 5], ["N", 2], dtype)
    net = check_against_ort(model, 5, dtype)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "Dense"]
    assert net.layers[0].activation.name == "relu"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_add_with_bias_either_side(dtype, bias_first):
    constants = {"W1": w(4, 6, dtype=dtype), "b1": w(6, dtype=dtype),
                 "W2": w(6, 3, dtype=dtype), "b2": w(3, dtype=dtype)}  # fmt: skip
    add1 = ["b1", "m1"] if bias_first else ["m1", "b1"]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["m1"]),
        helper.make_node("Add", add1, ["z1"]),
        helper.make_node("Tanh", ["z1"], ["a1"]),
        helper.make_node("MatMul", ["a1", "W2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["z2"]),
        helper.make_node("Sigmoid", ["z2"], ["y"]),
    ]
    model = make_model(nodes, constants, [1, 4], [1, 3], dtype)
    net = check_against_ort(model, 4, dtype)
    # MatMul then Add is W^T and b exactly: no rounding changed
    np.testing.assert_array_equal(net.layers[0].W, constants["W1"].T)
    np.testing.assert_array_equal(net.layers[0].b, constants["b1"])


def test_leaky_relu_and_final_softmax_opset_11():
    constants = {"W1": w(4, 6), "b1": w(6), "W2": w(6, 3), "b2": w(3)}
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z1"]),
        helper.make_node("LeakyRelu", ["z1"], ["a1"], alpha=0.2),
        helper.make_node("Gemm", ["a1", "W2", "b2"], ["z2"]),
        helper.make_node("Softmax", ["z2"], ["y"], axis=1),
    ]
    model = make_model(nodes, constants, [1, 4], [1, 3], opset=11)
    net = check_against_ort(model, 4)
    assert net.layers[-1].activation.name == "softmax"
    assert net.layers[0].activation.negative_slope == pytest.approx(0.2)


@pytest.mark.parametrize("opset", [9, 13, 21])
def test_four_dimensional_input_flattened_with_normalisation(opset):
    """ACAS Xu's layout: input (1, 1, 1, 5), (x - mean) / range, Flatten, MatMul."""
    constants = {
        "mean": np.array([[[[0.5, -1.0, 2.0, 0.0, 3.0]]]], np.float32),
        "range": np.array([2.0, 4.0, 0.5, 1.0, 8.0], np.float32),
        "W1": w(5, 7), "b1": w(7), "W2": w(7, 5), "b2": w(5),
    }  # fmt: skip
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["c"]),
        helper.make_node("Div", ["c", "range"], ["n"]),
        helper.make_node("Flatten", ["n"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "W1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["z1"]),
        helper.make_node("Relu", ["z1"], ["a1"]),
        helper.make_node("MatMul", ["a1", "W2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["y"]),
    ]
    model = make_model(nodes, constants, [1, 1, 1, 5], [1, 5], opset=opset,
                       list_constants_as_inputs=True)  # fmt: skip
    check_against_ort(model, 5, scale=3.0)


def test_column_input_reshaped_squeezed_and_mul_add_normalisation():
    """Input (1, 8, 1): Mul/Add normalisation, MatMul(W, x) on the column, Reshape,
    Unsqueeze and Squeeze (axes as inputs, opset 13), Identity."""
    constants = {
        "scale": np.full((1, 8, 1), 0.25, np.float32),
        "shift": np.float32(-0.5),
        "A": w(6, 8), "c": w(6, 1), "W2": w(6, 2), "b2": w(2),
        "shape": np.array([1, -1], np.int64),
        "ax0": np.array([0], np.int64),
    }  # fmt: skip
    nodes = [
        helper.make_node("Mul", ["scale", "x"], ["s"]),
        helper.make_node("Add", ["s", "shift"], ["n"]),
        helper.make_node("Squeeze", ["n", "ax0"], ["q"]),  # (8, 1)
        helper.make_node("MatMul", ["A", "q"], ["m"]),  # (6, 1)
        helper.make_node("Add", ["m", "c"], ["z"]),
        helper.make_node("Relu", ["z"], ["a"]),
        helper.make_node("Reshape", ["a", "shape"], ["r"]),  # (1, 6)
        helper.make_node("Unsqueeze", ["r", "ax0"], ["u"]),  # (1, 1, 6)
        helper.make_node("Identity", ["u"], ["i"]),
        helper.make_node("MatMul", ["i", "W2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["y"]),
    ]
    model = make_model(nodes, constants, [1, 8, 1], [1, 1, 2], opset=13)
    check_against_ort(model, 8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_of_glassnet_export(dtype):
    net = gn.Sequential(gn.Dense(4, 8, "relu"), gn.Dense(8, 8, "tanh"),
                        gn.Dense(8, 3, "softmax"), dtype=dtype, seed=1)  # fmt: skip
    back = gn.from_onnx(to_onnx_model(net))
    X = RNG.normal(size=(16, 4)).astype(dtype)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_round_trip_with_standardisation_folded(tmp_path):
    net = gn.Sequential(gn.Dense(3, 5, "relu"), gn.Dense(5, 1), dtype="float64", seed=2)
    mean, scale = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.25, 3.0])
    path = tmp_path / "std.onnx"
    gn.export_onnx(net, path, standardize=(mean, scale))
    back = gn.from_onnx(path)
    X = RNG.normal(size=(16, 3))
    np.testing.assert_allclose(back.predict(X), net.predict((X - mean) / scale),
                               rtol=1e-12, atol=1e-13)  # fmt: skip


def test_torch_onnx_export_of_an_mlp(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(6, 10), torch.nn.ReLU(),
        torch.nn.Linear(10, 4),
    )  # fmt: skip
    path = tmp_path / "torch.onnx"
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated
            warnings.simplefilter("ignore")
            torch.onnx.export(module, torch.zeros(1, 1, 6), str(path), dynamo=False)
    except Exception as error:  # pragma: no cover - exporter needs missing extras
        pytest.skip(f"torch.onnx.export unavailable here: {error}")
    net = gn.from_onnx(path)
    X = RNG.normal(size=(8, 6)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(X[:, None, :])).numpy()
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-5, atol=1e-6)


# -- refusals ---------------------------------------------------------------------------
def test_conv_is_refused_naming_the_op_and_node():
    constants = {"K": w(1, 1, 3)}
    nodes = [helper.make_node("Conv", ["x", "K"], ["y"], name="conv0")]
    model = make_model(nodes, constants, [1, 1, 5], [1, 1, 3])
    with pytest.raises(gn.ModelFormatError, match=r"conv0.*Conv"):
        gn.from_onnx(model)


def test_weight_that_is_not_a_constant_is_refused():
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3]),
         helper.make_tensor_value_info("W", TensorProto.FLOAT, [3, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(gn.ModelFormatError, match="exactly one input"):
        gn.from_onnx(model)
    nodes = [helper.make_node("Mul", ["x", "x"], ["m"], name="square")]
    with pytest.raises(gn.ModelFormatError, match=r"square.*Mul"):
        gn.from_onnx(make_model(nodes, {}, [1, 3], [1, 3]))


def test_broadcast_that_is_not_a_bias_is_refused():
    constants = {"W": w(3, 4), "b": w(4, 1)}
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["y"], name="wide_add"),
    ]
    model = make_model(nodes, constants, [1, 3], [4, 4])
    with pytest.raises(gn.ModelFormatError, match=r"wide_add.*Add.*broadcasts"):
        gn.from_onnx(model)


def test_softmax_in_the_middle_and_trans_a_are_refused():
    constants = {"W": w(3, 3), "b": w(3)}
    nodes = [
        helper.make_node("Gemm", ["x", "W", "b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["s"]),
        helper.make_node("Gemm", ["s", "W", "b"], ["y"]),
    ]
    with pytest.raises(gn.ModelFormatError, match="Softmax"):
        gn.from_onnx(make_model(nodes, constants, [1, 3], [1, 3]))
    nodes = [helper.make_node("Gemm", ["x", "W", "b"], ["y"], transA=1, name="g")]
    with pytest.raises(gn.ModelFormatError, match="transA"):
        gn.from_onnx(make_model(nodes, constants, [1, 3], [1, 3]))


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\xff\x00 not a protobuf at all \x12\x99")
    with pytest.raises(gn.ModelFormatError, match="not a readable ONNX model"):
        gn.from_onnx(path)


def test_opset_11_axes_attributes_constant_minus_input_and_output_scaling():
    """Squeeze/Unsqueeze with axes as attributes (before opset 13), c - x on the
    input, Dropout at inference, and Mul/Sub of the output after the last layer."""
    constants = {
        "c": w(1, 4), "W1": w(4, 5), "b1": w(5), "W2": w(5, 2), "b2": w(2),
        "gain": np.array([2.0, -0.5], np.float32), "offset": np.float32(0.25),
        "shape": np.array([1, 4], np.int64),
    }  # fmt: skip
    nodes = [
        helper.make_node("Sub", ["c", "x"], ["n"]),  # (1, 1, 4)
        helper.make_node("Squeeze", ["n"], ["q"], axes=[0]),  # (1, 4)
        helper.make_node("Unsqueeze", ["q"], ["u"], axes=[2]),  # (1, 4, 1)
        helper.make_node("Reshape", ["u", "shape"], ["r"]),  # (1, 4)
        helper.make_node("Gemm", ["r", "W1", "b1"], ["z1"]),
        helper.make_node("Sigmoid", ["z1"], ["a1"]),
        helper.make_node("Dropout", ["a1"], ["d1"]),
        helper.make_node("Gemm", ["d1", "W2", "b2"], ["z2"]),
        helper.make_node("Mul", ["z2", "gain"], ["g"]),
        helper.make_node("Sub", ["g", "offset"], ["y"]),
    ]
    model = make_model(nodes, constants, [1, 1, 4], [1, 2], opset=11)
    check_against_ort(model, 4)


def test_division_by_zero_and_an_activation_between_normalisation_and_layer():
    constants = {"z": np.zeros(3, np.float32), "W": w(3, 2), "b": w(2)}
    nodes = [
        helper.make_node("Div", ["x", "z"], ["n"], name="norm"),
        helper.make_node("Gemm", ["n", "W", "b"], ["y"]),
    ]
    with pytest.raises(gn.ModelFormatError, match=r"norm.*division by zero"):
        gn.from_onnx(make_model(nodes, constants, [1, 3], [1, 2]))
    constants["z"] = np.full(3, 2.0, np.float32)
    nodes = [
        helper.make_node("Div", ["x", "z"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"], name="early_relu"),
        helper.make_node("Gemm", ["r", "W", "b"], ["y"]),
    ]
    with pytest.raises(gn.ModelFormatError, match=r"early_relu.*next to a linear"):
        gn.from_onnx(make_model(nodes, constants, [1, 3], [1, 2]))
