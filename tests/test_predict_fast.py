"""predict's fast paths give the numbers of the plain numpy forward pass, bit for bit.

The reference is written out here from the equations, Z = A W^T + b, A = max(Z, 0)
and a = e^(z - max) / sum e^(z - max) per row, each block of ``batch_size`` rows
multiplied as predict does (a BLAS product's last bits may depend on how many rows
it is given, and a few rows by a large W are multiplied as (W A^T)^T, see
``ops.matmul``). Checked for several batch sizes, float32 and float64, with the numpy
code and with the compiled loops (the ``backend`` fixture), and for the per-call
shortcuts: no thread-rule section for passes of a few rows, the finiteness check
by one compiled pass (or the BLAS sum when the loops are off or the rows are not
contiguous), one read-only vector of ones per width.
"""

from __future__ import annotations

import sys
import threading
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet._fast import ops, threads

predict_module = sys.modules["glassnet.training.predict"]


def seeded(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def mlp(widths, dtype, name):
    layers = [
        gn.Dense(i, o, "relu") for i, o in zip(widths[:-2], widths[1:-1], strict=True)
    ]
    layers.append(gn.Dense(widths[-2], widths[-1], "softmax"))
    net = gn.Sequential(*layers, dtype=dtype, seed=zlib.crc32(name.encode()))
    rng = seeded(name + "/biases")
    for layer in net.layers:  # non-zero biases, so that adding them is checked too
        layer.b = rng.normal(size=layer.out_features)
    return net


def numpy_forward(net, X, block):
    """The forward pass from the equations, ``block`` rows per product."""
    parts = []
    for lo in range(0, X.shape[0], block):
        A = X[lo : lo + block]
        for layer in net.layers:
            Z = A @ layer.W.T  # Z = A W^T                                     (n, out)
            if len(A) <= ops.FEW_ROWS and layer.W.size >= ops.FEW_ROWS_SIZE:
                Z = np.ascontiguousarray((layer.W @ A.T).T)  # the same, as predict
            Z += layer.b  # + b, to each row
            if layer.activation.name == "relu":
                A = np.maximum(Z, 0)
            else:  # softmax; the row max subtracted so that exp never overflows
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
        parts.append(A)
    return np.concatenate(parts)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("rows", "batch_size"),
    [(1, None), (7, None), (32, None), (300, None), (300, 64), (1025, None)],
)
def test_predict_equals_the_numpy_forward_bitwise(backend, dtype, rows, batch_size):
    name = f"{dtype}/{rows}/{batch_size}"
    net = mlp((20, 16, 12, 5), dtype, name)
    X = seeded(name).normal(size=(rows, 20)).astype(dtype)
    got = net.predict(X, batch_size=batch_size)
    expected = numpy_forward(net, X, batch_size or predict_module.DEFAULT_BATCH)
    assert got.dtype == np.dtype(dtype) and got.shape == (rows, 5)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got.sum(axis=1), 1, rtol=1e-5)  # softmax rows


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows", [1, 5, 32, 64, 65, 200])
def test_a_wide_first_layer_on_few_rows_equals_the_numpy_forward(
    backend, dtype, rows, monkeypatch
):
    """784 x 96 weights: few rows take the product with W as stored."""
    from threadpoolctl import threadpool_limits

    name = f"wide/{dtype}/{rows}"
    net = mlp((784, 96, 10), dtype, name)
    assert net.layers[0].W.size >= ops.FEW_ROWS_SIZE
    X = seeded(name).normal(size=(rows, 784)).astype(dtype)
    gn.set_num_threads(1)
    try:
        with threadpool_limits(1, user_api="blas"):
            got = net.predict(X)
            expected = numpy_forward(net, X, predict_module.DEFAULT_BATCH)
    finally:
        gn.set_num_threads(None)
    np.testing.assert_array_equal(got, expected)
    # and the plain A W^T gives the same up to rounding
    monkeypatch.setattr(ops, "FEW_ROWS", 0)
    np.testing.assert_allclose(got, net.predict(X), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("m", "k", "n"),
    [(1, 784, 256), (32, 784, 256), (64, 300, 300), (65, 784, 256), (32, 100, 100)],
)
def test_matmul_of_a_transposed_matrix_is_the_product(dtype, m, k, n):
    rng = seeded(f"matmul/{m}/{k}/{n}")
    A = rng.normal(size=(m, k)).astype(dtype)
    W = rng.normal(size=(n, k)).astype(dtype)
    exact = A.astype(np.float64) @ W.T.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    fresh = ops.matmul(A, W.T)
    assert fresh.flags.c_contiguous and fresh.shape == (m, n) and fresh.dtype == dtype
    np.testing.assert_allclose(fresh, exact, rtol=tol, atol=tol * np.sqrt(k))
    out = np.full((m, n), np.nan, dtype=dtype)
    assert ops.matmul(A, W.T, out=out) is out
    np.testing.assert_array_equal(out, fresh)


