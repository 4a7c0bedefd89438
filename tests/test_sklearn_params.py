"""scikit-learn's MLP parameters on glassnet's estimators, each against its meaning.

The solvers ("sgd" with plain or Nesterov momentum and the three learning-rate
schedules, "adam", "lbfgs") are run beside scikit-learn's own MLP from the same
weights, which computes the expected numbers; the momentum forms and invscaling's
rate are also written out by hand. Then: warm_start, the input's dtype, sparse input,
pickling and the model-selection tools.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

import scipy.sparse as sp  # noqa: E402
from glassnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(37, 4))
CASES = {
    # name: (ours, scikit-learn's, y)
    "regression": (
        MLPRegressor,
        SkMLPRegressor,
        _X @ _rng.normal(size=4) + 0.1 * _rng.normal(size=37),
    ),
    "regression_2_targets": (
        MLPRegressor,
        SkMLPRegressor,
        _X @ _rng.normal(size=(4, 2)),
    ),
    "multiclass": (MLPClassifier, SkMLPClassifier, _rng.integers(0, 3, 37)),
    "binary": (MLPClassifier, SkMLPClassifier, (_X[:, 0] > 0).astype(int)),
}
SOLVERS = {
    "sgd_nesterov": dict(solver="sgd", learning_rate_init=0.05, momentum=0.9),
    "sgd_momentum": dict(
        solver="sgd", learning_rate_init=0.05, momentum=0.8, nesterovs_momentum=False
    ),
    "sgd_invscaling": dict(
        solver="sgd", learning_rate="invscaling", learning_rate_init=0.3, power_t=0.25
    ),
    "adam": dict(
        solver="adam", learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6
    ),
}
COMMON = dict(
    hidden_layer_sizes=(5, 4),
    activation="tanh",
    alpha=0.3,
    batch_size=10,
    shuffle=False,
)


def _first_call(Ours, y):
    return {"classes": np.unique(y)} if Ours is MLPClassifier else {}


def _same_start(ours, theirs, X, y):
    """Both initialised by one partial_fit, then scikit-learn's given our weights,
    and both optimizers forgotten (the next call starts fresh ones, t = 0)."""
    extra = _first_call(type(ours), y)
    ours.partial_fit(X, y, **extra)
    theirs.partial_fit(X, y, **extra)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    del ours._optimizer, theirs._optimizer


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("case", list(CASES))
def test_stochastic_solvers_take_scikit_learns_steps(case, solver):
    """Four epochs of four minibatches from the same weights: scikit-learn's MLP
    computes the expected weights and learning rate."""
    Ours, Theirs, y = CASES[case]
    params = {**COMMON, **SOLVERS[solver], "random_state": 0}
    ours, theirs = Ours(**params), Theirs(**params)
    _same_start(ours, theirs, _X, y)
    start = ours.net_.flat_params.copy()
    for _ in range(4):
        ours.partial_fit(_X, y)
        theirs.partial_fit(_X, y)
    for mine, sk in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, sk, rtol=1e-9, atol=1e-12)
    assert np.abs(ours.net_.flat_params - start).max() > 1e-3  # they did move
    # scikit-learn's Adam keeps its bias-corrected step in learning_rate
    theirs_lr = (
        theirs._optimizer.learning_rate_init
        if solver == "adam"
        else (theirs._optimizer.learning_rate)
    )
    assert ours._optimizer.lr == pytest.approx(theirs_lr)
    assert ours.t_ == theirs.t_


def test_invscaling_rate_is_lr0_over_t_to_the_power_t():
    """lr = lr0 / (t + 1)^power_t with t the samples seen, after each epoch."""
    est = MLPRegressor(
        hidden_layer_sizes=(3,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.1,
        power_t=0.5,
        random_state=0,
    )
    y = CASES["regression"][2]
    for epoch in range(1, 4):
        est.partial_fit(_X, y)
        t = 37 * epoch
        assert est._optimizer.lr == 0.1 / (t + 1) ** 0.5


@pytest.mark.parametrize("nesterov", [True, False])
def test_momentum_steps_by_hand(nesterov):
    """A linear model (no hidden layer), one full batch, alpha 0: scikit-learn's
    gradient is G = [X^T (a - y) / n, mean(a - y)] and from v = 0
    v1 = -lr G0; Nesterov steps mu v1 - lr G0, plain momentum steps v1.
    A second step (from theta1, with G1) shows the velocity carried over."""
    X, y = _X, CASES["regression"][2]
    lr, mu = 0.1, 0.7
    est = MLPRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate_init=lr,
        momentum=mu,
        nesterovs_momentum=nesterov,
        alpha=0.0,
        batch_size=37,
        shuffle=False,
        random_state=0,
    )
    est.partial_fit(X, y)
    del est._optimizer  # a fresh velocity from here

    def theta():
        return np.concatenate([est.coefs_[0][:, 0], est.intercepts_[0]])

    def G(th):  # scikit-learn's gradient of (1/2n) sum (a - y)^2
        r = X @ th[:4] + th[4] - y
        return np.concatenate([X.T @ r / 37, [r.mean()]])

    th0 = theta()
    v1 = -lr * G(th0)
    est.partial_fit(X, y)
    th1 = th0 + (mu * v1 - lr * G(th0) if nesterov else v1)
    np.testing.assert_allclose(theta(), th1, rtol=1e-12)
    v2 = mu * v1 - lr * G(th1)
    est.partial_fit(X, y)
    th2 = th1 + (mu * v2 - lr * G(th1) if nesterov else v2)
    np.testing.assert_allclose(theta(), th2, rtol=1e-12)


def test_nesterov_and_plain_momentum_differ():
    y = CASES["regression"][2]
    fits = [
        MLPRegressor(
            hidden_layer_sizes=(4,),
            solver="sgd",
            nesterovs_momentum=nesterov,
            max_iter=5,
            random_state=0,
        ).fit(_X, y)
        for nesterov in (True, False)
    ]
    assert np.abs(fits[0].net_.flat_params - fits[1].net_.flat_params).max() > 1e-4


def test_adaptive_divides_the_rate_by_5_as_scikit_learn():
    """learning_rate="adaptive" with a tol no epoch can meet: each time the stopping
    rule fires, lr /= 5, until lr <= 1e-6 stops the fit; scikit-learn counts the
    same epochs and reaches the same weights."""
    Ours, Theirs, y = CASES["regression"]
    params = {
        **COMMON,
        "solver": "sgd",
        "learning_rate": "adaptive",
        "learning_rate_init": 0.01,
        "tol": 1e3,
        "n_iter_no_change": 1,
        "max_iter": 100,
        "warm_start": True,
        "random_state": 0,
    }
    ours, theirs = Ours(**params), Theirs(**params)
    _same_start(ours, theirs, _X, y)
    ours.fit(_X, y)
    theirs.fit(_X, y)
    # 0.01 / 5^k <= 1e-6 first at k = 6; two epochs per division, then the stop
    assert ours.n_iter_ == theirs.n_iter_ == 2 * 7
    assert ours._optimizer.lr == pytest.approx(0.01 / 5**6)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-9)


@pytest.mark.parametrize("case", ["regression", "multiclass", "binary"])
def test_lbfgs_follows_scikit_learns_lbfgs(case):
    """From the same weights, L-BFGS-B on the same objective: scikit-learn's MLP
    reaches the same weights and loss (f = J / s), in the same iterations.
    (Not with several regression targets: there scikit-learn's value is
    (1/2) mean_j (a_j - y_j)^2, 1/k of the sum its gradient belongs to, so its
    L-BFGS-B sees a value and gradient of different functions; ours are one
    function, checked below.)"""
    Ours, Theirs, y = CASES[case]
    params = {**COMMON, "solver": "lbfgs", "max_iter": 1, "warm_start": True}
    ours, theirs = Ours(**params, random_state=0), Theirs(**params, random_state=0)
    ours.fit(_X, y)
    theirs.fit(_X, y)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    ours.set_params(max_iter=15).fit(_X, y)
    theirs.set_params(max_iter=15).fit(_X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 15
    np.testing.assert_allclose(ours.loss_ / ours._loss_scale, theirs.loss_, rtol=1e-7)
    for mine, sk in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(mine, sk, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_lbfgs_objective_gradient_is_its_values_derivative(case, sparse):
    """The (f, df/dtheta) pair handed to L-BFGS-B: central differences of f along
    random directions equal the gradient's projection (weighted, sparse rows too)."""
    from glassnet.interop.sklearn import lbfgs

    Ours, _, y = CASES[case]
    est = Ours(hidden_layer_sizes=(3,), activation="tanh", max_iter=1, random_state=0)
    est.fit(_X, y)
    w = np.random.default_rng(5).uniform(0.5, 2.0, size=37)
    Y, _ = est._targets(y, first=False, classes=None, dtype=np.float64)
    X = sp.csr_matrix(_X) if sparse else _X
    f = lbfgs.objective(est.net_, est._loss, est._loss_scale, 0.7, X, Y, w)
    theta = est.net_.flat_params.copy()
    _, grad = f(theta)
    rng = np.random.default_rng(6)
    for _ in range(3):
        d = rng.normal(size=theta.size)
        h = 1e-6
        numeric = (f(theta + h * d)[0] - f(theta - h * d)[0]) / (2 * h)
        assert numeric == pytest.approx(grad @ d, rel=1e-6, abs=1e-9)


