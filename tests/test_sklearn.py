"""glassnet.sklearn: MLPClassifier and MLPRegressor as scikit-learn estimators.

scikit-learn's own estimator checks are in test_sklearn_checks.py. Here: the steps
against scikit-learn's MLP itself, accuracy on real datasets, the model-selection
tools, determinism, weights, partial_fit, early stopping, errors, and the optional
import.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from glassnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_digits,
    load_iris,
    make_friedman1,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import glassnet as gn  # noqa: E402

# Most fits here stop at max_iter on purpose (small, fast runs).
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _split(loader):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def _blobs(n=120, seed=0):
    """Two overlapping Gaussian classes in 2-D, labels "a"/"b"."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(-1, 1.2, (n // 2, 2)), rng.normal(1, 1.2, (n // 2, 2))])
    y = np.array(["a"] * (n // 2) + ["b"] * (n // 2))
    return X, y


# -- the same steps as scikit-learn's MLP -------------------------------------------------
_rng = np.random.default_rng(0)
_X = _rng.normal(size=(37, 4))
SK_CASES = {
    # name: (ours, scikit-learn's, y, s = glassnet's loss / scikit-learn's)
    "regression": (
        MLPRegressor,
        SkMLPRegressor,
        _X @ _rng.normal(size=4) + 0.1 * _rng.normal(size=37),
        2.0,
    ),
    "regression_3_targets": (
        MLPRegressor,
        SkMLPRegressor,
        _X @ _rng.normal(size=(4, 3)),
        2.0 / 3,
    ),
    "multiclass": (MLPClassifier, SkMLPClassifier, _rng.integers(0, 3, 37), 1.0),
    "binary_strings": (
        MLPClassifier,
        SkMLPClassifier,
        np.where(_X[:, 0] + _rng.normal(size=37) > 0, "yes", "no"),
        1.0,
    ),
    "multilabel_3": (
        MLPClassifier,
        SkMLPClassifier,
        (_X[:, :3] + _rng.normal(size=(37, 3)) > 0).astype(int),
        1.0 / 3,
    ),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(SK_CASES))
def test_sgd_steps_equal_scikit_learns_mlp(case, weighted):
    """With plain SGD the weights follow scikit-learn's MLP step for step (alpha,
    minibatches and sample weights included): scikit-learn computes the expected
    numbers. Both start from the same weights (ours after one epoch, copied into
    scikit-learn's), then run three more epochs of four batches (10, 10, 10, 7)."""
    Ours, Theirs, y, s = SK_CASES[case]
    sample_weight = (
        np.random.default_rng(1).uniform(0.5, 2.0, size=37) if weighted else None
    )
    lr = 0.05
    ours = Ours(
        hidden_layer_sizes=(5, 4),
        activation="tanh",
        optimizer=gn.SGD(lr=lr / s),  # our objective is s times theirs
        alpha=0.3,
        batch_size=10,
        shuffle=False,
        dtype="float64",
        random_state=0,
    )
    theirs = Theirs(
        hidden_layer_sizes=(5, 4),
        activation="tanh",
        solver="sgd",
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.3,
        batch_size=10,
        shuffle=False,
        random_state=0,
    )
    first = {}
    if Ours is MLPClassifier:
        first["classes"] = np.arange(3) if y.ndim == 2 else np.unique(y)
    ours.partial_fit(_X, y, sample_weight=sample_weight, **first)
    theirs.partial_fit(_X, y, sample_weight=sample_weight, **first)
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    start = ours.net_.flat_params.copy()
    for _ in range(3):
        ours.partial_fit(_X, y, sample_weight=sample_weight)
        theirs.partial_fit(_X, y, sample_weight=sample_weight)
    for mine, sk in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, sk, rtol=0, atol=1e-13)
    assert np.abs(ours.net_.flat_params - start).max() > 1e-3  # they did move
    if case != "regression_3_targets":  # see the Objective section of glassnet.sklearn
        np.testing.assert_allclose(
            np.array(ours.loss_curve_[1:]) / s, theirs.loss_curve_[1:], rtol=1e-12
        )
    if Ours is MLPClassifier:
        np.testing.assert_allclose(ours.predict_proba(_X), theirs.predict_proba(_X))
        np.testing.assert_array_equal(ours.predict(_X), theirs.predict(_X))
    else:
        np.testing.assert_allclose(ours.predict(_X), theirs.predict(_X), rtol=1e-12)


def test_alpha_penalises_weights_not_biases():
    """One full-batch SGD step from the same start: with alpha the weight matrices
    move by an extra -lr * s * alpha * W / n (s = 2 for one regression target),
    the biases by nothing extra."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    lr, alpha, n = 0.1, 0.7, 20
    common = dict(
        hidden_layer_sizes=(4,),
        activation="tanh",
        optimizer=gn.SGD(lr=lr),
        batch_size=n,
        shuffle=False,
        dtype="float64",
        random_state=5,
    )
    start = MLPRegressor(**common, alpha=0.0).partial_fit(X[:1], y[:1])
    without, with_alpha = (
        MLPRegressor(**common, alpha=0.0),
        MLPRegressor(**common, alpha=alpha),
    )
    for est in (without, with_alpha):
        est.partial_fit(X[:1], y[:1])  # builds the same net as `start`
        est.net_.flat_params[...] = start.net_.flat_params
        est.partial_fit(X, y)
    for W0, W_plain, W_alpha in zip(
        start.coefs_, without.coefs_, with_alpha.coefs_, strict=True
    ):
        np.testing.assert_allclose(
            W_alpha, W_plain - lr * 2.0 * alpha * W0 / n, rtol=0, atol=1e-14
        )
    for b_plain, b_alpha in zip(
        without.intercepts_, with_alpha.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(b_alpha, b_plain)


# -- accuracy on real data ---------------------------------------------------------------
@pytest.mark.parametrize(
    "loader, minimum",
    [(load_iris, 0.94), (load_breast_cancer, 0.94), (load_digits, 0.95)],
    ids=["iris", "breast_cancer", "digits"],
)
def test_classifier_test_accuracy(loader, minimum):
    X_train, X_test, y_train, y_test = _split(loader)
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(64,), learning_rate=3e-3, max_iter=100,
                      random_state=0),
    )  # fmt: skip
    accuracy = model.fit(X_train, y_train).score(X_test, y_test)
    # measured: iris 0.974, breast cancer 0.951, digits 0.978 (sklearn's MLP with
    # the same sizes: 0.974, 0.944, 0.973)
    assert accuracy > minimum
    assert accuracy == accuracy_score(y_test, model.predict(X_test))


def test_regressor_r2_one_and_several_targets():
    X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(64,), learning_rate=1e-2, max_iter=300,
                     random_state=0),
    )  # fmt: skip
    r2 = model.fit(X_train, y_train).score(X_test, y_test)
    assert r2 > 0.9  # measured 0.94 (sklearn's MLPRegressor, same sizes: 0.93)
    assert model.predict(X_test).shape == (len(X_test),)
    # two targets: y and -2 y + 1
    Y_train = np.column_stack([y_train, 1 - 2 * y_train])
    Y_test = np.column_stack([y_test, 1 - 2 * y_test])
    model.fit(X_train, Y_train)
    prediction = model.predict(X_test)
    assert prediction.shape == (len(X_test), 2) and prediction.dtype == np.float64
    assert r2_score(Y_test, prediction) > 0.9
    assert model[-1].n_outputs_ == 2 and model[-1].net_.out_features == 2
    # a (n, 1) column gives (n,) predictions, as scikit-learn's MLPRegressor
    model.fit(X_train, y_train[:, None])
    assert model.predict(X_test).shape == (len(X_test),)


# -- model selection ---------------------------------------------------------------------
def test_pipeline_grid_search_and_cross_val_score():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(8,), learning_rate=1e-2, max_iter=60,
                      random_state=0),
    )  # fmt: skip
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    search = GridSearchCV(
        pipe,
        {"mlpclassifier__hidden_layer_sizes": [(2,), (16,)],
         "mlpclassifier__alpha": [1e-4, 1e-2]},
        cv=3,
    )  # fmt: skip
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] == (16,)
    assert search.best_estimator_[-1].net_.layers[0].W.shape == (16, 4)
    assert search.score(X, y) > 0.9


def test_regressor_cross_val_score():
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=1)
    model = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(32,), learning_rate=1e-2, max_iter=300, random_state=0
        ),
    )
    assert cross_val_score(model, X, y, cv=3).min() > 0.7  # measured 0.76, 0.79, 0.77


# -- determinism, clone, pickle ----------------------------------------------------------
def test_same_random_state_same_predictions():
    X, y = _blobs()
    settings = dict(hidden_layer_sizes=(8, 8), dropout=0.2, max_iter=20)
    a = MLPClassifier(**settings, random_state=7).fit(X, y).predict_proba(X)
    b = MLPClassifier(**settings, random_state=7).fit(X, y).predict_proba(X)
    c = MLPClassifier(**settings, random_state=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    est = MLPClassifier(**settings, random_state=None)
    first = est.fit(X, y).seed_
    # None draws a fresh seed each fit; refitting with that seed reproduces it
    again = MLPClassifier(**settings, random_state=first).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), again.predict_proba(X))
    # a RandomState is drawn from, so the same RandomState state gives the same fit
    r1 = MLPClassifier(**settings, random_state=np.random.RandomState(3)).fit(X, y)
    r2 = MLPClassifier(**settings, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(r1.predict_proba(X), r2.predict_proba(X))


def test_clone_does_not_share_the_network():
    X, y = _blobs()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    weights = est.net_.flat_params.copy()
    twin = clone(est)
    assert not hasattr(twin, "net_")  # an unfitted copy of the parameters
    assert twin.get_params() == est.get_params()
    twin.set_params(learning_rate=0.1, max_iter=30).fit(X, y)
    assert twin.net_ is not est.net_
    np.testing.assert_array_equal(est.net_.flat_params, weights)  # untouched
    assert not np.array_equal(twin.net_.flat_params, weights)


def test_optimizer_object_is_copied_per_fit():
    X, y = _blobs()
    sgd = gn.SGD(lr=0.05, momentum=0.9, nesterov=True)
    est = MLPClassifier(hidden_layer_sizes=(4,), optimizer=sgd, max_iter=3)
    est.fit(X, y)
    assert sgd.t == 0 and sgd.state == {}  # the object passed in never trains
    assert est._optimizer.optimizer is not sgd
    assert est._optimizer.config() == sgd.config()
    assert est._optimizer.t == 3  # 3 epochs of one batch each (n = 120 <= 200)


def test_pickle_keeps_training_and_glassnet_model_file(tmp_path):
    X, y = _blobs()
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=10, random_state=0).fit(X, y)
    weights = est.net_.flat_params.copy()
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    # training goes on after unpickling exactly as in the original (same weights,
    # optimizer moments and shuffling state)
    est.partial_fit(X, y)
    restored.partial_fit(X, y)
    assert np.abs(restored.net_.flat_params - weights).max() > 1e-4
    np.testing.assert_array_equal(restored.net_.flat_params, est.net_.flat_params)
    np.testing.assert_array_equal(restored.coefs_[0], restored.net_.layers[0].W.T)
    assert isinstance(est.net_, gn.Sequential)
    path = tmp_path / "model.safetensors"
    gn.save(est.net_, path)
    np.testing.assert_array_equal(gn.load(path).predict(X), est.net_.predict(X))


# -- weights -----------------------------------------------------------------------------
def test_sample_weight_and_class_weight_shift_predictions_toward_the_weighted_class():
    X, y = _blobs(200, seed=1)
    settings = dict(hidden_layer_sizes=(8,), learning_rate=1e-2, max_iter=60,
                    random_state=0)  # fmt: skip
    plain = MLPClassifier(**settings).fit(X, y)
    b_heavy = np.where(y == "b", 10.0, 1.0)
    weighted = MLPClassifier(**settings).fit(X, y, sample_weight=b_heavy)
    by_class = MLPClassifier(**settings, class_weight={"b": 10.0}).fit(X, y)

    def share_b(est):
        return np.mean(est.predict(X) == "b")

    def mean_p_b(est):
        return est.predict_proba(X)[:, 1].mean()

    # measured: share of "b" predictions 0.51 -> 0.60, mean P(b) 0.50 -> 0.61
    assert share_b(weighted) > share_b(plain) + 0.05
    assert mean_p_b(weighted) > mean_p_b(plain) + 0.05
    # class_weight multiplies into the per-sample weights: the very same fit
    np.testing.assert_array_equal(by_class.net_.flat_params, weighted.net_.flat_params)


def test_class_weight_balanced_raises_minority_recall():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (270, 2)), rng.normal(1.2, 1, (30, 2))])
    y = np.array([0] * 270 + [1] * 30)
    settings = dict(hidden_layer_sizes=(8,), learning_rate=1e-2, max_iter=60,
                    random_state=0)  # fmt: skip
    plain = MLPClassifier(**settings).fit(X, y)
    balanced = MLPClassifier(**settings, class_weight="balanced").fit(X, y)

    def recall(est):
        return np.mean(est.predict(X[y == 1]) == 1)

    assert recall(balanced) > recall(plain) + 0.3  # measured 0.77 vs 0.13


def test_regressor_sample_weight_pulls_toward_heavy_rows():
    """Two groups at the same x with targets 0 and 1: the weighted squared error
    sum w_i (b - y_i)^2 is smallest at the weighted mean of the targets, where
    gradient descent on the bias ends."""
    X = np.zeros((40, 1))
    y = np.array([0.0] * 20 + [1.0] * 20)
    w = np.array([1.0] * 20 + [3.0] * 20)  # weighted mean (20 * 3) / 80 = 0.75
    est = MLPRegressor(hidden_layer_sizes=(), optimizer=gn.SGD(lr=0.1), tol=0.0,
                       max_iter=300, alpha=0.0, random_state=0)  # fmt: skip
    assert est.fit(X, y).predict([[0.0]])[0] == pytest.approx(0.5, abs=1e-3)
    assert est.fit(X, y, sample_weight=w).predict([[0.0]])[0] == pytest.approx(
        0.75, abs=1e-3
    )


def test_zero_weight_rows_are_the_same_as_removed_rows():
    X, y = _blobs(60)
    X_extra = np.vstack([X, X[:10] + 5.0])
    y_extra = np.concatenate([y, y[:10]])
    w = np.concatenate([np.ones(60), np.zeros(10)])
    settings = dict(hidden_layer_sizes=(4,), max_iter=10, dtype="float64",
                    random_state=0)  # fmt: skip
    a = MLPClassifier(**settings).fit(X, y)
    b = MLPClassifier(**settings).fit(X_extra, y_extra, sample_weight=w)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)


# -- partial_fit -------------------------------------------------------------------------
def test_partial_fit_learns_over_calls_and_equals_fit():
    X, y = _blobs(200, seed=3)
    settings = dict(hidden_layer_sizes=(8,), learning_rate=1e-2, batch_size=50)
    est = MLPClassifier(**settings, random_state=0)
    classes = np.array(["a", "b"])
    losses = []
    for _ in range(30):
        est.partial_fit(X, y, classes=classes)
        losses.append(est.loss_)
    assert est.n_iter_ == 30 and est.t_ == 30 * 200
    assert losses[-1] < 0.8 * losses[0]
    assert est.score(X, y) > 0.75
    # 30 partial_fit epochs are the 30 epochs of fit (same shuffles of the 4
    # batches, same optimizer state)
    full = MLPClassifier(**settings, random_state=0, max_iter=30, tol=0.0,
                         n_iter_no_change=1000)  # fmt: skip
    full.fit(X, y)
    np.testing.assert_array_equal(full.net_.flat_params, est.net_.flat_params)
    assert full.loss_curve_ == est.loss_curve_


def test_partial_fit_minibatches_of_a_stream():
    X, y = _blobs(200, seed=4)
    order = np.random.default_rng(0).permutation(200)
    est = MLPClassifier(hidden_layer_sizes=(8,), learning_rate=1e-2, random_state=0)
    first = accuracy_score(
        y, est.partial_fit(X[:20], y[:20], classes=["b", "a"]).predict(X)
    )
    for _epoch in range(20):
        for chunk in np.array_split(order, 10):  # a chunk may hold one class only
            est.partial_fit(X[chunk], y[chunk])
    assert est.score(X, y) > max(first, 0.75)
    assert list(est.classes_) == ["a", "b"]


def test_regressor_partial_fit():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = X[:, 0] - 2 * X[:, 1]
    est = MLPRegressor(hidden_layer_sizes=(8,), learning_rate=1e-2, random_state=0)
    scores = [est.partial_fit(X, y).score(X, y) for _ in range(40)]
    assert scores[-1] > 0.95 and scores[-1] > scores[0]


# -- early stopping and curves -----------------------------------------------------------
def test_early_stopping_restores_the_best_validation_weights():
    X_train, X_test, y_train, y_test = _split(load_digits)
    est = MLPClassifier(
        hidden_layer_sizes=(32,),
        learning_rate=1e-2,
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    )
    est.fit(X_train / 16.0, y_train)
    assert est.n_iter_ < 200
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == est.n_iter_
    assert len(est.loss_curve_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None
    # the validation split, recomputed independently: the restored weights score best
    _, X_val, _, y_val = train_test_split(
        X_train / 16.0, y_train, test_size=0.1, random_state=est.seed_, stratify=y_train
    )
    assert est.score(X_val, y_val) == est.best_validation_score_
    best_epoch = int(np.argmax(est.validation_scores_))
    assert est.n_iter_ - 1 - best_epoch >= est.n_iter_no_change  # stopped on the rule
    assert est.score(X_test / 16.0, y_test) > 0.9


def test_training_loss_rule_stops_when_loss_stalls():
    X, y = _blobs()
    est = MLPClassifier(
        hidden_layer_sizes=(4,),
        learning_rate=0.05,
        tol=1e-2,
        n_iter_no_change=2,
        max_iter=500,
        random_state=0,
    ).fit(X, y)
    assert est.n_iter_ < 500
    curve = est.loss_curve_
    # stopped because each of the last n_iter_no_change + 1 epochs failed to beat
    # the best loss before it by tol
    for e in range(len(curve) - 3, len(curve)):
        assert curve[e] > min(curve[:e]) - 1e-2
    assert curve[-4] <= min(curve[:-4]) - 1e-2 or len(curve) == 4
    assert est.validation_scores_ is None and est.validation_loss_curve_ is None


def test_convergence_warning_at_max_iter():
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=3).fit(X, y)


def test_epochs_is_an_alias_of_max_iter():
    X, y = _blobs()
    a = MLPClassifier(hidden_layer_sizes=(4,), epochs=7, random_state=0).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(4,), max_iter=7, random_state=0).fit(X, y)
    assert a.n_iter_ == b.n_iter_ == 7
    np.testing.assert_array_equal(a.net_.flat_params, b.net_.flat_params)


def test_verbose_prints_each_epoch(capsys):
    X, y = _blobs()
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, verbose=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "Iteration 1",
        "Iteration 2",
        "Iteration 3",
    ]


# -- targets, outputs and architecture ---------------------------------------------------
def test_string_labels_binary_and_multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = MLPClassifier(hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=100,
                        random_state=0).fit(X, names)  # fmt: skip
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.net_.out_features == 3 and est.out_activation_ == "softmax"
    P = est.predict_proba(X)
    assert P.shape == (150, 3) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[P.argmax(axis=1)])
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(P))
    binary = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20).fit(X[50:], names[50:])
    assert list(binary.classes_) == ["versicolor", "virginica"]
    assert binary.net_.out_features == 1 and binary.out_activation_ == "sigmoid"
    p = binary.net_.predict(X[50:])[:, 0]  # the sigmoid output is P(classes_[1])
    np.testing.assert_allclose(binary.predict_proba(X[50:])[:, 1], p)
    np.testing.assert_array_equal(
        binary.predict(X[50:]), np.where(p > 0.5, "virginica", "versicolor")
    )


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(32,), learning_rate=1e-2, max_iter=100,
                        random_state=0).fit(X, Y)  # fmt: skip
    assert est.net_.out_features == 4 and est.out_activation_ == "sigmoid"
    prediction = est.predict(X)
    assert prediction.shape == (200, 4) and prediction.dtype == Y.dtype
    P = est.predict_proba(X)
    np.testing.assert_array_equal(prediction, (P > 0.5).astype(int))
    assert np.mean(prediction == Y) > 0.85  # per-label accuracy


def test_per_layer_activations_and_dropout():
    X, y = _blobs()
    est = MLPClassifier(hidden_layer_sizes=(6, 5), activation=["tanh", "relu"],
                        dropout=[0.5, 0.0], max_iter=2).fit(X, y)  # fmt: skip
    kinds = [type(layer).__name__ for layer in est.net_.layers]
    assert kinds == ["Dense", "Dropout", "Dense", "Dense"]
    assert [est.net_.layers[i].activation.name for i in (0, 2, 3)] == [
        "tanh",
        "relu",
        "sigmoid",
    ]
    assert est.net_.layers[1].p == 0.5
    assert est.n_layers_ == 4
    assert [W.shape for W in est.coefs_] == [(2, 6), (6, 5), (5, 1)]
    assert (
        MLPClassifier(hidden_layer_sizes=3, activation="logistic", max_iter=1)
        .fit(X, y)
        .net_.layers[0]
        .activation.name
        == "sigmoid"
    )


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    frame = pd.DataFrame(X, columns=["height", "width"])
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(frame, y)
    assert list(est.feature_names_in_) == ["height", "width"]
    assert est.n_features_in_ == 2
    with pytest.raises(ValueError, match="feature names"):
        est.predict(frame.rename(columns={"width": "depth"}))
    assert not hasattr(MLPClassifier(max_iter=1).fit(X, y), "feature_names_in_")


def test_dtype_float64_network():
    X, y = _blobs()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, dtype="float64").fit(
        X.astype(np.float32), y
    )
    assert est.net_.dtype == np.float64 and est.net_.flat_params.dtype == np.float64
    forced = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, dtype="float32")
    assert forced.fit(X, y).net_.dtype == np.float32


@pytest.mark.parametrize(
    "X_dtype, net_dtype",
    [(np.float64, np.float64), (np.float32, np.float32), (np.int64, np.float64)],
)
def test_default_dtype_follows_the_input(X_dtype, net_dtype):
    X, y = _blobs()
    X = (X * 10).astype(X_dtype)
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y)
    assert est.dtype is None
    assert est.net_.dtype == net_dtype and est.net_.flat_params.dtype == net_dtype


# -- errors ------------------------------------------------------------------------------
X_SMALL, Y_SMALL = _blobs(40)


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"hidden_layer_sizes": (10, 0)}, ValueError,
         r"hidden_layer_sizes must be a tuple of positive integers.*got \(10, 0\)"),
        ({"hidden_layer_sizes": (4, 4), "activation": ["relu"]}, ValueError,
         r"hidden_layer_sizes has 2 layer\(s\) but activation has 1"),
        ({"activation": "swish"}, ValueError, r"unknown activation 'swish'"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive integer, got 0"),
        ({"batch_size": "big"}, ValueError, r"batch_size must be 'auto'.*got 'big'"),
        ({"learning_rate": "cyclic"}, ValueError,
         r"learning_rate must be one of \['constant', 'invscaling', 'adaptive'\]"),
        ({"learning_rate": 0.1, "learning_rate_init": 0.2}, ValueError,
         r"alias of learning_rate_init.*learning_rate=0.1 and learning_rate_init=0.2"),
        ({"solver": "sgd", "optimizer": "adam"}, ValueError,
         r"give solver .* or optimizer .*not both"),
        ({"solver": "newton"}, ValueError, r"solver must be one of .*got 'newton'"),
        ({"optimizer": "adam", "learning_rate": "adaptive"}, ValueError,
         r"learning_rate='adaptive' is a schedule of solver='sgd'"),
        ({"solver": "lbfgs", "dropout": 0.5}, ValueError,
         r"solver='lbfgs'.*dropout"),
        ({"solver": "sgd", "momentum": -0.1}, ValueError, r"momentum must be in"),
        ({"beta_1": 1.0}, ValueError, r"beta_1 must be in \[0, 1\)"),
        ({"epsilon": 0.0}, ValueError, r"epsilon must be in \(0, inf\]"),
        ({"max_fun": 0}, ValueError, r"max_fun must be a positive integer"),
        ({"warm_start": "yes"}, TypeError, r"warm_start must be True or False"),
        ({"learning_rate": -1.0}, ValueError, r"learning_rate must be in \(0, inf\]"),
        ({"optimizer": "lbfgs"}, ValueError, r"optimizer must be one of .*got 'lbfgs'"),
        ({"optimizer": gn.Adam(lr=0.01), "learning_rate": 0.5}, ValueError,
         r"learning_rate_init=0.5 disagrees with the optimizer object's lr=0.01"),
        ({"max_iter": 50, "epochs": 20}, ValueError,
         r"epochs is an alias of max_iter.*max_iter=50 and epochs=20"),
        ({"alpha": -1.0}, ValueError, r"alpha must be in \[0, inf\], got -1"),
        ({"dropout": 1.0}, ValueError, r"dropout must be in \[0, 1\), got 1"),
        ({"validation_fraction": 1.0, "early_stopping": True}, ValueError,
         r"validation_fraction must be in \(0, 1\)"),
        ({"dtype": "float16"}, ValueError, r"dtype must be 'float32' or 'float64'"),
        ({"random_state": "seed"}, TypeError, r"random_state must be None, an int"),
        ({"class_weight": {"z": 2.0}}, ValueError,
         r"class_weight has label\(s\) \['z'\] that are not classes of y"),
        ({"class_weight": {"a": -1.0}}, ValueError,
         r"class_weight\['a'\] must be in \[0, inf\], got -1"),
        ({"class_weight": "bogus"}, ValueError, r"class_weight must be a dict"),
    ],
)  # fmt: skip
def test_bad_parameters_are_named_at_fit(params, error, message):
    est = MLPClassifier(**params)  # nothing is checked before fit (scikit-learn's rule)
    with pytest.raises(error, match=message):
        est.fit(X_SMALL, Y_SMALL)


def test_regressor_rejects_other_losses():
    with pytest.raises(
        ValueError,
        match=r"loss must be 'squared_error'.*'poisson', got 'cross_entropy'",
    ):
        MLPRegressor(loss="cross_entropy").fit(X_SMALL, np.arange(40.0))
    est = MLPRegressor(loss="squared_error", hidden_layer_sizes=(2,), max_iter=1)
    assert est.fit(X_SMALL, np.arange(40.0)).n_iter_ == 1


def test_data_errors():
    with pytest.raises(ValueError, match=r"y has only one class \('a'\); a classifier"):
        MLPClassifier().fit(X_SMALL, np.full(40, "a"))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X_SMALL, Y_SMALL)
    est = MLPClassifier(max_iter=1).partial_fit(X_SMALL, Y_SMALL, classes=["a", "b"])
    with pytest.raises(ValueError, match="unseen labels"):
        est.partial_fit(X_SMALL, np.full(40, "c"))
    with pytest.raises(
        ValueError, match=r"classes=\['a', 'c'\] differs .* \['a', 'b'\]"
    ):
        est.partial_fit(X_SMALL, Y_SMALL, classes=["a", "c"])
    with pytest.raises(
        ValueError, match="X has 3 features, but MLPClassifier is expecting 2"
    ):
        est.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(
            X_SMALL, Y_SMALL, classes=["a", "b"]
        )
    with pytest.raises(ValueError, match="needs all of y at once"):
        MLPClassifier(class_weight="balanced").partial_fit(
            X_SMALL, Y_SMALL, classes=["a", "b"]
        )
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(40,\)"):
        MLPClassifier().fit(X_SMALL, Y_SMALL, sample_weight=np.ones(39))
    with pytest.raises(ValueError, match="finite and non-negative"):
        MLPClassifier().fit(X_SMALL, Y_SMALL, sample_weight=-np.ones(40))
    with pytest.raises(ValueError, match="are all zero"):
        MLPClassifier().fit(X_SMALL, Y_SMALL, sample_weight=np.zeros(40))
    with pytest.raises(
        ValueError, match="class_weight is not supported for multilabel"
    ):
        MLPClassifier(class_weight="balanced").fit(
            X_SMALL, np.eye(2, dtype=int)[[0, 1] * 20]
        )
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(np.full((4, 2), np.nan), ["a", "b"] * 2)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X_SMALL)
    with pytest.raises(AttributeError, match="not fitted yet"):
        MLPRegressor().coefs_  # noqa: B018
    with pytest.raises(ValueError, match=r"the validation set is too small \(1 sample"):
        MLPRegressor(early_stopping=True, validation_fraction=0.01).fit(
            X_SMALL, np.arange(40.0)
        )
    reg = MLPRegressor(max_iter=1).fit(X_SMALL, np.zeros((40, 2)))
    with pytest.raises(ValueError, match=r"y has 3 target column\(s\) but .* with 2"):
        reg.partial_fit(X_SMALL, np.zeros((40, 3)))


def test_divergence_raises_glassnets_error():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 2)), 1e3 * rng.normal(size=60)
    est = MLPRegressor(optimizer="sgd", learning_rate=1e6, max_iter=50)
    with pytest.raises(gn.DivergenceError, match="training diverged at epoch 1"):
        est.fit(X, y)


def test_interrupted_fit_warns_and_keeps_the_finished_epochs(monkeypatch):
    """Ctrl-C inside net.fit stops it with stop_reason "interrupted"; the estimator
    stops too, keeps the completed epochs and warns as scikit-learn does."""
    X, y = _blobs()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0)
    real_fit = gn.Sequential.fit
    calls = []

    def fit_interrupted_at_third_epoch(net, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [
                gn.LambdaCallback(on_batch_begin=_raise_keyboard_interrupt)
            ]
        return real_fit(net, *args, **kwargs)

    monkeypatch.setattr(gn.Sequential, "fit", fit_interrupted_at_third_epoch)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2


def _raise_keyboard_interrupt(step, logs):
    raise KeyboardInterrupt


# -- optional dependency -----------------------------------------------------------------
def test_glassnet_imports_without_sklearn_and_glassnet_sklearn_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["sklearn"] = None  # any import of scikit-learn now fails
        import glassnet as gn
        net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
        print("glassnet ok", net.forward([[0.0, 1.0]]).shape)
        try:
            import glassnet.sklearn
        except ImportError as error:
            print("ImportError:", error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "glassnet ok (1, 1)"
    assert lines[1].startswith("ImportError: glassnet.sklearn needs scikit-learn")
    assert "`sklearn` extra" in lines[1] and "glassnet[sklearn]" in lines[1]


def test_no_warnings_on_a_converged_fit():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = MLPClassifier(hidden_layer_sizes=(4,), learning_rate=0.05, max_iter=500,
                            tol=1e-3, random_state=0).fit(X, y)  # fmt: skip
    assert est.n_iter_ < 500


def test_readme_example_prints_what_the_readme_says():
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## scikit-learn estimators", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    expected = re.search(r"print\(.*\)\s+# (.+)", code).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("error")  # the example converges: no ConvergenceWarning
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)
    assert out.getvalue().strip() == expected
    net = namespace["net"]
    assert [layer.W.shape for layer in net.layers] == [(64, 64), (10, 64)]