def test_predict_takes_large_batches_in_equal_passes_of_at_most_pass_rows(
    monkeypatch,
):
    for size in (1, 4096, 4097, 8192, 8193, 60_000):
        rows = predict_module._pass_rows(size)
        passes = -(-size // rows)
        assert rows <= max(predict_module.PASS_ROWS, 1)
        assert passes == -(-size // predict_module.PASS_ROWS)  # no more than needed
        assert size - (passes - 1) * rows > 0  # the last pass is not empty
    assert predict_module._pass_rows(60_000) == 4000  # 15 passes of 4,000
    # and the outputs are those of passes of that size
    monkeypatch.setattr(predict_module, "PASS_ROWS", 64)
    net = mlp((20, 16, 5), "float64", "passes")
    X = seeded("passes").normal(size=(300, 20))
    np.testing.assert_array_equal(
        net.predict(X, batch_size=1000), numpy_forward(net, X, 60)
    )


def test_predict_of_products_above_the_split_equals_the_numpy_forward(backend):
    """A pass large enough for the thread rule's section (one thread fixed, so that
    the reference runs on the same count)."""
    from threadpoolctl import threadpool_limits

    net = mlp((64, 96, 10), "float32", "large")
    X = seeded("large").normal(size=(600, 64)).astype(np.float32)
    assert 600 * 64 * 96 > threads.SPLIT
    gn.set_num_threads(1)
    try:
        with threadpool_limits(1, user_api="blas"):
            got = net.predict(X, batch_size=256)
            expected = numpy_forward(net, X, 256)
    finally:
        gn.set_num_threads(None)
    np.testing.assert_array_equal(got, expected)


def test_a_pass_of_few_rows_skips_the_thread_rule_and_a_large_one_enters_it(
    monkeypatch,
):
    entered = []
    managed = threads.managed

    def recording():
        entered.append(True)
        return managed()

    monkeypatch.setattr(threads, "managed", recording)
    net = mlp((64, 96, 10), "float32", "rule")
    X = seeded("rule").normal(size=(100, 64)).astype(np.float32)
    small = net.predict(X[:2])  # 2 x 64 x 96 multiply-adds: one thread in any case
    assert entered == []
    large = net.predict(X)  # 100 x 64 x 96 > SPLIT: the rule chooses
    assert entered == [True]
    np.testing.assert_array_equal(small, numpy_forward(net, X[:2], 2))
    # the rule may choose 2 threads, whose products differ in the last bits
    np.testing.assert_allclose(large, numpy_forward(net, X, 100), rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("contiguous", [True, False])
def test_non_finite_rows_are_refused_by_either_check(backend, bad, contiguous):
    net = mlp((6, 4, 3), "float32", "finite")
    wide = seeded("finite").normal(size=(40, 12)).astype(np.float32)
    X = wide[:, :6] if not contiguous else np.ascontiguousarray(wide[:, :6])
    assert X.flags.c_contiguous == contiguous
    net.predict(X)  # finite: passes (and loads the loops under "kernels")
    X[37, 2] = bad
    with pytest.raises(gn.InputError, match="NaN|inf"):
        net.predict(X, batch_size=16)


def test_huge_finite_rows_pass_although_their_sum_overflows(backend):
    """The BLAS sum of 3e38 + 3e38 overflows to inf: the full check then finds
    every value finite, and the pass goes on without a warning."""
    net = mlp((6, 4, 3), "float32", "huge")
    X = np.full((4, 6), 3e38, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # the huge Z of the layers
        out = net.predict(X)
    assert out.shape == (4, 3)


def test_the_vector_of_ones_is_made_once_per_width_and_dtype_and_read_only():
    ones = predict_module._ones(7, np.dtype(np.float32))
    assert ones is predict_module._ones(7, np.dtype(np.float32))
    assert ones is not predict_module._ones(7, np.dtype(np.float64))
    np.testing.assert_array_equal(ones, np.ones(7))
    with pytest.raises(ValueError, match="read-only"):
        ones[0] = 2


def test_predicts_from_several_threads_at_once_equal_the_serial_ones():
    net = mlp((20, 16, 5), "float64", "threads")
    inputs = [seeded(f"threads/{i}").normal(size=(1 + 5 * i, 20)) for i in range(6)]
    serial = [net.predict(X) for X in inputs]
    results: dict[int, list] = {}
    errors = []

    def run(i):
        try:
            results[i] = [net.predict(inputs[i]) for _ in range(50)]
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    for i, expected in enumerate(serial):
        for got in results[i]:
            np.testing.assert_array_equal(got, expected)
    assert net._usage._passes == {}  # every pass counted out again


def test_predict_while_another_thread_fits_is_still_refused():
    net = mlp((4, 3, 2), "float64", "guard")
    usage = net._usage
    started, release = threading.Event(), threading.Event()

    def fitting():
        with usage.fitting():
            started.set()
            release.wait(10)

    fitter = threading.Thread(target=fitting)
    fitter.start()
    started.wait(10)
    try:
        with pytest.raises(gn.ConcurrentUseError, match="being fitted"):
            net.predict(np.zeros((1, 4)))
    finally:
        release.set()
        fitter.join()
    assert usage._passes == {}
    np.testing.assert_array_equal(net.predict(np.zeros((1, 4))).sum(), 1.0)
