"""The Poisson loss (log link) and MLPRegressor(loss="poisson").

PoissonLoss against its formula, central finite differences and PyTorch's
PoissonNLLLoss(log_input=True); the regressor against scikit-learn's
MLPRegressor(loss="poisson") step for step, and on Poisson counts against the
mean-only model.
"""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.nn.losses import PoissonLoss

RNG_SEED = 20


def _case(n=7, k=3, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, k))  # log-means
    Y = rng.poisson(2.0, size=(n, k)).astype(np.float64)
    w = rng.uniform(0.2, 2.0, size=n)
    return Z, Y, w


def test_value_is_the_formula():
    Z, Y, w = _case()
    L = PoissonLoss()
    assert L(Z, Y) == pytest.approx(np.mean(np.exp(Z) - Y * Z), rel=1e-14)
    per_row = (np.exp(Z) - Y * Z).mean(axis=1)
    assert L(Z, Y, w) == pytest.approx((w * per_row).sum() / w.sum(), rel=1e-14)


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_grad_matches_finite_differences(k, weighted):
    Z, Y, w = _case(k=k)
    w = w if weighted else None
    L = PoissonLoss()
    G = L.grad(Z, Y, w)
    h = 1e-6
    numeric = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        numeric[idx] = (L(Zp, Y, w) - L(Zm, Y, w)) / (2 * h)
    np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-10)


def test_value_and_grad_match_torch_poisson_nll_loss():
    torch = pytest.importorskip("torch")
    Z, Y, _ = _case(n=11, k=2)
    z = torch.tensor(Z, requires_grad=True)
    expected = torch.nn.PoissonNLLLoss(log_input=True, full=False)(z, torch.tensor(Y))
    expected.backward()
    L = PoissonLoss()
    assert L(Z, Y) == pytest.approx(expected.item(), rel=1e-13)
    np.testing.assert_allclose(L.grad(Z, Y), z.grad.numpy(), rtol=1e-13)


def test_negative_targets_are_refused():
    with pytest.raises(ValueError, match=r"poisson targets y must be .*>= 0"):
        PoissonLoss().prepare_targets(np.array([1.0, -2.0]), 1, np.float64)


# -- the regressor ----------------------------------------------------------------------
sklearn = pytest.importorskip("sklearn")

from glassnet.sklearn import MLPRegressor  # noqa: E402
from sklearn.dummy import DummyRegressor  # noqa: E402
from sklearn.metrics import mean_poisson_deviance  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _counts(n, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    mu = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.3)
    return X, rng.poisson(mu).astype(np.float64)


@pytest.mark.parametrize(
    "solver",
    [
        dict(solver="sgd", learning_rate_init=0.02),
        dict(solver="adam", learning_rate_init=0.01),
    ],
    ids=["sgd", "adam"],
)
def test_steps_equal_scikit_learns_poisson_mlp(solver):
    if "loss" not in SkMLPRegressor().get_params():
        pytest.skip("scikit-learn's MLPRegressor has loss='poisson' from 1.7")
    X, y = _counts(37)
    params = dict(
        loss="poisson",
        hidden_layer_sizes=(5,),
        activation="tanh",
        alpha=0.1,
        batch_size=10,
        shuffle=False,
        random_state=0,
        **solver,
    )
    ours, theirs = MLPRegressor(**params), SkMLPRegressor(**params)
    ours.partial_fit(X, y)
    theirs.partial_fit(X, y)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    del ours._optimizer, theirs._optimizer
    for _ in range(3):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    for mine, sk in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(mine, sk, rtol=1e-9, atol=1e-12)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fit_on_poisson_counts_beats_the_mean_only_model(solver):
    X, y = _counts(600)
    X_test, y_test = _counts(400, seed=2)
    est = MLPRegressor(
        loss="poisson",
        solver=solver,
        hidden_layer_sizes=(16,),
        learning_rate_init=0.01,
        max_iter=200,
        random_state=0,
    ).fit(X, y)
    mean_only = DummyRegressor().fit(X, y)
    ours = mean_poisson_deviance(y_test, est.predict(X_test))
    base = mean_poisson_deviance(y_test, mean_only.predict(X_test))
    assert (est.predict(X_test) > 0).all()
    assert ours < 0.75 * base, (ours, base)


def test_regressor_refuses_negative_targets():
    X, y = _counts(20)
    y[3] = -1.0
    with pytest.raises(ValueError, match=r"loss='poisson' needs targets y >= 0"):
        MLPRegressor(loss="poisson").fit(X, y)
