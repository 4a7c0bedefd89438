"""gn.explain: the recorded walk is right (seed 003 by hand) and is exactly what
training computes (bitwise against loss_and_grad on random networks)."""

from __future__ import annotations

import copy
import json
import math
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.explaining.expr import Q, walk
from glassnet.nn.activations import ACTIVATIONS

# -- seed 003, by hand ----------------------------------------------------------------


def seed003_by_hand(lr=0.1):
    """Every number of the seed 003 walk from its scalar formulas (plain Python floats,
    no glassnet, no numpy matrix code)."""
    x1, x2, y = 1.0, 2.0, 1.0
    W1 = [[0.2, 0.4], [0.1, 0.6]]
    b1 = [0.3, 0.5]
    W2 = [0.7, 0.9]
    b2 = 0.2
    z1 = [W1[j][0] * x1 + W1[j][1] * x2 + b1[j] for j in range(2)]  # 1.3, 1.8
    a1 = [max(0.0, v) for v in z1]
    z2 = W2[0] * a1[0] + W2[1] * a1[1] + b2  # 2.73 (the blog writes 3.18 first)
    a2 = 1.0 / (1.0 + math.exp(-z2))  # 0.938774 (the blog later says 0.96)
    L = -(y * math.log(a2) + (1 - y) * math.log(1 - a2))  # 0.063181 (blog: 0.064)
    dL_da2 = -y / a2 + (1 - y) / (1 - a2)  # -1.06522 (blog: -1.066, from 0.938)
    da2_dz2 = a2 * (1 - a2)  # 0.0574775 (blog: 0.0582)
    dz2 = a2 - y  # -0.061226 (the blog finds -0.062, then uses -0.039936)
    dW2 = [dz2 * a1[0], dz2 * a1[1]]
    db2 = dz2
    dA1 = [W2[0] * dz2, W2[1] * dz2]  # blog: [-0.02796, -0.03594], from -0.039936
    da1_dz1 = [1.0 if v > 0 else 0.0 for v in z1]
    dz1 = [dA1[j] * da1_dz1[j] for j in range(2)]
    dW1 = [[dz1[j] * x1, dz1[j] * x2] for j in range(2)]  # blog mixes up entries
    db1 = dz1
    return {
        "z1": z1, "a1": a1, "z2": z2, "a2": a2, "L": L,
        "dL/da2": dL_da2, "da2/dz2": da2_dz2, "dz2": dz2, "dW2": dW2, "db2": db2,
        "dA1": dA1, "da1/dz1": da1_dz1, "dz1": dz1, "dW1": dW1, "db1": db1,
        "W1_new": [[W1[j][i] - lr * dW1[j][i] for i in range(2)] for j in range(2)],
        "b1_new": [b1[j] - lr * db1[j] for j in range(2)],
        "W2_new": [W2[i] - lr * dW2[i] for i in range(2)],
        "b2_new": b2 - lr * db2,
    }  # fmt: skip


def test_seed003_json_matches_the_hand_computed_walk():
    net, X, y = gn.worked_example.seed003_example()
    doc = json.loads(gn.explain(net, X, y, lr=0.1).to_json())
    hand = seed003_by_hand(lr=0.1)
    first, second = doc["layers"]

    def close(got, want):
        np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-13, atol=1e-15)

    # JSON keeps glassnet's layout: batch quantities are (n_samples, width).
    close(first["z"], [hand["z1"]])
    close(first["a"], [hand["a1"]])
    close(second["z"], [[hand["z2"]]])
    close(second["a"], [[hand["a2"]]])
    close(doc["loss"]["value"], hand["L"])
    close(second["dL/da"], [[hand["dL/da2"]]])
    close(second["da/dz"], [[hand["da2/dz2"]]])
    close(second["dL/dz"], [[hand["dz2"]]])
    close(second["dL/dW"], [hand["dW2"]])
    close(second["dL/db"], [hand["db2"]])
    close(first["dL/da"], [hand["dA1"]])
    close(first["da/dz"], [hand["da1/dz1"]])
    close(first["dL/dz"], [hand["dz1"]])
    close(first["dL/dW"], hand["dW1"])
    close(first["dL/db"], hand["db1"])
    close(first["W_new"], hand["W1_new"])
    close(first["b_new"], hand["b1_new"])
    close(second["W_new"], [hand["W2_new"]])
    close(second["b_new"], [hand["b2_new"]])
    # The correct values to six decimals (the blog's own slips are noted above).
    assert round(second["a"][0][0], 6) == 0.938774
    assert round(doc["loss"]["value"], 6) == 0.063181
    assert round(second["dL/dz"][0][0], 6) == -0.061226
    assert doc["lr"] == 0.1 and doc["update_applied"] is False
    assert doc["backprop"] == "complete"


# -- exactly what training computes ---------------------------------------------------

