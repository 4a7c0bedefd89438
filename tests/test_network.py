"""Sequential: flat parameter buffers, seeding, initialisation, dropout, summary, copy."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn


def make(seed=0, dtype="float32"):
    return gn.Sequential(
        gn.Dense(4, 8, "relu"),
        gn.Dropout(0.5),
        gn.Dense(8, 3, "softmax"),
        dtype=dtype,
        seed=seed,
    )


def test_parameters_and_gradients_are_views_into_one_flat_buffer_each():
    net = make()
    assert net.n_params == 4 * 8 + 8 + 8 * 3 + 3 == net.flat_params.size
    for layer in (net.layers[0], net.layers[2]):
        assert np.shares_memory(layer.W, net.flat_params)
        assert np.shares_memory(layer.dW, net.flat_grads)
    net.flat_params[:] = 0.5  # one write reaches every layer
    assert (net.layers[2].b == 0.5).all()
    net.layers[0].W = np.ones((8, 4))  # assignment copies in place, keeping the view
    assert np.shares_memory(net.layers[0].W, net.flat_params)
    X = np.random.default_rng(0).normal(size=(5, 4))
    net.loss_and_grad(X, [0, 1, 2, 0, 1], loss="cross_entropy")
    offset = 4 * 8 + 8
    np.testing.assert_array_equal(
        net.flat_grads[offset : offset + 24], net.layers[2].dW.ravel()
    )


def test_returned_gradients_are_copies():
    net = make(dtype="float64")
    X = np.random.default_rng(0).normal(size=(5, 4))
    _, first = net.loss_and_grad(X, [0, 1, 2, 0, 1], loss="cross_entropy")
    kept = first[0]["W"].copy()
    net.loss_and_grad(X * 2, [2, 2, 2, 2, 2], loss="cross_entropy")
    np.testing.assert_array_equal(first[0]["W"], kept)
    assert first[1] == {}  # the dropout layer has no parameters


def test_same_seed_same_weights_and_different_seed_different_weights():
    np.testing.assert_array_equal(make(seed=7).flat_params, make(seed=7).flat_params)
    assert not np.array_equal(make(seed=7).flat_params, make(seed=8).flat_params)
    rng = np.random.default_rng(3)
    a = gn.Sequential(gn.Dense(4, 8), seed=rng)
    b = gn.Sequential(gn.Dense(4, 8), seed=rng)  # the generator moved on
    assert not np.array_equal(a.flat_params, b.flat_params)
    assert a.rng is rng


def test_default_initialisers_follow_the_activation():
    big = 400
    relu = gn.Sequential(gn.Dense(big, big, "relu"), dtype="float64", seed=0).layers[0]
    tanh = gn.Sequential(gn.Dense(big, big, "tanh"), dtype="float64", seed=0).layers[0]
    # He normal: std sqrt(2 / fan_in); Glorot uniform: limit sqrt(6 / (in + out)).
    assert relu.W.std() == pytest.approx(np.sqrt(2 / big), rel=0.02)
    assert np.abs(tanh.W).max() <= np.sqrt(6 / (2 * big))
    assert tanh.W.std() == pytest.approx(np.sqrt(2 / (2 * big)), rel=0.02)
    assert (relu.b == 0).all()
    # A Dense followed by a separate ReLU layer gets the He default too.
    split = gn.Sequential(
        gn.Dense(big, big), gn.ReLU(), dtype="float64", seed=0
    ).layers[0]
    np.testing.assert_array_equal(split.W, relu.W)
    custom = gn.Sequential(gn.Dense(big, big, "relu", init="zeros"), seed=0).layers[0]
    assert (custom.W == 0).all()


def test_dropout_is_off_by_default_and_inverted_in_training():
    net = gn.Sequential(
        gn.Dense(50, 200, "relu"), gn.Dropout(0.25), dtype="float64", seed=0
    )
    X = np.abs(np.random.default_rng(1).normal(size=(400, 50)))
    off = net.forward(X)
    np.testing.assert_array_equal(off, net.forward(X, training=False))
    on = net.forward(X, training=True)
    dropped = (on == 0) & (off != 0)
    assert dropped.sum() / (off != 0).sum() == pytest.approx(0.25, abs=0.01)
    kept = on != 0
    np.testing.assert_allclose(on[kept], off[kept] / 0.75)  # scaled by 1/(1-p)
    assert on.mean() == pytest.approx(off.mean(), rel=0.02)  # expectation preserved


def test_forward_return_all_gives_every_layers_Z_and_A():
    net = gn.Sequential(
        gn.Dense(2, 3), gn.Tanh(), gn.Dense(3, 1, "sigmoid"), dtype="float64", seed=0
    )
    X = np.random.default_rng(0).normal(size=(4, 2))
    cache = net.forward(X, return_all=True)
    assert len(cache) == 3
    np.testing.assert_allclose(cache[0]["Z"], X @ net.layers[0].W.T + net.layers[0].b)
    np.testing.assert_allclose(cache[1]["A"], np.tanh(cache[0]["A"]))
    np.testing.assert_allclose(cache[2]["A"], 1 / (1 + np.exp(-cache[2]["Z"])))


def test_single_sample_vector_is_a_batch_of_one():
    net = make()
    assert net.forward(np.ones(4)).shape == (1, 3)


def test_summary_is_a_readable_table():
    text = make().summary()
    lines = text.splitlines()
    assert lines[0].split() == ["#", "Layer", "Output", "shape", "Params", "Activation"]
    assert (
        "Dense(4, 8, 'relu')" in lines[2] and "(n, 8)" in lines[2] and "40" in lines[2]
    )
    assert "Dropout(p=0.5)" in lines[3]
    assert "Total parameters: 67" in lines[-1] and "float32" in lines[-1]


def test_copy_is_independent_and_can_change_dtype():
    net = make(dtype="float32")
    twin = net.copy(dtype="float64")
    assert twin.dtype == np.float64 and twin.layers[0].W.dtype == np.float64
    np.testing.assert_array_equal(twin.flat_params, net.flat_params.astype(np.float64))
    twin.flat_params[:] = 0
    assert net.flat_params.any()
    assert np.shares_memory(twin.layers[2].W, twin.flat_params)


def test_float32_end_to_end():
    net = make(dtype="float32")
    X = np.random.default_rng(0).normal(size=(5, 4))  # float64 input is converted
    A = net.forward(X)
    assert A.dtype == np.float32
    loss, grads = net.loss_and_grad(X, [0, 1, 2, 0, 1], loss="cross_entropy")
    assert isinstance(loss, float) and grads[0]["W"].dtype == np.float32


def test_step_activation_forward():
    net = gn.Sequential(gn.Dense(2, 1, "step"), dtype="float64", seed=0)
    net.layers[0].W, net.layers[0].b = [[1.0, 1.0]], [-1.5]  # AND as a step neuron
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert net.forward(X)[:, 0].tolist() == [0, 0, 0, 1]


def test_a_deep_copied_or_unpickled_network_still_trains_regression():
    # Found by scikit-learn's pickling checks: a pickled network's W and b came back
    # as separate arrays, so stepping flat_params silently changed nothing.
    import copy
    import pickle  # tests only: the package itself never pickles

    net = make(dtype="float64")
    X = np.random.default_rng(0).normal(size=(5, 4))
    net.loss_and_grad(X, [0, 1, 2, 0, 1], loss="cross_entropy")
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(twin.flat_params, net.flat_params)
        np.testing.assert_array_equal(twin.flat_grads, net.flat_grads)
        for layer in (twin.layers[0], twin.layers[2]):
            assert np.shares_memory(layer.W, twin.flat_params)
            assert np.shares_memory(layer.dW, twin.flat_grads)
        before = twin.forward(X)
        twin.flat_params -= 0.1 * twin.flat_grads
        assert not np.array_equal(twin.forward(X), before)
        np.testing.assert_array_equal(net.forward(X), before)  # the original is apart


def test_copy_leaves_the_original_bound_to_its_own_buffers_regression():
    # Sequential.copy starts from copy.copy, which shares the layer objects; the
    # original's W and b must still be views into the original's flat_params.
    net = make(dtype="float64")
    net.copy()
    assert np.shares_memory(net.layers[0].W, net.flat_params)
    assert np.shares_memory(net.layers[2].dW, net.flat_grads)
