"""The step view: one batch, with the losses, the boundary and every tensor's update
before and after, each equal to the same step taken by hand on a copy."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet.playground import Config, Session
from glassnet.playground.features import feature_matrix
from glassnet.playground.stepview import step_with_view
from glassnet.training.data import epoch_order


def _grid(n):
    centres = np.linspace(-6, 6, n + 1)
    centres = (centres[:-1] + centres[1:]) / 2
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_the_step_view_is_one_step_taken_by_hand(optimizer):
    config = Config(
        dataset="circle", n_samples=60, hidden=[3, 2], batch_size=6,
        optimizer=optimizer, features=["x1", "x2", "x1^2"], seed=2,
    )  # fmt: skip
    session = Session(config)
    session.epoch()
    net, opt = session.net.copy(), copy.deepcopy(session.optimizer)
    old = [(layer.W.copy(), layer.b.copy()) for layer in net.layers]
    n = len(session.F_train)
    batch = np.sort(epoch_order(2, 1, n)[:6])  # the first batch of the second epoch
    grid = feature_matrix(_grid(10), config.features)
    output_before = net.predict(grid)[:, 0]

    view = step_with_view(session, resolution=10)

    F, y = session.F_train[batch], session.data.y_train[batch]
    assert view["batch"] == batch.tolist() and view["batch_size"] == 6
    assert view["epoch"] == 2 and view["step"] == session.steps_done == 6
    assert view["before"]["batch_loss"] == net.loss_value(F, y, loss="bce")
    assert view["before"]["train_loss"] == net.loss_value(
        session.F_train, session.data.y_train, loss="bce"
    )
    np.testing.assert_allclose(view["before"]["output"], output_before, atol=5e-5)
    net.fit(F, y, epochs=1, batch_size=None, shuffle=False, optimizer=opt,
            loss="binary_crossentropy", verbose=0)  # fmt: skip
    np.testing.assert_array_equal(session.net.flat_params, net.flat_params)
    assert view["after"]["batch_loss"] == net.loss_value(F, y, loss="bce")
    np.testing.assert_allclose(
        view["after"]["output"], net.predict(grid)[:, 0], atol=5e-5
    )
    names = [t["name"] for t in view["updates"]]
    assert names == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for k, layer in enumerate(net.layers):
        for tensor, new, before in (
            (view["updates"][2 * k], layer.W, old[k][0]),
            (view["updates"][2 * k + 1], layer.b, old[k][1]),
        ):
            delta = new - before
            np.testing.assert_array_equal(np.array(tensor["delta"]), delta)
            largest = tensor["largest"]
            assert len(largest) == min(3, delta.size)
            sizes = [abs(e["delta"]) for e in largest]
            assert sizes == sorted(np.abs(delta).ravel(), reverse=True)[: len(sizes)]
            for entry in largest:
                i = tuple(entry["index"])
                assert entry["old"] == before[i] and entry["new"] == new[i]
                assert entry["delta"] == delta[i]


def test_a_diverging_step_shows_no_after_and_keeps_the_weights():
    session = Session(
        Config(dataset="plane", hidden=[4], activations=["identity"], lr=1e6)
    )
    kept = session.net.flat_params.copy()
    for _ in range(50):  # steps: a bound; lr 1e6 makes the loss overflow quickly
        view = step_with_view(session, resolution=4)
        if view["diverged"]:
            break
        kept = session.net.flat_params.copy()
    assert view["diverged"] and view["after"] is None and view["updates"] == []
    np.testing.assert_array_equal(session.net.flat_params, kept)
