"""Constructor arguments of the estimators, checked when ``fit`` starts.

scikit-learn's convention: ``__init__`` stores its arguments untouched (so ``clone``
and ``set_params`` work), and they are validated at fit time. Every message names the
argument, what was expected and what was received.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass

import numpy as np

from ...nn.activations import Activation, get_activation
from ...optim import OPTIMIZERS, Optimizer, get_optimizer
from ...validation import check_dtype, check_number, check_positive_int
from .solvers import ScikitAdam, ScikitSGD

#: The learning_rate_init default; an optimizer object keeps its own lr unless another
#: learning rate is asked for explicitly (then the two must agree).
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_MAX_ITER = 200
SOLVERS = ("adam", "sgd", "lbfgs")
SCHEDULES = ("constant", "invscaling", "adaptive")


@dataclass(frozen=True)
class Settings:
    hidden: tuple[int, ...]
    activations: tuple[Activation, ...]
    dropouts: tuple[float, ...]
    batch_size: int | None  # None: "auto", min(200, n)
    max_iter: int
    alpha: float
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    shuffle: bool
    dtype: np.dtype | None  # None: the input's floating dtype (float64 for others)
    solver: str  # "adam", "sgd", "lbfgs", or "optimizer" (a glassnet optimizer)
    learning_rate_init: float
    schedule: str
    warm_start: bool
    max_fun: int

    def batch_for(self, n: int) -> int:
        """The batch size for n training rows: min(200, n) for "auto", else clipped
        to n (one full batch)."""
        return min(200 if self.batch_size is None else self.batch_size, n)


def check_settings(est) -> Settings:
    """The estimator's hyperparameters, validated (called at the start of fit)."""
    hidden = _hidden_sizes(est.hidden_layer_sizes)
    return Settings(
        hidden=hidden,
        activations=_per_layer_activations(est.activation, len(hidden)),
        dropouts=_per_layer_dropout(est.dropout, len(hidden)),
        batch_size=_batch_size(est.batch_size),
        max_iter=_max_iter(est.max_iter, est.epochs),
        alpha=check_number(est.alpha, "alpha", low=0.0),
        tol=check_number(est.tol, "tol", low=0.0),
        n_iter_no_change=check_positive_int(est.n_iter_no_change, "n_iter_no_change"),
        early_stopping=_flag(est.early_stopping, "early_stopping"),
        validation_fraction=check_number(
            est.validation_fraction,
            "validation_fraction",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
        shuffle=_flag(est.shuffle, "shuffle"),
        dtype=None if est.dtype is None else check_dtype(est.dtype),
        solver=_solver(est.solver, est.optimizer, est.learning_rate),
        learning_rate_init=_learning_rate_init(
            est.learning_rate, est.learning_rate_init
        ),
        schedule=_schedule(est.learning_rate),
        warm_start=_flag(est.warm_start, "warm_start"),
        max_fun=check_positive_int(est.max_fun, "max_fun"),
    )


def _solver(solver, optimizer, learning_rate) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
    if optimizer is None:
        return solver
    if isinstance(learning_rate, str) and learning_rate != "constant":
        raise ValueError(
            f"learning_rate={learning_rate!r} is a schedule of solver='sgd'; a glassnet "
            f"optimizer (optimizer={optimizer!r}) keeps its lr constant: drop one"
        )
    if solver != "adam":
        raise ValueError(
            f"give solver (scikit-learn's name) or optimizer (a glassnet optimizer), "
            f"not both: got solver={solver!r} and optimizer={optimizer!r}"
        )
    return "optimizer"


def _learning_rate_init(learning_rate, learning_rate_init) -> float:
    """learning_rate_init, or learning_rate when that is a number (its alias)."""
    lr0 = check_number(learning_rate_init, "learning_rate_init", low=0.0, low_open=True)
    if isinstance(learning_rate, str):
        return lr0
    lr = check_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    if lr0 != DEFAULT_LEARNING_RATE and lr0 != lr:
        raise ValueError(
            f"a number as learning_rate is an alias of learning_rate_init: give one of "
            f"them, got learning_rate={lr:g} and learning_rate_init={lr0:g}"
        )
    return lr


def _schedule(learning_rate) -> str:
    if not isinstance(learning_rate, str):
        return "constant"  # a number: the alias of learning_rate_init
    if learning_rate not in SCHEDULES:
        raise ValueError(
            f"learning_rate must be one of {list(SCHEDULES)} (the schedule) or a number "
            f"(an alias of learning_rate_init), got {learning_rate!r}"
        )
    return learning_rate


def new_solver(est, settings: Settings, scale: float) -> Optimizer:
    """A fresh optimizer for one fit: scikit-learn's "sgd" or "adam" with its
    parameters, or a glassnet optimizer given as ``optimizer``."""
    if settings.solver == "optimizer":
        return new_optimizer(est.optimizer, settings.learning_rate_init)
    lr = settings.learning_rate_init
    if settings.solver == "sgd":
        return ScikitSGD(
            lr,
            momentum=check_number(est.momentum, "momentum", low=0.0),
            nesterov=_flag(est.nesterovs_momentum, "nesterovs_momentum"),
            schedule=settings.schedule,
            power_t=check_number(est.power_t, "power_t"),
            scale=scale,
        )
    beta = {
        name: check_number(getattr(est, name), name, low=0.0, high=1.0, high_open=True)
        for name in ("beta_1", "beta_2")
    }
    epsilon = check_number(est.epsilon, "epsilon", low=0.0, low_open=True)
    return ScikitAdam(lr, **beta, epsilon=epsilon, scale=scale)


def new_optimizer(optimizer, lr: float) -> Optimizer:
    """A fresh glassnet optimizer for one fit: from a name and the learning rate, or
    a copy of an Optimizer object's hyperparameters (its state is not carried over)."""
    if isinstance(optimizer, Optimizer):
        config = optimizer.config()
        if lr != DEFAULT_LEARNING_RATE and lr != config["lr"]:
            raise ValueError(
                f"learning_rate_init={lr:g} disagrees with the optimizer object's "
                f"lr={config['lr']:g}; set the lr on the optimizer ({optimizer!r}) "
                "or pass the optimizer by name"
            )
        return get_optimizer(**config)
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a glassnet Optimizer "
            f"(e.g. gn.SGD(lr=0.1, momentum=0.9)), got {optimizer!r}"
        )
    return get_optimizer(optimizer, lr=lr)


