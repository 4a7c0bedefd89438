"""Falsification: each unsafe set gets its own descent."""

import numpy as np

import glassnet as gn
from glassnet.verification.falsify import margins, pgd, pgd_per_set
from glassnet.verification.network import read_network


def two_valleys():
    """On x in [-1, 1]: y_0 = |x| - 0.9, unsafe where y_0 <= 0 (around x = 0), and
    y_1 = x - 0.99, unsafe where y_1 >= 0 (within 0.01 of the face x = 1)."""
    net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 2), dtype="float64")
    net.layers[0].W, net.layers[0].b = [[1.0], [-1.0]], [0.0, 0.0]
    net.layers[1].W, net.layers[1].b = [[1.0, 1.0], [1.0, -1.0]], [-0.9, -0.99]
    box = gn.Box([-1.0], [1.0])
    unsafe = [gn.LinearConstraints([[1.0, 0.0]], [0.0]),
              gn.LinearConstraints([[0.0, -1.0]], [0.0])]  # fmt: skip
    return net, gn.Property(box, unsafe)


def test_pgd_per_set_reaches_every_unsafe_set_it_can():
    net, prop = two_valleys()
    vn = read_network(net)
    X = pgd_per_set(vn, prop, prop.regions[0], np.random.default_rng(0))
    Y = vn.forward(X)
    for unsafe in prop.unsafe:  # each set is entered by some end point
        assert np.any(np.all(Y @ unsafe.C.T <= unsafe.d, axis=1))
    box = prop.regions[0]
    assert np.all((X >= box.lower) & (X <= box.upper))


def test_robustness_counterexamples_found_per_class():
    # a linear 3-class model, class 0 to stay on top: class 1 is the closest at the
    # centre but cannot win in the box (margin 0.3 - 0.2 x0 >= 0.1); class 2 can
    # (margin 0.5 + 0.2 x0 - 0.6 x1, below 0 near (-1, 1)). The descent on the
    # margin over all sets follows class 1's gradient, which never moves x1.
    net = gn.Sequential(gn.Dense(2, 3), dtype="float64")
    net.layers[0].W = [[0.0, 0.0], [0.2, 0.0], [-0.2, 0.6]]
    net.layers[0].b = [0.0, -0.3, -0.5]
    box = gn.Box([-1.0, -1.0], [1.0, 1.0])
    unsafe = [gn.LinearConstraints([[1.0, -1.0, 0.0]], [0.0]),
              gn.LinearConstraints([[1.0, 0.0, -1.0]], [0.0])]  # fmt: skip
    prop = gn.Property(box, unsafe)
    vn = read_network(net)
    ends = pgd_per_set(vn, prop, box, np.random.default_rng(0))
    per_set = margins(prop, vn.forward(ends))
    assert per_set.min() <= 0
    result = gn.verify(net, prop, method="interval")
    assert result.status == "violated"
    assert margins(prop, net.predict(result.counterexample[0][None]))[0] <= 0
    # the descent on the margin over all sets from the centre alone does not get there
    alone = pgd(vn, prop, box, np.zeros((1, 2)))
    assert margins(prop, vn.forward(alone)).min() > 0
