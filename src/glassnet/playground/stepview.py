"""Step mode that shows the step: one batch, and what it changed.

``step_with_view`` runs one batch of the session (the fit loop's step) and returns
what the page's step panel draws: the batch's loss and the training loss before and
after, the output heatmap before and after, and each parameter tensor's update
Δ = new − old with its largest entries. Every number is taken from the session's own
network just before and just after the step.

Examples
--------
>>> from glassnet.playground import Config, Session
>>> session = Session(Config(dataset="xor", hidden=[3], batch_size=5))
>>> view = step_with_view(session, resolution=8)
>>> view["batch_size"], len(view["before"]["output"]), [t["name"] for t in view["updates"]]
(5, 64, ['W1', 'b1', 'W2', 'b2'])
"""

from __future__ import annotations

import numpy as np

from .session import _grid

#: How many of each tensor's largest updates the panel lists.
TOP = 3


def step_with_view(session, resolution: int = 20, top: int = TOP) -> dict:
    """One batch of ``session`` with the state before and after it.

        Returns a dict: ``batch`` (the rows of the training split it used),
        ``batch_size``, ``epoch`` (the epoch the batch belongs to, from 1) and ``step``
    (the steps of the run, this one included), ``before`` and ``after`` (each
        with ``batch_loss``, ``train_loss`` and ``output``: the output on a resolution x
        resolution grid, laid out as the snapshot's), ``resolution``, and ``updates``:
        per tensor (W1, b1, W2, ...) its shape, Δ = new − old as a nested list, and the
        ``top`` entries of largest |Δ| (index, old, new, delta). When the step diverges
        (nothing changes) ``diverged`` holds the session's message and ``after`` is None.
    """
    with session.lock, np.errstate(over="ignore", invalid="ignore"):
        grid = session.grid_inputs(_grid(resolution))
        start = session._position
        batch = np.sort(
            session._order[start : start + session.config.batch_size]
        )  # the rows the step will take, as ``Session.step`` picks them
        old = _tensors(session.net)
        before = _state(session, grid, batch)
        epoch = session.epochs_done + 1  # the epoch this batch belongs to, from 1
        stepped = session.step()
        view = {
            "batch": batch.tolist(),
            "batch_size": int(len(batch)),
            "epoch": epoch,
            "step": session.steps_done,
            "resolution": resolution,
            "before": before,
            "after": None,
            "updates": [],
            "diverged": session.diverged,
        }
        if not stepped:
            return view
        view["after"] = _state(session, grid, batch)
        for name, value in _tensors(session.net).items():
            delta = value - old[name]
            order = np.argsort(-np.abs(delta), axis=None, kind="stable")[:top]
            view["updates"].append(
                {
                    "name": name,
                    "shape": list(delta.shape),
                    "delta": delta.tolist(),
                    "largest": [
                        {
                            "index": [int(i) for i in np.unravel_index(k, delta.shape)],
                            "old": float(old[name].flat[k]),
                            "new": float(value.flat[k]),
                            "delta": float(delta.flat[k]),
                        }
                        for k in order
                    ],
                }
            )
        return view


def _tensors(net) -> dict:
    """Copies of every parameter tensor, named as the page names them (W1, b1, ...)."""
    tensors = {}
    for i, layer in enumerate(net.layers, start=1):
        tensors[f"W{i}"] = layer.W.copy()
        tensors[f"b{i}"] = layer.b.copy()
    return tensors


def _state(session, grid, batch) -> dict:
    net, loss = session.net, session.loss
    return {
        "batch_loss": float(
            net.loss_value(
                session.F_train[batch], session.data.y_train[batch], loss=loss
            )
        ),
        "train_loss": session.loss_on("train"),
        "output": np.round(net.predict(grid)[:, 0], 4).tolist(),
    }
