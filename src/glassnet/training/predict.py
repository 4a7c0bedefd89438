"""Using a trained network: outputs in batches, class labels, probabilities, and the
loss and metrics on a labelled set (``evaluate``)."""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from .._fast import ops, threads
from ..errors import InputError
from ..nn.losses import default_loss, get_loss
from ..validation import check_input_matrix, check_positive_int, check_sample_weight
from .data import as_indexable, check_rows
from .metrics import resolve_metrics
from .tasks import output_task

#: Rows per forward pass in predict/evaluate when batch_size is not given.
DEFAULT_BATCH = 1024

#: Rows per forward pass in predict at most, whatever batch_size: a larger pass is
#: no faster (its layer outputs outgrow the caches; 60,000 rows of the 784-256-128-10
#: network take the same CPU time in passes of 512 to 4,096 rows), and the layers
#: keep work arrays of each pass size, 94 MB for one pass of 60,000 rows of that
#: network, made anew (page by page) when they were let go.
PASS_ROWS = 4096


def _rows(net, X, name: str = "X"):
    """X as row-indexable 2-D data (a single sample may be given as a vector)."""
    X = as_indexable(X, name)
    if np.issubdtype(getattr(X, "dtype", np.float64), np.complexfloating):
        raise InputError(
            f"{name} has complex values (dtype {X.dtype}); a network takes real "
            "numbers: pass X.real or np.abs(X) if that is what is meant"
        )
    if getattr(X, "ndim", None) == 1:
        X = np.asarray(X).reshape(1, -1)
    if len(X.shape) != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, {net.in_features}), got shape "
            f"{tuple(X.shape)}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {tuple(X.shape)})")
    if X.shape[1] != net.in_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features per sample (shape {tuple(X.shape)}) but "
            f"the first layer expects in_features={net.in_features}"
        )
    return X


def _batch_size(batch_size) -> int:
    return (
        DEFAULT_BATCH
        if batch_size is None
        else check_positive_int(batch_size, "batch_size")
    )


def predict(net, X, batch_size: int | None = None) -> np.ndarray:
    """The network's outputs A for every row of X, shape (n, out_features), computed
    ``batch_size`` rows at a time (default 1024) in inference mode (no dropout). A
    batch_size above ``PASS_ROWS`` (4,096) is taken in equal passes of at most that
    many rows: as fast, and the memory the passes keep stays bounded.

    X may be any array-like with rows, including a np.memmap larger than memory.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 3, "softmax"), seed=0)
    >>> net.predict(np.zeros((5000, 2)), batch_size=1000).shape
    (5000, 3)
    """
    X = _rows(net, X)
    n = X.shape[0]
    size = _pass_rows(min(_batch_size(batch_size), n))
    out = np.empty((n, net.out_features), dtype=net.dtype)
    with net._usage.inference(), _blas_threads(net, min(n, size)):
        layers = net._inference_layers()  # this thread's: safe beside other threads
        for lo in range(0, n, size):
            Xb = _checked_batch(net, X[lo : lo + size])
            out[lo : lo + size] = net._infer(Xb, layers)
    return out


