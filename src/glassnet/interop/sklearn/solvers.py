"""scikit-learn's two stochastic solvers, step for step: "sgd" and "adam".

They are written as in ``sklearn/neural_network/_stochastic_optimizers.py`` (not as
glassnet's ``gn.SGD``/``gn.Adam``, which follow torch.optim): the velocity holds the
step itself, and Adam adds epsilon to sqrt(v) before the bias correction, which sits
in the step size. Both see scikit-learn's gradient G: glassnet's objective is s times
scikit-learn's (see "Objective" in ``glassnet.sklearn``), so G = g / s.

    sgd:  v <- mu v - lr G;  theta <- theta + (mu v - lr G  if nesterov  else  v)
    adam: m <- b1 m + (1 - b1) G;  u <- b2 u + (1 - b2) G^2;
          lr_t = lr sqrt(1 - b2^t) / (1 - b1^t);  theta <- theta - lr_t m / (sqrt(u) + eps)

The learning-rate schedules of "sgd" act between epochs (``epoch_ends``,
``no_improvement``), as in scikit-learn: "invscaling" sets lr = lr0 / (t + 1)^power_t
with t the training samples seen so far, "adaptive" divides lr by 5 when the stopping
rule fires, and stops only once lr <= 1e-6.
"""

from __future__ import annotations

import numpy as np

from ...optim.base import Optimizer


class ScikitSGD(Optimizer):
    """scikit-learn's SGDOptimizer: momentum mu, Nesterov's or plain (Sutskever et
    al., "On the importance of initialization and momentum in deep learning", 2013,
    in the form scikit-learn writes it)."""

    name = "sklearn_sgd"
    _buffers = ("velocity",)

    def __init__(
        self,
        lr: float,
        *,
        momentum: float = 0.9,
        nesterov: bool = True,
        schedule: str = "constant",
        power_t: float = 0.5,
        scale: float = 1.0,
    ):
        super().__init__(lr)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.schedule = schedule
        self.power_t = float(power_t)
        self.scale = float(scale)

    def _update(self, params, grads):
        G = grads / self.scale  # scikit-learn's gradient
        v = self.state["velocity"]
        v *= self.momentum
        v -= self.lr * G  # v <- mu v - lr G
        if self.nesterov:
            params += self.momentum * v - self.lr * G
        else:
            params += v

    def epoch_ends(self, samples_seen: int) -> None:
        if self.schedule == "invscaling":
            self.lr = self.initial_lr / (samples_seen + 1) ** self.power_t

    def no_improvement(self) -> bool:
        """The stopping rule fired: True to stop ("adaptive" lowers lr instead,
        until lr <= 1e-6)."""
        if self.schedule != "adaptive" or self.lr <= 1e-6:
            return True
        self.lr /= 5.0
        return False

    def _hyperparameters(self) -> dict:
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "schedule": self.schedule,
            "power_t": self.power_t,
            "scale": self.scale,
        }


class ScikitAdam(Optimizer):
    """scikit-learn's AdamOptimizer (Kingma and Ba, "Adam: A method for stochastic
    optimization", 2014, with the bias corrections folded into the step size)."""

    name = "sklearn_adam"
    _buffers = ("m", "v")

    def __init__(
        self,
        lr: float,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        scale: float = 1.0,
    ):
        super().__init__(lr)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = float(epsilon)
        self.scale = float(scale)

    def _update(self, params, grads):
        G = grads / self.scale  # scikit-learn's gradient
        m, v = self.state["m"], self.state["v"]
        m *= self.beta_1
        m += (1 - self.beta_1) * G
        v *= self.beta_2
        v += (1 - self.beta_2) * (G * G)
        t = self.t
        lr_t = float(self.lr * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t))
        params -= lr_t * m / (np.sqrt(v) + self.epsilon)

    def epoch_ends(self, samples_seen: int) -> None:
        pass

    def no_improvement(self) -> bool:
        return True

    def _hyperparameters(self) -> dict:
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "scale": self.scale,
        }
