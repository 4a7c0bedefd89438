"""Metrics: how good the predictions are, in the units people report.

Functions take (y_true, y_pred) as scikit-learn's do. For the classification metrics
either may be labels (n,) or scores/one-hot rows (n, k), read as argmax (a single
column is read as P(class 1), thresholded at 0.5):

    accuracy          = (1/n) sum_i [y_i == yhat_i]
    top_k_accuracy    = (1/n) sum_i [y_i among the k highest scores of row i]
    confusion_matrix  C[t, p] = number of samples of true class t predicted as p
    precision_c = C[c, c] / sum_t C[t, c],   recall_c = C[c, c] / sum_p C[c, p]
    f1_c = 2 precision_c recall_c / (precision_c + recall_c)      (0 when undefined)
    precision, recall, f1 = their mean over the classes present (macro average)

Regression: mean_squared_error, mean_absolute_error, r2_score = 1 - SS_res / SS_tot
(averaged over output columns, as scikit-learn).

In ``fit(metrics=[...])`` and ``evaluate`` a metric is a name (``METRICS`` keys, or
"top3_accuracy" style) or a callable f(Y, A) of the prepared targets and the outputs.

Examples
--------
>>> from glassnet.training import metrics
>>> metrics.accuracy([0, 1, 2, 2], [0, 2, 2, 2])
0.75
>>> metrics.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2])
array([[1, 0, 0],
       [0, 0, 1],
       [0, 0, 2]])
"""

from __future__ import annotations

import re

import numpy as np

from .tasks import OutputTask

__all__ = [
    "METRICS",
    "accuracy",
    "confusion_matrix",
    "f1",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "r2_score",
    "recall",
    "top_k_accuracy",
]


# -- labels --------------------------------------------------------------------------
def as_labels(y, name: str = "y") -> np.ndarray:
    """Integer labels from labels (n,), or scores (n, k): argmax; (n, 1): >= 0.5."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.ndim == 2:
        y = y[:, 0]
        return (
            (y >= 0.5).astype(np.int64) if y.dtype.kind == "f" else y.astype(np.int64)
        )
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be labels (n,) or scores (n, k), got shape {y.shape}"
        )
    if y.dtype.kind == "f":
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                f"{name} of shape (n,) must hold integer class labels, got non-integer "
                "values (pass scores as a 2-D array)"
            )
        return y.astype(np.int64)
    if y.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    return y.astype(np.int64)


def _pair(y_true, y_pred):
    t, p = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred have different numbers of samples: {t.shape[0]} and "
            f"{p.shape[0]}"
        )
    if t.size == 0:
        raise ValueError("metrics need at least one sample, got 0")
    return t, p


def _weighted_mean(values, sample_weight) -> float:
    if sample_weight is None:
        return float(np.mean(values))
    w = np.asarray(sample_weight, dtype=np.float64)
    return float((w * values).sum() / w.sum())


# -- classification ------------------------------------------------------------------
def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Fraction of samples whose predicted class is the true class."""
    t, p = _pair(y_true, y_pred)
    return _weighted_mean(t == p, sample_weight)


