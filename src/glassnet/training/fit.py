"""fit: check everything once at the boundary, then hand over to the loop."""

from __future__ import annotations

import numbers

import numpy as np

from ..nn.losses import default_loss, get_loss
from ..optim.optimizers import get_optimizer
from ..optim.schedules import Schedule
from ..validation import check_number, check_positive_int, check_sample_weight
from .callbacks import Callback, CallbackList
from .data import (
    ArrayBatches,
    IterableBatches,
    as_indexable,
    check_rows,
    class_labels,
    class_weights_to_samples,
    validation_rows,
)
from .early_stopping import EarlyStopping
from .history import History
from .loop import Trainer
from .lr_scheduler import LearningRateScheduler
from .metrics import resolve_metrics
from .predict import evaluate_prepared
from .progress import ProgressBar
from .tasks import output_task


def fit(
    net,
    X,
    y=None,
    *,
    loss=None,
    optimizer="adam",
    epochs: int = 1,
    batch_size: int | None = 32,
    shuffle: bool = True,
    seed: int | None = 0,
    validation_data=None,
    validation_split: float = 0.0,
    metrics=None,
    early_stopping: EarlyStopping | None = None,
    callbacks=None,
    class_weight=None,
    sample_weight=None,
    initial_epoch: int = 0,
    initial_step: int = 0,
    verbose: int = 1,
    adversarial=None,
) -> History:
    """Train ``net`` on (X, y) by minibatch gradient descent; return the History.

    Each step takes a batch, runs forward, the loss, backward and the optimizer's
    update, in that order. An epoch visits every training row once, in the order
    ``np.random.default_rng([seed, epoch]).permutation(n)`` (or in order with
    ``shuffle=False``). With ``shuffle=False, batch_size=None`` each epoch is exactly
    one full-batch gradient-descent step.

    Parameters
    ----------
    X : array-like (n, in_features), or an iterable of (X, y[, w]) batches (y=None)
        Any array indexable by an index array (np.memmap included); each batch is
        converted to the network's dtype on its own, the whole X never is.
    y : array-like
        Targets: class labels (n,) for cross-entropy, 0/1 for binary cross-entropy,
        numbers (n,) or (n, k) for mse.
    loss : str or Loss, optional
        Default from the output layer: softmax -> "cross_entropy", sigmoid ->
        "binary_crossentropy", anything else -> "mse".
    optimizer : str or Optimizer, default "adam"
        An optimizer object keeps its state across calls (resume by passing it again).
    epochs : int, default 1
        The epoch index to stop at (Keras's convention): trains epochs
        ``initial_epoch .. epochs-1``.
    batch_size : int or None, default 32
        None means full-batch gradient descent. The last batch may be smaller.
    shuffle : bool, default True
    seed : int or None, default 0
        Orders the batches and the validation split. None draws one from ``net.rng``
        (recorded as ``history.seed``). Dropout masks come from ``net.rng``.
    validation_data : (X_val, y_val) or (X_val, y_val, w_val), optional
    validation_split : float in [0, 1), default 0
        Hold out this fraction of (X, y), chosen at random from ``seed`` and
        stratified by class for classification losses.
    metrics : list of names or callables, optional
        e.g. ["accuracy"]; see ``glassnet.training.metrics``. Logged for the training
        batches (outputs before each update) and as "val_<name>".
    early_stopping : EarlyStopping, optional
        Shorthand for adding it to ``callbacks``.
    callbacks : list of Callback (or schedules, wrapped in LearningRateScheduler)
    class_weight : dict {class: weight} or "balanced", optional
        Multiplies each sample's weight in the loss by its class's weight.
    sample_weight : array-like (n,), optional
        The loss becomes sum_i w_i L_i / sum_i w_i within each batch.
    initial_epoch, initial_step : int, default 0
        Resume at this epoch and this many batches into it (``history.next_epoch``,
        ``history.next_step`` of the run being continued; pass the same seed and
        the same optimizer object). The weights then equal those of an
        uninterrupted run bit for bit; the first epoch's logged loss and metrics
        cover only the batches run in this call.
    verbose : 0, 1 or 2, default 1
        0 silent; 1 a progress bar on a terminal, one line per epoch otherwise;
        2 one line per epoch.
    adversarial : gn.attacks.FGSM or gn.attacks.PGD, optional
        Adversarial training: each batch is perturbed against the current weights
        and the step minimises L = (1 - mix) L(x, y) + mix L(x_adv, y) (see
        ``glassnet.attacks.adversarial_step``); the logged loss is this mix and the
        training metrics are on the clean inputs.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        If the loss or a weight becomes NaN or inf; the network keeps its last
        finite weights.

    Examples
    --------
    >>> import glassnet as gn
    >>> X, y = gn.datasets.xor()
    >>> net = gn.Sequential(gn.Dense(2, 8, "tanh"), gn.Dense(8, 1, "sigmoid"),
    ...                     dtype="float64", seed=0)
    >>> history = net.fit(X, y, optimizer=gn.Adam(lr=0.05), epochs=300,
    ...                   batch_size=None, metrics=["accuracy"], verbose=0)
    >>> history.history["accuracy"][-1], net.predict_classes(X).tolist()
    (1.0, [0, 1, 1, 0])
    """
    loss = _loss_for(net, loss)
    optimizer = get_optimizer(optimizer)
    epochs = check_positive_int(epochs, "epochs")
    initial_epoch = _count(initial_epoch, "initial_epoch")
    initial_step = _count(initial_step, "initial_step")
    if initial_epoch > epochs:
        raise ValueError(
            f"initial_epoch={initial_epoch} is past epochs={epochs} (epochs is the "
            "index to stop at, as in Keras)"
        )
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    _check_adversarial(adversarial)
    validation_split = check_number(
        validation_split, "validation_split", low=0.0, high=1.0, high_open=True
    )
    if validation_split and validation_data is not None:
        raise ValueError("give validation_data or validation_split, not both")
    resuming = initial_epoch > 0 or initial_step > 0
    if seed is None:
        if resuming and (shuffle or validation_split):
            raise ValueError(
                "resuming (initial_epoch/initial_step) needs the seed of the run being "
                "continued to recompute its batch order: pass seed=history.seed"
            )
        seed = int(net.rng.integers(2**32))
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    seed = int(seed)

    task = output_task(net, loss)
    metric_fns = resolve_metrics(metrics, task)
    if y is None:
        data = _iterable_data(
            net, X, loss, validation_split, class_weight, sample_weight
        )
        val = None
    else:
        data, val = _array_data(
            net, X, y, loss, batch_size, shuffle, seed, validation_split,
            class_weight, sample_weight,
        )  # fmt: skip
    if validation_data is not None:
        val = _validation_arrays(net, loss, validation_data)
    validate = None
    if val is not None:

        def validate():
            Xv, Yv, wv = val
            return evaluate_prepared(
                net, loss, Xv, Yv, wv, metric_fns, task, prefix="val_"
            )

    if data.steps is not None and initial_step >= data.steps:
        raise ValueError(
            f"initial_step={initial_step} but an epoch has only {data.steps} steps "
            f"(0..{data.steps - 1}); the next epoch starts at initial_epoch="
            f"{initial_epoch + 1}, initial_step=0"
        )

    callback_list = _callbacks(callbacks, early_stopping, verbose)
    params = {
        "epochs": epochs,
        "steps": data.steps,
        "batch_size": data.batch_size,
        "n_samples": data.n,
        "shuffle": bool(data.shuffle),
        "seed": seed,
        "initial_epoch": initial_epoch,
        "initial_step": initial_step,
        "loss": loss.name,
        "optimizer": optimizer.config(),
        "metrics": [name for name, _ in metric_fns],
        "validation": validate is not None,
        "verbose": verbose,
    }
    if adversarial is not None:
        params["adversarial"] = adversarial.config()
    # evaluate/predict_classes default to the loss and metrics of the last fit.
    net._train_config = {"loss": loss, "metrics": [name for name, _ in metric_fns]}
    trainer = Trainer(
        net,
        loss,
        optimizer,
        data,
        epochs=epochs,
        seed=seed,
        task=task,
        metrics=metric_fns,
        callbacks=callback_list,
        validate=validate,
        params=params,
    )
    if adversarial is not None:
        trainer.step_fn = adversarial.wrap(trainer.step_fn)
    return trainer.run(initial_epoch, initial_step)


