"""Training data: batches taken by index, never a shuffled copy of the whole X.

Arrays: any array-like that numpy-style indexing ``X[idx]`` works on (numpy arrays,
``np.memmap``, h5py/zarr datasets); lists and DataFrames are converted once. Each batch
is gathered straight into an array kept for the batch size, in the network's dtype
(``np.take(X, idx, axis=0, out=...)``): neither a converted nor a shuffled copy of the
whole X is ever made, and a step allocates no batch arrays. The rows of epoch e are
visited in the order ``np.random.default_rng([seed, e]).permutation(n)``, a function
of (seed, e) alone, so any epoch and any step can be recomputed when resuming. Inside
a batch the indices are sorted (reads stay sequential on disk-backed arrays; the
batch's gradient is the same sum).

Iterables: any re-iterable of (X, y) or (X, y, sample_weight) batches, used in the
order given.

Sources: an object with ``n_rows`` and ``batches(batch_size, seed, epoch)`` giving
one epoch's (X, y) pairs from (seed, epoch) alone, e.g. a file read chunk by chunk
(``glassnet.data.streaming.StreamedRows``); ``fit(source)`` runs its epochs with the
same loop, callbacks, checkpoints and history as arrays (``SourceBatches``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._fast import threads
from ..data.splits import split_indices
from ..nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
from ..validation import check_input_matrix, check_same_length, check_sample_weight

#: Rows validated per chunk at fit's boundary (bounds memory for disk-backed X).
_CHECK_CHUNK = 65536

#: Second word of the seed of the validation split: epochs use [seed, e] (an implicit
#: third word 0), the split [seed, 0, 1], so the streams never coincide.
_SPLIT_STREAM = (0, 1)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits n rows: a function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def as_indexable(X, name: str = "X"):
    """X as something ``X[index_array]`` works on, with a shape, without copying
    arrays (np.memmap stays on disk)."""
    if isinstance(X, np.ndarray):
        return X
    if hasattr(X, "to_numpy"):  # pandas DataFrame or Series
        return X.to_numpy()
    if hasattr(X, "shape") and hasattr(X, "__getitem__") and hasattr(X, "dtype"):
        return X  # h5py, zarr, ...: indexed per batch
    try:
        return np.asarray(X)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be array-like, could not convert it: {error}"
        ) from error


def check_rows(X, in_features: int, dtype, name: str = "X") -> None:
    """Validate X once: 2-D, ``in_features`` columns, numeric, finite (in chunks)."""
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, {in_features}), got shape {shape}"
        )
    if shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {shape})")
    if shape[1] != in_features:
        raise ValueError(
            f"{name} has {shape[1]} features per sample (shape {shape}) but the first "
            f"layer expects in_features={in_features}"
        )
    for start in range(0, shape[0], _CHECK_CHUNK):
        check_input_matrix(X[start : start + _CHECK_CHUNK], in_features, dtype, name)


class ArrayBatches:
    """Batches of rows ``rows`` (all rows if None) of X, with prepared targets Y."""

    def __init__(self, X, Y, sample_weight, batch_size, shuffle, dtype, rows=None):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.dtype = dtype
        self.rows = rows
        self.n = len(Y) if rows is None else len(rows)
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.shuffle = shuffle
        self.steps = math.ceil(self.n / self.batch_size)

    def batches(self, seed: int, epoch: int, start_step: int = 0):
        """(X_b, Y_b, w_b, idx) for the steps ``start_step``.. of ``epoch``.

        X_b and Y_b live in arrays kept per batch size: each step overwrites the
        previous step's (copy them to keep them); idx is new each step.
        """
        order = epoch_order(seed, epoch, self.n) if self.shuffle else None
        size = self.batch_size
        for step in range(start_step, self.steps):
            lo, hi = step * size, min((step + 1) * size, self.n)
            if order is None and self.rows is None:
                idx = slice(lo, hi)  # contiguous: a view, no gather
            else:
                pick = order[lo:hi] if order is not None else np.arange(lo, hi)
                idx = np.sort(pick if self.rows is None else self.rows[pick])
            yield self._gather(idx, hi - lo)

    def take(self, idx):
        """(X_b, Y_b, w_b, idx) for rows ``idx``, as new arrays."""
        Xb = np.asarray(self.X[idx], dtype=self.dtype)
        wb = None if self.sample_weight is None else self.sample_weight[idx]
        return Xb, self.Y[idx], wb, idx

    def _gather(self, idx, n: int):
        """As ``take``, X_b and Y_b written into the arrays kept for batch size n."""
        X, Y = self.X, self.Y
        wb = None if self.sample_weight is None else self.sample_weight[idx]
        if isinstance(idx, slice) and getattr(X, "dtype", None) == self.dtype:
            return np.asarray(X[idx]), Y[idx], wb, idx  # views, nothing to copy
        Xb, Yb = self._buffers(n, X.shape[1], Y.shape[1])
        if isinstance(idx, slice):
            np.copyto(Xb, X[idx], casting="unsafe")  # one batch converted to dtype
            return Xb, Y[idx], wb, idx
        if isinstance(X, np.ndarray) and X.dtype == self.dtype:
            np.take(X, idx, axis=0, out=Xb)  # X_b = X[idx]; a memmap reads just these
        else:  # another dtype, or h5py, zarr, ...: X[idx], converted to dtype
            np.copyto(Xb, np.asarray(X[idx]), casting="unsafe")
        np.take(Y, idx, axis=0, out=Yb)  # Y_b = Y[idx]
        return Xb, Yb, wb, idx

    def _buffers(self, n: int, n_in: int, n_out: int):
        kept = self.__dict__.setdefault("_kept", {})
        if n not in kept:
            kept[n] = (
                np.empty((n, n_in), dtype=self.dtype),
                np.empty((n, n_out), dtype=self.Y.dtype),
            )
        return kept[n]


class IterableBatches:
    """Batches from a re-iterable of (X, y) or (X, y, sample_weight) tuples."""

    shuffle = False

    def __init__(self, data, net, loss):
        self.data, self.net, self.loss = data, net, loss
        self.steps = len(data) if hasattr(data, "__len__") else None
        self.batch_size = None
        self.n = None

    def batches(self, seed: int, epoch: int, start_step: int = 0):
        got_any = False
        for step, batch in enumerate(self.data):
            got_any = True
            if step < start_step:
                continue
            yield self._prepare(batch, step)
        if not got_any:
            raise ValueError(
                f"the batch iterable gave no batches in epoch {epoch + 1}: pass a "
                "re-iterable (a list, or an object whose __iter__ starts over), not a "
                "one-shot generator, when training for several epochs"
            )

    def _prepare(self, batch, step):
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise TypeError(
                "each batch of an iterable must be (X, y) or (X, y, sample_weight), "
                f"got {type(batch).__name__} at step {step}"
            )
        Xb = check_input_matrix(batch[0], self.net.in_features, self.net.dtype)
        check_same_length(Xb, batch[1])
        Yb = self.net.prepare_targets(batch[1], self.loss)
        wb = check_sample_weight(batch[2], len(Xb)) if len(batch) == 3 else None
        return Xb, Yb, wb, None


def is_source(data) -> bool:
    """True for a data source: an object with ``batches`` and ``n_rows`` (not an
    array), such as ``glassnet.data.streaming.StreamedRows``."""
    return (
        callable(getattr(data, "batches", None))
        and hasattr(data, "n_rows")
        and not hasattr(data, "shape")
    )


class SourceBatches:
    """Batches from a data source: an object with ``n_rows`` (the rows of an epoch)
    and ``batches(batch_size, seed, epoch)`` giving that epoch's (X, y) pairs, as a
    function of (seed, epoch) alone (a file read chunk by chunk: ``StreamedRows``).

    Every batch but the last holds ``batch_size`` rows, so an epoch has
    ceil(n_rows / batch_size) steps; resuming at a step re-reads the epoch's first
    batches without training on them, which gives the same weights as an
    uninterrupted run.
    """

    shuffle = True

    def __init__(self, source, net, loss, batch_size):
        if batch_size is None:
            raise ValueError(
                "a data source is read in batches: give batch_size (full-batch "
                "training would hold every row in memory)"
            )
        self.source, self.net, self.loss = source, net, loss
        self.n = int(source.n_rows)
        if self.n < 1:
            raise ValueError(f"the data source has no rows ({source!r})")
        self.batch_size = batch_size
        self.steps = math.ceil(self.n / batch_size)

    def batches(self, seed: int, epoch: int, start_step: int = 0):
        net = self.net
        batches = self.source.batches(self.batch_size, seed, epoch)
        for step, (Xb, yb) in enumerate(batches):
            if step < start_step:
                continue
            Xb = check_input_matrix(Xb, net.in_features, net.dtype)
            check_same_length(Xb, yb)
            yield Xb, net.prepare_targets(yb, self.loss), None, None


def evaluate_source(net, loss, source, metrics, task, prefix="", batch_size=1024):
    """The loss and metrics over a data source's rows, read in file order: the
    loss is sum_b n_b L_b / sum_b n_b; the metrics see every output at once (n_rows
    x outputs, far smaller than the inputs)."""
    total = count = 0.0
    outputs, targets = [], []
    with net._usage.inference(), threads.managed():
        layers = net._inference_layers()
        for Xb, yb in source.batches(batch_size):
            Xb = check_input_matrix(Xb, net.in_features, net.dtype)
            Yb = net.prepare_targets(yb, loss)
            A = net._infer(Xb, layers)
            total += net._loss_of_output(loss, A, Yb, None, layers[-1]) * len(Yb)
            count += len(Yb)
            if metrics:
                outputs.append(np.array(A, copy=True))
                targets.append(Yb)
    if not count:
        raise ValueError(f"the validation source has no rows ({source!r})")
    results = {f"{prefix}loss": total / count}
    if metrics:
        Y, A = np.concatenate(targets), np.concatenate(outputs)
        for name, fn in metrics:
            results[f"{prefix}{name}"] = fn(task, Y, A)
    return results


def class_labels(Y: np.ndarray, loss) -> np.ndarray | None:
    """Integer class of each prepared target row, or None for regression targets."""
    if isinstance(loss, CrossEntropyLoss):
        return Y.argmax(axis=1)
    if isinstance(loss, BinaryCrossEntropyLoss) and Y.shape[1] == 1:
        return (Y[:, 0] >= 0.5).astype(np.int64)
    return None


def check_class_weight(class_weight) -> None:
    """class_weight is None, "balanced" or a dict of finite non-negative weights (its
    keys are checked against the classes, in ``class_weights_to_samples``)."""
    if class_weight is None:
        return
    if isinstance(class_weight, dict):
        for cls, weight in class_weight.items():
            if (
                isinstance(weight, bool)
                or not isinstance(weight, numbers.Real)
                or not (math.isfinite(weight) and weight >= 0)
            ):
                raise ValueError(
                    f"class_weight[{cls}] must be a finite non-negative number, got "
                    f"{weight!r}"
                )
        return
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be a dict or 'balanced', got {class_weight!r}"
            )
        return
    raise TypeError(
        f"class_weight must be a dict {{class: weight}} or 'balanced', got "
        f"{type(class_weight).__name__}"
    )


def class_weights_to_samples(class_weight, labels, n_classes: int) -> np.ndarray:
    """w_i = class_weight[y_i]; "balanced" gives n / (n_classes * n_c) as scikit-learn.

    Classes missing from the dict weigh 1.
    """
    check_class_weight(class_weight)
    if labels is None:
        raise ValueError(
            "class_weight needs class targets (loss 'cross_entropy', or "
            "'binary_crossentropy' with one output); use sample_weight for regression"
        )
    if class_weight == "balanced":
        counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
        present = counts > 0
        table = np.ones(n_classes)
        table[present] = len(labels) / (present.sum() * counts[present])
        return table[labels]
    table = np.ones(n_classes)
    for cls, weight in class_weight.items():
        if (
            isinstance(cls, bool)
            or not isinstance(cls, numbers.Integral)
            or not 0 <= cls < n_classes
        ):
            raise ValueError(
                f"class_weight keys must be class labels 0..{n_classes - 1}, got {cls!r}"
            )
        table[int(cls)] = float(weight)
    return table[labels]


def validation_rows(n: int, split, labels, seed: int):
    """(train rows, validation rows) for fit(validation_split=split): a seeded random
    split, stratified on ``labels`` when they are given (classification)."""
    rng = np.random.default_rng([seed, *_SPLIT_STREAM])
    train, val = split_indices(n, split, labels, rng)
    return np.sort(train), np.sort(val)
