"""Branch and bound decides what one-shot bounds cannot, on a small trained network."""

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.verification import exact_max


@pytest.fixture(scope="module")
def moons_net():
    X, y = gn.datasets.moons(200, noise=0.1, seed=0)
    net = gn.Sequential(
        gn.Dense(2, 16, "relu"), gn.Dense(16, 16, "relu"), gn.Dense(16, 2, "softmax"),
        dtype="float32", seed=0,
    )  # fmt: skip
    net.fit(
        X, y, loss="cross_entropy", optimizer=gn.Adam(lr=0.01), epochs=200,
        batch_size=32, seed=0, verbose=0,
    )  # fmt: skip
    return net, X


def worst_rival(net, box, label):
    """max over j != label of y_j - y_label on the box, exactly (MILP)."""
    best = -np.inf
    for j in range(2):
        if j != label:
            c = np.zeros(2)
            c[j], c[label] = 1.0, -1.0
            best = max(best, exact_max(net, box, c)[0])
    return best


def test_branch_and_bound_decides_what_one_shot_bounds_leave_open(moons_net):
    net, X = moons_net
    by_bab = 0
    for i in range(30):
        for eps in (0.15, 0.25):
            one_shot = gn.verify_robust(net, X[i], eps, method="linear")
            if one_shot.status != "unknown" and i >= 3:
                continue  # decided cheaply: the first few are checked all the same
            full = gn.verify_robust(net, X[i], eps, timeout=30)
            assert full.status in ("holds", "violated")
            label = int(np.argmax(net.predict(X[i : i + 1])))
            rival = worst_rival(net, full.property.regions[0], label)
            if full.status == "holds":
                assert rival < 0
                assert full.proof is not None and full.proof.leaves
                assert all(min(leaf["bounds"]) > 0 for leaf in full.proof.leaves)
                tree = json.loads(json.dumps(full.to_dict()))["proof"]
                assert tree["n_leaves"] == len(full.proof.leaves)
            else:
                x, y = full.counterexample
                assert np.argmax(y) != label or y[0] == y[1]
                assert rival >= -1e-6
            if one_shot.status == "unknown" and full.status == "holds":
                by_bab += 1
                assert full.method == "bab"
    assert by_bab >= 2


def test_a_timeout_gives_timeout_with_the_bound_so_far(moons_net):
    net, X = moons_net
    needs_bab = next(
        (i, eps)
        for i in range(40)
        for eps in (0.15, 0.25)
        if gn.verify_robust(net, X[i], eps, method="linear").status == "unknown"
    )
    result = gn.verify_robust(net, X[needs_bab[0]], needs_bab[1], timeout=1e-9)
    if result.status != "violated":  # falsification runs before the clock is read
        assert result.status == "timeout"
        assert result.bounds is not None and np.all(result.bounds <= 0)
        assert "timeout" in str(result) and result.to_dict()["status"] == "timeout"
