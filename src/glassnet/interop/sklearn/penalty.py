"""The L2 penalty of scikit-learn's ``alpha``, added to the gradient before each step.

For a batch with weight sum S (its number of samples when unweighted) the objective is

    J = L(batch) + c/2 sum_l ||W_l||^2,        c = s alpha / S

so dJ/dW_l = dL/dW_l + c W_l and dJ/db_l = dL/db_l: the biases are not penalised.
(s rescales alpha to glassnet's loss, see ``glassnet.sklearn``.) The penalty goes
through the optimizer's moments like any other gradient term (an L2 penalty, not
decoupled weight decay), as in scikit-learn's MLP.
"""

from __future__ import annotations

import numpy as np

from ...optim.base import Optimizer


class L2Penalty(Optimizer):
    """Wraps an optimizer: g <- g + c M * theta, then the wrapped optimizer's step.

    M is 1 on every entry of a weight matrix W and 0 on the biases. ``coefficient``
    (c above) is set before each step by the code that chooses the batch.
    """

    name = "l2_penalty"

    def __init__(self, optimizer: Optimizer, net):
        # Optimizer.__init__ is not called: lr, t and state belong to the wrapped one.
        self.optimizer = optimizer
        self.coefficient = 0.0
        self.bind(net)

    def bind(self, net) -> None:
        """Point at ``net``'s weights (again, e.g. after unpickling a copy of it)."""
        entries = net.parameters()  # flat-buffer order
        self.mask = np.concatenate(
            [np.full(p.size, name == "W", dtype=net.dtype) for _, name, p in entries]
        )  # M: (n_params,)
        self.weights = [p for _, name, p in entries if name == "W"]  # views of W_l
        self._scratch = np.empty_like(self.mask)

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    @property
    def t(self) -> int:
        return self.optimizer.t

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        if self.coefficient:
            penalty = np.multiply(self.mask, params, out=self._scratch)  # M * theta
            penalty *= self.coefficient
            grads += penalty  # dJ/dtheta = dL/dtheta + c M theta
        self.optimizer.step(params, grads)

    def value(self) -> float:
        """c/2 sum_l ||W_l||^2 at the current weights (float64)."""
        if not self.coefficient:
            return 0.0
        # float64 sums, and inf rather than a warning if weights have blown up (the
        # fit loop then stops with its DivergenceError).
        with np.errstate(over="ignore", invalid="ignore"):
            total = sum(
                float(np.dot(w, w))
                for w in (W.ravel().astype(np.float64) for W in self.weights)
            )
        return 0.5 * self.coefficient * total

    def config(self) -> dict:
        return self.optimizer.config()

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        return f"L2Penalty({self.optimizer!r})"
