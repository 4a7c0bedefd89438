"""Bad input to verify: clear errors naming what was wrong."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification import exact_max, relaxed_max


def net_2_3_2(**kw):
    return gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 2), seed=0, **kw)


def test_a_property_of_the_wrong_width_is_refused():
    prop = gn.Property(
        gn.Box([0, 0, 0], [1, 1, 1]), gn.LinearConstraints([[1, -1]], [0])
    )
    with pytest.raises(
        gn.InputError, match="3 inputs and 2 outputs; the network has 2"
    ):
        gn.verify(net_2_3_2(), prop)
    prop = gn.Property(gn.Box([0, 0], [1, 1]), gn.LinearConstraints([[1, -1, 0]], [0]))
    with pytest.raises(gn.InputError, match="3 outputs"):
        gn.verify(net_2_3_2(), prop)


@pytest.mark.parametrize(
    ("layers", "named"),
    [
        ((gn.Dense(2, 3, "elu"), gn.Dense(3, 2)), "layer 0 uses elu"),
        ((gn.Dense(2, 3, "softmax"), gn.Dense(3, 2)), "layer 0 uses softmax"),
        ((gn.Dense(2, 3), gn.ActivationLayer("gelu"), gn.Dense(3, 2)), "layer 1"),
    ],
)
def test_unsupported_layers_are_refused_by_name(layers, named):
    net = gn.Sequential(*layers, seed=0)
    with pytest.raises(gn.InputError, match=named):
        gn.verify_robust(net, [0.0, 0.0], 0.1)


def test_other_bad_arguments():
    net = net_2_3_2()
    prop = gn.Property(gn.Box([0, 0], [1, 1]), gn.LinearConstraints([[1, -1]], [0]))
    with pytest.raises(gn.InputError, match="method must be one of"):
        gn.verify(net, prop, method="magic")
    with pytest.raises(gn.InputError, match="timeout must be > 0"):
        gn.verify(net, prop, timeout=0)
    with pytest.raises(gn.InputError, match="needs a gn.Property"):
        gn.verify(net, "x < 1")
    with pytest.raises(gn.InputError, match="x must have 2 features, got 3"):
        gn.verify_robust(net, [0.0, 0.0, 0.0], 0.1)
    with pytest.raises(gn.InputError, match="eps must be"):
        gn.verify_robust(net, [0.0, 0.0], -0.1)
    tanh = gn.Sequential(gn.Dense(2, 3, "tanh"), gn.Dense(3, 2), seed=0)
    with pytest.raises(gn.InputError, match="ReLU networks; block 0 uses tanh"):
        exact_max(tanh, gn.Box([0, 0], [1, 1]), [1.0, 0.0])
    with pytest.raises(gn.InputError, match="relaxed_max handles ReLU networks"):
        relaxed_max(tanh, gn.Box([0, 0], [1, 1]), [1.0, 0.0])
    relu = gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 2), seed=0)
    one_block = [(np.zeros(3), np.ones(3))]  # the output block's are missing
    with pytest.raises(gn.InputError, match=r"one \(L, U\) per block, of widths"):
        relaxed_max(relu, gn.Box([0, 0], [1, 1]), [1.0, 0.0], one_block)


def test_dropout_and_activation_layers_are_read_as_at_inference():
    plain = gn.Sequential(
        gn.Dense(2, 4),
        gn.ActivationLayer("relu"),
        gn.Dense(4, 2),
        seed=0,
        dtype="float64",
    )
    with_dropout = gn.Sequential(
        gn.Dense(2, 4, "relu"), gn.Dropout(0.5), gn.Dense(4, 2), seed=0, dtype="float64"
    )
    for layer_a, layer_b in (
        (plain.layers[0], with_dropout.layers[0]),
        (plain.layers[2], with_dropout.layers[2]),
    ):
        layer_b.W, layer_b.b = layer_a.W, layer_a.b
    box = gn.Box([-1.0, -1.0], [1.0, 1.0])
    for c in (np.array([1.0, -1.0]), np.array([-0.5, 2.0])):
        assert exact_max(plain, box, c)[0] == pytest.approx(
            exact_max(with_dropout, box, c)[0]
        )
        best = exact_max(plain, box, c)[0]
        for net in (plain, with_dropout):
            holds = gn.Property(box, gn.LinearConstraints([-c], [-(best + 0.01)]))
            assert gn.verify(net, holds).status == "holds"