def _pass_rows(size: int) -> int:
    """Rows per pass for a block of ``size`` rows: all of them up to ``PASS_ROWS``,
    else the block cut into equal passes of at most that many."""
    if size <= PASS_ROWS:
        return size
    return -(-size // -(-size // PASS_ROWS))


def _blas_threads(net, rows: int):
    """The thread rule's section (``threads.managed``) for passes of ``rows`` rows;
    none when every product of such a pass has at most ``threads.SPLIT``
    multiply-adds, for which the rule leaves the count as it is anyway (a pass of a
    few rows then skips reading the BLAS count and putting it back)."""
    widths = net._widths
    largest = max(a * b for a, b in zip(widths, widths[1:], strict=False))
    if rows * largest <= threads.SPLIT:
        return contextlib.nullcontext()
    return threads.managed()


def _checked_batch(net, Xb):
    """Xb validated: a batch already in the network's dtype passes when one
    compiled pass finds no NaN or inf (``ops.all_finite``, once the loops are
    loaded), or else when the sum of its entries, Xb @ 1 summed, is finite (NaN or
    inf anywhere would make it NaN or inf; one BLAS pass instead of np.isfinite's
    two); anything else, or a sum that is not finite, gets the full check and its
    message."""
    if isinstance(Xb, np.ndarray) and Xb.dtype == net.dtype:
        finite = ops.all_finite(Xb)
        if finite is None:
            with np.errstate(over="ignore", invalid="ignore"):
                finite = math.isfinite(float((Xb @ _ones(Xb.shape[1], Xb.dtype)).sum()))
        if finite:
            return Xb
    return check_input_matrix(Xb, net.in_features, net.dtype)


@functools.cache
def _ones(width: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``width`` ones, made once per width and dtype."""
    ones = np.ones(width, dtype=dtype)
    ones.flags.writeable = False
    return ones


def _loss_for(net, loss):
    """``loss`` as a Loss; by default the one of the output layer (softmax ->
    cross-entropy, sigmoid -> binary cross-entropy, else mse), as ``fit``'s."""
    if loss is not None:
        return get_loss(loss)
    return default_loss(net.layers[-1].output_activation)


def predict_classes(net, X, batch_size: int | None = None, loss=None) -> np.ndarray:
    """Class labels: argmax of the outputs for several classes; for one sigmoid
    output 1 where a >= 0.5 (z >= 0 with a from_logits loss). Shape (n,), or (n, k)
    for k independent sigmoid outputs.

    ``loss`` says how to read outputs that are logits: pass the from_logits loss the
    network was trained with (``history.config.loss``); by default the outputs are
    read from the output layer (softmax or sigmoid)."""
    task = output_task(net, _loss_for(net, loss))
    return task.labels(predict(net, X, batch_size))


def predict_proba(net, X, batch_size: int | None = None, loss=None) -> np.ndarray:
    """Class probabilities, rows summing to 1, shape (n, n_classes) as in
    scikit-learn: the softmax outputs; [1 - p, p] for one sigmoid output; softmax or
    sigmoid applied to logits when ``loss`` is a from_logits loss (pass the one the
    network was trained with, ``history.config.loss``).

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 3), dtype="float64", seed=0)  # logits out
    >>> logits = gn.CrossEntropyLoss(from_logits=True)
    >>> gn.training.predict_proba(net, np.ones((4, 2)), loss=logits).sum(axis=1)
    array([1., 1., 1., 1.])
    """
    task = output_task(net, _loss_for(net, loss))
    return task.probabilities(predict(net, X, batch_size))


def evaluate(
    net,
    X,
    y,
    loss=None,
    metrics=None,
    batch_size: int | None = None,
    sample_weight=None,
) -> dict:
    """{"loss": L, metric name: value, ...} of the network on (X, y).

    ``loss`` defaults to the one ``fit`` pairs with the output layer (softmax ->
    cross-entropy, sigmoid -> binary cross-entropy, else mse). With neither loss
    nor metrics named, the result is the output layer's own report: that loss and,
    for class outputs, the accuracy; naming either gives just what is named. To
    score as a training run did, pass its settings: ``loss=history.config.loss,
    metrics=history.config.metrics``. The loss is weighted by ``sample_weight`` if
    given; metrics are unweighted (as Keras's).

    Examples
    --------
    >>> import glassnet as gn
    >>> X, y = gn.datasets.and_or("and")
    >>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
    >>> net.layers[0].W, net.layers[0].b = [[2.0, 2.0]], [-3.0]
    >>> result = net.evaluate(X, y, loss="binary_crossentropy", metrics=["accuracy"])
    >>> round(result["loss"], 4), result["accuracy"]  # (log(1+e^-3) + 3 log(1+e^-1)) / 4
    (0.2471, 1.0)
    >>> net.evaluate(X, y) == result  # sigmoid: binary cross-entropy and accuracy
    True
    """
    if loss is None and metrics is None:
        metrics = _default_metrics(net)
    loss = _loss_for(net, loss)
    X = _rows(net, X)
    check_rows(X, net.in_features, net.dtype)
    if len(y) != X.shape[0]:
        raise ValueError(
            f"X and y have different numbers of samples: {X.shape[0]} and {len(y)}"
        )
    Y = net.prepare_targets(y, loss)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
    task = output_task(net, loss)
    return evaluate_prepared(
        net, loss, X, Y, sample_weight, resolve_metrics(metrics, task), task, batch_size
    )


def _default_metrics(net) -> list[str]:
    """The metrics of the output layer's own report: accuracy for class outputs."""
    return ["accuracy"] if output_task(net).is_classification else []


def evaluate_prepared(
    net, loss, X, Y, sample_weight, metrics, task, batch_size=None, prefix=""
):
    """evaluate on validated data with prepared targets (used by fit each epoch).

    The loss is the weighted mean over samples, assembled from batch means:
    L = sum_b W_b L_b / sum_b W_b with W_b the batch's weight (its size, or the sum
    of its sample weights).
    """
    size = _batch_size(batch_size)
    n = X.shape[0]
    outputs = np.empty((n, net.out_features), dtype=net.dtype) if metrics else None
    total = weight_sum = 0.0
    with net._usage.inference(), threads.managed():
        layers = net._inference_layers()  # this thread's: safe beside other threads
        for lo in range(0, n, size):
            Xb = np.asarray(X[lo : lo + size], dtype=net.dtype)
            Yb = Y[lo : lo + size]
            wb = None if sample_weight is None else sample_weight[lo : lo + size]
            A = net._infer(Xb, layers)
            weight = len(Yb) if wb is None else float(wb.sum())
            if weight > 0:
                total += net._loss_of_output(loss, A, Yb, wb, layers[-1]) * weight
                weight_sum += weight
            if outputs is not None:
                outputs[lo : lo + size] = A
    results = {f"{prefix}loss": total / weight_sum}
    for name, fn in metrics:
        results[f"{prefix}{name}"] = fn(task, Y, outputs)
    return results
