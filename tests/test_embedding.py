"""Embedding: lookups, their gradients (finite differences, torch autograd), learning
from a categorical column, the unknown row, model files, ONNX and explain."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputError
from glassnet.io.architecture import parse_architecture
from glassnet.io.errors import ModelFormatError

# index columns 0 and 3 (5 and 3 known categories), value columns 1, 2, 4
COLUMNS, CATEGORIES, DIMS = [3, 0], [3, 5], [2, 4]
D = 5
OUT = D - 2 + sum(DIMS)  # 9


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def rows(rng, n, dtype="float64", unknown=True):
    """n rows of width D: value columns N(0, 1), index columns whole numbers (the
    unknown index included when ``unknown``)."""
    X = rng.normal(size=(n, D))
    for col, K in zip(COLUMNS, CATEGORIES, strict=True):
        X[:, col] = rng.integers(0, K + 1 if unknown else K, size=n)
    return X.astype(dtype)


def net_of(dtype="float64", seed=0, hidden=3):
    return gn.Sequential(
        gn.Embedding(COLUMNS, CATEGORIES, DIMS),
        gn.Dense(OUT, hidden, "tanh"),
        gn.Dense(hidden, 1),
        dtype=dtype,
        seed=seed,
    )


# -- forward ------------------------------------------------------------------------
def test_forward_is_the_other_columns_then_each_tables_row():
    net = net_of()
    emb = net.layers[0]
    X = rows(np.random.default_rng(seed_of("forward")), 20)
    A = emb.forward(X)
    assert A.shape == (20, OUT)
    E_a, E_b = emb.tables  # column 3's table, then column 0's
    for i in range(20):  # written out per sample, by plain indexing
        expected = [X[i, 1], X[i, 2], X[i, 4]]
        expected += list(E_a[int(X[i, 3])]) + list(E_b[int(X[i, 0])])
        np.testing.assert_array_equal(A[i], expected)


def test_unknown_row_is_zero_and_tables_are_standard_normal():
    net = gn.Sequential(
        gn.Embedding([0], [2000], [8]), gn.Dense(8, 1), dtype="float64", seed=1
    )
    (E,) = net.layers[0].tables
    assert E.shape == (2001, 8)
    np.testing.assert_array_equal(E[-1], 0.0)
    # N(0, 1): mean within 4 standard errors of 0, variance near 1 (16000 draws)
    assert abs(E[:-1].mean()) < 4 / np.sqrt(16000)
    assert abs(E[:-1].var() - 1.0) < 0.05


def test_same_seed_same_tables_other_seed_other_tables():
    a, b, c = net_of(seed=7), net_of(seed=7), net_of(seed=8)
    np.testing.assert_array_equal(a.flat_params, b.flat_params)
    for Ea, Eb in zip(a.layers[0].tables, b.layers[0].tables, strict=True):
        np.testing.assert_array_equal(Ea, Eb)
    assert not np.array_equal(a.layers[0].tables[0], c.layers[0].tables[0])


def test_input_width_from_the_next_layer_or_given():
    inferred = gn.Sequential(gn.Embedding(COLUMNS, CATEGORIES, DIMS), gn.Dense(OUT, 2))
    assert inferred.in_features == D and inferred.out_features == 2
    given = gn.Sequential(gn.Embedding(COLUMNS, CATEGORIES, DIMS, in_features=D))
    assert given.in_features == D and given.out_features == OUT
    with pytest.raises(ValueError, match="first layer must fix the input width"):
        gn.Sequential(gn.Embedding(COLUMNS, CATEGORIES, DIMS))


# -- gradients ----------------------------------------------------------------------
def test_table_gradients_match_finite_differences():
    net = net_of(seed=seed_of("fd"))
    rng = np.random.default_rng(seed_of("fd-data"))
    X, y = rows(rng, 30), rng.normal(size=30)
    _, grads = net.loss_and_grad(X, y, loss="mse")
    h = 1e-6
    for j, E in enumerate(net.layers[0].tables):
        dE = grads[0][f"E{j}"]
        K = CATEGORIES[j]
        np.testing.assert_array_equal(dE[K], 0.0)  # the unknown row is not learned
        numeric = np.zeros_like(E)
        for r in range(K):  # the known rows: central differences
            for t in range(E.shape[1]):
                saved = E[r, t]
                E[r, t] = saved + h
                up = net.loss_value(X, y, loss="mse")
                E[r, t] = saved - h
                down = net.loss_value(X, y, loss="mse")
                E[r, t] = saved
                numeric[r, t] = (up - down) / (2 * h)
        assert np.abs(numeric[:K]).max() > 1e-3  # the check sees real gradients
        np.testing.assert_allclose(dE[:K], numeric[:K], rtol=1e-6, atol=1e-9)


def test_input_gradient_passes_values_through_and_is_zero_on_indices():
    emb = gn.Embedding(COLUMNS, CATEGORIES, DIMS, in_features=D)
    emb.build(D, "float64", np.random.default_rng(0))
    X = rows(np.random.default_rng(seed_of("dx")), 6)
    emb.forward(X)
    dA = np.random.default_rng(1).normal(size=(6, OUT))
    dX = emb.backward(dA)
    np.testing.assert_array_equal(dX[:, [1, 2, 4]], dA[:, :3])
    np.testing.assert_array_equal(dX[:, COLUMNS], 0.0)


def test_gradients_match_torch_embedding_with_autograd():
    torch = pytest.importorskip("torch")
    net = net_of(seed=seed_of("torch"), hidden=4)
    rng = np.random.default_rng(seed_of("torch-data"))
    X, y = rows(rng, 40), rng.normal(size=40)
    loss, grads = net.loss_and_grad(X, y, loss="mse")

    emb, dense1, dense2 = net.layers
    tables = [
        torch.nn.Embedding(K + 1, dim, padding_idx=K, dtype=torch.float64)
        for K, dim in zip(CATEGORIES, DIMS, strict=True)
    ]
    with torch.no_grad():
        for table, E in zip(tables, emb.tables, strict=True):
            table.weight.copy_(torch.from_numpy(E))
    x = torch.from_numpy(X)
    parts = [x[:, [1, 2, 4]]]
    parts += [t(x[:, c].long()) for t, c in zip(tables, COLUMNS, strict=True)]
    W1, b1 = (torch.tensor(p, requires_grad=True) for p in (dense1.W, dense1.b))
    W2, b2 = (torch.tensor(p, requires_grad=True) for p in (dense2.W, dense2.b))
    out = torch.tanh(torch.cat(parts, dim=1) @ W1.T + b1) @ W2.T + b2
    torch_loss = torch.nn.functional.mse_loss(out, torch.from_numpy(y)[:, None])
    torch_loss.backward()

    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for j, table in enumerate(tables):
        np.testing.assert_allclose(
            grads[0][f"E{j}"], table.weight.grad.numpy(), rtol=1e-10, atol=1e-14
        )
    np.testing.assert_allclose(grads[1]["W"], W1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads[2]["b"], b2.grad.numpy(), rtol=1e-10)


# -- learning -----------------------------------------------------------------------
def category_task(n, rng, labels):
    """y = labels[c] for a 50-category column c, plus a noise column."""
    c = rng.integers(0, 50, size=n)
    X = np.column_stack([rng.normal(size=n), c]).astype("float32")
    return X, labels[c]


def test_learns_a_task_that_needs_the_categories():
    rng = np.random.default_rng(seed_of("learn"))
    labels = rng.integers(0, 2, size=50)
    X, y = category_task(3000, rng, labels)
    X_test, y_test = category_task(1000, rng, labels)
    net = gn.Sequential(
        gn.Embedding([1], [50], [4]),
        gn.Dense(5, 16, "relu"),
        gn.Dense(16, 1, "sigmoid"),
        seed=seed_of("learn-net"),
    )
    net.fit(X, y, loss="binary_crossentropy", optimizer=gn.Adam(lr=0.02),
            epochs=15, batch_size=64, verbose=0)  # fmt: skip
    accuracy = (net.predict_classes(X_test) == y_test).mean()
    # the noise column carries nothing: without the categories the best is the
    # majority rate; the labels are a fixed function of the category
    majority = max(y_test.mean(), 1 - y_test.mean())
    assert majority < 0.7
    assert accuracy > 0.97


def test_unknown_row_stays_zero_after_adam_with_weight_decay_and_l1():
    rng = np.random.default_rng(seed_of("unknown"))
    X, y = rows(rng, 200, "float32"), rng.normal(size=200)  # unknown indices included
    net = net_of("float32", seed=3)
    before = [E.copy() for E in net.layers[0].tables]
    optimizer = gn.Adam(lr=0.05, weight_decay=0.1, l1=0.01)
    net.fit(X, y, loss="mse", optimizer=optimizer, epochs=5, batch_size=16, verbose=0)
    for E, E0, K in zip(net.layers[0].tables, before, CATEGORIES, strict=True):
        np.testing.assert_array_equal(E[K], 0.0)
        assert np.abs(E[:K] - E0[:K]).max() > 0.1  # the known rows did learn
    sgd = gn.SGD(lr=0.05, momentum=0.9, weight_decay=0.1, l1=0.01)
    net.fit(X, y, loss="mse", optimizer=sgd, epochs=2, batch_size=16, verbose=0)
    for E, K in zip(net.layers[0].tables, CATEGORIES, strict=True):
        np.testing.assert_array_equal(E[K], 0.0)


# -- bad input ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [1.5, -1.0, 6.0, np.nan, np.inf])
def test_bad_index_names_the_column_and_the_value(bad):
    emb = gn.Embedding(COLUMNS, CATEGORIES, DIMS, in_features=D)
    emb.build(D, "float64", np.random.default_rng(0))
    X = rows(np.random.default_rng(0), 4)
    X[2, 0] = bad  # column 0: indices 0..5
    with pytest.raises(InputError, match=r"column 0 .* 0\.\.5 .* row 2 has") as info:
        emb.forward(X)
    assert repr(float(bad)) in str(info.value)


def test_index_one_past_the_unknown_slot_is_refused_by_the_network():
    net = net_of()
    X = rows(np.random.default_rng(0), 3)
    X[1, 3] = 4.0  # column 3 has 3 categories: 3 is unknown, 4 does not exist
    with pytest.raises(InputError, match=r"column 3 .* 0\.\.3 .* row 1 has 4\.0"):
        net.predict(X)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1], [3], [2]), "one entry per index column"),
        (([0, 0], [3, 3], [2, 2]), "must be distinct"),
        (([-1], [3], [2]), "index_columns must hold integers >= 0"),
        (([0], [0], [2]), "n_categories must hold integers >= 1"),
        (([0], [3], [0]), "dims must hold integers >= 1"),
        (([], [], []), "index_columns must not be empty"),
        (([0.5], [3], [2]), "index_columns must hold integers"),
    ],
)
def test_bad_construction_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        gn.Embedding(*args)


def test_index_column_outside_the_input_is_refused():
    with pytest.raises(InputError, match=r"must be columns of the input, which has 3"):
        gn.Embedding([3], [4], [2], in_features=3)


def test_backward_before_forward_raises():
    emb = gn.Embedding([0], [3], [2], in_features=2)
    emb.build(2, "float64", np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        emb.backward(np.zeros((1, 3)))


# -- copies, files, other formats ---------------------------------------------------
def trained_net(dtype="float32"):
    rng = np.random.default_rng(seed_of("trained"))
    X, y = rows(rng, 100, dtype), rng.normal(size=100)
    net = net_of(dtype, seed=5)
    net.fit(X, y, loss="mse", epochs=2, batch_size=20, verbose=0)
    return net, X


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_is_bitwise(dtype, tmp_path):
    net, X = trained_net(dtype)
    path = gn.save(net, tmp_path / "emb.glassnet")
    loaded = gn.load(path)
    assert repr(loaded.layers[0]) == repr(net.layers[0])
    np.testing.assert_array_equal(loaded.flat_params, net.flat_params)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    assert loaded.summary() == net.summary()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index_columns": [0, 5]}, "must be columns of the input"),
        ({"dims": [2, True]}, "dims must hold integers >= 1"),
        ({"n_categories": [0, 3]}, "n_categories must hold integers >= 1"),
        ({"in_features": 6}, "do not connect"),
        ({"extra": 1}, "unknown keys"),
    ],
)
def test_a_file_with_a_bad_embedding_config_is_refused(change, message):
    arch = {
        "dtype": "float64",
        "layers": [
            {"type": "Embedding", "config": {**net_of().layers[0].config(), **change}},
            {"type": "Dense", "config": net_of().layers[1].config()},
        ],
    }
    with pytest.raises(ModelFormatError, match=message):
        parse_architecture(arch)


def test_copy_and_pickle_keep_the_tables_and_share_nothing():
    net, X = trained_net()
    for other in (net.copy(), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(other.predict(X), net.predict(X))
        other.layers[0].tables[0][0] += 1.0
        assert not np.array_equal(other.predict(X), net.predict(X))
        # the tables are still views into the flat buffer an optimizer steps
        assert np.shares_memory(other.layers[0].tables[1], other.flat_params)
    wide = net.copy("float64")
    np.testing.assert_allclose(wide.predict(X.astype("float64")), net.predict(X),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_matches_onnxruntime(dtype, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net, X = trained_net(dtype)
    path = tmp_path / "emb.onnx"
    gn.export_onnx(net, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": X})
    np.testing.assert_allclose(out, net.predict(X), rtol=1e-6 if dtype == "float32"
                               else 1e-12, atol=1e-6 if dtype == "float32" else 1e-12)  # fmt: skip
    assert np.isin(X[:, 0], [5.0]).any()  # the unknown row was looked up too


def test_to_torch_refuses_with_a_clear_message():
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch.nn.Embedding takes a tensor of integer"):
        gn.to_torch(net_of())


def test_explain_shows_the_lookup_with_its_numbers():
    net = net_of()
    X = np.array([[2.0, 0.5, -1.0, 1.0, 0.25], [5.0, 0.1, 0.2, 3.0, -0.5]])
    trace = gn.explain(net, X, [0.3, -0.2], loss="mse", lr=0.1)
    E_a, E_b = net.layers[0].tables
    np.testing.assert_array_equal(trace["1.e1"], E_a[[1, 3]])  # column 3: 1, unknown
    np.testing.assert_array_equal(trace["1.e2"], E_b[[2, 5]])  # column 0: 2, unknown
    np.testing.assert_array_equal(trace["1.e2"][1], 0.0)
    np.testing.assert_array_equal(trace["1.a"], net.layers[0].forward(X))
    text = trace.to_text()
    assert "Lookup of column 3: e = E[c]" in text and "e1 = E1[c]" in text
    assert "(unknown: zeros)" in text
    for render in (trace.to_markdown, trace.to_html, trace.to_json):
        assert "E2[c]" in render()


def test_fgsm_moves_only_the_value_columns():
    net, X = trained_net("float64")
    y = np.random.default_rng(0).normal(size=len(X))
    X_adv = gn.attacks.fgsm(net, X, y, eps=0.1, loss="mse")
    np.testing.assert_array_equal(X_adv[:, COLUMNS], X[:, COLUMNS])
    moved = np.abs(X_adv - X)[:, [1, 2, 4]]
    assert (moved > 0).mean() > 0.9 and np.allclose(moved[moved > 0], 0.1)


def test_gradcheck_passes_with_unknown_categories_in_the_batch():
    net = net_of(seed=seed_of("gradcheck"))
    rng = np.random.default_rng(seed_of("gradcheck-data"))
    X = rows(rng, 12)
    assert (X[:, 0] == 5).any() and (X[:, 3] == 3).any()  # the unknown rows are read
    report = gn.gradcheck(net, X, rng.normal(size=12), loss="mse")
    assert report.passed, str(report)


def test_tables_too_large_for_memory_are_refused_before_allocating(monkeypatch):
    from glassnet._fast import work

    monkeypatch.setattr(work, "available_memory", lambda: 2**30)  # 1 GiB free
    huge = gn.Embedding([0], [10**8], [64])  # 6.4e9 numbers: about 95 GiB to build
    with pytest.raises(work.MemoryLimitError, match="embedding tables .* numbers"):
        gn.Sequential(huge, gn.Dense(65, 1))
