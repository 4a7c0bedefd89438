"""The fast training path computes the plain math.

fit reuses work arrays, gathers batches into kept arrays, fuses softmax with
cross-entropy, updates the flat buffer in place and picks BLAS threads per product.
Here a straightforward NumPy loop, written out below from the equations (a new array
for every operation, Adam per tensor exactly as in the paper), trains the same
network on the same batches; the weights must agree to float32 rounding (float64:
to 1e-12). Also: the reusing path gives bitwise the gradients of loss_and_grad, the
public forward still returns new arrays, memmaps, other dtypes and batch iterables
train to bitwise the same weights as an in-memory float32 array.

Threads: with the library at 2 BLAS threads (and the machine reported idle), fit's
rule runs the big products on 2 threads and the middle-sized ones on 1, read back
from the library during the run; the weights still agree with the reference run on 2
threads throughout, to rounding (thread counts may change the last bits, so not
bitwise). A fixed count is used for every product and the setting restored after.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import glassnet as gn
from glassnet._fast import threads


# -- the plain reference, written from the equations ----------------------------------
def relu(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def reference_fit(Ws, bs, X, y, *, epochs, batch, seed, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Minibatch Adam on an MLP with ReLU hidden layers and a softmax output,
    mean cross-entropy; batches as fit documents them (the permutation
    default_rng([seed, epoch]), each batch's indices sorted)."""
    Ws = [W.copy() for W in Ws]
    bs = [b.copy() for b in bs]
    params = [p for pair in zip(Ws, bs, strict=True) for p in pair]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    n, k = len(y), Ws[-1].shape[0]
    for epoch in range(epochs):
        order = np.random.default_rng([seed, epoch]).permutation(n)
        for lo in range(0, n, batch):
            idx = np.sort(order[lo : lo + batch])
            A = [X[idx]]
            Zs = []
            for layer, (W, b) in enumerate(zip(Ws, bs, strict=True)):
                Z = A[-1] @ W.T + b  # Z = A_prev W^T + b
                Zs.append(Z)
                A.append(softmax(Z) if layer == len(Ws) - 1 else relu(Z))
            Y = np.eye(k, dtype=X.dtype)[y[idx]]
            dZ = (A[-1] - Y) / len(idx)  # dL/dZ of softmax + mean cross-entropy
            grads = []
            for layer in range(len(Ws) - 1, -1, -1):
                grads = [dZ.T @ A[layer], dZ.sum(axis=0)] + grads  # dW, db
                if layer:
                    dZ = (dZ @ Ws[layer]) * (Zs[layer - 1] > 0)  # dA_prev * relu'
            t += 1
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                m_hat = m[i] / (1 - b1**t)
                v_hat = v[i] / (1 - b2**t)
                p -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return Ws, bs


def mlp(dtype, sizes=(20, 32, 16, 5), seed=3):
    layers = [
        gn.Dense(i, o, "relu") for i, o in zip(sizes[:-2], sizes[1:-1], strict=True)
    ]
    layers.append(gn.Dense(sizes[-2], sizes[-1], "softmax"))
    return gn.Sequential(*layers, dtype=dtype, seed=seed)