def _check_adversarial(adversarial) -> None:
    from ..robustness.attacks import FGSM, PGD

    if adversarial is not None and not isinstance(adversarial, (FGSM, PGD)):
        raise TypeError(
            "adversarial must be gn.attacks.FGSM(eps=...) or gn.attacks.PGD(eps=...), "
            f"got {type(adversarial).__name__}"
        )


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _loss_for(net, loss):
    if loss is not None:
        return get_loss(loss)
    return default_loss(net.layers[-1].output_activation)


def _array_data(
    net,
    X,
    y,
    loss,
    batch_size,
    shuffle,
    seed,
    validation_split,
    class_weight,
    sample_weight,
):
    """ArrayBatches for training, and (X_val, Y_val, w_val) of a validation split."""
    X = as_indexable(X)
    check_rows(X, net.in_features, net.dtype)
    y = np.asarray(y)
    if len(y) != X.shape[0]:
        raise ValueError(
            f"X and y have different numbers of samples: {X.shape[0]} and {len(y)}"
        )
    Y = net.prepare_targets(y, loss)  # targets prepared once, shaped like the output
    n = X.shape[0]
    # class of each row, for class weights and a stratified split (a pass over Y:
    # only made when one of them needs it)
    labels = (
        class_labels(Y, loss) if class_weight is not None or validation_split else None
    )
    weights = None
    if sample_weight is not None:
        weights = check_sample_weight(sample_weight, n)
    if class_weight is not None:
        per_class = class_weights_to_samples(class_weight, labels, max(Y.shape[1], 2))
        weights = per_class if weights is None else weights * per_class
        check_sample_weight(weights, n, "sample_weight * class_weight")
    rows = val = None
    if validation_split:
        rows, val_rows = validation_rows(n, validation_split, labels, seed)
        Xv = np.asarray(X[val_rows], dtype=net.dtype)
        val = (Xv, Y[val_rows], None if weights is None else weights[val_rows])
    data = ArrayBatches(X, Y, weights, batch_size, shuffle, net.dtype, rows)
    return data, val