HIDDEN = [name for name in ACTIVATIONS if name not in ("step", "softmax")]
OUTPUTS = [
    ("mse", "identity", 2, lambda rng, n: rng.normal(size=(n, 2))),
    ("mse", "softmax", 3, lambda rng, n: rng.random(size=(n, 3))),  # Jacobian path
    ("mse", "tanh", 1, lambda rng, n: rng.normal(size=n)),
    ("binary_crossentropy", "sigmoid", 2, lambda rng, n: rng.integers(0, 2, (n, 2))),
    ("binary_crossentropy", "sigmoid", 1, lambda rng, n: rng.integers(0, 2, n)),
    ("cross_entropy", "softmax", 3, lambda rng, n: rng.integers(0, 3, n)),
    (gn.BinaryCrossEntropyLoss(from_logits=True), "identity", 2,
     lambda rng, n: rng.integers(0, 2, (n, 2))),
    (gn.CrossEntropyLoss(from_logits=True), "identity", 3,
     lambda rng, n: rng.integers(0, 3, n)),
]  # fmt: skip


def assert_trace_is_training(net, X, y, loss, lr=None):
    """Every forward value and gradient of the trace equals, bit for bit, what
    net.forward / net.loss_and_grad compute; the JSON carries the same bits."""
    before = net.flat_params.copy()
    trace = gn.explain(net, X, y, loss=loss, lr=lr)
    assert np.array_equal(net.flat_params, before)  # explain never touches the net
    cache = net.forward(X, return_all=True)
    value, grads = net.loss_and_grad(X, y, loss=loss)
    doc = json.loads(trace.to_json())
    for k, (layer_cache, layer_grads) in enumerate(zip(cache, grads, strict=True), 1):
        assert np.array_equal(trace[f"{k}.a"], layer_cache["A"])
        assert np.array_equal(np.asarray(doc["layers"][k - 1]["a"]), layer_cache["A"])
        for name, g in layer_grads.items():
            assert np.array_equal(trace[f"{k}.dL/d{name}"], g), (k, name)
            assert np.array_equal(trace.grads[k - 1][name], g)
            got = np.asarray(doc["layers"][k - 1][f"dL/d{name}"], dtype=g.dtype)
            assert np.array_equal(got, g), (k, name)
    assert trace.loss_value == value and doc["loss"]["value"] == value
    return trace


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_equal_loss_and_grad_bitwise(hidden, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{hidden} {dtype}".encode()))
    for loss, out_act, width, make_y in OUTPUTS:
        n = int(rng.integers(1, 4))
        net = gn.Sequential(
            gn.Dense(3, 4, hidden),
            gn.Dense(4, 3, hidden),
            gn.Dense(3, width, out_act),
            dtype=dtype,
            seed=rng,
        )
        for layer in net.layers:  # nonzero biases so every term of z matters
            layer.b = rng.normal(size=layer.b.shape)
        X = rng.normal(size=(n, 3))
        assert_trace_is_training(net, X, make_y(rng, n), loss, lr=0.05)


def test_activation_layers_dropout_and_no_bias_are_explained_exactly():
    rng = np.random.default_rng(7)
    net = gn.Sequential(
        gn.Dense(4, 5),
        gn.ReLU(),
        gn.Dropout(0.5),
        gn.Dense(5, 3, use_bias=False),
        gn.Tanh(),
        gn.Dense(3, 3),
        gn.Softmax(),  # a standalone softmax still fuses with cross-entropy
        dtype="float64",
        seed=1,
    )
    X = rng.normal(size=(3, 4))
    trace = assert_trace_is_training(net, X, [0, 2, 1], "cross_entropy", lr=0.1)
    assert "3.dL/da" in trace.quantities  # the gradient through dropout
    assert "4.b" not in trace.quantities and "4.dL/db" not in trace.quantities
    text = trace.to_text()
    assert "Dropout, switched off" in text and "Shown, not applied" in text


def test_softmax_jacobian_is_shown_and_multiplies_the_gradient():
    rng = np.random.default_rng(3)
    net = gn.Sequential(gn.Dense(2, 3, "softmax"), dtype="float64", seed=0)
    X = rng.normal(size=(1, 2))
    Y = np.array([[0.2, 0.5, 0.3]])
    trace = assert_trace_is_training(net, X, Y, "mse")
    a = trace["1.a"][0]
    J = np.diag(a) - np.outer(a, a)  # da_i/dz_j = a_i (delta_ij - a_j)
    np.testing.assert_allclose(trace["1.da/dz"][0], J, rtol=1e-15, atol=1e-17)
    # the library's backward (a JVP, never forming J) agrees with J dL/da
    np.testing.assert_allclose(
        trace["1.dL/dz"][0], J @ trace["1.dL/da"][0], rtol=1e-12, atol=1e-16
    )
    assert "Jacobian" in trace.to_text()
    # a batch: one Jacobian per sample in the JSON
    trace = gn.explain(net, rng.normal(size=(4, 2)), rng.random((4, 3)), loss="mse")
    assert np.asarray(trace.to_dict()["layers"][0]["da/dz"]).shape == (4, 3, 3)
    assert "The first 3 of 4 are shown" in trace.to_text()


def test_explain_leaves_the_network_untouched():
    net = gn.Sequential(gn.Dense(3, 4, "relu"), gn.Dropout(0.3), gn.Dense(4, 1), seed=2)
    X = np.random.default_rng(0).normal(size=(2, 3))
    net.loss_and_grad(X, [0.5, 1.0])  # leave some state behind to compare against
    params, grads = net.flat_params.copy(), net.flat_grads.copy()
    rng_state = copy.deepcopy(net.rng.bit_generator.state)
    caches = [copy.copy(vars(layer)) for layer in net.layers]
    trace = gn.explain(net, X, [0.5, 1.0], lr=10.0)
    assert np.array_equal(net.flat_params, params)
    assert np.array_equal(net.flat_grads, grads)
    assert net.rng.bit_generator.state == rng_state
    for layer, cached in zip(net.layers, caches, strict=True):
        for name, value in cached.items():
            assert vars(layer)[name] is value, name
    # the update is shown with the given lr, but not applied
    np.testing.assert_array_equal(
        trace["1.W_new"], net.layers[0].W - 10.0 * trace["1.dL/dW"]
    )


def test_step_activation_explains_the_forward_pass_and_stops_backprop():
    net = gn.Sequential(gn.Dense(2, 2, "step"), gn.Dense(2, 1, "sigmoid"), seed=0)
    trace = gn.explain(net, [1.0, -2.0], 1, lr=0.1)
    message = str(gn.StepGradientError())
    assert trace.stopped == message
    assert trace.grads == [{}, {}]
    assert "1.a" in trace.quantities and "2.a" in trace.quantities
    # backprop ran as far as it could: the output layer's gradients are there
    assert "2.dL/dW" in trace.quantities and "1.dL/dW" not in trace.quantities
    assert not any(step.phase == "update" for step in trace.steps)
    text = trace.to_text()
    assert "Backpropagation stops here" in text
    assert "no useful gradient" in " ".join(text.split())
    assert json.loads(trace.to_json())["backprop"] == "stopped"
    with pytest.raises(gn.StepGradientError):  # training raises the same error
        net.loss_and_grad([[1.0, -2.0]], [1.0], loss="binary_crossentropy")


def test_forward_only_without_a_target():
    net, X, _ = gn.worked_example.seed003_example()
    trace = gn.explain(net, X)
    assert trace.loss_value is None and trace.grads == [{}, {}]
    assert {s.phase for s in trace.steps} == {"forward"}
    assert "LOSS" not in trace.to_text()
    assert "loss" not in trace.to_dict()


def test_default_loss_follows_the_output_activation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1, 2))
    cases = [("sigmoid", 1, 1, "binary_crossentropy"),
             ("softmax", 3, [2], "cross_entropy"),
             ("identity", 2, [[0.1, 0.2]], "mse")]  # fmt: skip
    for activation, width, y, expected in cases:
        net = gn.Sequential(gn.Dense(2, width, activation), seed=0)
        assert gn.explain(net, X, y).loss_name == expected


