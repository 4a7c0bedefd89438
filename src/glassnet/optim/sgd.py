"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

import numpy as np

from .._fast import ops
from ..validation import check_number
from .base import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    As ``torch.optim.SGD`` with dampening 0 (Sutskever et al., 2013, "On the importance
    of initialization and momentum in deep learning")::

        g <- g + l1 * sign(theta)                          (L1 penalty, if set)
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
        l1: float = 0.0,
    ):
        super().__init__(lr, clip_norm, l1)
        self.momentum = check_number(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = bool(nesterov)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        self._buffers = ("velocity",) if self.momentum else ()

    @ops.update_loop("sgd")
    def _update(self, theta, g):  # theta, g: (n_params,)
        mu, wd = self.momentum, self.weight_decay
        d = g
        if wd:
            d = np.multiply(theta, wd, out=self._scratch)
            d += g  # d = g + wd theta
        if mu:
            v = self.state["velocity"]
            v *= mu
            v += d  # v <- mu v + d
            if self.nesterov:
                g_wd = d  # g, or g + wd theta
                d = np.multiply(v, mu, out=self._scratch2)
                d += g_wd  # d = g + mu v
            else:
                d = v  # d = v
        theta -= np.multiply(d, self.lr, out=self._scratch2)  # theta <- theta - lr d

    def _hyperparameters(self):
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }
