"""Data-parallel training on a Dask cluster: gradients on the workers, one step here.

The rows are split into blocks that stay on the workers (the row chunks of a Dask
array). For a loss that is a mean over rows, the full-batch gradient is the mean of the
blocks' gradients weighted by their rows:

    L = sum_b n_b L_b / n,    dL/dtheta = sum_b n_b dL_b/dtheta / n,    n = sum_b n_b

So each step sends the parameters theta to every worker, each worker computes (n_b,
L_b, dL_b/dtheta) on its blocks, and the client sums them in block order and takes one
optimizer step: full-batch gradient descent whose data never leaves the workers. Only
theta (out) and one gradient per block (back) cross the network, each of the size of
the model.

Needs ``dask[distributed]`` (the ``dask`` extra: ``pip install "glassnet[dask]"``),
imported inside the function. Block by block training (``partial_fit`` on each block in
turn, the model travelling to the data) is dask-ml's ``Incremental`` around
``glassnet.sklearn.MLPClassifier``; see docs/dask.md.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, InputTypeError
from ..nn.layers import Dropout
from ..nn.network import Sequential
from ..optim.base import Optimizer
from ..optim.registry import get_optimizer


def block_gradient(net: Sequential, theta: np.ndarray, X_b, y_b, loss):
    """(n_b, L_b, dL_b/dtheta) of one block at the parameters theta, on a copy of
    ``net`` (the workers share one ``net`` between their threads).

    Parameters
    ----------
    net : Sequential, the architecture (its own weights are not read).
    theta : (n_params,) the parameters to evaluate at.
    X_b : (n_b, in_features); y_b : the targets of those rows.

    Returns
    -------
    (n_b, L_b, g_b) with g_b of shape (n_params,), in the network's dtype.
    """
    local = net.copy()
    local.flat_params[...] = theta
    value, _ = local.loss_and_grad(X_b, y_b, loss=loss)
    return X_b.shape[0], value, local.flat_grads.copy()


def combine(parts) -> tuple[float, np.ndarray]:
    """The full-batch (L, dL/dtheta) from the blocks' (n_b, L_b, g_b), summed in the
    order given: L = sum_b n_b L_b / n, g = sum_b n_b g_b / n.

    Examples
    --------
    >>> parts = [(1, 2.0, np.array([1.0, 0.0])), (3, 6.0, np.array([5.0, 4.0]))]
    >>> combine(parts)  # L = (1*2 + 3*6)/4, g = (1*[1, 0] + 3*[5, 4])/4
    (5.0, array([4., 3.]))
    """
    n = sum(n_b for n_b, _, _ in parts)
    loss = sum(n_b * value for n_b, value, _ in parts) / n
    grad = np.zeros_like(parts[0][2])
    for n_b, _, g_b in parts:
        grad += (n_b / n) * g_b
    return float(loss), grad


def fit_data_parallel(
    net: Sequential,
    X,
    y,
    *,
    loss="mse",
    optimizer: str | Optimizer = "adam",
    steps: int = 100,
    client=None,
) -> list[float]:
    """Full-batch training of ``net`` in place on a Dask array spread over a cluster.

    Each step: theta goes to the workers, each block's (n_b, L_b, g_b) comes back
    (``block_gradient``), the client forms g = sum_b n_b g_b / n (``combine``) and
    the optimizer updates ``net.flat_params``. The same blocks give the same steps as
    running ``block_gradient`` on them here, in the same order.

    Parameters
    ----------
    net : Sequential without dropout (a mask drawn on a worker would not repeat).
    X : dask.array of shape (n, in_features), in row chunks (known sizes).
    y : dask.array of the targets, with the same row chunks as X.
    loss : a loss name or object, a mean over rows (all of glassnet's are).
    optimizer : a name or an ``Optimizer`` (its state carries over between calls).
    steps : number of full-batch steps (>= 1).
    client : a ``dask.distributed.Client``; the current one by default.

    Returns
    -------
    The loss L before each step, a list of ``steps`` floats.

    Examples
    --------
    On a cluster (see docs/dask.md)::

        client = Client("tcp://scheduler:8786")
        X = dask.array.from_array(X_train, chunks=(1000, -1))
        y = dask.array.from_array(y_train, chunks=(1000,))
        losses = fit_data_parallel(net, X, y, loss="cross_entropy",
                                   optimizer=gn.Adam(1e-2), steps=200)
    """
    import dask.array as da
    from dask.distributed import default_client

    X, y = _check_blocks(net, X, y, da, steps)
    opt = get_optimizer(optimizer)
    client = default_client() if client is None else client
    # Compute each block once on the workers; the futures keep them there. Empty
    # blocks (a filtered dataframe's partitions) add nothing to either sum.
    rows = np.asarray(X.chunks[0]) > 0
    X_blocks = client.compute(list(X.to_delayed().ravel()[rows]))
    y_blocks = client.compute(list(y.to_delayed().ravel()[rows]))
    architecture = client.scatter(net, broadcast=True)
    losses = []
    for _ in range(steps):
        theta = client.scatter(net.flat_params.copy(), broadcast=True)
        futures = [
            client.submit(
                block_gradient, architecture, theta, X_b, y_b, loss, pure=False
            )
            for X_b, y_b in zip(X_blocks, y_blocks, strict=True)
        ]
        value, grad = combine(client.gather(futures))
        losses.append(value)
        opt.step(net.flat_params, grad)
    return losses


def _check_blocks(net, X, y, da, steps):
    """X and y as Dask arrays with matching row chunks and one column chunk."""
    if not isinstance(net, Sequential):
        raise InputTypeError(
            f"net must be a glassnet Sequential, got {type(net).__name__}"
        )
    if any(isinstance(layer, Dropout) and layer.p > 0 for layer in net.layers):
        raise InputError(
            "fit_data_parallel does not train networks with dropout (each worker would "
            "draw its own masks); remove the Dropout layers or set p=0"
        )
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise InputError(f"steps must be an integer >= 1, got {steps!r}")
    for name, array in (("X", X), ("y", y)):
        if not isinstance(array, da.Array):
            raise InputTypeError(
                f"{name} must be a dask.array.Array (rows spread over the cluster), "
                f"got {type(array).__name__}; use dask.array.from_array or "
                "dask_dataframe.to_dask_array(lengths=True)"
            )
    if any(np.isnan(c) for c in X.chunks[0] + y.chunks[0]):
        raise InputError(
            "X and y have unknown chunk sizes; compute them first "
            "(dask_dataframe.to_dask_array(lengths=True))"
        )
    if X.ndim != 2 or X.shape[1] != net.in_features:
        raise InputError(
            f"X must have shape (n, {net.in_features}) for this network, got {X.shape}"
        )
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise InputError(
            f"y must have {X.shape[0]} rows like X (1-D or 2-D), got shape {y.shape}"
        )
    if X.shape[0] == 0:
        raise InputError("X has no rows: nothing to train on")
    if X.chunks[0] != y.chunks[0]:
        raise InputError(
            f"X and y must have the same row chunks, got {X.chunks[0]} and {y.chunks[0]}"
        )
    X = X.rechunk({1: -1})  # one block per row chunk: a whole row in each
    if y.ndim == 2:
        y = y.rechunk({1: -1})
    return X, y