def test_every_step_refers_only_to_recorded_quantities():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, lr=0.1)
    for step in trace.steps:
        for expr in (step.lhs, *step.rhs):
            if expr is None:
                continue
            for node in walk(expr):
                if isinstance(node, Q):
                    assert node.key in trace.quantities
        if step.lhs is not None:
            assert step.result in trace.quantities


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda net: gn.explain(net, [1.0, 2.0, 3.0], 1), "x has 3 features per sample"),
        (lambda net: gn.explain(net, [[1.0, "a"]], 1), "x must be numeric"),
        (lambda net: gn.explain(net, [[1.0, 2.0]], [1, 0]), "x and y have different numbers of samples: 1 and 2"),
        (lambda net: gn.explain(net, [1.0, 2.0], 1, loss="hinge"), "unknown loss 'hinge'"),
        (lambda net: gn.explain(net, [1.0, 2.0], 1, lr=0), "lr must be in (0, inf], got 0"),
        (lambda net: gn.explain(net, [1.0, 2.0], 3), "binary_crossentropy targets must be in [0, 1]"),
        (lambda net: gn.explain("net", [1.0, 2.0], 1), "net must be a glassnet Sequential, got str"),
        (lambda net: gn.explain(net, [1.0, np.nan], 1), "contains NaN"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_message(call, message):
    net, _, _ = gn.worked_example.seed003_example()
    with pytest.raises((ValueError, TypeError)) as error:
        call(net)
    assert message in str(error.value)


def test_trace_lookup_names_the_available_keys():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y)
    with pytest.raises(KeyError, match="no quantity '3.z'.*'1.W'"):
        trace["3.z"]


def test_gn_explain_is_the_function_not_a_package_regression():
    # The package was once named like the function, and an import system that
    # re-imported it could rebind gn.explain to the package. It now has its own name.
    import glassnet.explaining

    assert callable(gn.explain) and gn.explain is glassnet.explaining.explain
