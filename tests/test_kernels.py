"""glassnet.kernels: the compiled loops give bitwise the numbers of the numpy code
they stand for, and the switch between the two behaves."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import kernels
from netcases import OPTIMIZER_NAMES

pytest.importorskip("numba", reason="numba is in the dev extra (glassnet[fast])")

OPTIMIZERS = [
    ("adam", {}),
    ("adam", {"weight_decay": 0.1}),
    ("adam", {"amsgrad": True}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.3, "amsgrad": True}),
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("rmsprop", {}),
    ("rmsprop", {"weight_decay": 0.1}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"momentum": 0.9, "centered": True, "weight_decay": 0.01}),
]


@pytest.fixture(autouse=True)
def _default_afterwards():
    yield
    kernels.enable(None)


def run_optimizer(name, options, dtype, use_kernels, steps=30, seed=0):
    """theta and the optimizer state after ``steps`` updates from a seeded start, with
    gradients spanning six orders of magnitude (where rounding differences show)."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(1001).astype(dtype)
    grads = [
        (rng.standard_normal(1001) * 10 ** rng.uniform(-4, 2)).astype(dtype)
        for _ in range(steps)
    ]
    kernels.enable(use_kernels)
    optimizer = gn.optim.get_optimizer(name, lr=0.01, **options)
    for g in grads:
        optimizer.step(theta, g)
    return theta, optimizer.state_dict()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "name, options", OPTIMIZERS, ids=[f"{n}-{o}" for n, o in OPTIMIZERS]
)
def test_fused_optimizer_updates_are_bitwise_the_numpy_ones(name, options, dtype):
    plain_theta, plain_state = run_optimizer(name, options, dtype, use_kernels=False)
    fused_theta, fused_state = run_optimizer(name, options, dtype, use_kernels=True)
    assert fused_theta.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(fused_theta, plain_theta)
    assert fused_state.keys() == plain_state.keys()
    for key, value in plain_state.items():
        np.testing.assert_array_equal(fused_state[key], value, err_msg=key)


def dense_relu_pass(use_kernels, dtype, n, width, use_bias, specials):
    """Z, A, dA_prev and the gradients of one forward and backward pass through
    Dense(5, width, "relu") on seeded data (with NaN, inf and signed zeros when
    ``specials``)."""
    rng = np.random.default_rng(n * 1000 + width)
    kernels.enable(use_kernels)
    layer = gn.Dense(5, width, "relu", use_bias=use_bias)
    layer.build(5, dtype, np.random.default_rng(0))
    if use_bias:
        layer.b = rng.standard_normal(width)
    X = rng.standard_normal((n, 5)).astype(dtype)
    dA = rng.standard_normal((n, width)).astype(dtype)
    if specials:
        X[0, :3] = [np.nan, np.inf, -0.0]
        dA[-1, :2] = [np.inf, -0.0][:width]
        layer.W[0] = 0.0  # Z[:, 0] = b[0] (+0 or -0 without bias)
    with np.errstate(all="ignore"):  # inf - inf etc. on purpose
        A = layer.forward(X, reuse=True).copy()
        dA_prev = layer.backward(dA, reuse=True)
    grads = {name: g.copy() for name, g in layer.grads.items()}
    return layer.preactivation.copy(), A, dA_prev, grads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("n, width", [(1, 2), (7, 3), (32, 256), (130, 128), (9, 1)])
@pytest.mark.parametrize("specials", [False, True])
def test_fused_dense_relu_is_bitwise_the_numpy_layer(
    dtype, use_bias, n, width, specials
):
    plain = dense_relu_pass(False, dtype, n, width, use_bias, specials)
    fused = dense_relu_pass(True, dtype, n, width, use_bias, specials)
    for name, p, f in zip(["Z", "A", "dA_prev"], plain, fused, strict=False):
        np.testing.assert_array_equal(f, p, err_msg=name)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(f), np.signbit(p), err_msg=name)
    for name in plain[3]:
        np.testing.assert_array_equal(fused[3][name], plain[3][name], err_msg=name)


