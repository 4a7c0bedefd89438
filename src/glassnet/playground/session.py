"""The playground's training state: data, features, network, optimizer, and the loop.

A ``Session`` holds one run. ``step()`` trains one batch with the fit loop's own
step (``glassnet.training.loop.train_step``: forward, loss, backward, update), so
every number the page shows is the library's; ``epoch()`` runs the batches of one
pass over the training points in fit's seeded order
(``np.random.default_rng([seed, epoch]).permutation(n)``), then records the train
and test loss. A loss or weight that is NaN or inf stops training: the weights
and the optimizer state go back to those before the step, and ``diverged`` says
what happened and what to try, as ``fit``'s DivergenceError does.

``explain_point`` is ``gn.explain`` on one training or test point with the current
weights and a copy of the current optimizer (its state included), one step.

Examples
--------
>>> session = Session(Config(dataset="xor", hidden=[4], lr=0.03))
>>> session.epoch()
>>> session.epochs_done, len(session.history["train_loss"])
(1, 1)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InputError
from ..explaining import explain
from ..nn.activations import ACTIVATIONS
from ..nn.layers import Dense
from ..nn.losses import get_loss
from ..nn.network import Sequential
from ..optim.registry import get_optimizer
from ..training.data import epoch_order
from ..training.loop import train_step
from .datasets2d import DATASETS, DOMAIN, UserData, make_dataset
from .features import check_features, feature_matrix

#: The optimizers the page offers: name -> (registry name, fixed hyperparameters).
OPTIMIZERS = {
    "sgd": ("sgd", {}),
    "momentum": ("sgd", {"momentum": 0.9}),
    "adam": ("adam", {}),
    "rmsprop": ("rmsprop", {}),
}
#: Activations a hidden layer may take (softmax and step have no use there).
HIDDEN_ACTIVATIONS = tuple(n for n in ACTIVATIONS if n not in ("softmax", "step"))
LOSSES = {"classification": ("binary_crossentropy", "mse"), "regression": ("mse",)}
REGULARIZATIONS = ("none", "l1", "l2")
MAX_LAYERS = 6
MAX_WIDTH = 256
MAX_SAMPLES = 5000
MAX_LR = 1e6
MAX_WEIGHT = 1e6  # an edited weight's largest size


@dataclass
class Config:
    """Everything that defines a run; ``Config.from_dict`` checks a page's request."""

    dataset: str = "circle"
    noise: float = 0.0
    ratio: float = 0.5
    n_samples: int = 500
    seed: int = 0
    features: list = field(default_factory=lambda: ["x1", "x2"])
    hidden: list = field(default_factory=lambda: [4, 2])
    activations: list | None = None  # one per hidden layer; None: all tanh
    loss: str | None = None  # None: binary cross-entropy to classify, else mse
    optimizer: str = "sgd"
    lr: float = 0.03
    regularization: str = "none"
    reg_rate: float = 0.0
    batch_size: int = 10
    _user_task = None  # not a setting: the task of the user's data, set by check

    def __post_init__(self):
        if self.activations is None:
            self.activations = ["tanh"] * len(self.hidden)

    @classmethod
    def from_dict(cls, data, user_task: str | None = None) -> Config:
        """A Config from JSON, every field checked, with a message naming the field."""
        if not isinstance(data, dict):
            raise InputError(f"the configuration must be a JSON object, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown setting(s) {unknown}; expected {sorted(known)}")
        config = cls(**data)
        config.check(user_task)
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self, user_task: str | None = None) -> None:
        """Check every field; ``user_task`` is the task of the user's data, if any
        (the dataset "user" is allowed only then)."""
        names = [*DATASETS, "user"] if user_task else list(DATASETS)
        if self.dataset not in names:
            raise InputError(f"dataset must be one of {names}, got {self.dataset!r}")
        self._user_task = user_task
        self.noise = _number(self.noise, "noise", 0.0, 1.0)
        self.ratio = _number(self.ratio, "ratio", 0.0, 1.0, low_open=True)
        self.n_samples = _integer(self.n_samples, "n_samples", 10, MAX_SAMPLES)
        self.seed = _integer(self.seed, "seed", 0, 2**32 - 1)
        self.features = check_features(self.features)
        if not isinstance(self.hidden, list) or len(self.hidden) > MAX_LAYERS:
            raise InputError(
                f"hidden must be a list of 0 to {MAX_LAYERS} layer widths, "
                f"got {self.hidden!r}"
            )
        self.hidden = [
            _integer(w, f"the width of hidden layer {i + 1}", 1, MAX_WIDTH)
            for i, w in enumerate(self.hidden)
        ]
        if not isinstance(self.activations, list) or len(self.activations) != len(
            self.hidden
        ):
            raise InputError(
                f"activations must be a list of one name per hidden layer "
                f"({len(self.hidden)}), got {self.activations!r}"
            )
        for i, name in enumerate(self.activations):
            if name not in HIDDEN_ACTIVATIONS:
                raise InputError(
                    f"the activation of hidden layer {i + 1} must be one of "
                    f"{list(HIDDEN_ACTIVATIONS)}, got {name!r}"
                )
        allowed = LOSSES[self.task]
        if self.loss is None:
            self.loss = allowed[0]
        if self.loss not in allowed:
            raise InputError(
                f"loss for {self.task} must be one of {list(allowed)}, got {self.loss!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise InputError(
                f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        self.lr = _number(self.lr, "lr (the learning rate)", 0.0, MAX_LR, low_open=True)
        if self.regularization not in REGULARIZATIONS:
            raise InputError(
                f"regularization must be one of {list(REGULARIZATIONS)}, "
                f"got {self.regularization!r}"
            )
        self.reg_rate = _number(self.reg_rate, "reg_rate", 0.0, 10.0)
        self.batch_size = _integer(self.batch_size, "batch_size", 1, MAX_SAMPLES)

    @property
    def task(self) -> str:
        if self.dataset == "user":
            return self._user_task
        if self.dataset in ("plane", "multi-gaussian"):
            return "regression"
        return "classification"


def _number(value, name, low, high, low_open=False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (
        not ok
        or not math.isfinite(value)
        or value > high
        or value < low
        or (low_open and value == low)
    ):
        bound = ">" if low_open else ">="
        raise InputError(
            f"{name} must be a finite number {bound} {low:g} and <= {high:g}, "
            f"got {value!r}"
        )
    return float(value)


def _integer(value, name, low, high) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise InputError(
            f"{name} must be an integer from {low} to {high}, got {value!r}"
        )
    return value


class Session:
    """One playground run: build from a Config, then step, explain and snapshot.

    Every public method takes ``lock``, so the server's threads may call them at
    once; ``changed`` is notified after each change (the live stream waits on it).
    """

    def __init__(self, config: Config | None = None, user_data: UserData | None = None):
        self.user_data = user_data
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.playing = False
        #: "Fast": play without the pause between epochs (the stream sends at most
        #: MAX_STATES_PER_SECOND states, skipping those between); kept across runs.
        self.fast = False
        self.reset(config or Config())

    # -- building -----------------------------------------------------------------
    def reset(self, config: Config | None = None) -> None:
        """A new run: the data, features and a freshly initialised network."""
        with self.lock:
            if config is not None:
                config.check(self.user_task)
                self.config = config
            c = self.config
            user = self.user_data
            extra = user.extra if c.dataset == "user" and user else None
            columns = None
            if c.dataset == "user":  # the extra columns split with their points
                P = user.points if extra is None else np.hstack([user.points, extra])
                columns = (P, user.targets, user.task)
            data = make_dataset(
                c.dataset, c.n_samples, c.noise, c.ratio, c.seed, columns
            )
            E_train, E_test = data.X_train[:, 2:], data.X_test[:, 2:]
            self.data = dataclasses.replace(
                data, X_train=data.X_train[:, :2], X_test=data.X_test[:, :2]
            )
            #: The extra inputs' values on the drawn grids: their means.
            self.extra_mean = np.zeros(0) if extra is None else extra.mean(axis=0)
            self.extra_columns = list(user.extra_columns) if extra is not None else []
            self.F_train = np.hstack(
                [feature_matrix(self.data.X_train, c.features), E_train]
            )
            self.F_test = np.hstack(
                [feature_matrix(self.data.X_test, c.features), E_test]
            )
            widths = [self.F_train.shape[1], *c.hidden]
            output = "sigmoid" if c.task == "classification" else "identity"
            layers = [
                Dense(widths[i], widths[i + 1], activation=c.activations[i])
                for i in range(len(c.hidden))
            ]
            layers.append(Dense(widths[-1], 1, activation=output))
            self.net = Sequential(*layers, dtype="float64", seed=c.seed)
            self.loss = get_loss(c.loss)
            name, options = OPTIMIZERS[c.optimizer]
            if c.regularization == "l2":
                options = {**options, "weight_decay": c.reg_rate}
            elif c.regularization == "l1":
                options = {**options, "l1": c.reg_rate}
            self.optimizer = get_optimizer(name, lr=c.lr, **options)
            self.Y_train = self.net.prepare_targets(self.data.y_train, self.loss)
            # fit's own order, so an exported script reproduces the run bitwise
            self._order = epoch_order(c.seed, 0, len(self.F_train))
            self.epochs_done, self.steps_done, self._position = 0, 0, 0
            self.history = {"train_loss": [], "test_loss": []}
            self.diverged: str | None = None
            self.last_step: dict | None = None
            self.playing = False
            self._touch()

    def use_data(self, user_data: UserData) -> None:
        """A new run on the user's table (an upload): dataset "user", the loss
        chosen anew for its task, the other settings kept."""
        with self.lock:
            config = Config(
                **{**self.config.to_dict(), "dataset": "user", "loss": None}
            )
            config.check(user_data.task)  # before anything changes
            self.user_data = user_data
            self.reset(config)

    @property
    def user_task(self) -> str | None:
        return self.user_data.task if self.user_data else None

    def _touch(self) -> None:
        self.version += 1
        self.changed.notify_all()

    # -- training -----------------------------------------------------------------
    def step(self) -> bool:
        """One batch: the fit loop's step. False (and nothing changed) once diverged."""
        with self.lock:
            if self.diverged:
                return False
            c, n = self.config, len(self.F_train)
            # rows sorted within the batch, as fit gathers them (same sums, same bits)
            batch = np.sort(self._order[self._position : self._position + c.batch_size])
            params_before = self.net.flat_params.copy()
            state_before = copy.deepcopy(self.optimizer.state_dict())
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                value, _ = train_step(
                    self.net, self.loss, self.optimizer, self.F_train[batch],
                    self.Y_train[batch],
                )  # fmt: skip
            self.steps_done += 1
            bad = None
            if not math.isfinite(value):
                bad = f"the loss is {value}"
            elif not np.isfinite(self.net.flat_params).all():
                bad = "the update made a weight NaN or inf"
            if bad:
                self.net.flat_params[...] = params_before
                self.optimizer.load_state_dict(state_before)
                self.playing = False
                self.diverged = (
                    f"training diverged at epoch {self.epochs_done + 1}, step "
                    f"{self.steps_done}: {bad}. The network keeps its last finite "
                    f"weights (from before this step). Try a smaller learning rate "
                    f"(lr is {c.lr:g}), fewer or narrower layers, or another optimizer."
                )
                self._touch()
                return False
            self.last_step = {"loss_before": value, "batch": batch.tolist()}
            self._position += c.batch_size
            if self._position >= n:
                self._end_epoch()
            self._touch()
            return True

    def epoch(self) -> None:
        """The rest of the current pass over the training points."""
        with self.lock:
            start = self.epochs_done
            while self.epochs_done == start and self.step():
                pass

    def _end_epoch(self) -> None:
        self.epochs_done += 1
        self._position = 0
        self._order = epoch_order(self.config.seed, self.epochs_done, len(self.F_train))
        self.history["train_loss"].append(self.loss_on("train"))
        self.history["test_loss"].append(self.loss_on("test"))

    def loss_on(self, split: str) -> float | None:
        """The loss over the whole train or test split (None for an empty split)."""
        F, y = self._split(split)
        if not len(F):
            return None
        with np.errstate(over="ignore", invalid="ignore"):  # huge weights: inf, shown
            return float(self.net.loss_value(F, y, loss=self.loss))

    def accuracy(self, split: str) -> float:
        """The share of points on the right side of 0.5 (classification only)."""
        F, y = self._split(split)
        predicted = (self.net.predict(F)[:, 0] > 0.5).astype(np.int64)
        return float((predicted == y).mean())

    def _split(self, split: str):
        if split == "train":
            return self.F_train, self.data.y_train
        if split == "test":
            return self.F_test, self.data.y_test
        raise InputError(f"split must be 'train' or 'test', got {split!r}")

    def set_weight(self, layer, name, row, col, value) -> float:
        """Set one parameter, ``W{layer}[row, col]`` or ``b{layer}[row]`` (all from
        1, as the page shows them), to a finite ``value``; returns the old value.

        The optimizer's state is kept (its next step continues from the new weight).
        """
        with self.lock:
            n_layers = len(self.net.layers)
            layer = _integer(layer, "layer", 1, n_layers)
            if name not in ("W", "b"):
                raise InputError(f"name must be 'W' or 'b', got {name!r}")
            tensor = getattr(self.net.layers[layer - 1], name)
            row = _integer(row, "row", 1, tensor.shape[0])
            index = (row - 1,)
            if name == "W":
                index += (_integer(col, "col", 1, tensor.shape[1]) - 1,)
            value = _number(value, "the weight's value", -MAX_WEIGHT, MAX_WEIGHT)
            old = float(tensor[index])
            tensor[index] = value  # a view into flat_params: the optimizer sees it
            self._touch()
            return old

    # -- the math of one point --------------------------------------------------------
    def explain_point(self, split: str, index: int):
        """``gn.explain`` of one point: forward, loss, backpropagation and the step
        the current optimizer (a copy, with its state) would make."""
        with self.lock:
            F, y = self._split(split)
            if (
                not isinstance(index, int)
                or isinstance(index, bool)
                or not (0 <= index < len(F))
            ):
                raise InputError(
                    f"index must be an integer from 0 to {len(F) - 1} for the "
                    f"{split} points, got {index!r}"
                )
            return explain(
                self.net, F[index], y[index], loss=self.loss,
                optimizer=self.optimizer, steps=1,
            )  # fmt: skip

    # -- what the page draws ------------------------------------------------------
    def snapshot(self, resolution: int = 40, neuron_resolution: int = 16) -> dict:
        """The state as JSON-able data: points, losses, weights and heatmaps.

        ``output`` is the network's output on a resolution x resolution grid over
        [-6, 6]^2 (rows from x2 = 6 down to -6, columns from x1 = -6 to 6); each
        neuron's heatmap is its activation on a coarser grid.
        """
        with self.lock, np.errstate(over="ignore", invalid="ignore"):
            c = self.config
            fine = _grid(resolution)
            output = self.net.predict(self.grid_inputs(fine))[:, 0]
            coarse = _grid(neuron_resolution)
            Fc = self.grid_inputs(coarse)
            neurons = [[_rounded(Fc[:, j]) for j in range(Fc.shape[1])]]
            outputs = self.net.forward(Fc, return_all=True)
            for layer_output in outputs:
                A = layer_output["A"]
                neurons.append([_rounded(A[:, j]) for j in range(A.shape[1])])
            return {
                "version": self.version,
                "config": c.to_dict(),
                "task": c.task,
                "user_data": (
                    {
                        "name": self.user_data.name,
                        "columns": self.user_data.columns,
                        "extra_columns": self.user_data.extra_columns,
                    }
                    if self.user_data
                    else None
                ),
                "domain": DOMAIN,
                "extra_inputs": self.extra_columns,
                "playing": self.playing,
                "fast": self.fast,
                "epoch": self.epochs_done,
                "steps": self.steps_done,
                "diverged": self.diverged,
                "history": self.history,
                "accuracy": (
                    {
                        s: self.accuracy(s)
                        for s in ("train", "test")
                        if len(self._split(s)[0])
                    }
                    if c.task == "classification"
                    else None
                ),
                "train": _points(self.data.X_train, self.data.y_train),
                "test": _points(self.data.X_test, self.data.y_test),
                "resolution": resolution,
                "output": _rounded(output),
                "neuron_resolution": neuron_resolution,
                "neurons": neurons,
                "weights": [
                    {"W": layer.W.tolist(), "b": layer.b.tolist()}
                    for layer in self.net.layers
                ],
                "gradients": self.gradients(),
                "dead": self.dead_units(),
            }

    def grid_inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs at drawn points (n, 2): their features, and the
        user's extra columns (if any) held at their mean."""
        extra = np.broadcast_to(self.extra_mean, (len(points), len(self.extra_mean)))
        return np.hstack([feature_matrix(points, self.config.features), extra])

    def gradients(self) -> list[dict]:
        """dL/dW and dL/db of the loss over every training point, per layer (the
        gradient view draws the links by these)."""
        with self.lock, np.errstate(over="ignore", invalid="ignore"):
            _, grads = self.net.loss_and_grad(
                self.F_train, self.data.y_train, loss=self.loss
            )
            return [{"W": g["W"].tolist(), "b": g["b"].tolist()} for g in grads]

    def dead_units(self) -> list[list[bool]]:
        """Per hidden layer, the units whose output is 0 on every training point
        (a ReLU stuck below zero: no gradient flows through it)."""
        with self.lock, np.errstate(over="ignore", invalid="ignore"):
            outputs = self.net.forward(self.F_train, return_all=True)[:-1]
            return [(out["A"] == 0).all(axis=0).tolist() for out in outputs]


def _grid(resolution: int) -> np.ndarray:
    """Cell centres of a resolution^2 grid over [-6, 6]^2, row by row from the top."""
    edges = np.linspace(-DOMAIN, DOMAIN, resolution + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def _rounded(values: np.ndarray) -> list:
    return np.round(values.astype(np.float64), 4).tolist()


def _points(X: np.ndarray, y: np.ndarray) -> list:
    return np.column_stack([X, y]).round(6).tolist()
