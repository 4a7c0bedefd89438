"""Optimizers: the update theta <- theta - (step) for every parameter at once.

Each optimizer works on the network's two flat buffers, ``net.flat_params`` (theta) and
``net.flat_grads`` (g = dL/dtheta), so one vectorised update covers every layer::

    opt.step(net.flat_params, net.flat_grads)     # theta updated in place

The update rules are the published ones, in the same order of operations as
``torch.optim`` (dampening 0), so a PyTorch user gets the same trajectory from the same
start. Nothing is hidden: no clipping, decay or averaging unless asked for.

State (moments, the step count t, the learning rate) is inspectable and restorable:
``opt.state_dict()`` is a flat dict of numpy arrays and Python scalars,
``opt.load_state_dict(d)`` puts it back exactly, and ``opt.config()`` gives the
hyperparameters, so ``get_optimizer(**opt.config())`` rebuilds the same optimizer.

Every optimizer takes ``l1`` (lambda1 >= 0, default 0), an L1 penalty lambda1 sum|theta|
on every parameter (weights and biases, the parameters ``weight_decay`` covers): its
subgradient is added to the (clipped) gradient before the optimizer's rule::

    g <- g + l1 * sign(theta)                          (sign(0) = 0)

so the rule's own L2 ``weight_decay`` (or AdamW's decoupled decay) follows on that g.
It pulls each parameter toward 0 by the same amount whatever its size, so small
weights reach exactly about 0 (sparse networks), where L2 shrinks them in proportion.

Each optimizer's ``_update`` is its paper's update written in numpy, in place; a
compiled loop (``glassnet._fast``) may run the same operations in one pass instead,
with bitwise the same result.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
>>> gn.SGD(lr=0.1).step(theta, g); theta          # theta - lr g
array([ 0.95, -2.05])
>>> theta = np.array([1.0, -2.0, 0.0])
>>> gn.SGD(lr=0.1, l1=0.5).step(theta, np.zeros(3)); theta   # - lr l1 sign(theta)
array([ 0.95, -1.95,  0.  ])
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .._fast import ops
from ..validation import check_number


def clip_by_global_norm(grads: np.ndarray, max_norm: float) -> float:
    """Scale g in place so that ||g||_2 <= max_norm; return the norm before clipping.

    g <- g * min(1, max_norm / (||g||_2 + 1e-6)), the rule of
    ``torch.nn.utils.clip_grad_norm_`` (the 1e-6 keeps the division finite at g = 0).
    The norm is over every parameter of the network together (the global norm).
    """
    norm = math.sqrt(float(np.dot(grads, grads)))
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        grads *= scale
    return norm


class Optimizer:
    """Base class: ``step`` clips (if asked), counts t, then applies ``_update``.

    Subclasses list their moment buffers in ``_buffers`` (created as zeros, shape of
    theta, at the first step) and write ``_update(theta, g)`` in place, in numpy, as
    in their paper. ``@ops.update_loop(name)`` on it names a compiled loop that may
    run the same update in one pass; ``step`` asks ``ops.compiled_update`` first.
    """

    name = "optimizer"
    _buffers: tuple[str, ...] = ()
    #: Where each update first keeps theta as it was (``keep_previous``), or None.
    keeping_previous: np.ndarray | None = None
    #: After a step: whether every new theta is finite, when its compiled loop said
    #: so (in the same pass); None when numpy's code ran, or no update did yet.
    update_finite: bool | None = None

    def __init__(self, lr: float, clip_norm: float | None = None, l1: float = 0.0):
        self.lr = check_number(lr, "lr", low=0.0, low_open=True)
        #: The L1 penalty's coefficient: g <- g + l1 sign(theta) before the update.
        self.l1 = check_number(l1, "l1", low=0.0)
        #: The learning rate given at construction; schedules scale this one.
        self.initial_lr = self.lr
        self.clip_norm = (
            None
            if clip_norm is None
            else check_number(clip_norm, "clip_norm", low=0.0, low_open=True)
        )
        self.t = 0  # number of updates applied
        self.state: dict[str, np.ndarray] = {}
        self._scratch: np.ndarray | None = None

    # -- the update -------------------------------------------------------------------
    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update ``params`` (theta, 1-D) in place from ``grads`` (g = dL/dtheta, 1-D).

        ``grads`` is scaled in place when ``clip_norm`` is set; the L1 term
        (``l1`` > 0) goes into a new array, ``grads`` keeps the loss's gradient.
        """
        self.begin_step(params, grads)
        self._apply(params, grads)

    def keep_previous(self, buffer: np.ndarray | None) -> None:
        """From now on, each update first writes theta as it was into ``buffer`` (an
        array like theta), in the compiled loop's own pass when one runs; None stops
        it. The fit loop's divergence guard keeps the weights of before a step this
        way: one pass over them instead of a copy, the update and a check."""
        self.keeping_previous = buffer

    def begin_step(self, params: np.ndarray, grads: np.ndarray) -> None:
        """What ``step`` does before the rule: scratch space, clipping, t <- t + 1."""
        if self._scratch is None or self._scratch.shape != params.shape:
            self._allocate(params)
        previous = self.keeping_previous
        if previous is not None and (
            previous.shape != params.shape or previous.dtype != params.dtype
        ):
            raise ValueError(
                f"{self.name} keeps theta in an array of shape {previous.shape} and "
                f"dtype {previous.dtype}, but the parameters are {params.shape}, "
                f"{params.dtype}"
            )
        self.update_finite = None
        if self.clip_norm is not None:
            clip_by_global_norm(grads, self.clip_norm)
        self.t += 1

    def _apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        if self.l1:  # g + l1 sign(theta), then the rule in numpy (no compiled loop)
            self.keep(params)
            self._update(params, grads + self.l1 * np.sign(params))
            return
        finite = ops.compiled_update(self, params, grads)  # one compiled pass, or
        if finite is None:  # the rule in numpy
            self.keep(params)
            self._update(params, grads)
        self.update_finite = finite

    def keep(self, params: np.ndarray) -> None:
        """theta as it is into the ``keep_previous`` array, if one is set (before an
        update that does not keep it in its own pass)."""
        if self.keeping_previous is not None:
            np.copyto(self.keeping_previous, params)

    # -- the update in parts (glassnet._fast.overlap) ---------------------------------
    def elementwise(self) -> bool:
        """Whether each parameter's update reads only its own theta, g and moments,
        so that the rule applied to the parts of a partition, one after the other in
        any order, gives bitwise the numbers of one ``step``: the stock rules (their
        ``_update`` marked ``@ops.update_loop``) without ``clip_norm`` (the global
        norm reads every gradient), and ``step`` not overridden."""
        return (
            type(self).step is Optimizer.step
            and ops.stock_update(self)
            and self.clip_norm is None
        )

    def update_part(self, params: np.ndarray, grads: np.ndarray, part: slice) -> None:
        """The rule on ``params[part]`` alone, after ``begin_step`` (only when
        ``elementwise()``): the same code as ``step``, on views of theta, g, the
        moments and the scratch space."""
        arrays = (*self.state.values(), self._scratch, self._scratch2)
        views = self.__dict__.setdefault("_views", {})  # kept: one per part
        kept = views.get((part.start, part.stop))
        if (
            kept is None
            or len(kept[1]) != len(arrays)
            or any(a is not b for a, b in zip(kept[1], arrays, strict=True))
        ):
            view = copy.copy(self)
            view.state = {key: value[part] for key, value in self.state.items()}
            view._scratch, view._scratch2 = self._scratch[part], self._scratch2[part]
            kept = views[part.start, part.stop] = (view, arrays)
        view = kept[0]
        sliced = view.state, view._scratch, view._scratch2
        vars(view).update(vars(self))  # the hyperparameters and t as they are now
        view.state, view._scratch, view._scratch2 = sliced
        view.keeping_previous = None  # kept whole before the first part
        view._apply(params[part], grads[part])

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
        """theta <- theta - step, in place: the update as written in its paper."""
        raise NotImplementedError

    def _allocate(self, params: np.ndarray) -> None:
        """Scratch space for the update, and the moment buffers if not loaded."""
        if params.ndim != 1:
            raise ValueError(
                f"{self.name}.step works on flat 1-D arrays (net.flat_params, "
                f"net.flat_grads), got params of shape {params.shape}"
            )
        for key in self._buffers:
            buffer = self.state.get(key)
            if buffer is None:
                self.state[key] = np.zeros_like(params)
            elif buffer.shape != params.shape:
                raise ValueError(
                    f"{self.name} state {key!r} has shape {buffer.shape} but the "
                    f"parameters have shape {params.shape}: this state belongs to "
                    "another network"
                )
            elif buffer.dtype != params.dtype:
                self.state[key] = buffer.astype(params.dtype)
        self._scratch = np.empty_like(params)
        self._scratch2 = np.empty_like(params)

    # -- state ------------------------------------------------------------------------
    def config(self) -> dict:
        """Hyperparameters, JSON-able, with "name": ``get_optimizer(**config)`` rebuilds."""
        config = {"name": self.name, "lr": self.lr}
        config.update(self._hyperparameters())
        if self.clip_norm is not None:
            config["clip_norm"] = self.clip_norm
        if self.l1:
            config["l1"] = self.l1
        return config

    def _hyperparameters(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        """Step count, learning rates and moment buffers (copies), as a flat dict."""
        state = {"t": self.t, "lr": self.lr, "initial_lr": self.initial_lr}
        state.update({key: value.copy() for key, value in self.state.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned (arrays are copied in)."""
        expected = {"t", "lr", "initial_lr"}
        missing = sorted(expected - set(state))
        unknown = sorted(set(state) - expected - set(self._buffers))
        if missing or unknown:
            raise ValueError(
                f"{self.name} state_dict: expected keys {sorted(expected)} plus moment "
                f"buffers from {list(self._buffers)}; missing {missing}, unknown {unknown}"
            )
        t = state["t"]
        if isinstance(t, np.ndarray):
            t = t.item()
        if isinstance(t, bool) or not float(t).is_integer() or t < 0:
            raise ValueError(f"state 't' must be a non-negative integer, got {t!r}")
        buffers = {}
        for key in self._buffers:
            if key in state:
                value = np.array(state[key], copy=True)
                if value.ndim != 1 or value.dtype.kind != "f":
                    raise ValueError(
                        f"state {key!r} must be a 1-D float array, got "
                        f"{value.dtype} of shape {value.shape}"
                    )
                buffers[key] = value
        self.t = int(t)
        self.lr = float(state["lr"])
        self.initial_lr = float(state["initial_lr"])
        self.state = buffers
        self._scratch = None  # re-checked against the parameters at the next step

    def reset(self) -> None:
        """Forget the moments and the step count (as a freshly built optimizer)."""
        self.t = 0
        self.state = {}
        self._scratch = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_views", None)  # views into this object's arrays (update_part)
        return state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"
