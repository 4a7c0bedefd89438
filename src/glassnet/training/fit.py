"""fit: the settings checked once (a TrainConfig), the data checked once, then the
loop.

``fit(net, X, y, **settings)`` builds a ``TrainConfig`` from its keywords (or takes
``config=``) and hands it to ``_train``, which does one thing per step: resolve the
loss and the seed, prepare the data, build the validation and the callbacks, run the
Trainer, and give back the History with the config it ran (``history.config``).
Nothing is left on the network: ``evaluate`` and ``predict_classes`` take a loss and
metrics as arguments, or derive the loss from the output layer.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..nn.losses import check_loss_suits_output, default_loss
from ..optim import get_optimizer
from ..optim.schedules import Schedule
from ..validation import check_sample_weight
from .callbacks import CallbackList
from .certified import check_certify_loss
from .config import TrainConfig
from .data import (
    ArrayBatches,
    IterableBatches,
    SourceBatches,
    as_indexable,
    check_rows,
    class_labels,
    class_weights_to_samples,
    evaluate_source,
    is_source,
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

#: The settings as fit's keywords take them when none is given.
_DEFAULTS = TrainConfig()


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
    certify=None,
    certify_method: str = "ibp",
    certify_ramp=None,
    certify_kappa=(1.0, 0.5),
    certify_clip=None,
    config: TrainConfig | None = None,
) -> History:
    """Train ``net`` on (X, y) by minibatch gradient descent; return the History.

    Each step takes a batch, runs forward, the loss, backward and the optimizer's
    update, in that order. An epoch visits every training row once, in the order
    ``np.random.default_rng([seed, epoch]).permutation(n)`` (or in order with
    ``shuffle=False``). With ``shuffle=False, batch_size=None`` each epoch is exactly
    one full-batch gradient-descent step.

    The keywords other than the data (X, y, validation_data, sample_weight) are the
    settings of ``glassnet.training.TrainConfig``, with the same names and defaults,
    and are checked the same way; ``config=TrainConfig(...)`` gives them all at once
    instead (then no setting may also be given as a keyword).

    Parameters
    ----------
    X : array-like (n, in_features), an iterable of (X, y[, w]) batches (y=None),
        or a data source (y=None; see ``glassnet.training.data.SourceBatches``)
        Any array indexable by an index array (np.memmap included); each batch is
        converted to the network's dtype on its own, the whole X never is.
    y : array-like
        Targets: class labels (n,) for cross-entropy, 0/1 for binary cross-entropy,
        numbers (n,) or (n, k) for mse.
    validation_data : (X_val, y_val), (X_val, y_val, w_val) or a data source, optional
        Evaluated after each epoch, logged as "val_loss" and "val_<metric>".
    sample_weight : array-like (n,), optional
        The loss becomes sum_i w_i L_i / sum_i w_i within each batch.
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
    certify : float >= 0 or CertifiedTraining, optional
        Certified training: L = kappa L(z, y) + (1 - kappa) CE(z~, y), z~ the worst
        logits over |x' - x|_inf <= certify by interval bounds (see
        ``glassnet.training.certified``); needs cross-entropy. The logged loss is
        this mix.
    certify_method, certify_ramp, certify_kappa, certify_clip
        Its method ("ibp", or "crown-ibp" for ReLU networks), the eps ramp (default: the first half of the run),
        kappa's (start, end) (default (1, 0.5)) and the data range boxes are cut
        to; see ``TrainConfig``.
    config : TrainConfig, optional
        All the settings above in one object, instead of the keywords.

    Returns
    -------
    History
        Its ``config`` is the TrainConfig of this run with the loss and the seed
        filled in: ``net.evaluate(X, y, loss=history.config.loss,
        metrics=history.config.metrics)`` scores other data as the run did.

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
    >>> history.config.epochs, history.config.metrics
    (300, ('accuracy',))
    """
    settings = TrainConfig(
        loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
        shuffle=shuffle, seed=seed, validation_split=validation_split,
        metrics=metrics, early_stopping=early_stopping, callbacks=callbacks,
        class_weight=class_weight, initial_epoch=initial_epoch,
        initial_step=initial_step, verbose=verbose, adversarial=adversarial,
        certify=certify, certify_method=certify_method, certify_ramp=certify_ramp,
        certify_kappa=certify_kappa, certify_clip=certify_clip,
    )  # fmt: skip
    with net._usage.fitting():  # ConcurrentUseError if another thread uses net
        return _train(
            net, X, y, _one_config(settings, config), validation_data, sample_weight
        )


def _one_config(settings: TrainConfig, config: TrainConfig | None) -> TrainConfig:
    """The settings from the keywords, or ``config`` when it is given alone."""
    if config is None:
        return settings
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"config must be a glassnet.training.TrainConfig, got {type(config).__name__}"
        )
    given = [
        field.name
        for field in dataclasses.fields(TrainConfig)
        if getattr(settings, field.name) != getattr(_DEFAULTS, field.name)
    ]
    if given:
        raise TypeError(
            "give the settings either as keywords or as config=TrainConfig(...), not "
            f"both: got config and {', '.join(given)}"
        )
    return config


def _train(net, X, y, config: TrainConfig, validation_data, sample_weight) -> History:
    """One training run of ``net`` with checked settings ``config``."""
    if config.validation_split and validation_data is not None:
        raise ValueError("give validation_data or validation_split, not both")
    config = _as_run(net, config)
    loss = config.loss
    if config.certify is not None:
        check_certify_loss(loss, net, config.certify.method)
    task = output_task(net, loss)
    metrics = resolve_metrics(config.metrics, task)
    data, val = _training_data(net, X, y, config, sample_weight)
    if validation_data is not None:
        val = _validation_arrays(net, loss, validation_data)
    validate = _validator(net, loss, val, metrics, task)
    _check_start(config, data)
    optimizer = get_optimizer(config.optimizer)
    trainer = Trainer(
        net, loss, optimizer, data, epochs=config.epochs, seed=config.seed,
        task=task, metrics=metrics, callbacks=_callbacks(config), validate=validate,
        params=_params(config, data, optimizer, metrics, validate is not None),
    )  # fmt: skip
    if config.adversarial is not None:
        trainer.step_fn = config.adversarial.wrap(trainer.step_fn)
    if config.certify is not None:
        trainer.step_fn = config.certify.wrap(trainer.step_fn, trainer)
    history = trainer.run(config.initial_epoch, config.initial_step)
    history.config = config
    return history


def _as_run(net, config: TrainConfig) -> TrainConfig:
    """``config`` with what the network decides filled in: the loss of the output
    layer when none is named, a seed drawn from ``net.rng`` when seed is None."""
    loss = config.loss
    if loss is None:
        loss = default_loss(net.layers[-1].output_activation)
    check_loss_suits_output(loss, net.layers[-1].output_activation)
    seed = config.seed
    if seed is None:
        seed = int(net.rng.integers(2**32))
    return dataclasses.replace(config, loss=loss, seed=seed)


def _check_start(config: TrainConfig, data) -> None:
    """initial_step must fall inside an epoch of ``data``."""
    steps, step = data.steps, config.initial_step
    if steps is not None and step >= steps:
        raise ValueError(
            f"initial_step={step} but an epoch has only {steps} steps "
            f"(0..{steps - 1}); the next epoch starts at initial_epoch="
            f"{config.initial_epoch + 1}, initial_step=0"
        )


def _params(config: TrainConfig, data, optimizer, metrics, validation: bool) -> dict:
    """``history.params``: the run's settings as plain values (JSON-ready)."""
    params = {
        "epochs": config.epochs,
        "steps": data.steps,
        "batch_size": data.batch_size,
        "n_samples": data.n,
        "shuffle": bool(data.shuffle),
        "seed": config.seed,
        "initial_epoch": config.initial_epoch,
        "initial_step": config.initial_step,
        "loss": config.loss.name,
        "optimizer": optimizer.config(),
        "metrics": [name for name, _ in metrics],
        "validation": validation,
        "verbose": config.verbose,
    }
    if config.adversarial is not None:
        params["adversarial"] = config.adversarial.config()
    if config.certify is not None:
        params["certify"] = config.certify.config()
    return params