def _hidden_sizes(value) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
        for h in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive integers, one width per "
            f"hidden layer (e.g. (100,) or (64, 32); () for none), got {value!r}"
        )
    return tuple(int(h) for h in sizes)


def _per_layer_activations(value, n_hidden: int) -> tuple[Activation, ...]:
    if isinstance(value, (str, Activation)):
        value = [value] * n_hidden
    elif not isinstance(value, (list, tuple)):
        raise TypeError(
            "activation must be a name (e.g. 'relu'), a glassnet Activation, or a list "
            f"with one per hidden layer, got {type(value).__name__}"
        )
    if len(value) != n_hidden:
        raise ValueError(
            f"activation lists one activation per hidden layer: hidden_layer_sizes has "
            f"{n_hidden} layer(s) but activation has {len(value)} entries ({value!r})"
        )
    # A copy per layer: an Activation object passed in is never shared or modified.
    return tuple(copy.deepcopy(get_activation(a)) for a in value)


def _per_layer_dropout(value, n_hidden: int) -> tuple[float, ...]:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n_hidden
    if len(values) != n_hidden:
        raise ValueError(
            f"dropout lists one rate per hidden layer: hidden_layer_sizes has "
            f"{n_hidden} layer(s) but dropout has {len(values)} entries ({value!r})"
        )
    return tuple(
        check_number(p, "dropout", low=0.0, high=1.0, high_open=True) for p in values
    )


def _batch_size(value) -> int | None:
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(
                f"batch_size must be 'auto' (min(200, n_samples)) or a positive "
                f"integer, got {value!r}"
            )
        return None
    return check_positive_int(value, "batch_size")


def _max_iter(max_iter, epochs) -> int:
    max_iter = check_positive_int(max_iter, "max_iter")
    if epochs is None:
        return max_iter
    epochs = check_positive_int(epochs, "epochs")
    if max_iter != DEFAULT_MAX_ITER and max_iter != epochs:
        raise ValueError(
            f"epochs is an alias of max_iter: give one of them, got max_iter={max_iter} "
            f"and epochs={epochs}"
        )
    return epochs


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def draw_seed(random_state) -> int:
    """An integer seed in [0, 2**32) from scikit-learn's random_state.

    int: used as it is; RandomState or numpy Generator: one draw from it (so repeated
    fits differ, as in scikit-learn); None: fresh entropy from the operating system
    (numpy's global random state is never used).
    """
    if random_state is None:
        return int(np.random.default_rng().integers(2**32))
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        if not 0 <= random_state < 2**32:
            raise ValueError(
                f"random_state must be an integer in [0, 2**32 - 1], got {random_state}"
            )
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**32, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**32))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or a numpy Generator, "
        f"got {random_state!r}"
    )