def test_lbfgs_stops_at_max_fun_with_a_convergence_warning():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(solver="lbfgs", max_fun=5, random_state=0)
    with pytest.warns(Warning, match="lbfgs failed to converge"):
        est.fit(X, y)
    assert est.n_iter_ < 5


@pytest.mark.parametrize(
    "loader, Ours, Theirs, margin",
    [
        (load_iris, MLPClassifier, SkMLPClassifier, 0.04),
        (load_breast_cancer, MLPClassifier, SkMLPClassifier, 0.03),
        (load_diabetes, MLPRegressor, SkMLPRegressor, 0.05),
    ],
)
def test_lbfgs_reaches_scikit_learns_test_score(loader, Ours, Theirs, margin):
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    params = dict(solver="lbfgs", hidden_layer_sizes=(16,), alpha=1.0, max_iter=150)
    scores = [
        make_pipeline(StandardScaler(), E(**params, random_state=0))
        .fit(X_tr, y_tr)
        .score(X_te, y_te)
        for E in (Ours, Theirs)
    ]
    assert scores[0] >= scores[1] - margin, scores


# -- warm_start -----------------------------------------------------------------------------
def test_warm_start_continues_and_cold_start_begins_again():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    warm = MLPClassifier(**params, warm_start=True).fit(X, y)
    after_first = warm.loss_
    warm.fit(X, y)
    assert warm.loss_curve_[20] < warm.loss_curve_[0]  # 2nd fit went on from the 1st
    assert len(warm.loss_curve_) == 40 and warm.n_iter_ == 20
    assert warm.loss_ < after_first
    cold = MLPClassifier(**params).fit(X, y)
    twice = MLPClassifier(**params).fit(X, y).fit(X, y)
    np.testing.assert_array_equal(cold.net_.flat_params, twice.net_.flat_params)