def problem(n=203, n_in=20, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    y = rng.integers(0, k, n)
    return X, y


@pytest.mark.parametrize(
    "dtype, rtol, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-5, 2e-6)]
)
def test_fit_matches_a_plain_numpy_adam_loop(dtype, rtol, atol):
    X, y = problem()
    X = X.astype(dtype)
    net = mlp(dtype)
    Ws = [layer.W.copy() for layer in net.layers]
    bs = [layer.b.copy() for layer in net.layers]
    # 203 rows in batches of 16: 12 full batches and a last one of 11 (two sizes of
    # kept work arrays), over 3 epochs: 39 Adam steps.
    net.fit(X, y, optimizer=gn.Adam(lr=1e-2), epochs=3, batch_size=16, seed=7,
            verbose=0)  # fmt: skip
    want_W, want_b = reference_fit(Ws, bs, X, y, epochs=3, batch=16, seed=7, lr=1e-2)
    for layer, W, b in zip(net.layers, want_W, want_b, strict=True):
        assert layer.W.dtype == np.dtype(dtype)
        np.testing.assert_allclose(layer.W, W, rtol=rtol, atol=atol)
        np.testing.assert_allclose(layer.b, b, rtol=rtol, atol=atol)
    moved = max(
        np.abs(layer.W - W0).max() for layer, W0 in zip(net.layers, Ws, strict=True)
    )
    assert moved > 0.05  # the weights really changed: the comparison is not vacuous


# -- the reusing path against the allocating one ----------------------------------------
CASES = [
    ("relu", "softmax", "cross_entropy"),
    ("tanh", "sigmoid", "binary_crossentropy"),
    ("sigmoid", "identity", "mse"),
    ("leaky_relu", "softmax", "mse"),
    ("elu", "tanh", "mse"),
]


@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_reusing_path_gives_bitwise_the_gradients_of_loss_and_grad(
    hidden, output, loss
):
    rng = np.random.default_rng(1)
    k = 1 if loss == "binary_crossentropy" else 3
    net = gn.Sequential(
        gn.Dense(4, 6, hidden), gn.Dense(6, 5), gn.ReLU(), gn.Dense(5, k, output),
        dtype="float64", seed=2,
    )  # fmt: skip
    for n in (7, 3, 7):  # kept arrays for two batch sizes, used again
        X = rng.standard_normal((n, 4))
        y = rng.integers(0, 2, n) if k == 1 else rng.random((n, k))
        if loss == "cross_entropy":
            y = rng.integers(0, k, n)
        want_value, want = net.loss_and_grad(X, y, loss=loss)
        Y = net.prepare_targets(y, gn.get_loss(loss))
        A = net._forward(X, training=True, reuse=True)
        value = net._backward(gn.get_loss(loss), A, Y, reuse=True)
        assert value == want_value
        for layer, grads in zip(net.layers, want, strict=True):
            for name, g in grads.items():
                np.testing.assert_array_equal(layer.grads[name], g)


def test_public_forward_returns_new_arrays_even_after_fit():
    X, y = problem(n=40)
    net = mlp("float64")
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)  # fills the kept arrays
    first = net.forward(X[:8])
    kept = first.copy()
    net.forward(X[8:16])
    net.predict(X[16:24], batch_size=8)
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(first, kept)
    cache = net.forward(X[:8], return_all=True)
    again = net.forward(X[8:16], return_all=True)
    assert all(a["A"] is not b["A"] for a, b in zip(cache, again, strict=True))


def test_predict_in_batches_equals_one_forward_pass():
    X, _ = problem(n=50)
    net = mlp("float64")
    np.testing.assert_array_equal(net.predict(X, batch_size=16), net.forward(X))


def test_a_memmap_trains_to_bitwise_the_weights_of_the_array(tmp_path):
    X, y = problem(n=100)
    X = X.astype(np.float32)
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    X_disk = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    a, b = mlp("float32"), mlp("float32")
    a.fit(X, y, epochs=2, batch_size=16, verbose=0)
    b.fit(X_disk, y, epochs=2, batch_size=16, verbose=0)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    del X_disk, mm


def test_float64_data_is_converted_batch_by_batch_to_the_same_weights():
    X, y = problem(n=100)
    a, b = mlp("float32"), mlp("float32")
    a.fit(X.astype(np.float32), y, epochs=2, batch_size=16, verbose=0)
    b.fit(X, y, epochs=2, batch_size=16, verbose=0)  # float64 X, float32 network
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


def test_an_iterable_of_batches_trains_like_the_array_in_order():
    X, y = problem(n=96)
    X = X.astype(np.float32)
    a, b = mlp("float32"), mlp("float32")
    a.fit(X, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    batches = [(X[lo : lo + 32], y[lo : lo + 32]) for lo in range(0, 96, 32)]
    b.fit(batches, epochs=2, verbose=0)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)


def test_training_metrics_see_every_batch_not_the_last_kept_array():
    """Outputs and targets of each step are copied before the next step reuses the
    kept arrays: the epoch's accuracy equals one computed from the right pairs."""
    X, y = problem(n=64)
    net = mlp("float64")
    history = net.fit(
        X, y, epochs=1, batch_size=16, metrics=["accuracy"], verbose=0,
        optimizer=gn.SGD(lr=1e-12),  # outputs before each update: the start's
    )  # fmt: skip
    want = (net.predict(X).argmax(axis=1) == y).mean()
    assert history.history["accuracy"][0] == pytest.approx(want)


