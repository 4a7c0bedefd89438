"""TrainConfig: the settings of one ``fit`` call, checked once, when it is made.

``fit(net, X, y, epochs=5, ...)`` builds one from its keywords;
``fit(net, X, y, config=TrainConfig(epochs=5, ...))`` takes one ready-made; and the
History that ``fit`` returns keeps the one its run used as ``history.config``, with
the loss and the seed filled in (``loss=history.config.loss,
metrics=history.config.metrics`` evaluate as that run did).

Settings and data are kept apart. A config holds what says how to train (loss,
optimizer, epochs, batch size, order, metrics, callbacks, class weights, where to
resume, output, adversarial training); the data stay arguments of ``fit``: X, y, the
per-row ``sample_weight`` and ``validation_data``. So one config trains on any data
set, and one kept in a History keeps no arrays alive. What can only be checked
against the network or the data (metrics against the output task, class_weight keys
against the classes, initial_step against the steps per epoch) is checked by ``fit``.

Examples
--------
>>> import glassnet as gn
>>> from glassnet.training import TrainConfig
>>> config = TrainConfig(optimizer=gn.Adam(lr=0.05), epochs=300, batch_size=None,
...                      metrics=["accuracy"], verbose=0)
>>> X, y = gn.datasets.xor()
>>> net = gn.Sequential(gn.Dense(2, 8, "tanh"), gn.Dense(8, 1, "sigmoid"),
...                     dtype="float64", seed=0)
>>> history = net.fit(X, y, config=config)
>>> history.config.loss, history.config.metrics, history.history["accuracy"][-1]
(BinaryCrossEntropyLoss(), ('accuracy',), 1.0)
>>> try:
...     TrainConfig(epochs=0)
... except ValueError as error:
...     print(error)
epochs must be a positive integer, got 0
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.losses import Loss, get_loss
from ..optim import Optimizer, get_optimizer
from ..optim.schedules import Schedule
from ..validation import check_number, check_positive_int
from .callbacks import Callback
from .certified import CertifiedTraining
from .data import check_class_weight
from .early_stopping import EarlyStopping
from .metrics import check_metrics


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run, validated when the config is made.

    Parameters
    ----------
    loss : str or Loss, optional
        None takes the loss of the output layer: softmax -> "cross_entropy",
        sigmoid -> "binary_crossentropy", anything else -> "mse"
        (``glassnet.nn.losses.default_loss``). A name is turned into its Loss here.
    optimizer : str or Optimizer, default "adam"
        A name makes a new optimizer for each run; an Optimizer object keeps its
        state (moments, step count) across runs: pass the same one to resume.
    epochs : int, default 1
        The epoch index to stop at (Keras's convention): a run trains epochs
        ``initial_epoch .. epochs-1``.
    batch_size : int or None, default 32
        Rows per step; None means full-batch gradient descent. The last batch of an
        epoch may be smaller. Ignored for an iterable of batches.
    shuffle : bool, default True
        Epoch e visits the rows in the order
        ``np.random.default_rng([seed, e]).permutation(n)``; False keeps their order.
    seed : int >= 0 or None, default 0
        Orders the batches and draws the validation split. None draws one from
        ``net.rng`` when training starts (then recorded in ``history.seed`` and
        ``history.config.seed``). Dropout masks come from ``net.rng`` either way.
    validation_split : float in [0, 1), default 0
        Hold out this fraction of (X, y), drawn from ``seed`` and stratified by
        class for classification losses (arrays only; not with validation_data).
    metrics : sequence of names or callables f(y_true, y_pred), default ()
        e.g. ("accuracy", "f1"); see ``glassnet.training.metrics``. Logged on the
        training batches (the outputs before each update) and as "val_<name>".
        A single name or callable is taken as a one-element sequence.
    early_stopping : EarlyStopping, optional
        Shorthand for adding it to ``callbacks``.
    callbacks : sequence of Callback or Schedule, default ()
        Called in this order, after the progress output; a schedule is wrapped in
        a LearningRateScheduler.
    class_weight : dict {class: weight} or "balanced", optional
        Multiplies each sample's weight in the loss by its class's weight;
        "balanced" gives n / (n_classes * n_c) as scikit-learn. Needs class targets.
    initial_epoch, initial_step : int >= 0, default 0
        Resume at this epoch, this many batches into it (``history.next_epoch``,
        ``history.next_step`` of the run being continued, with its seed and its
        optimizer object): the weights then equal those of an uninterrupted run bit
        for bit.
    verbose : 0, 1 or 2, default 1
        0 silent; 1 a progress bar on a terminal, one line per epoch otherwise;
        2 one line per epoch.
    adversarial : gn.attacks.FGSM or gn.attacks.PGD, optional
        Adversarial training: each batch is perturbed against the current weights
        and the step minimises L = (1 - mix) L(x, y) + mix L(x_adv, y). Any object
        with the two methods fit uses, ``wrap(step_fn) -> step_fn`` and
        ``config() -> dict``, is accepted.
    certify : float >= 0 or CertifiedTraining, optional
        Certified training (IBP, Gowal et al. 2018): the step minimises
        kappa L(z, y) + (1 - kappa) CE(z~, y), z~ the worst logits over the box
        |x' - x|_inf <= eps (see ``glassnet.training.certified``). A number is the
        eps, with the four settings below; kept as a CertifiedTraining.
    certify_method : "ibp" or "crown-ibp", default "ibp"
        "crown-ibp" (Zhang et al. 2020) mixes CROWN-IBP margins in, with beta
        going from 1 to 0 over the ramp; ReLU hidden layers only.
    certify_ramp : None, number, (start_epoch, ramp_epochs) or callable
        eps grows from 0 to its value (and kappa from 1 to 0.5) over the first half
        of the run (None), over the first r epochs (a number), from start_epoch over
        ramp_epochs (a pair), or as f(progress in epochs) -> [0, 1] (a callable).
    certify_kappa : (start, end), default (1.0, 0.5)
    certify_clip : (lo, hi), optional
        The data range the boxes are cut to (pixels: (0, 1)).

    Raises
    ------
    TypeError, ValueError
        Naming the setting, what it must be and what it got.
    """

    loss: str | Loss | None = None
    optimizer: str | Optimizer = "adam"
    epochs: int = 1
    batch_size: int | None = 32
    shuffle: bool = True
    seed: int | None = 0
    validation_split: float = 0.0
    metrics: tuple = ()
    early_stopping: EarlyStopping | None = None
    callbacks: tuple = ()
    class_weight: dict | str | None = None
    initial_epoch: int = 0
    initial_step: int = 0
    verbose: int = 1
    adversarial: Any = None
    certify: Any = None
    certify_method: str = "ibp"
    certify_ramp: Any = None
    certify_kappa: tuple = (1.0, 0.5)
    certify_clip: tuple | None = None

    def __post_init__(self):
        # Each setting in its checked form; the dataclass is frozen, hence
        # object.__setattr__ (as in dataclasses' own documentation).
        def put(name, value):
            object.__setattr__(self, name, value)

        if self.loss is not None:
            put("loss", get_loss(self.loss))
        get_optimizer(self.optimizer)  # a known name, or an Optimizer: raises if not
        put("epochs", check_positive_int(self.epochs, "epochs"))
        put("initial_epoch", _count(self.initial_epoch, "initial_epoch"))
        put("initial_step", _count(self.initial_step, "initial_step"))
        if self.initial_epoch > self.epochs:
            raise ValueError(
                f"initial_epoch={self.initial_epoch} is past epochs={self.epochs} "
                "(epochs is the index to stop at, as in Keras)"
            )
        if self.batch_size is not None:
            put("batch_size", check_positive_int(self.batch_size, "batch_size"))
        put("shuffle", _flag(self.shuffle, "shuffle"))
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        put("verbose", int(self.verbose))
        _check_adversarial(self.adversarial)
        put("certify", self._checked_certify())
        put(
            "validation_split",
            check_number(
                self.validation_split, "validation_split", low=0.0, high=1.0,
                high_open=True,
            ),
        )  # fmt: skip
        put("seed", self._checked_seed())
        put("metrics", check_metrics(self.metrics))
        put("callbacks", _checked_callbacks(self.callbacks, self.early_stopping))
        check_class_weight(self.class_weight)
        if isinstance(self.class_weight, dict):
            put("class_weight", dict(self.class_weight))  # later edits do not leak in

    @property
    def resuming(self) -> bool:
        """True when the run starts after the beginning (initial_epoch/step > 0)."""
        return self.initial_epoch > 0 or self.initial_step > 0

    def _checked_certify(self) -> CertifiedTraining | None:
        """``certify`` as a CertifiedTraining (or None), its settings checked."""
        options = {
            "certify_method": (self.certify_method, "ibp"),
            "certify_ramp": (self.certify_ramp, None),
            "certify_kappa": (self.certify_kappa, (1.0, 0.5)),
            "certify_clip": (self.certify_clip, None),
        }
        given = [name for name, (value, default) in options.items() if value != default]
        if self.certify is None or isinstance(self.certify, CertifiedTraining):
            if given:
                what = "certify=eps" if self.certify is None else "certify as a number"
                raise ValueError(f"{', '.join(given)} needs {what}")
            certify = self.certify
        else:
            certify = CertifiedTraining(
                self.certify, method=self.certify_method, ramp=self.certify_ramp,
                kappa=self.certify_kappa, clip=self.certify_clip,
            )  # fmt: skip
        for name, (_, default) in options.items():  # now held by the setting
            object.__setattr__(self, name, default)
        if certify is not None and self.adversarial is not None:
            raise ValueError(
                "give adversarial or certify, not both (certified training already "
                "trains against the worst case over the box)"
            )
        return certify

    def _checked_seed(self) -> int | None:
        seed = self.seed
        if seed is None:
            if self.resuming and (self.shuffle or self.validation_split):
                raise ValueError(
                    "resuming (initial_epoch/initial_step) needs the seed of the run "
                    "being continued to recompute its batch order: pass "
                    "seed=history.seed"
                )
            return None
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(
                f"seed must be a non-negative integer or None, got {seed!r}"
            )
        return int(seed)


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _flag(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, numbers.Integral) and value in (0, 1)
    ):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def _check_adversarial(adversarial) -> None:
    """fit calls ``adversarial.wrap(step_fn)`` and ``adversarial.config()``: anything
    with those two methods will do (gn.attacks.FGSM and PGD have them)."""
    if adversarial is None:
        return
    if isinstance(adversarial, type) or not all(
        callable(getattr(adversarial, method, None)) for method in ("wrap", "config")
    ):
        raise TypeError(
            "adversarial must be gn.attacks.FGSM(eps=...) or gn.attacks.PGD(eps=...), "
            f"got {type(adversarial).__name__} (adversarial training needs an object "
            "with the methods wrap(step_fn) and config())"
        )


def _checked_callbacks(callbacks, early_stopping) -> tuple:
    """callbacks as a tuple of Callback and Schedule objects; early_stopping checked
    with them (it is added to them when training)."""
    if callbacks is None:
        callbacks = ()
    elif isinstance(callbacks, (Callback, Schedule)):
        callbacks = (callbacks,)
    callbacks = tuple(callbacks)
    extra = () if early_stopping is None else (early_stopping,)
    for cb in callbacks + extra:
        if not isinstance(cb, (Callback, Schedule)):
            raise TypeError(
                "callbacks must be glassnet Callback objects (or schedules), got "
                f"{type(cb).__name__}"
            )
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(
            "early_stopping must be a gn.EarlyStopping, got "
            f"{type(early_stopping).__name__}"
        )
    return callbacks
