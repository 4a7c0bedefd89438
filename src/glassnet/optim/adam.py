"""Adam and AdamW."""

from __future__ import annotations

import math

import numpy as np

from .._fast import ops
from ..validation import check_number
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization").

    As seed 001 and ``torch.optim.Adam``, at step t = 1, 2, ...::

        g <- g + l1 * sign(theta)                          (L1 penalty, if set)
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
        l1: float = 0.0,
    ):
        super().__init__(lr, clip_norm, l1)
        self.beta1 = check_number(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_number(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.eps = check_number(eps, "eps", low=0.0)
        self.weight_decay = check_number(weight_decay, "weight_decay", low=0.0)
        self.amsgrad = bool(amsgrad)
        self._buffers = ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    @ops.update_loop("adam")
    def _update(self, theta, g):  # theta, g: (n_params,)
        lr, b1, b2, t, wd = self.lr, self.beta1, self.beta2, self.t, self.weight_decay
        m, v = self.state["m"], self.state["v"]
        tmp, tmp2 = self._scratch, self._scratch2
        # lr m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t) and
        # v_hat = v / (1 - b2^t), is the same as (Kingma and Ba, end of section 2)
        #     step_size m / (sqrt(v) + eps c),  c = sqrt(1 - b2^t),
        #     step_size = lr c / (1 - b1^t),
        # which spares one pass over the parameters (dividing sqrt(v) by c).
        c = math.sqrt(1.0 - b2**t)
        step_size = lr * c / (1.0 - b1**t)
        if wd and self.decoupled:
            theta *= 1.0 - lr * wd  # theta <- theta (1 - lr wd)           (AdamW)
        elif wd:
            g = np.add(g, np.multiply(theta, wd, out=tmp2), out=tmp2)  # g + wd theta
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=tmp)  # m <- b1 m + (1 - b1) g
        g2 = np.multiply(g, g, out=tmp)  # g^2
        v *= b2
        v += np.multiply(g2, 1.0 - b2, out=tmp)  # v <- b2 v + (1 - b2) g^2
        if self.amsgrad:
            v = np.maximum(self.state["v_max"], v, out=self.state["v_max"])  # v_max
        denominator = np.sqrt(v, out=tmp)
        denominator += self.eps * c  # sqrt(v) + eps c
        step = np.divide(m, denominator, out=tmp)  # m / (sqrt(v) + eps c)
        theta -= np.multiply(step, step_size, out=tmp)  # theta - step_size step

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
        l1: float = 0.0,
    ):
        super().__init__(lr, beta1, beta2, eps, weight_decay, amsgrad, clip_norm, l1)
