"""Every bad input a user can give the core API (shapes, types, names, values out of
range, NaN) raises a clear error; the message is checked."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import GlassnetError, InputError, InputTypeError


@pytest.fixture
def net():
    return gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 2, "softmax"), seed=0)


def test_layers_that_do_not_connect_name_the_layer_and_both_shapes():
    with pytest.raises(
        ValueError,
        match=r"layer 1 \(Dense\(4, 1\)\) expects inputs of shape "
        r"\(n, 4\) but layer 0 \(Dense\(2, 3, 'relu'\)\) outputs shape \(n, 3\)",
    ):
        gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(4, 1))


def test_X_with_the_wrong_width(net):
    with pytest.raises(
        ValueError,
        match=r"X has 5 features per sample \(shape \(4, 5\)\) but "
        r"the first layer expects in_features=2",
    ):
        net.forward(np.zeros((4, 5)))


def test_X_and_y_with_different_sample_counts(net):
    with pytest.raises(ValueError, match="different numbers of samples: 4 and 3"):
        net.loss_and_grad(np.zeros((4, 2)), [0, 1, 1], loss="cross_entropy")


@pytest.mark.parametrize(
    "bad, kind", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")]
)
def test_nan_or_inf_in_X(net, bad, kind):
    X = np.zeros((3, 2))
    X[1, 0] = bad
    with pytest.raises(
        ValueError, match=rf"Input X contains {kind} \(first at index \(1, 0\)\)"
    ):
        net.forward(X)


def test_nan_in_y(net):
    with pytest.raises(ValueError, match="Input y contains NaN"):
        gn.Sequential(gn.Dense(2, 1), seed=0).loss_and_grad(
            np.zeros((2, 2)), [0.0, np.nan]
        )


def test_labels_beyond_the_number_of_outputs(net):
    with pytest.raises(
        ValueError,
        match=r"class labels must be in 0\.\.1 for a network with 2 "
        r"outputs, got labels from 0 to 2",
    ):
        net.loss_and_grad(np.zeros((3, 2)), [0, 1, 2], loss="cross_entropy")


def test_negative_or_fractional_labels(net):
    with pytest.raises(ValueError, match="got labels from -1 to 1"):
        net.loss_and_grad(np.zeros((3, 2)), [0, 1, -1], loss="cross_entropy")
    with pytest.raises(
        ValueError,
        match="must be integer class labels, got non-integer values such as 0.5",
    ):
        net.loss_and_grad(np.zeros((2, 2)), [0, 0.5], loss="cross_entropy")


def test_probability_rows_that_do_not_sum_to_one(net):
    with pytest.raises(ValueError, match="row 1 sums to 0.5"):
        net.loss_and_grad(
            np.zeros((2, 2)), [[1, 0], [0.25, 0.25]], loss="cross_entropy"
        )


def test_binary_targets_outside_0_1():
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    with pytest.raises(
        ValueError, match=r"targets must be in \[0, 1\], got values from 0 to 2"
    ):
        net.loss_and_grad(np.zeros((2, 2)), [0, 2], loss="binary_crossentropy")


def test_targets_with_the_wrong_width():
    net = gn.Sequential(gn.Dense(2, 3), seed=0)
    with pytest.raises(
        ValueError, match=r"must have shape \(n_samples, 3\).*got shape \(2, 2\)"
    ):
        net.loss_and_grad(np.zeros((2, 2)), np.zeros((2, 2)), loss="mse")


def test_cross_entropy_on_one_output_points_to_binary_crossentropy():
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    with pytest.raises(ValueError, match="for a single output use binary_crossentropy"):
        net.loss_and_grad(np.zeros((2, 2)), [0, 1], loss="cross_entropy")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown activation 'relu6'; expected one of \[.*'relu'"
    ):
        gn.Dense(2, 2, "relu6")
    with pytest.raises(
        ValueError, match=r"unknown loss 'hinge'; expected one of \[.*'mse'"
    ):
        gn.get_loss("hinge")
    with pytest.raises(
        ValueError, match=r"unknown init 'orthogonal'; expected one of \[.*'he_normal'"
    ):
        gn.Dense(2, 2, init="orthogonal")


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"p must be in \[0, 1\), got {p:g}"):
        gn.Dropout(p)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 3), "in_features must be a positive integer, got 0"),
        ((2, -1), "out_features must be a positive integer, got -1"),
        ((2.5, 3), "in_features must be a positive integer, got 2.5"),
    ],
)
def test_invalid_layer_sizes(args, message):
    with pytest.raises((ValueError, TypeError), match=message):
        gn.Dense(*args)


def test_backward_before_forward():
    net = gn.Sequential(gn.Dense(2, 2, "tanh"), gn.Dropout(0.2), gn.ReLU(), seed=0)
    for layer in net.layers:
        with pytest.raises(RuntimeError, match="backward called before forward"):
            layer.backward(np.zeros((1, 2)))


def test_backprop_through_step_points_to_the_perceptron():
    net = gn.Sequential(gn.Dense(2, 1, "step"), seed=0)
    net.forward(np.zeros((1, 2)))  # forward through a step is fine
    with pytest.raises(RuntimeError, match=r"no useful gradient.*gn\.Perceptron"):
        net.loss_and_grad(np.zeros((1, 2)), [1.0], loss="mse")


def test_other_bad_arguments():
    with pytest.raises(
        ValueError, match="dtype must be 'float32' or 'float64', got 'int32'"
    ):
        gn.Sequential(gn.Dense(2, 1), dtype="int32")
    with pytest.raises(
        TypeError, match="seed must be an int, a numpy Generator or None"
    ):
        gn.Sequential(gn.Dense(2, 1), seed="zero")
    with pytest.raises(TypeError, match="Sequential takes glassnet layers"):
        gn.Sequential(gn.Dense(2, 1), "relu")
    with pytest.raises(ValueError, match="the first layer must fix the input width"):
        gn.Sequential(gn.ReLU(), gn.Dense(2, 1))
    with pytest.raises(ValueError, match="at least one layer"):
        gn.Sequential()
    with pytest.raises(TypeError, match="X must be numeric"):
        gn.Sequential(gn.Dense(2, 1)).forward([["a", "b"]])
    with pytest.raises(
        ValueError, match=r"W of Dense\(2, 1\) must have shape \(1, 2\), got \(2,\)"
    ):
        gn.Sequential(gn.Dense(2, 1)).layers[0].W = [1.0, 2.0]
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\)"):
        gn.Sequential(gn.Dense(2, 1), seed=0).loss_and_grad(
            np.zeros((2, 2)), [0, 1], sample_weight=[1.0]
        )
    with pytest.raises(ValueError, match="no samples"):
        gn.Sequential(gn.Dense(2, 1)).forward(np.zeros((0, 2)))


def test_a_dense_layer_used_before_it_has_parameters():
    with pytest.raises(gn.NotBuiltError, match="put it in a gn.Sequential"):
        gn.Dense(2, 3).forward(np.zeros((1, 2)))


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (InputError, ValueError),
        (InputTypeError, TypeError),
        (InputTypeError, ValueError),
        (gn.StepGradientError, RuntimeError),
        (gn.NotBuiltError, RuntimeError),
        (gn.DivergenceError, FloatingPointError),
    ],
)
def test_glassnet_errors_are_also_the_builtin_error_python_users_expect(error, builtin):
    assert issubclass(error, GlassnetError) and issubclass(error, builtin)


def test_a_bad_argument_is_an_input_error_naming_it():
    with pytest.raises(InputError, match="epochs must be a positive"):
        gn.Sequential(gn.Dense(2, 1), seed=0).fit(
            np.zeros((4, 2)), np.zeros(4), epochs=0
        )
