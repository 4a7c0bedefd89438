"""The playground's training state: it learns, its clicked-point math is explain's on
the same weights, and a diverging run keeps its last good weights."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputError
from glassnet.playground import Config, Session
from glassnet.playground.datasets2d import DATASETS, make_dataset
from glassnet.playground.features import FEATURES, feature_matrix


@pytest.mark.parametrize("dataset", ["xor", "circle"])
def test_it_learns_xor_and_circle_to_95_percent_on_test_points(dataset):
    session = Session(
        Config(dataset=dataset, hidden=[8, 8], optimizer="adam", lr=0.03, seed=1)
    )
    for _ in range(40):  # epochs: a bound, not a time
        session.epoch()
        if session.accuracy("test") >= 0.95:
            break
    assert session.accuracy("test") >= 0.95
    # the accuracy, counted again from the network's own predictions
    F = session.F_test
    predicted = session.net.predict(F)[:, 0] > 0.5
    assert np.mean(predicted == session.data.y_test) >= 0.95


def test_an_epoch_is_every_training_point_once_in_batches():
    session = Session(Config(dataset="moons", n_samples=100, ratio=0.5, batch_size=8))
    session.epoch()
    assert session.epochs_done == 1 and session.steps_done == 7  # ceil(50 / 8)
    assert len(session.history["train_loss"]) == len(session.history["test_loss"]) == 1
    loss = session.history["train_loss"][0]
    assert loss == pytest.approx(
        session.net.loss_value(session.F_train, session.data.y_train, "bce")
    )


def test_a_step_is_the_fit_loops_step():
    """One playground epoch with batch = all points equals one epoch of fit without
    shuffling on a copy of the same network and optimizer."""
    config = Config(dataset="gaussians", n_samples=40, hidden=[3], optimizer="adam")
    config.batch_size = 20
    session = Session(config)
    net, optimizer = session.net.copy(), copy.deepcopy(session.optimizer)
    F = session.F_train[session._order]
    y = session.data.y_train[session._order]
    session.epoch()
    net.fit(F, y, epochs=1, batch_size=20, shuffle=False, optimizer=optimizer,
            loss="binary_crossentropy", verbose=0)  # fmt: skip
    np.testing.assert_array_equal(session.net.flat_params, net.flat_params)


@pytest.mark.parametrize("regularization", ["l1", "l2"])
def test_regularisation_is_the_optimizers_own(regularization):
    config = Config(dataset="xor", n_samples=40, hidden=[4], optimizer="adam",
                    regularization=regularization, reg_rate=0.05, batch_size=20)  # fmt: skip
    session = Session(config)
    option = "l1" if regularization == "l1" else "weight_decay"
    assert getattr(session.optimizer, option) == 0.05
    net, optimizer = session.net.copy(), copy.deepcopy(session.optimizer)
    plain = Session(dataclasses.replace(config, regularization="none"))
    F = session.F_train[session._order]
    y = session.data.y_train[session._order]
    session.epoch()
    plain.epoch()
    net.fit(F, y, epochs=1, batch_size=20, shuffle=False, optimizer=optimizer,
            loss="binary_crossentropy", verbose=0)  # fmt: skip
    np.testing.assert_array_equal(session.net.flat_params, net.flat_params)
    assert not np.array_equal(session.net.flat_params, plain.net.flat_params)


def _by_hand(session, x, y):
    """The output and binary cross-entropy of one point, from the weights in numpy."""
    a = x
    acts = session.config.activations + ["sigmoid"]
    fns = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
           "sigmoid": lambda z: 1 / (1 + np.exp(-z))}  # fmt: skip
    for layer, act in zip(session.net.layers, acts, strict=True):
        a = fns[act](layer.W @ a + layer.b)
    p = a[0]
    return p, -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_the_clicked_points_math_is_explains_on_the_same_state():
    config = Config(
        dataset="circle", features=["x1", "x1^2", "sin(x2)", "x2^2"], hidden=[4, 3],
        activations=["tanh", "relu"], optimizer="adam", lr=0.01, seed=3,
    )  # fmt: skip
    session = Session(config)
    for _ in range(3):
        session.epoch()
    index = 7
    trace = session.explain_point("train", index)
    x1, x2 = session.data.X_train[index]
    x = np.array([x1, x1**2, np.sin(x2), x2**2])
    y = session.data.y_train[index]
    np.testing.assert_allclose(trace["x"].ravel(), x, rtol=1e-15)
    expected = gn.explain(
        session.net, x, y, loss="binary_crossentropy",
        optimizer=copy.deepcopy(session.optimizer), steps=1,
    )  # fmt: skip
    assert trace.loss_value == expected.loss_value
    assert trace.optimizer["losses"] == expected.optimizer["losses"]
    np.testing.assert_array_equal(
        trace.optimizer["params"], expected.optimizer["params"]
    )
    p, loss = _by_hand(session, x, y)
    assert float(trace["3.a"].ravel()[0]) == pytest.approx(p, rel=1e-12)
    assert trace.loss_value == pytest.approx(loss, rel=1e-9)
    # Adam's step carries the run's state: t is the run's step count plus one
    assert trace.optimizer["state"]["t"] == session.steps_done + 1
    # and the explained step leaves the run as it was
    assert session.optimizer.t == session.steps_done


def test_divergence_stops_with_the_last_good_weights_and_says_what_to_try():
    session = Session(
        Config(dataset="plane", hidden=[4], activations=["identity"], lr=1e6)
    )
    for _ in range(50):
        before = session.net.flat_params.copy()
        state = copy.deepcopy(session.optimizer.state_dict())
        if not session.step():
            break
    assert session.diverged is not None
    assert (
        "diverged" in session.diverged and "smaller learning rate" in session.diverged
    )
    np.testing.assert_array_equal(session.net.flat_params, before)
    assert np.isfinite(session.net.flat_params).all()
    assert session.optimizer.state_dict().keys() == state.keys()
    assert not session.step()  # stays stopped until reset
    np.testing.assert_array_equal(session.net.flat_params, before)
    session.reset()
    assert session.diverged is None and session.step()


def test_snapshot_heatmaps_are_the_networks_outputs_on_the_grid():
    session = Session(Config(dataset="xor", hidden=[2], features=["x1", "x1x2"]))
    session.epoch()
    snap = session.snapshot(resolution=4, neuron_resolution=2)
    centres = np.array([-4.5, -1.5, 1.5, 4.5])
    x1, x2 = np.meshgrid(centres, centres[::-1])
    P = np.stack([x1.ravel(), x2.ravel()], axis=1)
    F = np.stack([P[:, 0], P[:, 0] * P[:, 1]], axis=1)
    np.testing.assert_allclose(snap["output"], session.net.predict(F)[:, 0], atol=5e-5)
    assert len(snap["neurons"]) == 3 and len(snap["neurons"][1]) == 2


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_is_seeded_and_inside_the_drawn_square(name):
    a = make_dataset(name, n_samples=200, noise=0.2, ratio=0.7, seed=5)
    b = make_dataset(name, n_samples=200, noise=0.2, ratio=0.7, seed=5)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert len(a.X_train) == 140 and len(a.X_test) == 60
    assert np.abs(a.X_train).max() < 9
    if a.task == "classification":
        assert set(np.unique(a.y_train)) == {0, 1}
    else:
        assert np.abs(a.y_train).max() <= 1.0


def test_circle_labels_follow_the_radius_without_noise():
    data = make_dataset("circle", n_samples=300, noise=0.0, seed=0)
    radius = np.hypot(data.X_train[:, 0], data.X_train[:, 1])
    assert (radius[data.y_train == 1] <= 2.5).all()
    assert (radius[data.y_train == 0] >= 3.5).all()


def test_features_are_their_formulas():
    rng = np.random.default_rng(0)
    P = rng.uniform(-6, 6, (10, 2))
    F = feature_matrix(P, list(FEATURES))
    x1, x2 = P[:, 0], P[:, 1]
    expected = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], 1)
    np.testing.assert_array_equal(F, expected)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"hidden": [0], "activations": ["tanh"]}, "from 1 to 256"),
        ({"lr": float("inf")}, "finite"),
        ({"batch_size": 0}, "batch_size"),
        ({"dataset": "plane", "loss": "binary_crossentropy"}, "loss for regression"),
        ({"features": []}, "at least one"),
        ({"features": ["x1", "x1"]}, "repeat"),
        ({"noise": 2}, "noise"),
        ({"ratio": 0}, "ratio"),
    ],
)
def test_a_bad_configuration_names_the_setting(change, words):
    with pytest.raises(InputError, match=words):
        Config.from_dict({**Config().to_dict(), **change})


def test_the_users_table_is_drawn_scaled_and_trained(tmp_path):
    from glassnet.playground.datasets2d import read_user_data

    rng = np.random.default_rng(0)
    a, b = rng.uniform(10, 20, 80), rng.uniform(-3, 1, 80)
    label = np.where(a - 15 > b + 1, "yes", "no")
    path = tmp_path / "mine.csv"
    lines = ["b,a,extra,label"] + [
        f"{bi},{ai},{i},{li}"
        for i, (ai, bi, li) in enumerate(zip(a, b, label, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")
    user = read_user_data(path, "label", ["a", "b"])
    assert user.task == "classification" and user.classes == ["no", "yes"]
    np.testing.assert_allclose(user.points[:, 0], (a - a.min()) / np.ptp(a) * 10 - 5)
    np.testing.assert_allclose(user.points[:, 1], (b - b.min()) / np.ptp(b) * 10 - 5)
    np.testing.assert_array_equal(user.targets, label == "yes")
    session = Session(Config(dataset="user", ratio=1.0), user)
    assert len(session.F_train) == 80 and session.config.loss == "binary_crossentropy"
    session.epoch()
    assert session.epochs_done == 1
    with pytest.raises(InputError, match="dataset must be one of"):
        Session(Config(dataset="user"))


def test_a_users_extra_numeric_columns_are_inputs_held_at_their_mean(tmp_path):
    from glassnet.playground.datasets2d import read_user_data

    rng = np.random.default_rng(1)
    n = 120
    a, b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)  # drawn, and only noise
    c, d = rng.normal(3, 2, n), rng.integers(0, 5, n)  # inputs, not drawn
    label = (c > 3).astype(int)  # depends on an undrawn column only
    path = tmp_path / "wide.csv"
    lines = ["a,c,b,name,d,label"] + [
        f"{a[i]},{c[i]},{b[i]},row{i},{d[i]},{label[i]}" for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    user = read_user_data(path, "label", ["a", "b"])
    assert user.columns == ["a", "b"] and user.extra_columns == ["c", "d"]
    np.testing.assert_allclose(user.extra[:, 0], (c - c.mean()) / c.std())
    np.testing.assert_allclose(user.extra[:, 1], (d - d.mean()) / d.std())
    config = Config(dataset="user", hidden=[3], optimizer="adam", lr=0.05,
                    features=["x1", "x2^2"], seed=2)  # fmt: skip
    session = Session(config, user)
    # inputs: the two features of the drawn point, then c and d standardised
    assert session.net.layers[0].W.shape == (3, 4)
    rows = [int(np.flatnonzero(np.isclose(user.points[:, 0], x1))[0])
            for x1 in session.data.X_train[:, 0]]  # fmt: skip
    np.testing.assert_allclose(session.F_train[:, 2:], user.extra[rows])
    np.testing.assert_allclose(session.F_train[:, 1], session.data.X_train[:, 1] ** 2)
    for _ in range(60):  # epochs: a bound, not a time
        session.epoch()
        if session.accuracy("train") >= 0.95:
            break
    assert session.accuracy("train") >= 0.95  # learnt from c: the drawn a, b are noise
    # the heatmap: the network over the drawn square with c and d at their mean
    snapshot = session.snapshot(resolution=8)
    assert snapshot["extra_inputs"] == ["c", "d"]
    centres = np.linspace(-6, 6, 17)[1::2]
    g1, g2 = np.meshgrid(centres, centres[::-1])
    grid = np.column_stack([g1.ravel(), g2.ravel() ** 2])
    means = np.broadcast_to(user.extra.mean(axis=0), (64, 2))
    expected = session.net.predict(np.hstack([grid, means]))[:, 0]
    np.testing.assert_allclose(snapshot["output"], expected, atol=1e-4)


def test_a_users_table_with_three_classes_is_refused(tmp_path):
    from glassnet.data.errors import DataError
    from glassnet.playground.datasets2d import read_user_data

    path = tmp_path / "three.csv"
    path.write_text("a,b,y\n1,2,0\n2,3,1\n3,1,2\n")
    with pytest.raises(DataError, match="3 classes"):
        read_user_data(path, "y")


def test_the_gradient_view_is_the_full_batch_gradient_by_finite_differences():
    session = Session(Config(dataset="moons", n_samples=60, hidden=[3], seed=2))
    session.epoch()
    grads = session.gradients()
    F, y = session.F_train, session.data.y_train
    layer = session.net.layers[0]
    h = 1e-6
    for i, j in [(0, 0), (2, 1)]:
        w = layer.W[i, j]
        layer.W[i, j] = w + h
        up = session.net.loss_value(F, y, "binary_crossentropy")
        layer.W[i, j] = w - h
        down = session.net.loss_value(F, y, "binary_crossentropy")
        layer.W[i, j] = w
        assert grads[0]["W"][i][j] == pytest.approx((up - down) / (2 * h), abs=1e-7)


def test_dead_relu_units_are_marked():
    session = Session(
        Config(dataset="circle", n_samples=60, hidden=[4], activations=["relu"])
    )
    session.net.layers[0].b[1] = -1000.0  # unit 2 is below zero everywhere
    dead = session.dead_units()
    Z = session.F_train @ session.net.layers[0].W.T + session.net.layers[0].b
    assert dead == [list((Z <= 0).all(axis=0))]
    assert dead[0][1] is True
    assert session.snapshot(resolution=2, neuron_resolution=2)["dead"] == dead


def test_an_edited_weight_is_the_networks_and_its_math_follows():
    session = Session(Config(dataset="xor", hidden=[3], optimizer="adam"))
    session.epoch()
    old = session.net.layers[0].W[1, 0]
    assert session.set_weight(1, "W", 2, 1, 0.25) == old
    assert session.net.layers[0].W[1, 0] == 0.25
    session.set_weight(2, "b", 1, None, -1.5)
    assert session.net.layers[1].b[0] == -1.5
    # the clicked point's math is explain's on the edited network
    x, y = session.F_train[0], session.data.y_train[0]
    expected = gn.explain(session.net.copy(), x, y, loss="binary_crossentropy")
    assert session.explain_point("train", 0).loss_value == expected.loss_value
    # the next step starts from the edited weight: the same step on a copy agrees
    net, opt = session.net.copy(), copy.deepcopy(session.optimizer)
    batch = np.sort(session._order[: session.config.batch_size])
    F, Y = session.F_train[batch], session.data.y_train[batch]
    net.fit(F, Y, epochs=1, batch_size=None, shuffle=False, optimizer=opt,
            loss="binary_crossentropy", verbose=0)  # fmt: skip
    session.step()
    np.testing.assert_array_equal(session.net.flat_params, net.flat_params)


@pytest.mark.parametrize(
    "args, words",
    [
        ((1, "W", 1, 1, float("nan")), "finite"),
        ((1, "W", 1, 1, float("inf")), "finite"),
        ((1, "W", 1, 1, "2"), "finite"),
        ((3, "W", 1, 1, 1.0), "layer"),
        ((1, "V", 1, 1, 1.0), "'W' or 'b'"),
        ((1, "W", 4, 1, 1.0), "row"),
        ((1, "W", 1, 3, 1.0), "col"),
    ],
)
def test_a_bad_weight_edit_names_what_was_wrong_and_changes_nothing(args, words):
    session = Session(Config(dataset="xor", hidden=[3]))
    before = session.net.flat_params.copy()
    with pytest.raises(InputError, match=words):
        session.set_weight(*args)
    np.testing.assert_array_equal(session.net.flat_params, before)
