"""glassnet on a Dask cluster: grid searches through joblib's "dask" backend, dask-ml's
Incremental training block by block, and data-parallel full-batch steps.

One LocalCluster with two worker processes serves the whole module: the estimators,
networks and blocks really are pickled to other processes and back. Each result is
checked against the same computation run here, in this process.
"""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip(
    "dask.distributed", reason="dask[distributed] is not installed (the `dask` extra)"
)
dask_ml_wrappers = pytest.importorskip(
    "dask_ml.wrappers", reason="dask-ml is not installed (the `dask` extra)"
)
pd = pytest.importorskip("pandas", reason="pandas is not installed (the `data` extra)")

import dask.array as da  # noqa: E402  (after the skips above)
import dask.dataframe as dd  # noqa: E402
import joblib  # noqa: E402
from glassnet.sklearn import MLPClassifier  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.errors import InputError  # noqa: E402
from glassnet.interop.dask_train import (  # noqa: E402
    block_gradient,
    combine,
    fit_data_parallel,
)
from glassnet.nn.layers import Dense, Dropout  # noqa: E402
from glassnet.nn.network import Sequential  # noqa: E402

CLASSES = np.arange(10)


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, closed when the module ends."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,  # no web server (nor its "port in use" warning)
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _standardised(X_train, X_test):
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    X_train, X_test = _standardised(X_train, X_test)
    return X_train, X_test, y_train, y_test


def _workers_that_ran(stream, key_prefix: str = "") -> set[str]:
    return {
        task["worker"] for task in stream.data if str(task["key"]).find(key_prefix) >= 0
    }


# The candidates stop at max_iter on purpose (short runs), so each fit warns
# ConvergenceWarning; scikit-learn carries this filter to the workers' fits too.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_the_cluster_equals_the_local_search(client, digits):
    X, _, y, _ = digits
    X, y = X[:450], y[:450]
    grid = {"hidden_layer_sizes": [(8,), (24,)], "alpha": [1e-4, 1.0]}
    model = MLPClassifier(
        max_iter=5, batch_size=64, learning_rate_init=1e-2, random_state=3
    )
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(model, grid, cv=3, n_jobs=-1).fit(X, y)
    local = GridSearchCV(model, grid, cv=3, n_jobs=1).fit(X, y)

    assert _workers_that_ran(stream) == set(client.scheduler_info()["workers"])
    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", *(f"split{i}_test_score" for i in range(3))):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    # The candidates differ, so equal scores are not equal by accident.
    assert len(set(local.cv_results_["mean_test_score"])) == 4
    assert local.best_score_ > 0.8  # 10 classes: chance is 0.1


def _incremental_on(client, X, y, *, random_state, epochs=4, block_order=None):
    model = MLPClassifier(
        hidden_layer_sizes=(32,),
        batch_size=32,
        learning_rate_init=1e-2,
        random_state=random_state,
    )
    # By default the blocks in their order, so the run can be repeated here; with
    # block_order, in an order shuffled with that seed.
    incremental = dask_ml_wrappers.Incremental(
        model, shuffle_blocks=block_order is not None, random_state=block_order
    )
    for _ in range(epochs):
        incremental.partial_fit(X, y, classes=CLASSES)
    return incremental


@pytest.fixture(scope="module")
def frames(digits):
    """The training digits as a Dask dataframe and series in 4 partitions."""
    X_train, _, y_train, _ = digits
    columns = [f"pixel{i}" for i in range(X_train.shape[1])]
    X = dd.from_pandas(pd.DataFrame(X_train, columns=columns), npartitions=4)
    y = dd.from_pandas(pd.Series(y_train, name="digit"), npartitions=4)
    return X, y, columns


@pytest.fixture(scope="module")
def incremental_run(client, frames):
    X, y, _ = frames
    with distributed.get_task_stream(client) as stream:
        incremental = _incremental_on(client, X, y, random_state=0)
    return incremental, stream


def test_incremental_on_a_dask_dataframe_learns_digits(incremental_run, digits, frames):
    incremental, stream = incremental_run
    estimator = incremental.estimator_
    _, X_test, _, y_test = digits
    assert _workers_that_ran(stream, "fit-")  # partial_fit ran on the workers
    assert estimator.n_iter_ == 4 * 4  # one per block per epoch
    test_frame = pd.DataFrame(X_test, columns=frames[2])
    # Prediction on a Dask dataframe: block by block on the workers.
    predicted = incremental.predict(dd.from_pandas(test_frame, npartitions=3)).compute()
    np.testing.assert_array_equal(predicted, estimator.predict(test_frame))
    accuracy = np.mean(predicted == y_test)
    assert accuracy > 0.93  # 10 classes: chance is 0.1; seeds 0-3 reach 0.95-0.97


def test_incremental_equals_partial_fit_on_the_same_blocks_here(
    incremental_run, frames
):
    estimator = incremental_run[0].estimator_
    X, y, _ = frames
    blocks = [
        (X.get_partition(i).compute(), y.get_partition(i).compute())
        for i in range(X.npartitions)
    ]
    here = MLPClassifier(
        hidden_layer_sizes=(32,), batch_size=32, learning_rate_init=1e-2, random_state=0
    )
    for _ in range(4):
        for X_b, y_b in blocks:
            here.partial_fit(X_b, y_b, classes=CLASSES)
    np.testing.assert_array_equal(estimator.net_.flat_params, here.net_.flat_params)
    assert estimator.loss_curve_ == here.loss_curve_