def _iterable_data(net, data, loss, validation_split, class_weight, sample_weight):
    if isinstance(data, np.ndarray) or hasattr(data, "shape"):
        raise ValueError(
            "y is missing: pass fit(X, y, ...), or an iterable of (X, y) batches as X"
        )
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"X must be an array with y given, or an iterable of (X, y) batches, got "
            f"{type(data).__name__}"
        )
    for name, value in (
        ("validation_split", validation_split or None),
        ("class_weight", class_weight),
        ("sample_weight", sample_weight),
    ):
        if value is not None:
            raise ValueError(
                f"{name} needs arrays X and y; with an iterable of batches give "
                "validation_data= and per-batch weights as (X, y, w)"
            )
    return IterableBatches(data, net, loss)


def _validation_arrays(net, loss, validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (
        2,
        3,
    ):
        raise TypeError(
            "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
            f"sample_weight_val), got {type(validation_data).__name__}"
        )
    Xv = as_indexable(validation_data[0], "validation X")
    check_rows(Xv, net.in_features, net.dtype, "validation X")
    yv = np.asarray(validation_data[1])
    if len(yv) != Xv.shape[0]:
        raise ValueError(
            f"validation X and y have different numbers of samples: {Xv.shape[0]} and "
            f"{len(yv)}"
        )
    Yv = net.prepare_targets(yv, loss)
    wv = None
    if len(validation_data) == 3 and validation_data[2] is not None:
        wv = check_sample_weight(
            validation_data[2], Xv.shape[0], "validation sample_weight"
        )
    return Xv, Yv, wv


def _callbacks(callbacks, early_stopping, verbose) -> CallbackList:
    if callbacks is None:
        callbacks = []
    elif isinstance(callbacks, (Callback, Schedule)):
        callbacks = [callbacks]
    result = [ProgressBar(verbose)] if verbose else []
    for cb in list(callbacks) + (
        [early_stopping] if early_stopping is not None else []
    ):
        if isinstance(cb, Schedule):
            cb = LearningRateScheduler(cb)
        if not isinstance(cb, Callback):
            raise TypeError(
                "callbacks must be glassnet Callback objects (or schedules), got "
                f"{type(cb).__name__}"
            )
        result.append(cb)
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(
            f"early_stopping must be a gn.EarlyStopping, got {type(early_stopping).__name__}"
        )
    return CallbackList(result)
