"""Metrics against scikit-learn's, and their use in fit/evaluate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

import glassnet as gn
from glassnet.training import metrics
from glassnet.training.tasks import OutputTask


def labels(seed, n=200, k=4):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, size=n)
    # Predictions right 60% of the time, otherwise random: every cell gets counts.
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(4))
def test_classification_metrics_match_scikit_learn(seed):
    y_true, y_pred = labels(seed)
    w = np.random.default_rng(seed).random(len(y_true))
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(
        sk.accuracy_score(y_true, y_pred)
    )
    assert metrics.accuracy(y_true, y_pred, sample_weight=w) == pytest.approx(
        sk.accuracy_score(y_true, y_pred, sample_weight=w)
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred)
    )
    np.testing.assert_allclose(
        metrics.confusion_matrix(y_true, y_pred, sample_weight=w),
        sk.confusion_matrix(y_true, y_pred, sample_weight=w),
    )
    for ours, theirs in (
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1, sk.f1_score),
    ):
        assert ours(y_true, y_pred) == pytest.approx(
            theirs(y_true, y_pred, average="macro", zero_division=0), rel=1e-12
        )


def test_macro_metrics_with_a_class_never_predicted():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 0, 1, 1])  # class 2 never predicted
    for ours, theirs in (
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1, sk.f1_score),
    ):
        assert ours(y_true, y_pred) == pytest.approx(
            theirs(y_true, y_pred, average="macro", zero_division=0)
        )


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracy_matches_scikit_learn(k):
    rng = np.random.default_rng(k)
    scores = rng.random((100, 5))
    y = rng.integers(0, 5, size=100)
    assert metrics.top_k_accuracy(y, scores, k=k) == pytest.approx(
        sk.top_k_accuracy_score(y, scores, k=k, labels=range(5))
    )


def test_top_k_with_k_at_least_the_class_count_is_always_right():
    assert metrics.top_k_accuracy([0, 1], [[0.1, 0.9], [0.8, 0.2]], k=2) == 1.0


def test_scores_and_one_hot_rows_are_read_as_labels():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    one_hot = np.array([[0, 1], [0, 1], [0, 1]])
    assert metrics.accuracy(one_hot, scores) == pytest.approx(2 / 3)
    assert metrics.accuracy(
        [1, 0, 1], np.array([[0.7], [0.2], [0.4]])
    ) == pytest.approx(2 / 3)


@pytest.mark.parametrize("outputs", [1, 3])
def test_regression_metrics_match_scikit_learn(outputs):
    rng = np.random.default_rng(outputs)
    y = rng.normal(size=(50, outputs))
    p = y + rng.normal(scale=0.5, size=y.shape)
    w = rng.random(50)
    assert metrics.mean_squared_error(y, p) == pytest.approx(
        sk.mean_squared_error(y, p)
    )
    assert metrics.mean_absolute_error(y, p) == pytest.approx(
        sk.mean_absolute_error(y, p)
    )
    assert metrics.r2_score(y, p) == pytest.approx(sk.r2_score(y, p))
    assert metrics.r2_score(y, p, sample_weight=w) == pytest.approx(
        sk.r2_score(y, p, sample_weight=w)
    )
    assert metrics.mean_squared_error(y, p, sample_weight=w) == pytest.approx(
        sk.mean_squared_error(y, p, sample_weight=w)
    )


def test_r2_of_a_constant_target():
    assert metrics.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert metrics.r2_score([2.0, 2.0], [1.0, 2.0]) == 0.0


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: metrics.accuracy([0, 1], [0]),
            "different numbers of samples: 2 and 1",
        ),
        (lambda: metrics.accuracy([0.5, 1], [0, 1]), "must hold integer class labels"),
        (lambda: metrics.accuracy([], []), "at least one sample"),
        (
            lambda: metrics.top_k_accuracy([0], [[0.2, 0.8]], k=0),
            "k must be a positive integer, got 0",
        ),
        (
            lambda: metrics.top_k_accuracy([0], [0.2], k=1),
            r"scores must have shape \(n, n_classes >= 2\)",
        ),
        (
            lambda: metrics.confusion_matrix([0, 3], [0, 1], n_classes=2),
            "n_classes=2 but labels go up to 3",
        ),
        (
            lambda: metrics.mean_squared_error([1.0, 2.0], [[1.0, 2.0]]),
            "must have the same shape",
        ),
    ],
)
def test_metric_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_resolve_metrics_errors():
    classes = OutputTask("multiclass", 3)
    with pytest.raises(ValueError, match="metrics listed twice"):
        metrics.resolve_metrics(["accuracy", "accuracy"], classes)
    with pytest.raises(ValueError, match="'top2_accuracy' needs a multiclass output"):
        metrics.resolve_metrics(["top2_accuracy"], OutputTask("binary", 1))
    with pytest.raises(
        ValueError, match="'f1' is the macro average over classes of single-label"
    ):
        metrics.resolve_metrics(["f1"], OutputTask("multilabel", 2))
    with pytest.raises(TypeError, match="a metric must be a name or a callable"):
        metrics.resolve_metrics([3], classes)


def test_multilabel_accuracy_is_per_output():
    X, Y = gn.datasets.and_or()
    net = gn.Sequential(gn.Dense(2, 2, "sigmoid"), dtype="float64", seed=0)
    net.layers[0].W, net.layers[0].b = [[1.0, 1.0], [1.0, 1.0]], [-1.5, -0.5]
    assert net.predict_classes(X).tolist() == Y.tolist()  # AND and OR by hand
    assert net.evaluate(X, Y, loss="bce", metrics=["accuracy"])["accuracy"] == 1.0
    net.layers[0].b = [-1.5, 0.5]  # OR now always says 1: wrong on (0, 0) only
    assert net.evaluate(X, Y, loss="bce", metrics=["acc"])["acc"] == 7 / 8


def test_a_callable_metric_gets_targets_and_outputs():
    X, y = gn.datasets.moons(n_samples=40, seed=0)
    net = gn.Sequential(gn.Dense(2, 2, "softmax"), dtype="float64", seed=0)

    def mean_true_probability(Y, A):
        return float((Y * A).sum(axis=1).mean())

    result = net.evaluate(X, y, loss="cross_entropy", metrics=[mean_true_probability])
    A = net.forward(X)
    assert result["mean_true_probability"] == pytest.approx(A[np.arange(40), y].mean())