# -- dtype ----------------------------------------------------------------------------------
def test_float32_input_computes_in_float32_and_agrees_with_float64():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    e64 = MLPClassifier(**params).fit(X, y)
    e32 = MLPClassifier(**params).fit(X.astype(np.float32), y)
    assert e64.net_.dtype == np.float64 and e32.net_.dtype == np.float32
    assert all(W.dtype == np.float32 for W in e32.coefs_)
    p64, p32 = e64.predict_proba(X), e32.predict_proba(X.astype(np.float32))
    assert np.abs(p64 - p32).max() < 1e-3  # rounding apart, the same fit
    assert np.abs(p64 - p32).max() > 0  # but really computed in two precisions
    assert (e64.predict(X) == e32.predict(X)).mean() > 0.99


# -- sparse input ---------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_results(solver, fmt):
    """The batches of a sparse X are densified one at a time: the same numbers go
    into the same products, so weights and predictions are bitwise the dense ones."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)) * (rng.uniform(size=(300, 6)) < 0.3)  # 70% zeros
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    sparse = MLPClassifier(**params).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_array_equal(dense.net_.flat_params, sparse.net_.flat_params)
    np.testing.assert_array_equal(
        dense.predict_proba(X), sparse.predict_proba(sp.csr_matrix(X).asformat(fmt))
    )


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_is_densified_a_block_of_rows_at_a_time(solver, monkeypatch):
    from glassnet.interop.sklearn.rows import BLOCK_ROWS

    rng = np.random.default_rng(8)
    X = sp.random(2500, 30, density=0.05, format="csr", random_state=8)
    y = rng.integers(0, 2, 2500)
    densified = []
    toarray = sp.csr_matrix.toarray

    def recording(self, *args, **kwargs):
        densified.append(self.shape[0])
        return toarray(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", recording)
    est = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, max_iter=2)
    est.fit(X, y).predict(X)
    assert densified and max(densified) <= BLOCK_ROWS < 2500
    if solver == "adam":  # batches of "auto" = 200 rows (12 and one of 100), then
        # prediction's blocks of 1024 rows (two and one of 452)
        assert sorted(set(densified)) == [100, 200, 452, 1024]
        assert densified.count(200) == 2 * 12


def test_sparse_input_with_early_stopping_and_regression():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 5)) * (rng.uniform(size=(200, 5)) < 0.5)
    y = X @ rng.normal(size=5)
    params = dict(hidden_layer_sizes=(4,), early_stopping=True, max_iter=10)
    dense = MLPRegressor(**params, random_state=0).fit(X, y)
    sparse = MLPRegressor(**params, random_state=0).fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.predict(X), sparse.predict(sp.csr_matrix(X)))
    np.testing.assert_allclose(
        dense.validation_loss_curve_, sparse.validation_loss_curve_, rtol=1e-12
    )


# -- pickling and cloning -------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_pickle_round_trip_predicts_bitwise_and_clone_is_unfitted(solver):
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(
        hidden_layer_sizes=(6,), solver=solver, max_iter=10, random_state=0
    ).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    twin = clone(est)
    assert not hasattr(twin, "net_") and twin.get_params() == est.get_params()
    if solver != "lbfgs":  # training goes on after unpickling
        back.partial_fit(X, y)
        est.partial_fit(X, y)
        np.testing.assert_array_equal(back.net_.flat_params, est.net_.flat_params)


# -- parameters as scikit-learn names them --------------------------------------------------
def test_scikit_learns_parameter_names_and_defaults():
    """Every parameter of scikit-learn's MLPs is a parameter here, with the same
    default (glassnet's extras come on top)."""
    for Ours, Theirs in (
        (MLPClassifier, SkMLPClassifier),
        (MLPRegressor, SkMLPRegressor),
    ):
        ours, theirs = Ours().get_params(), Theirs().get_params()
        missing = set(theirs) - set(ours)
        assert not missing, missing
        differ = {k for k in theirs if ours[k] != theirs[k]}
        assert not differ, {k: (ours[k], theirs[k]) for k in differ}


def test_glassnet_aliases_still_work():
    """learning_rate as a number is learning_rate_init; optimizer= a glassnet
    optimizer; epochs= max_iter."""
    X, y = load_iris(return_X_y=True)
    a = MLPClassifier(
        hidden_layer_sizes=(4,), learning_rate=0.01, epochs=3, random_state=0
    )
    b = MLPClassifier(
        hidden_layer_sizes=(4,), learning_rate_init=0.01, max_iter=3, random_state=0
    )
    np.testing.assert_array_equal(
        a.fit(X, y).net_.flat_params, b.fit(X, y).net_.flat_params
    )
    c = MLPClassifier(
        hidden_layer_sizes=(4,), optimizer="rmsprop", max_iter=3, random_state=0
    )
    assert type(c.fit(X, y)._optimizer.optimizer).__name__ == "RMSprop"


def test_batch_size_auto_is_min_200_n():
    """450 rows: "auto" takes the same steps as batch_size=200 (batches 200, 200,
    50), and other sizes other steps."""
    X = np.random.default_rng(0).normal(size=(450, 2))
    y = X[:, 0]

    def weights(batch_size):
        est = MLPRegressor(
            hidden_layer_sizes=(2,),
            max_iter=1,
            shuffle=False,
            batch_size=batch_size,
            random_state=0,
        )
        return est.fit(X, y).net_.flat_params

    auto = weights("auto")
    np.testing.assert_array_equal(auto, weights(200))
    assert not np.array_equal(auto, weights(150))


def test_r2_of_adam_default_matches_scikit_learn_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.05, max_iter=200)
    scores = [
        r2_score(
            y_te,
            make_pipeline(StandardScaler(), E(**params, random_state=0))
            .fit(X_tr, y_tr)
            .predict(X_te),
        )
        for E in (MLPRegressor, SkMLPRegressor)
    ]
    assert scores[0] >= scores[1] - 0.05, scores