def test_incremental_same_seed_same_weights_other_seed_other_weights(
    client, incremental_run, frames
):
    estimator = incremental_run[0].estimator_
    X, y, _ = frames
    lengths = tuple(len(X.get_partition(i)) for i in range(X.npartitions))
    # The same rows as a Dask array in the same blocks (no feature names this time).
    X_array = da.from_array(X.compute().to_numpy(), chunks=(lengths, -1))
    y_array = da.from_array(y.compute().to_numpy(), chunks=(lengths,))
    again = _incremental_on(client, X_array, y_array, random_state=0).estimator_
    other = _incremental_on(client, X_array, y_array, random_state=1).estimator_
    np.testing.assert_array_equal(again.net_.flat_params, estimator.net_.flat_params)
    assert not np.array_equal(other.net_.flat_params, estimator.net_.flat_params)

    # Shuffled blocks: the same two seeds, the same weights.
    shuffled = [
        _incremental_on(client, X, y, random_state=0, epochs=1, block_order=5)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(
        *(run.estimator_.net_.flat_params for run in shuffled)
    )


# Data-parallel full-batch steps ---------------------------------------------------


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, random_state=0, stratify=y
    )
    X_train, X_test = _standardised(X_train, X_test)
    return X_train, X_test, y_train, y_test


def _cancer_net():
    return Sequential(
        Dense(30, 16, "relu"), Dense(16, 1, "sigmoid"), seed=0, dtype=np.float64
    )


def test_combined_block_gradients_are_the_full_batch_gradient(cancer):
    X, _, y, _ = cancer
    net = _cancer_net()
    blocks = [slice(0, 50), slice(50, 200), slice(200, len(y))]  # unequal sizes
    parts = [
        block_gradient(net, net.flat_params, X[b], y[b], "binary_cross_entropy")
        for b in blocks
    ]
    loss, grad = combine(parts)
    full_loss, _ = net.loss_and_grad(X, y, loss="binary_cross_entropy")
    np.testing.assert_allclose(loss, full_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, net.flat_grads, rtol=1e-11, atol=1e-15)


def test_data_parallel_steps_learn_and_equal_the_steps_here(client, cancer):
    X_train, X_test, y_train, y_test = cancer
    chunks = (100, 100, 0, 100, len(y_train) - 300)  # an empty block adds nothing
    X = da.from_array(X_train, chunks=(chunks, -1))
    y = da.from_array(y_train, chunks=(chunks,))
    net, here = _cancer_net(), _cancer_net()
    with distributed.get_task_stream(client) as stream:
        losses = fit_data_parallel(
            net, X, y, loss="binary_cross_entropy", optimizer=gn.Adam(1e-2), steps=25
        )
    # The gradients ran where the blocks are (which worker holds which is the
    # scheduler's choice).
    ran = _workers_that_ran(stream, "block_gradient")
    assert ran and ran <= set(client.scheduler_info()["workers"])

    optimizer, edges = gn.Adam(1e-2), np.cumsum((0, *chunks))
    for step in range(25):
        parts = [
            block_gradient(
                here,
                here.flat_params,
                X_train[lo:hi],
                y_train[lo:hi],
                "binary_cross_entropy",
            )
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
            if hi > lo
        ]
        loss, grad = combine(parts)
        assert loss == losses[step]
        optimizer.step(here.flat_params, grad)
    np.testing.assert_array_equal(net.flat_params, here.flat_params)

    assert losses[-1] < 0.5 * losses[0]
    accuracy = ((net.predict(X_test)[:, 0] > 0.5) == y_test).mean()
    assert accuracy > 0.93  # 63% are benign: always guessing it scores 0.63


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("numpy", "must be a dask.array.Array"),
        ("features", r"shape \(n, 30\)"),
        ("chunks", "same row chunks"),
        ("unknown", "unknown chunk sizes"),
        ("empty", "no rows"),
        ("steps", "steps must be an integer >= 1"),
        ("dropout", "dropout"),
    ],
)
def test_data_parallel_refuses_bad_input(cancer, change, message):
    X_train, _, y_train, _ = cancer
    net = _cancer_net()
    X = da.from_array(X_train, chunks=(100, -1))
    y = da.from_array(y_train, chunks=(100,))
    steps = 1
    if change == "numpy":
        X = X_train
    elif change == "features":
        X = X[:, :10]
    elif change == "chunks":
        y = y.rechunk(50)
    elif change == "unknown":
        X = X[X[:, 0] > -100.0]  # a boolean mask leaves the chunk sizes unknown
    elif change == "empty":
        X, y = X[:0], y[:0]
    elif change == "steps":
        steps = 0
    else:
        net = Sequential(
            Dense(30, 16, "relu"), Dropout(0.5), Dense(16, 1, "sigmoid"), seed=0
        )
    with pytest.raises(InputError, match=message):
        fit_data_parallel(net, X, y, loss="binary_cross_entropy", steps=steps)
