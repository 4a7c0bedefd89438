"""The callback protocol: code that runs at fixed points of the fit loop.

A callback subclasses ``Callback`` and overrides any of::

    on_train_begin(logs)             on_train_end(logs)
    on_epoch_begin(epoch, logs)      on_epoch_end(epoch, logs)
    on_batch_begin(step, logs)       on_batch_end(step, logs)

``epoch`` is 0-based; ``step`` is the 0-based index of the batch within its epoch. The
logs of on_batch_end hold the batch's "loss" and "size"; those of on_epoch_end every
value recorded in the History ("loss", "val_loss", metrics, "lr", "epoch_time").

Before training starts each callback gets:

- ``self.model``: the network (``self.model.flat_params`` are its weights),
- ``self.trainer``: the running loop, with ``.optimizer``, ``.epoch``, ``.step`` (batches
  done in this epoch), ``.history``, ``.position()`` (where a resumed fit would
  continue) and ``.stop_training`` (set it to True to stop after the current batch;
  ``self.model.stop_training = True``, the Keras habit, works too),
- ``self.params``: the fit's settings (epochs, steps, batch_size, seed, ...).

Examples
--------
>>> from glassnet.training import Callback
>>> class StopAtLoss(Callback):
...     def on_epoch_end(self, epoch, logs):
...         if logs["loss"] < 0.1:
...             self.trainer.stop_training = True
"""

from __future__ import annotations

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_batch_end",
)


class Callback:
    """Base class: every hook does nothing."""

    model = None
    trainer = None
    params: dict = {}

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer
        self.model = trainer.net
        self.params = trainer.params

    def on_train_begin(self, logs: dict) -> None:
        pass

    def on_train_end(self, logs: dict) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_batch_begin(self, step: int, logs: dict) -> None:
        pass

    def on_batch_end(self, step: int, logs: dict) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=f)``."""

    def __init__(self, **hooks):
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"unknown callback hooks {unknown}; expected some of {list(_HOOKS)}"
            )
        for name, fn in hooks.items():
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {fn!r}")
            setattr(self, name, fn)


class CallbackList:
    """Calls each hook on every callback that overrides it, in order.

    Only callbacks that define a hook are called for it, so the per-batch hooks cost
    nothing when no callback uses them.
    """

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        for hook in _HOOKS:
            bound = [
                getattr(cb, hook)
                for cb in self.callbacks
                if hook in vars(cb)
                or getattr(type(cb), hook) is not getattr(Callback, hook)
            ]
            setattr(self, hook, _fan_out(bound))

    def set_trainer(self, trainer) -> None:
        for cb in self.callbacks:
            cb.set_trainer(trainer)

    def __iter__(self):
        return iter(self.callbacks)


def _fan_out(functions):
    if not functions:
        return _nothing
    if len(functions) == 1:
        return functions[0]

    def call_all(*args):
        for fn in functions:
            fn(*args)

    return call_all


def _nothing(*args) -> None:
    pass
