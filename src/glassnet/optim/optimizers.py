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

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> theta, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
>>> gn.SGD(lr=0.1).step(theta, g); theta          # theta - lr g
array([ 0.95, -2.05])
"""

from __future__ import annotations

import math

import numpy as np

from .._fast import kernels
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


def _fused(params, grads, state):
    """The compiled loops (``glassnet._fast.kernels``) if they apply to these arrays.

    A buffer the options leave unused is passed as scratch space, never as theta
    itself: the compiled loop checks at run time that the arrays it writes do not
    overlap the others, and runs element by element, unvectorised, when they do
    (RMSprop took 400 us instead of 36 with theta standing in)."""
    fused = kernels.get()
    if fused is None or params.dtype not in _FUSED_DTYPES:
        return None
    if grads.dtype != params.dtype or grads.shape != params.shape:
        return None
    if any(buffer.dtype != params.dtype for buffer in state.values()):
        return None
    return fused


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Optimizer:
    """Base class: ``step`` clips (if asked), counts t, then applies ``_update``.

    Subclasses list their moment buffers in ``_buffers`` (created as zeros, shape of
    theta, at the first step) and write ``_update(theta, g)`` in place.
    """

    name = "optimizer"
    _buffers: tuple[str, ...] = ()

    def __init__(self, lr: float, clip_norm: float | None = None):
        self.lr = check_number(lr, "lr", low=0.0, low_open=True)
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

        ``grads`` is scaled in place when ``clip_norm`` is set.
        """
        if self._scratch is None or self._scratch.shape != params.shape:
            self._allocate(params)
        if self.clip_norm is not None:
            clip_by_global_norm(grads, self.clip_norm)
        self.t += 1
        self._update(params, grads)

    def _update(self, params: np.ndarray, grads: np.ndarray) -> None:
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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    As ``torch.optim.SGD`` with dampening 0 (Sutskever et al., 2013, "On the importance
    of initialization and momentum in deep learning")::

        g <- g + weight_decay * theta                      (L2 penalty, if set)
        v <- momentum * v + g                              (v = 0 before step 1)
        d  = g + momentum * v   (nesterov)   or   d = v   (momentum)   or   d = g
        theta <- theta - lr * d

    Seed 001 writes momentum as v <- beta v + lr g, theta <- theta - v: the same
    trajectory while lr is constant (its v is lr times this one).

    Examples
    --------
    >>> import numpy as np
    >>> theta, g = np.array([1.0]), np.array([1.0])
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.step(theta, g)
    >>> theta                      # 1 - 0.1 * (1) - 0.1 * (0.9 * 1 + 1)
    array([0.71])
    """

    name = "sgd"

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        self.momentum = check_number(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = bool(nesterov)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        self._buffers = ("velocity",) if self.momentum else ()

    def _update(self, params, grads):
        fused = _fused(params, grads, self.state)
        if fused is not None:  # the same update in one pass (glassnet._fast.kernels)
            x = params.dtype.type
            fused.sgd(
                params,
                grads,
                self.state.get("velocity", self._scratch),  # only with momentum
                x(self.lr),
                x(self.momentum),
                x(self.weight_decay),
                self.nesterov,
            )
            return
        d = grads
        if self.weight_decay:
            d = np.multiply(params, self.weight_decay, out=self._scratch)
            d += grads  # g + wd theta
        if self.momentum:
            v = self.state["velocity"]
            v *= self.momentum
            v += d  # v = mu v + g
            if self.nesterov:
                d = np.multiply(v, self.momentum, out=self._scratch2)
                d += grads if not self.weight_decay else self._scratch  # g + mu v
            else:
                d = v
        step = np.multiply(d, self.lr, out=self._scratch2)
        params -= step  # theta - lr d

    def _hyperparameters(self):
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization").

    As seed 001 and ``torch.optim.Adam``, at step t = 1, 2, ...::

        g <- g + weight_decay * theta                      (L2 penalty, if set)
        m <- beta1 m + (1 - beta1) g                       (first moment)
        v <- beta2 v + (1 - beta2) g^2                     (second moment)
        v_max <- max(v_max, v)  and use v_max for v        (amsgrad, Reddi et al. 2018)
        m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)     (bias correction)
        theta <- theta - lr m_hat / (sqrt(v_hat) + eps)

    The bias correction makes the first steps full-sized although m and v start at 0.

    Examples
    --------
    >>> import numpy as np
    >>> theta, g = np.array([1.0]), np.array([4.0])
    >>> Adam(lr=0.1).step(theta, g)
    >>> theta.round(8)             # m_hat = 4, v_hat = 16: 1 - 0.1 * 4 / (4 + 1e-8)
    array([0.9])
    """

    name = "adam"
    decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        self.beta1 = check_number(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_number(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.eps = check_number(eps, "eps", low=0.0)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.amsgrad = bool(amsgrad)
        self._buffers = ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _update(self, params, grads):
        b1, b2, t = self.beta1, self.beta2, self.t
        # lr m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t) and
        # v_hat = v / (1 - b2^t), is the same as (Kingma and Ba, end of section 2)
        #     step_size m / (sqrt(v) + eps c),  c = sqrt(1 - b2^t),
        #     step_size = lr c / (1 - b1^t),
        # which spares one pass over the parameters (dividing sqrt(v) by c).
        c = math.sqrt(1.0 - b2**t)
        step_size = self.lr * c / (1.0 - b1**t)
        fused = _fused(params, grads, self.state)
        if fused is not None:  # the same update in one pass (glassnet._fast.kernels)
            x = params.dtype.type
            decoupled = self.weight_decay and self.decoupled
            fused.adam(
                params,
                grads,
                self.state["m"],
                self.state["v"],
                self.state.get("v_max", self._scratch),  # only when amsgrad
                x(b1),
                x(1.0 - b1),
                x(b2),
                x(1.0 - b2),
                x(step_size),
                x(self.eps * c),
                x(0.0 if decoupled else self.weight_decay),
                x(1.0 - self.lr * self.weight_decay if decoupled else 1.0),
                self.amsgrad,
            )
            return
        g = grads
        if self.weight_decay and self.decoupled:
            params *= 1.0 - self.lr * self.weight_decay  # theta <- theta (1 - lr wd)
        elif self.weight_decay:
            g = np.multiply(params, self.weight_decay, out=self._scratch2)
            g += grads  # g + wd theta
        m, v, tmp = self.state["m"], self.state["v"], self._scratch
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=tmp)  # m = b1 m + (1 - b1) g
        v *= b2
        np.multiply(g, g, out=tmp)
        v += np.multiply(tmp, 1.0 - b2, out=tmp)  # v = b2 v + (1 - b2) g^2
        if self.amsgrad:
            v = np.maximum(self.state["v_max"], v, out=self.state["v_max"])
        denom = np.sqrt(v, out=tmp)
        denom += self.eps * c  # sqrt(v) + eps c
        step = np.divide(m, denom, out=tmp)
        step *= step_size
        params -= step  # theta - lr m_hat / (sqrt(v_hat) + eps)

    def _hyperparameters(self):
        return {
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019, "Decoupled
    Weight Decay Regularization"), as ``torch.optim.AdamW``::

        theta <- theta (1 - lr weight_decay)      then the Adam update with g unchanged

    Unlike Adam's L2 penalty, the decay does not pass through m and v, so every weight
    shrinks by the same fraction per step.

    Examples
    --------
    >>> import numpy as np
    >>> theta, g = np.array([1.0]), np.array([4.0])
    >>> AdamW(lr=0.1, weight_decay=0.5).step(theta, g)
    >>> theta.round(8)             # 1 * (1 - 0.1 * 0.5) - 0.1 * 4 / (4 + 1e-8)
    array([0.85])
    """

    name = "adamw"
    decoupled = True

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, beta1, beta2, eps, weight_decay, amsgrad, clip_norm)


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012, Coursera lecture 6.5), as
    ``torch.optim.RMSprop``::

        g <- g + weight_decay * theta                      (L2 penalty, if set)
        s <- alpha s + (1 - alpha) g^2                     (mean square)
        c <- alpha c + (1 - alpha) g;  s' = s - c^2        (centered, if set)
        d  = g / (sqrt(s') + eps)
        b <- momentum b + d;  d = b                        (if momentum > 0)
        theta <- theta - lr d

    There is no bias correction: s starts at 0, so the first steps are larger than
    later ones (by 1 / sqrt(1 - alpha) = 10 at step 1 for alpha = 0.99).

    Examples
    --------
    >>> import numpy as np
    >>> theta, g = np.array([1.0]), np.array([2.0])
    >>> RMSprop(lr=0.01).step(theta, g)
    >>> theta.round(6)             # s = 0.01 * 4: 1 - 0.01 * 2 / sqrt(0.04)
    array([0.9])
    """

    name = "rmsprop"

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        clip_norm: float | None = None,
    ):
        super().__init__(lr, clip_norm)
        self.alpha = check_number(alpha, "alpha", low=0.0, high=1.0, high_open=True)
        self.eps = check_number(eps, "eps", low=0.0)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.momentum = check_number(momentum, "momentum", low=0.0, high=1.0)
        self.centered = bool(centered)
        self._buffers = (
            ("square_avg",)
            + (("grad_avg",) if self.centered else ())
            + (("momentum_buffer",) if self.momentum else ())
        )

    def _update(self, params, grads):
        a = self.alpha
        fused = _fused(params, grads, self.state)
        if fused is not None:  # the same update in one pass (glassnet._fast.kernels)
            x = params.dtype.type
            fused.rmsprop(
                params,
                grads,
                self.state["square_avg"],
                self.state.get("grad_avg", self._scratch),  # only when centered
                self.state.get("momentum_buffer", self._scratch2),  # only with momentum
                x(a),
                x(1.0 - a),
                x(self.eps),
                x(self.weight_decay),
                x(self.momentum),
                x(self.lr),
                self.centered,
            )
            return
        g = grads
        if self.weight_decay:
            g = np.multiply(params, self.weight_decay, out=self._scratch2)
            g += grads  # g + wd theta
        s, tmp = self.state["square_avg"], self._scratch
        s *= a
        np.multiply(g, g, out=tmp)
        s += np.multiply(tmp, 1.0 - a, out=tmp)  # s = alpha s + (1 - alpha) g^2
        if self.centered:
            c = self.state["grad_avg"]
            c *= a
            c += np.multiply(g, 1.0 - a, out=tmp)  # c = alpha c + (1 - alpha) g
            np.multiply(c, c, out=tmp)
            np.subtract(s, tmp, out=tmp)  # s - c^2, an estimate of the variance
            denom = np.sqrt(tmp, out=tmp)
        else:
            denom = np.sqrt(s, out=tmp)
        denom += self.eps
        d = np.divide(g, denom, out=tmp)  # g / (sqrt(s) + eps)
        if self.momentum:
            b = self.state["momentum_buffer"]
            b *= self.momentum
            b += d  # b = momentum b + d
            d = np.multiply(b, self.lr, out=tmp)
        else:
            d *= self.lr
        params -= d  # theta - lr d

    def _hyperparameters(self):
        return {
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }


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