def softmax_and_cross_entropy(use_kernels, dtype, n, k, specials):
    """Softmax rows (new and into ``out``), per-sample cross-entropy from the logits,
    and the loss value, on seeded logits spanning four orders of magnitude."""
    rng = np.random.default_rng(n * 1000 + k)
    Z = (rng.standard_normal((n, k)) * 10 ** rng.uniform(-2, 2, (n, 1))).astype(dtype)
    if specials:
        Z[0, 0] = np.nan
        Z[-1, :2] = [np.inf, -0.0][:k]
    loss = gn.CrossEntropyLoss()
    Y = rng.dirichlet(np.ones(k), size=n).astype(
        dtype
    )  # soft labels: every term counts
    kernels.enable(use_kernels)
    with np.errstate(all="ignore"):
        A = gn.Softmax().forward(Z)
        A_out = gn.Softmax().forward(Z, out=np.empty_like(Z))
        L = loss.per_sample_from_logits(Z, Y)
        value = loss.value_from_logits(Z, Y)
    return A, A_out, L, np.array(value)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "n, k", [(1, 1), (3, 2), (32, 7), (32, 8), (130, 10), (5, 17), (64, 127), (2, 128)]
)
@pytest.mark.parametrize("specials", [False, True])
def test_fused_softmax_and_cross_entropy_are_bitwise_numpys(dtype, n, k, specials):
    """Row sums in numpy's pairwise order (one running sum below 8 terms, eight up
    to 128): the widths cover each case and its edges."""
    plain = softmax_and_cross_entropy(False, dtype, n, k, specials)
    fused = softmax_and_cross_entropy(True, dtype, n, k, specials)
    for name, p, f in zip(["A", "A out", "L", "value"], plain, fused, strict=True):
        np.testing.assert_array_equal(f, p, err_msg=name)  # NaN where NaN


def test_row_loops_take_only_what_they_sum_as_numpy():
    kernels.enable(True)
    rows = np.zeros((4, kernels.MAX_ROW), np.float32)
    assert kernels.for_rows(rows) is not None
    assert kernels.for_rows(np.zeros((4, kernels.MAX_ROW + 1), np.float32)) is None
    assert kernels.for_rows(np.zeros((4, 0), np.float32)) is None  # numpy raises
    assert kernels.for_rows(rows, rows.astype(np.float64)) is None  # mixed dtypes
    assert kernels.for_rows(rows, rows[:, :3].copy()) is None  # shapes differ
    assert kernels.for_rows(rows, rows[:1].copy()) is None  # (numpy would broadcast)
    assert kernels.for_rows(np.asfortranarray(np.zeros((4, 3)))) is None
    assert kernels.for_rows(np.zeros(4)) is None
    wide = np.random.default_rng(0).standard_normal((3, 300)).astype(np.float32)
    fused_A = gn.Softmax().forward(wide)  # numpy's code, though the loops are on
    kernels.enable(False)
    np.testing.assert_array_equal(fused_A, gn.Softmax().forward(wide))


def test_cross_entropy_targets_of_another_shape_are_numpys_business():
    """The loops never read past an array: targets of a shape unlike the logits go
    to numpy, which broadcasts one row, or names the mismatch."""
    kernels.enable(True)
    Z = np.random.default_rng(0).standard_normal((4, 3))
    loss = gn.CrossEntropyLoss()
    one_row = np.array([[0.0, 1.0, 0.0]])
    expected = loss.per_sample_from_logits(Z, np.repeat(one_row, 4, axis=0))
    np.testing.assert_array_equal(loss.per_sample_from_logits(Z, one_row), expected)
    with pytest.raises(ValueError, match="broadcast"):
        loss.per_sample_from_logits(Z, np.ones((4, 2)) / 2)


@pytest.mark.parametrize(
    "name, loop",
    # every registered optimizer, and the compiled loop it runs (AdamW: Adam's, after
    # its decoupled weight decay)
    [(name, {"adamw": "adam"}.get(name, name)) for name in OPTIMIZER_NAMES],
)
def test_the_fused_loop_runs_when_enabled(monkeypatch, name, loop):
    """Not only equal: the compiled loop is what updates theta (a stand-in that
    records its calls replaces it), for every optimizer with options that use every
    state buffer."""
    calls = []
    real = kernels.get()
    spy = type(real)(**vars(real))
    setattr(spy, loop, lambda *args: calls.append(args[0].shape))
    monkeypatch.setattr(kernels, "_compiled", spy)
    options = {"sgd": {"momentum": 0.9}, "rmsprop": {"momentum": 0.9, "centered": True}}
    optimizer = gn.optim.get_optimizer(name, **options.get(name, {}))
    optimizer.step(np.zeros(5, np.float32), np.ones(5, np.float32))
    assert calls == [(5,)]
    kernels.enable(False)
    theta = np.zeros(5, np.float32)
    gn.optim.get_optimizer(name, lr=0.1).step(theta, np.ones(5, np.float32))
    assert calls == [(5,)] and theta[0] < 0  # numpy did this one