# -- in scikit-learn's pipelines ----------------------------------------------------------
def _table(n=240, seed=7):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue", "grey"], size=n),
            "size": rng.normal(10, 3, size=n),
            "weight": rng.normal(50, 10, size=n),
        }
    )
    signal = (frame["colour"].isin(["red", "blue"])).to_numpy() * 1.5
    y = (signal + (frame["size"].to_numpy() - 10) / 3 > 0.8).astype(int)
    return frame, y


def _preprocess(sparse: bool):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    return ColumnTransformer(
        [
            ("cat", OneHotEncoder(sparse_output=sparse), ["colour"]),
            ("num", StandardScaler(), ["size", "weight"]),
        ],
        sparse_threshold=1.0 if sparse else 0.0,
    )


def _small_classifier():
    return MLPClassifier(
        hidden_layer_sizes=(8,), learning_rate_init=0.02, max_iter=60, random_state=0
    )


def test_column_transformer_sparse_one_hot_and_grid_search_with_two_jobs():
    from sklearn.model_selection import GridSearchCV

    frame, y = _table()
    pipe = make_pipeline(_preprocess(sparse=True), _small_classifier())
    assert sp.issparse(pipe[0].fit_transform(frame))  # the network is fed CSR
    search = GridSearchCV(
        pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3, n_jobs=2
    ).fit(frame, y)
    assert search.best_score_ > 0.85
    assert search.score(frame, y) > 0.85
    dense = make_pipeline(_preprocess(sparse=False), _small_classifier()).fit(frame, y)
    sparse = clone(pipe).fit(frame, y)
    np.testing.assert_array_equal(
        dense.predict_proba(frame), sparse.predict_proba(frame)
    )


def test_pandas_output_pipeline_and_feature_names():
    frame, y = _table()
    pipe = make_pipeline(_preprocess(sparse=False), _small_classifier())
    pipe.set_output(transform="pandas")
    pipe.fit(frame, y)
    est = pipe[-1]
    assert list(est.feature_names_in_) == list(pipe[0].get_feature_names_out())
    assert est.n_features_in_ == 6
    assert pipe.predict(frame).shape == (240,) and pipe.score(frame, y) > 0.85
    direct = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(
        frame[["size", "weight"]], y
    )
    assert list(direct.feature_names_in_) == ["size", "weight"]


def test_partial_fit_needs_a_stochastic_solver():
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(4,), max_iter=5)
    with pytest.raises(ValueError, match=r"partial_fit needs a stochastic solver"):
        est.partial_fit(X, y, classes=np.unique(y))
