"""Networks built to sit on a rounding edge: "holds" only when the model's own
float arithmetic keeps the property."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification.branch import set_bounds
from glassnet.verification.network import read_network


def edge_net(dtype, tiny):
    """y = x0 + tiny * x1 - 1: at x = (1, 1) exactly tiny > 0 in real arithmetic,
    but 1 + tiny rounds to 1 in the model's dtype when tiny is below half an ulp."""
    net = gn.Sequential(gn.Dense(2, 1), dtype=dtype)
    net.layers[0].W, net.layers[0].b = [[1.0, tiny]], [-1.0]
    return net


def unsafe_at_most_zero(box):
    return gn.Property(box, gn.LinearConstraints([[1.0]], [0.0]))  # unsafe: y <= 0


@pytest.mark.parametrize(
    ("dtype", "tiny"), [("float32", 2.0**-25), ("float64", 2.0**-54)]
)
def test_a_property_true_in_reals_by_less_than_1e7_but_false_in_floats(dtype, tiny):
    net = edge_net(dtype, tiny)
    point = gn.Box([1.0, 1.0], [1.0, 1.0])
    assert 0 < tiny < 1e-7  # holds in real arithmetic, by tiny
    assert net.predict(np.ones((1, 2), dtype=dtype))[0, 0] == 0.0  # not in floats
    prop = unsafe_at_most_zero(point)
    assert (
        set_bounds(read_network(net), prop, point.lower[None], point.upper[None])[0, 0]
        <= 0
    )
    for method in ("interval", "linear", "auto"):
        result = gn.verify(net, prop, method=method)
        assert result.status == "violated"
        x, y = result.counterexample
        assert net.predict(x[None].astype(dtype))[0, 0] <= 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_property_false_in_reals_by_less_than_1e7_is_never_proved(dtype):
    # y = x0 - tiny * x1 - 1 is -tiny < 0 in reals at (1, 1); the model may round it
    # to 0 either way: whatever verify says, it is not "holds" for the unsafe y <= 0
    # unless the model's own output is > 0 everywhere, which it is not
    net = edge_net(dtype, -(2.0**-25 if dtype == "float32" else 2.0**-54))
    prop = unsafe_at_most_zero(gn.Box([1.0, 1.0], [1.0, 1.0]))
    assert gn.verify(net, prop).status == "violated"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_float32_edge_proved_in_float64_only_where_it_holds(dtype):
    # 1 + 2^-25 is exact in float64: the float64 model keeps y > 0 and is proved;
    # the float32 one rounds it away and is refuted
    net = edge_net(dtype, 2.0**-25)
    result = gn.verify(net, unsafe_at_most_zero(gn.Box([1.0, 1.0], [1.0, 1.0])))
    assert result.status == ("holds" if dtype == "float64" else "violated")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bounds_cover_the_models_own_outputs_at_the_edge(dtype):
    # a random network and, as threshold, the model's own output at a point: the
    # certified bound of y - y_model(x) over the point must be <= 0, so "holds" is
    # impossible however the model rounds
    rng = np.random.default_rng(1)
    for seed in range(5):
        net = gn.Sequential(
            gn.Dense(4, 16, "relu"), gn.Dense(16, 16, "tanh"), gn.Dense(16, 2),
            dtype=dtype, seed=seed,
        )  # fmt: skip
        x = rng.normal(size=4).astype(dtype).astype(np.float64)
        y = np.asarray(net.predict(x[None].astype(dtype)), dtype=np.float64)[0]
        c = rng.normal(size=2)
        threshold = float(c @ y)  # unsafe: c . y >= c . y_model(x)
        box = gn.Box(x, x)
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        bound = set_bounds(read_network(net), prop, x[None], x[None])[0, 0]
        assert bound <= 0
        assert gn.verify(net, prop).status != "holds"


def test_a_counterexample_on_the_face_that_rounds_outside_is_moved_back_in():
    # the only unsafe inputs lie within 1e-7 of the face x = 0.1, which float32
    # rounds to just above 0.1 (outside the box): the point one float32 step
    # below it is inside, and still unsafe
    net = gn.Sequential(gn.Dense(1, 1), dtype="float32")
    net.layers[0].W, net.layers[0].b = [[1.0]], [0.0]
    box = gn.Box([0.0], [0.1])
    assert float(np.float32(0.1)) > 0.1
    prop = gn.Property(box, gn.LinearConstraints([[-1.0]], [-(0.1 - 1e-7)]))
    result = gn.verify(net, prop, method="interval")
    assert result.status == "violated"
    x, y = result.counterexample
    assert 0.0 <= x[0] <= 0.1 and x[0] == float(np.float32(x[0]))
    assert net.predict(x[None].astype("float32"))[0, 0] >= 0.1 - 1e-7