def top_k_accuracy(y_true, scores, k: int = 5, sample_weight=None) -> float:
    """Fraction of samples whose true class is among the k highest scores.

    >>> top_k_accuracy([2, 0], [[0.1, 0.5, 0.4], [0.2, 0.3, 0.5]], k=2)
    0.5
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            f"scores must have shape (n, n_classes >= 2), got {scores.shape}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    t = as_labels(y_true, "y_true")
    if t.shape[0] != scores.shape[0]:
        raise ValueError(
            f"y_true has {t.shape[0]} samples but scores has {scores.shape[0]} rows"
        )
    if k >= scores.shape[1]:
        return _weighted_mean(np.ones(t.shape[0]), sample_weight)
    # The true class is in the top k when fewer than k classes score strictly higher.
    true_score = scores[np.arange(t.shape[0]), t]
    higher = (scores > true_score[:, None]).sum(axis=1)
    return _weighted_mean(higher < k, sample_weight)


def confusion_matrix(y_true, y_pred, n_classes: int | None = None, sample_weight=None):
    """C of shape (n_classes, n_classes): C[t, p] counts true class t predicted as p.

    Rows are true classes, columns predictions (scikit-learn's layout). Classes are
    0..n_classes-1 (default: up to the largest label seen).
    """
    t, p = _pair(y_true, y_pred)
    if t.min() < 0 or p.min() < 0:
        raise ValueError("class labels must be non-negative integers")
    size = int(max(t.max(), p.max())) + 1
    if n_classes is None:
        n_classes = size
    elif n_classes < size:
        raise ValueError(f"n_classes={n_classes} but labels go up to {size - 1}")
    weights = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    flat = np.bincount(t * n_classes + p, weights=weights, minlength=n_classes**2)
    C = flat.reshape(n_classes, n_classes)
    return C.astype(np.int64) if weights is None else C


def _per_class(y_true, y_pred):
    """Precision and recall of each class present in y_true or y_pred."""
    t, p = _pair(y_true, y_pred)
    present = np.union1d(t, p)
    C = confusion_matrix(t, p)[np.ix_(present, present)]
    correct = np.diag(C).astype(np.float64)
    predicted, actual = C.sum(axis=0), C.sum(axis=1)
    # A class never predicted has undefined precision; count it as 0 (scikit-learn's
    # zero_division default), likewise recall for a class never present.
    precision_c = np.divide(
        correct, predicted, out=np.zeros_like(correct), where=predicted > 0
    )
    recall_c = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)
    return precision_c, recall_c


def precision(y_true, y_pred) -> float:
    """Macro precision: mean over classes of C[c, c] / (samples predicted as c)."""
    return float(_per_class(y_true, y_pred)[0].mean())


def recall(y_true, y_pred) -> float:
    """Macro recall: mean over classes of C[c, c] / (samples of class c)."""
    return float(_per_class(y_true, y_pred)[1].mean())


def f1(y_true, y_pred) -> float:
    """Macro F1: mean over classes of 2 P_c R_c / (P_c + R_c) (0 where P_c + R_c = 0)."""
    P, R = _per_class(y_true, y_pred)
    total = P + R
    f1_c = np.divide(2 * P * R, total, out=np.zeros_like(total), where=total > 0)
    return float(f1_c.mean())


# -- regression ----------------------------------------------------------------------
def _regression_pair(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    t = t.reshape(-1, 1) if t.ndim == 1 else t
    p = p.reshape(-1, 1) if p.ndim == 1 else p
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}"
        )
    if t.shape[0] == 0:
        raise ValueError("metrics need at least one sample, got 0")
    return t, p


def mean_squared_error(y_true, y_pred, sample_weight=None) -> float:
    """(1 / (n k)) sum (y - yhat)^2."""
    t, p = _regression_pair(y_true, y_pred)
    return _weighted_mean(((t - p) ** 2).mean(axis=1), sample_weight)


def mean_absolute_error(y_true, y_pred, sample_weight=None) -> float:
    """(1 / (n k)) sum |y - yhat|."""
    t, p = _regression_pair(y_true, y_pred)
    return _weighted_mean(np.abs(t - p).mean(axis=1), sample_weight)


def r2_score(y_true, y_pred, sample_weight=None) -> float:
    """R^2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2 per output, averaged over
    outputs. A constant target column scores 1 if predicted exactly, else 0
    (scikit-learn's convention)."""
    t, p = _regression_pair(y_true, y_pred)
    w = (
        np.ones(t.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, np.float64)
    )
    w = w[:, None]
    mean = (w * t).sum(axis=0) / w.sum()
    ss_res = (w * (t - p) ** 2).sum(axis=0)
    ss_tot = (w * (t - mean) ** 2).sum(axis=0)
    safe = ss_tot > 0
    score = np.where(ss_res == 0, 1.0, 0.0)
    score[safe] = 1.0 - ss_res[safe] / ss_tot[safe]
    return float(score.mean())


# -- metrics as used by fit and evaluate: functions of (task, Y, A) ------------------
def _classification(fn):
    def metric(task: OutputTask, Y, A):
        return fn(task.true_labels(Y), task.labels(A))

    return metric


def _top_k(k):
    def metric(task: OutputTask, Y, A):
        if task.kind != "multiclass":
            raise ValueError(
                f"top-{k} accuracy needs a multiclass output (k >= 2 classes)"
            )
        return top_k_accuracy(task.true_labels(Y), A, k=k)

    return metric


def _multilabel_accuracy(task, Y, A):
    if task.kind == "multilabel":  # each output its own yes/no question
        return float((task.true_labels(Y) == task.labels(A)).mean())
    return accuracy(task.true_labels(Y), task.labels(A))


METRICS = {
    "accuracy": _multilabel_accuracy,
    "top_k_accuracy": _top_k(5),
    "precision": _classification(precision),
    "recall": _classification(recall),
    "f1": _classification(f1),
    "mse": lambda task, Y, A: mean_squared_error(Y, A),
    "mae": lambda task, Y, A: mean_absolute_error(Y, A),
    "r2": lambda task, Y, A: r2_score(Y, A),
}
_ALIASES = {
    "acc": "accuracy",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "f1_score": "f1",
}
_CLASSIFICATION = {"accuracy", "top_k_accuracy", "precision", "recall", "f1"}
_TOP_K = re.compile(r"top_?(\d+)_accuracy")


def check_metrics(metrics) -> tuple:
    """``metrics`` as a tuple of known names and callables f(y_true, y_pred), checked
    without a network (what fit's settings can check before seeing one).

    Examples
    --------
    >>> check_metrics("acc"), check_metrics(None)
    (('acc',), ())
    """
    if metrics is None:
        return ()
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    metrics = tuple(metrics)
    for metric in metrics:
        if not callable(metric):
            _lookup(metric)
    names = [_name(metric) for metric in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"metrics listed twice: {duplicates}")
    return metrics


def resolve_metrics(metrics, task: OutputTask):
    """[(name, f(task, Y, A))] for fit/evaluate, checked against the task once."""
    resolved = []
    for metric in check_metrics(metrics):
        if callable(metric):
            resolved.append(
                (_name(metric), lambda task, Y, A, f=metric: float(f(Y, A)))
            )
            continue
        fn, kind = _lookup(metric)
        _check_task(metric, kind, task)
        resolved.append((metric, fn))
    return resolved


def _name(metric) -> str:
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__)
    return metric


def _lookup(metric):
    """(f(task, Y, A), kind) of a metric's name; kind is its METRICS key."""
    if not isinstance(metric, str):
        raise TypeError(
            f"a metric must be a name or a callable f(y_true, y_pred), got {metric!r}"
        )
    key = _ALIASES.get(metric.lower(), metric.lower())
    match = _TOP_K.fullmatch(key)
    if match:
        return _top_k(int(match.group(1))), "top_k_accuracy"
    if key in METRICS:
        return METRICS[key], key
    raise ValueError(
        f"unknown metric {metric!r}; expected one of {sorted(METRICS)}, "
        "'top<k>_accuracy', or a callable f(y_true, y_pred)"
    )


def _check_task(metric: str, kind: str, task: OutputTask) -> None:
    """Refuse a metric that cannot read this task's outputs."""
    if kind in _CLASSIFICATION and not task.is_classification:
        raise ValueError(
            f"metric {metric!r} needs class outputs (a softmax or sigmoid output "
            "layer, or a cross-entropy loss); this network's outputs are "
            "regression values: use 'mse', 'mae' or 'r2'"
        )
    if kind in ("precision", "recall", "f1") and task.kind == "multilabel":
        raise ValueError(
            f"metric {metric!r} is the macro average over classes of single-label "
            "outputs; this network has several independent sigmoid outputs"
        )
    if kind == "top_k_accuracy" and task.kind != "multiclass":
        raise ValueError(f"metric {metric!r} needs a multiclass output (>= 2 classes)")
