"""ReLU-splitting branch and bound on a network with many inputs, against exact_max."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputError
from glassnet.verification import exact_max, stays_class


@pytest.fixture(scope="module")
def trained():
    """24 inputs, 2 hidden layers of 16 ReLUs, trained on a generated task."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 24))
    y = (np.sin(2 * X[:, :4].sum(axis=1)) + X[:, 4] * X[:, 5] > 0).astype(int)
    net = gn.Sequential(
        gn.Dense(24, 16, "relu"), gn.Dense(16, 16, "relu"), gn.Dense(16, 2),
        dtype="float64", seed=0,
    )  # fmt: skip
    net.fit(
        X,
        y,
        optimizer=gn.Adam(lr=1e-2),
        loss=gn.CrossEntropyLoss(from_logits=True),
        epochs=15,
        batch_size=32,
        verbose=0,
    )
    return net, X


def cases(net, X, n):
    """Properties "c . y < threshold over an L-inf ball", the threshold either side
    of the exact maximum (by the MILP)."""
    rng = np.random.default_rng(1)
    for k in range(n):
        x = X[k]
        eps = rng.uniform(0.02, 0.15)
        box = gn.Box(x - eps, x + eps)
        c = rng.normal(size=2)
        best, _ = exact_max(net, box, c)
        gap = rng.choice([-1.0, 1.0]) * rng.uniform(0.003, 0.2) * (1 + abs(best))
        yield box, c, best, best + gap


def check(net, box, c, best, threshold, result):
    if best < threshold:
        assert result.status == "holds", (result, best, threshold)
        assert np.all(result.bounds > 0)
        leaves = result.proof.leaves
        assert leaves and all(leaf["bounds"][0] > 0 for leaf in leaves)
        assert all(step[0] == "relu" for leaf in leaves for step in leaf["path"])
    else:
        assert result.status == "violated", (result, best, threshold)
        x, y = result.counterexample
        assert np.all(box.lower <= x) and np.all(x <= box.upper)
        y_model = net.predict(x[None])[0]
        np.testing.assert_array_equal(y_model, y)
        assert c @ y_model >= threshold


def test_relu_split_agrees_with_milp_on_every_case(trained):
    net, X = trained
    decided_by_split = 0
    for box, c, best, threshold in cases(net, X, 16):
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        result = gn.verify(net, prop, timeout=30.0, workers=1)
        check(net, box, c, best, threshold, result)
        if result.method == "bab":
            assert result.counts["split"] == "relu_split"  # 24 inputs: ReLUs
            decided_by_split += 1
    assert decided_by_split >= 3  # the sweep reaches branch and bound


def test_two_workers_give_the_same_answers(trained, monkeypatch):
    from glassnet.verification import parallel

    # the workers start at once, not after a second of search
    monkeypatch.setattr(parallel, "START_AFTER", 0.0)
    monkeypatch.setattr(parallel, "START_ROOM", 0.0)
    monkeypatch.setattr(parallel, "RELU_SPLIT_AFTER", 0)
    net, X = trained
    used = 0
    for box, c, best, threshold in list(cases(net, X, 4)):
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        one = gn.verify(net, prop, timeout=30.0, method="relu_split", workers=1)
        two = gn.verify(net, prop, timeout=30.0, method="relu_split", workers=2)
        assert one.status == two.status
        assert one.counts.get("workers", 0) == 0
        used += two.counts.get("workers", 0) == 2
        check(net, box, c, best, threshold, two)
    assert used >= 1  # branch and bound ran in the two workers


def test_workers_must_be_a_positive_integer(trained):
    net, X = trained
    prop = gn.Property(gn.Box(X[0] - 0.3, X[0] + 0.3), stays_class(0, 2))
    with pytest.raises(InputError, match="workers"):
        gn.verify(net, prop, method="relu_split", workers=0)


def test_relu_split_refuses_other_activations():
    net = gn.Sequential(gn.Dense(12, 4, "tanh"), gn.Dense(4, 2), seed=0)
    prop = gn.Property(gn.Box(-np.ones(12), np.ones(12)), stays_class(0, 2))
    with pytest.raises(InputError, match="ReLU"):
        gn.verify(net, prop, method="relu_split")


def test_softmax_network_refuses_value_properties_but_takes_comparisons():
    net = gn.Sequential(gn.Dense(3, 8, "relu"), gn.Dense(8, 3, "softmax"), seed=0)
    box = gn.Box(-np.ones(3), np.ones(3))
    at_most_half = gn.LinearConstraints([[1.0, 0.0, 0.0]], [0.5])  # y_0 <= 0.5
    with pytest.raises(InputError, match="logits"):
        gn.verify(net, gn.Property(box, at_most_half))
    sums = gn.LinearConstraints([[1.0, 1.0, -2.0]], [0.0])
    with pytest.raises(InputError, match="softmax"):
        gn.verify(net, gn.Property(box, sums))
    x = np.zeros(3)
    label = int(np.argmax(net.predict(x[None])[0]))
    result = gn.verify(net, gn.Property(gn.linf_ball(x, 0.01), stays_class(label, 3)))
    assert result.status in ("holds", "violated", "unknown")


@pytest.mark.parametrize("candidates", [1, 8])
def test_filtered_branching_splits_unstable_relus_and_agrees_with_milp(
    trained, monkeypatch, candidates
):
    from glassnet.verification import relu_split

    monkeypatch.setattr(relu_split, "CANDIDATES", candidates)
    chosen = []
    original = relu_split._filtered_choice

    def recording(vn, box, C, d, state, flat, offsets):
        choice = original(vn, box, C, d, state, flat, offsets)
        chosen.append(flat[np.arange(len(flat)), choice])
        return choice

    monkeypatch.setattr(relu_split, "_filtered_choice", recording)
    net, X = trained
    for box, c, best, threshold in cases(net, X, 8):
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        check(net, box, c, best, threshold, gn.verify(net, prop, workers=1))
    assert chosen  # branch and bound ran, and every split was of an unstable ReLU
    assert all(np.all(scores > 0) for scores in chosen)


def test_a_search_that_outgrows_its_memory_answers_unknown(trained):
    import time

    from glassnet.verification.network import read_network
    from glassnet.verification.relu_split import relu_split

    net, X = trained
    vn = read_network(net)
    for box, c, best, threshold in cases(net, X, 16):
        prop = gn.Property(box, gn.LinearConstraints([-c], [-threshold]))
        if best >= threshold or gn.verify(net, prop, workers=1).method != "bab":
            continue
        deadline = time.perf_counter() + 30.0
        status, _, bounds, _, n = relu_split(net, vn, prop, box, deadline)
        assert status == "holds" and np.all(bounds > 0)
        # room for no open subproblem: the first that stays open ends the search
        status, found, bounds, _, n_small = relu_split(
            net, vn, prop, box, deadline, max_bytes=0
        )
        assert status == "unknown" and found is None and n_small < n
        assert np.all(bounds <= 0)
        return
    pytest.fail("no case reached ReLU splitting")
