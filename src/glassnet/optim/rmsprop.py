"""RMSprop."""

from __future__ import annotations

import numpy as np

from .._fast import ops
from ..validation import check_number
from .base import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012, Coursera lecture 6.5), as
    ``torch.optim.RMSprop``::

        g <- g + l1 * sign(theta)                          (L1 penalty, if set)
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
        l1: float = 0.0,
    ):
        super().__init__(lr, clip_norm, l1)
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

    @ops.update_loop("rmsprop")
    def _update(self, theta, g):  # theta, g: (n_params,)
        a, wd, mu = self.alpha, self.weight_decay, self.momentum
        tmp, tmp2 = self._scratch, self._scratch2
        if wd:
            g = np.add(g, np.multiply(theta, wd, out=tmp2), out=tmp2)  # g + wd theta
        s = self.state["square_avg"]
        g2 = np.multiply(g, g, out=tmp)  # g^2
        s *= a
        s += np.multiply(g2, 1.0 - a, out=tmp)  # s <- a s + (1 - a) g^2
        if self.centered:
            c = self.state["grad_avg"]
            c *= a
            c += np.multiply(g, 1.0 - a, out=tmp)  # c <- a c + (1 - a) g
            c2 = np.multiply(c, c, out=tmp)  # c^2
            s = np.subtract(s, c2, out=tmp)  # s - c^2, an estimate of the variance
        denominator = np.sqrt(s, out=tmp)
        denominator += self.eps  # sqrt(s) + eps
        d = np.divide(g, denominator, out=tmp)  # d = g / (sqrt(s) + eps)
        if mu:
            b = self.state["momentum_buffer"]
            b *= mu
            b += d  # b <- mu b + d
            d = b  # d = b
        theta -= np.multiply(d, self.lr, out=tmp)  # theta <- theta - lr d

    def _hyperparameters(self):
        return {
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }
