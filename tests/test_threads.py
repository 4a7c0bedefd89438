"""Threads on one network: inference from many threads gives exactly the numbers of
one thread; fit beside any other use of the network is refused."""

import threading

import numpy as np
import pytest

import glassnet as gn
from glassnet import ConcurrentUseError

THREADS = 8


def _net(seed=0):
    return gn.Sequential(
        gn.Dense(6, 32, "relu"),
        gn.Dense(32, 16, "tanh"),
        gn.Dropout(0.2),
        gn.Dense(16, 3, "softmax"),
        dtype="float64",
        seed=seed,
    )


def _run_threads(work):
    """Run work(i) in THREADS threads started together; re-raise the first error."""
    errors = []
    start = threading.Barrier(THREADS)

    def body(i):
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def test_predict_evaluate_from_8_threads_equal_one_thread_regression():
    # Many short calls of varying batch sizes on one shared network: every result
    # must equal, bit for bit, the one computed before in a single thread.
    net = _net()
    rng = np.random.default_rng(1)
    cases = []
    for _ in range(24):
        n = int(rng.integers(1, 70))
        X = rng.normal(size=(n, 6))
        y = rng.integers(0, 3, size=n)
        batch = int(rng.integers(1, 40))
        cases.append((X, y, batch))
    reference = [
        (
            net.predict(X, batch_size=b),
            net.predict_proba(X, batch_size=b),
            net.evaluate(X, y, batch_size=b),
        )
        for X, y, b in cases
    ]
    wrong = []

    def work(i):
        order = np.random.default_rng(100 + i).permutation(len(cases))
        for _ in range(3):
            for k in order:
                X, y, b = cases[k]
                out, proba, scores = reference[k]
                if not np.array_equal(net.predict(X, batch_size=b), out):
                    wrong.append(("predict", k))
                if not np.array_equal(net.predict_proba(X, batch_size=b), proba):
                    wrong.append(("predict_proba", k))
                if net.evaluate(X, y, batch_size=b) != scores:
                    wrong.append(("evaluate", k))

    _run_threads(work)
    assert wrong == []


def _fit_args():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(64, 6))
    y = rng.integers(0, 3, size=64)
    return X, y, dict(epochs=3, batch_size=16, seed=5, verbose=0)


def test_fit_with_predict_in_another_thread_is_refused_regression():
    # While fit runs in one thread, predict and evaluate in another raise a clear
    # error, and the weights after fit equal those of the same fit run alone.
    X, y, settings = _fit_args()
    alone = _net(seed=3)
    alone.fit(X, y, **settings)

    net = _net(seed=3)
    in_fit, checked = threading.Event(), threading.Event()

    class Pause(gn.training.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                in_fit.set()
                checked.wait(30)

    errors = []

    def other():
        in_fit.wait(30)
        for call in (lambda: net.predict(X), lambda: net.evaluate(X, y)):
            try:
                call()
            except ConcurrentUseError as exc:
                errors.append(str(exc))
        checked.set()

    helper = threading.Thread(target=other)
    helper.start()
    net.fit(X, y, callbacks=[Pause()], **settings)
    helper.join()
    assert len(errors) == 2
    assert all("being fitted in another thread" in e for e in errors)
    np.testing.assert_array_equal(net.flat_params, alone.flat_params)


def test_fit_while_another_thread_predicts_is_refused():
    X, y, settings = _fit_args()
    net = _net(seed=3)
    before = net.flat_params.copy()
    entered, release = threading.Event(), threading.Event()

    class SlowRows:
        """Rows that pause in the middle of predict, so that fit comes meanwhile."""

        shape, dtype, ndim = X.shape, X.dtype, 2

        def __len__(self):
            return X.shape[0]

        def __getitem__(self, key):
            entered.set()
            release.wait(30)
            return X[key]

    result = {}
    helper = threading.Thread(
        target=lambda: result.setdefault("out", net.predict(SlowRows()))
    )
    helper.start()
    entered.wait(30)
    with pytest.raises(ConcurrentUseError, match="predicting or evaluating"):
        net.fit(X, y, **settings)
    release.set()
    helper.join()
    np.testing.assert_array_equal(net.flat_params, before)
    np.testing.assert_array_equal(result["out"], net.predict(X))
    net.fit(X, y, **settings)  # alone again: allowed


def test_fit_in_two_threads_is_refused_and_copies_train_apart():
    X, y, settings = _fit_args()
    net = _net(seed=3)
    in_fit, done = threading.Event(), threading.Event()

    class Pause(gn.training.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                in_fit.set()
                done.wait(30)

    caught = []

    def other():
        in_fit.wait(30)
        try:
            net.fit(X, y, **settings)
        except ConcurrentUseError as exc:
            caught.append(exc)
        net.copy().fit(X, y, **settings)  # a copy is a network of its own
        done.set()

    helper = threading.Thread(target=other)
    helper.start()
    net.fit(X, y, callbacks=[Pause()], **settings)
    helper.join()
    assert len(caught) == 1