class Cube(gn.Activation):
    """A user's activation written without ``out``: still trained correctly."""

    name = "cube"

    def forward(self, Z):
        return Z**3

    def derivative(self, Z, A):
        return 3 * Z**2


def test_custom_activation_without_out_trains_like_loss_and_grad():
    X, y = problem(n=8, n_in=3)
    net = gn.Sequential(gn.Dense(3, 4, Cube()), gn.Dense(4, 5, "softmax"),
                        dtype="float64", seed=0)  # fmt: skip
    manual = net.copy()
    net.fit(X, y, optimizer=gn.SGD(lr=0.1), epochs=1, batch_size=None,
            shuffle=False, verbose=0)  # fmt: skip
    manual.loss_and_grad(X, y, loss="cross_entropy")
    manual.flat_params -= 0.1 * manual.flat_grads
    np.testing.assert_array_equal(net.flat_params, manual.flat_params)


def test_work_arrays_are_not_pickled():
    X, y = problem(n=16)
    net = mlp("float32")
    net.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert net.layers[0]._work  # kept after fit
    clone = pickle.loads(pickle.dumps(net))
    assert clone.layers[0]._work == {}
    np.testing.assert_array_equal(clone.predict(X), net.predict(X))


# -- threads -----------------------------------------------------------------------------
def blas_threads():
    return min(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@pytest.fixture
def two_blas_threads():
    """The library at 2 BLAS threads for the test (skipped where BLAS cannot run 2):
    the thread rule then has two counts to choose from, so the comparisons below
    are between different code paths of OpenBLAS, never the same one twice."""
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != 2:
            pytest.skip("the BLAS here cannot run 2 threads")
        yield


@pytest.fixture
def idle_machine(monkeypatch):
    """The load measurement reports every core free, so the rule's choice for big
    products is the library's limit (2) whatever else runs on the machine."""
    with threads.managed():  # creates the library handle the rule keeps
        pass
    monkeypatch.setattr(threads, "_free_cores", lambda before, after: 2.0)
    monkeypatch.setattr(threads._blas, "free", 2.0)


@pytest.fixture
def thread_log(monkeypatch):
    """(m k n, BLAS threads in force) for every product the layers announce: the
    count is read back from the library itself, after the rule has set it."""
    log = []
    choose = threads.for_product

    def logged(m, k, n):
        choose(m, k, n)
        if threads._depth:  # inside fit/predict/evaluate, where the rule applies
            log.append((m * k * n, threads._blas.get()))

    monkeypatch.setattr(threads, "for_product", logged)
    return log


# 64 rows by 400 -> 256 -> 32 -> 10, per product (multiply-adds, rule's choice):
# 400 x 256 layer 6,553,600 >= SMALL: min(limit, free cores) = 2 threads;
# 256 x 32 layer 524,288, between SPLIT and SMALL: 1 thread;
# 32 x 10 layer 20,480 <= SPLIT: left as it is.
RULE_SIZES = (400, 256, 32, 10)


@pytest.mark.parametrize(
    "dtype, rtol, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-5, 2e-6)]
)
def test_fit_under_the_thread_rule_matches_the_plain_loop_on_one_count(
    dtype, rtol, atol, two_blas_threads, idle_machine, thread_log
):
    """fit switches between 1 and 2 threads product by product; the reference runs
    every product on the library's 2. Thread counts may change the last bits
    (OpenBLAS splits the work differently), so the weights agree to rounding."""
    X, y = problem(n=256, n_in=RULE_SIZES[0], k=RULE_SIZES[-1])
    X = X.astype(dtype)
    net = mlp(dtype, sizes=RULE_SIZES)
    Ws = [layer.W.copy() for layer in net.layers]
    bs = [layer.b.copy() for layer in net.layers]
    net.fit(X, y, optimizer=gn.Adam(lr=1e-3), epochs=2, batch_size=64, seed=5,
            verbose=0)  # fmt: skip
    big = {count for size, count in thread_log if size >= threads.SMALL}
    small = {
        count for size, count in thread_log if threads.SPLIT < size < threads.SMALL
    }
    assert big == {2} and small == {1}  # the rule really switched, every step
    assert blas_threads() == 2  # and put the library's count back
    want_W, want_b = reference_fit(Ws, bs, X, y, epochs=2, batch=64, seed=5, lr=1e-3)
    for layer, W, b in zip(net.layers, want_W, want_b, strict=True):
        np.testing.assert_allclose(layer.W, W, rtol=rtol, atol=atol)
        np.testing.assert_allclose(layer.b, b, rtol=rtol, atol=atol)
    moved = max(
        np.abs(layer.W - W0).max() for layer, W0 in zip(net.layers, Ws, strict=True)
    )
    assert moved > 1e-3  # 8 Adam steps of lr 1e-3: the weights really changed


@pytest.mark.parametrize("fixed", [1, 2])
def test_fixed_thread_count_is_used_in_fit_and_the_setting_restored_after(
    fixed, two_blas_threads, thread_log
):
    X, y = problem(n=64, n_in=RULE_SIZES[0], k=RULE_SIZES[-1])
    net = mlp("float32", sizes=RULE_SIZES)
    during = []

    class Look(gn.Callback):
        def on_batch_end(self, step, logs):
            during.append(blas_threads())

    try:
        gn.set_num_threads(fixed)
        assert gn.get_num_threads() == fixed
        net.fit(X, y, epochs=1, batch_size=64, callbacks=[Look()], verbose=0)
    finally:
        gn.set_num_threads(None)
    assert during == [fixed]
    # every product the library could split ran on the fixed count, the 1-thread
    # sizes of the rule included
    assert {count for size, count in thread_log if size > threads.SPLIT} == {fixed}
    assert blas_threads() == 2


def test_fixed_counts_of_1_and_2_threads_train_to_the_same_weights(two_blas_threads):
    """The same float64 fit on 1 and on 2 threads: equal to rounding."""
    X, y = problem(n=128, n_in=RULE_SIZES[0], k=RULE_SIZES[-1])
    nets = {}
    for fixed in (1, 2):
        nets[fixed] = mlp("float64", sizes=RULE_SIZES)
        try:
            gn.set_num_threads(fixed)
            nets[fixed].fit(X, y, optimizer=gn.Adam(lr=1e-3), epochs=2, batch_size=64,
                            verbose=0)  # fmt: skip
        finally:
            gn.set_num_threads(None)
    np.testing.assert_allclose(
        nets[1].flat_params, nets[2].flat_params, rtol=1e-12, atol=1e-14
    )
    assert not np.array_equal(
        nets[1].flat_params, mlp("float64", RULE_SIZES).flat_params
    )


def test_small_products_run_on_one_thread_under_the_rule(two_blas_threads):
    with threads.managed():
        threads.for_product(64, 128, 64)  # 524,288 multiply-adds: SPLIT < m k n < SMALL
        assert blas_threads() == 1
    assert blas_threads() == 2  # restored when the section ends


def test_products_openblas_never_splits_leave_the_count_alone(two_blas_threads):
    """At most SPLIT multiply-adds OpenBLAS runs on one thread anyway: no switch."""
    gn.set_num_threads(2)
    try:
        with threads.managed():
            threads.for_product(64, 128, 64)  # the rule's 1-thread size: fixed to 2
            assert blas_threads() == 2
            gn.set_num_threads(1)
            threads.for_product(32, 128, 10)  # 40,960 multiply-adds <= SPLIT
            assert blas_threads() == 2  # a fixed 1 would have switched: left alone
            threads.for_product(64, 128, 64)
            assert blas_threads() == 1  # while a splittable product does switch
    finally:
        gn.set_num_threads(None)
    assert blas_threads() == 2


def test_free_cores_subtracts_other_processes_load():
    # 1 s of wall time: the CPUs were busy 1.8 s, of which this process used 0.8 s,
    # so others used one core: one of the usable cores is left (at least 0).
    free = threads._free_cores((0.0, 10.0, 5.0), (1.0, 11.8, 5.8))
    assert free == pytest.approx(max(0.0, threads._usable_cpus() - 1.0))


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="positive integer or None, got"):
        gn.set_num_threads(bad)
