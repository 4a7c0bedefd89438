"""Optimizers by name: ``get_optimizer("adam", lr=0.01)``."""

from __future__ import annotations

from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop)
}


def get_optimizer(optimizer: str | Optimizer = "adam", **kwargs) -> Optimizer:
    """An optimizer from a name ("sgd", "adam", "adamw", "rmsprop") and keyword
    hyperparameters, or an Optimizer instance returned as it is.

    ``get_optimizer(**opt.config())`` builds a copy of ``opt``'s hyperparameters (the
    config's "name" is the first argument).

    Examples
    --------
    >>> get_optimizer("adam", lr=0.01)
    Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0, amsgrad=False)
    """
    if "name" in kwargs:
        if optimizer != "adam":
            raise TypeError("give the optimizer's name once, not as both arguments")
        optimizer = kwargs.pop("name")
    if isinstance(optimizer, Optimizer):
        if kwargs:
            raise TypeError(
                f"hyperparameters {sorted(kwargs)} were given with an optimizer object "
                f"{optimizer!r}; set them when creating it"
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(
            "optimizer must be a name ('sgd', 'adam', 'adamw', 'rmsprop') or a glassnet "
            f"Optimizer, got {type(optimizer).__name__}"
        )
    cls = OPTIMIZERS.get(optimizer.lower())
    if cls is None:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}"
        )
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise TypeError(f"{cls.__name__}: {error}") from error