# -- data ------------------------------------------------------------------------------
def _training_data(net, X, y, config: TrainConfig, sample_weight):
    """(batches, validation arrays or None) for arrays (X, y) or an iterable X."""
    if y is None and is_source(X):
        _check_iterable(X, config, sample_weight, "a data source")
        return SourceBatches(X, net, config.loss, config.batch_size), None
    if y is None:
        _check_iterable(X, config, sample_weight)
        return IterableBatches(X, net, config.loss), None
    X, Y = _arrays(net, X, y, config.loss)
    labels = None
    if config.class_weight is not None or config.validation_split:
        labels = class_labels(Y, config.loss)  # a pass over Y, made only when needed
    weights = _row_weights(Y, labels, config.class_weight, sample_weight)
    rows = val = None
    if config.validation_split:
        rows, val_rows = validation_rows(
            len(Y), config.validation_split, labels, config.seed
        )
        Xv = np.asarray(X[val_rows], dtype=net.dtype)
        val = (Xv, Y[val_rows], None if weights is None else weights[val_rows])
    data = ArrayBatches(
        X, Y, weights, config.batch_size, config.shuffle, net.dtype, rows
    )
    return data, val


def _arrays(net, X, y, loss, name: str = "X"):
    """(X, Y): X checked and row-indexable, Y the targets prepared for ``loss``
    (once, shaped like the output)."""
    X = as_indexable(X, name)
    check_rows(X, net.in_features, net.dtype, name)
    y = np.asarray(y)
    if len(y) != X.shape[0]:
        raise ValueError(
            f"{name} and y have different numbers of samples: {X.shape[0]} and {len(y)}"
        )
    return X, net.prepare_targets(y, loss)