def test_mixed_dtypes_fall_back_to_numpy():
    """float32 theta with float64 gradients: numpy casts, the loop would need another
    compiled version; the numpy code runs and gives its usual answer."""
    kernels.enable(True)
    theta, expected = np.ones(4, np.float32), np.ones(4, np.float32)
    gn.SGD(lr=0.5).step(theta, np.full(4, 0.25))
    kernels.enable(False)
    gn.SGD(lr=0.5).step(expected, np.full(4, 0.25))
    np.testing.assert_array_equal(theta, expected)


def test_training_gives_the_same_weights_with_and_without_kernels():
    X, y = gn.datasets.spirals(180, seed=0)
    weights = []
    for use_kernels in (False, True):
        kernels.enable(use_kernels)
        net = gn.Sequential(gn.Dense(2, 32, "relu"), gn.Dense(32, 3, "softmax"), seed=3)
        net.fit(
            X,
            y,
            loss="cross_entropy",
            optimizer="adam",
            epochs=5,
            batch_size=16,
            seed=1,
            verbose=0,
        )
        weights.append(net.flat_params.copy())
    np.testing.assert_array_equal(weights[1], weights[0])


def test_enable_checks_its_argument():
    with pytest.raises(TypeError, match="True, False or None, got 'yes'"):
        kernels.enable("yes")


def test_enable_true_without_numba_names_the_extra(monkeypatch):
    monkeypatch.setattr(kernels, "_compiled", None)
    monkeypatch.setattr(kernels, "_import_failed", False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'glassnet\[fast\]'"):
        kernels.enable(True)
    kernels.enable(None)
    assert kernels.get() is None and not kernels.enabled()  # numpy, quietly


def test_environment_variable_turns_the_loops_off(monkeypatch):
    monkeypatch.setenv("GLASSNET_KERNELS", "0")
    kernels.enable(None)  # the variable is read at first use and after enable()
    assert kernels.get() is None
    kernels.enable(True)  # an explicit choice wins over the environment
    assert kernels.enabled()


def test_import_glassnet_does_not_import_numba():
    code = "import sys, glassnet; print('numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_patched_relu_derivative_is_not_bypassed_by_the_loops(monkeypatch):
    """A lesson patches ReLU's derivative to see gradcheck fail: the fused loop
    must step aside and let the patched code run."""
    kernels.enable(True)
    _, _, _, stock = dense_relu_pass(True, "float64", 8, 4, True, False)
    monkeypatch.setattr(gn.ReLU, "derivative", lambda self, Z, A: (Z > 0) * 0.5)
    _, _, _, patched = dense_relu_pass(True, "float64", 8, 4, True, False)
    np.testing.assert_array_equal(patched["W"], 0.5 * stock["W"])
    np.testing.assert_array_equal(patched["b"], 0.5 * stock["b"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_all_finite_finds_any_nan_or_inf(dtype):
    kernels.enable(True)
    all_finite = kernels.get().all_finite
    rng = np.random.default_rng(0)
    x = (rng.uniform(-1, 1, 1000) * np.finfo(dtype).max).astype(dtype)
    assert all_finite(x)  # huge values are finite
    for bad in (np.nan, np.inf, -np.inf):
        for where in (0, 517, 999):
            y = x.copy()
            y[where] = bad
            assert not all_finite(y), (bad, where)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_validation_all_finite_on_large_arrays_agrees_with_isfinite(
    fused, dtype, tmp_path, monkeypatch
):
    """The boundary check (fit's check of X, predict's) takes the compiled loop for
    arrays of _LARGE elements or more once the loops are loaded; memmaps included,
    non-contiguous arrays on numpy. Each path must find every NaN and inf."""
    from glassnet import validation

    kernels.enable(fused)
    if fused:
        kernels.get()  # loaded, as after a first training step
        used = []
        real = kernels.get_if_loaded

        def spy():
            loops = real()
            used.append(loops is not None)
            return loops

        monkeypatch.setattr(kernels, "get_if_loaded", spy)
    rng = np.random.default_rng(1)
    rows = validation._LARGE // 64 + 3
    X = np.lib.format.open_memmap(
        tmp_path / "x.npy", mode="w+", dtype=dtype, shape=(rows, 64)
    )
    X[...] = rng.standard_normal((rows, 64))
    assert validation.all_finite(X) and validation.all_finite(X[:, ::2])
    for bad in (np.nan, np.inf, -np.inf):
        for where in ((0, 0), (rows // 2, 17), (rows - 1, 63)):
            Y = np.array(X)
            Y[where] = bad
            for array in (Y, Y[:, ::2] if where[1] % 2 == 0 else Y[:, 1::2]):
                assert not validation.all_finite(array), (bad, where)
            with pytest.raises(ValueError, match="contains (NaN|inf)"):
                validation.check_finite(Y, "X")
    if fused:
        assert any(used)