def _row_weights(Y, labels, class_weight, sample_weight):
    """Per-row weights w_i = sample_weight_i * class_weight[y_i], or None."""
    n = len(Y)
    weights = None
    if sample_weight is not None:
        weights = check_sample_weight(sample_weight, n)
    if class_weight is not None:
        per_class = class_weights_to_samples(class_weight, labels, max(Y.shape[1], 2))
        weights = per_class if weights is None else weights * per_class
        check_sample_weight(weights, n, "sample_weight * class_weight")
    return weights


def _check_iterable(
    data, config: TrainConfig, sample_weight, what: str = "an iterable of batches"
) -> None:
    """X given without y must be an iterable of batches (or a data source), and the
    settings that need the whole arrays are refused."""
    if isinstance(data, np.ndarray) or hasattr(data, "shape"):
        raise ValueError(
            "y is missing: pass fit(X, y, ...), or an iterable of (X, y) batches as X"
        )
    if not hasattr(data, "__iter__") and not is_source(data):
        raise TypeError(
            f"X must be an array with y given, or an iterable of (X, y) batches, got "
            f"{type(data).__name__}"
        )
    for name, value in (
        ("validation_split", config.validation_split or None),
        ("class_weight", config.class_weight),
        ("sample_weight", sample_weight),
    ):
        if value is not None:
            raise ValueError(
                f"{name} needs arrays X and y; with {what} give "
                "validation_data= and per-batch weights as (X, y, w)"
            )


def _validation_arrays(net, loss, validation_data):
    """(X_val, Y_val, w_val) from validation_data, checked as fit's own data (a
    data source is read at each evaluation instead)."""
    if is_source(validation_data):
        return validation_data
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (
        2,
        3,
    ):
        raise TypeError(
            "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
            f"sample_weight_val), got {type(validation_data).__name__}"
        )
    Xv, Yv = _arrays(net, validation_data[0], validation_data[1], loss, "validation X")
    wv = None
    if len(validation_data) == 3 and validation_data[2] is not None:
        wv = check_sample_weight(
            validation_data[2], Xv.shape[0], "validation sample_weight"
        )
    return Xv, Yv, wv


def _validator(net, loss, val, metrics, task):
    """f() -> {"val_loss": ..., "val_<metric>": ...} on the validation arrays, or
    None without validation."""
    if val is None:
        return None
    if is_source(val):
        return lambda: evaluate_source(net, loss, val, metrics, task, prefix="val_")
    Xv, Yv, wv = val

    def validate():
        return evaluate_prepared(net, loss, Xv, Yv, wv, metrics, task, prefix="val_")

    return validate


# -- callbacks -------------------------------------------------------------------------
def _callbacks(config: TrainConfig) -> CallbackList:
    """The progress output, the configured callbacks (schedules wrapped in a
    LearningRateScheduler), then early stopping, in that order."""
    result = [ProgressBar(config.verbose)] if config.verbose else []
    extra = [] if config.early_stopping is None else [config.early_stopping]
    for cb in [*config.callbacks, *extra]:
        result.append(LearningRateScheduler(cb) if isinstance(cb, Schedule) else cb)
    return CallbackList(result)
