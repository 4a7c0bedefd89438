"""Loss functions L(A, Y) and their gradients dL/dA.

Reductions follow PyTorch and the seeds:

- MSE:                  L = mean over all n*k elements of (a - y)^2
- binary cross-entropy: L = mean over all n*k elements of -[y log a + (1 - y) log(1 - a)]
- cross-entropy:        L = mean over the n samples of -sum_c y_c log p_c

With ``sample_weight`` w the mean over samples becomes the weighted mean
sum_i w_i L_i / sum_i w_i (PyTorch's convention for class weights), which is the plain
mean when every w_i = 1.

``grad`` and ``grad_from_logits`` take an optional ``out``: a preallocated array of
A's shape to write the gradient into (the training loop reuses one per batch size).

Sigmoid + binary cross-entropy and softmax + cross-entropy also have a *fused* form
computed from the logits Z, used by ``Sequential`` whenever the output activation
matches: it is exact (the same function, rearranged) and stays finite where the
separate form would take log(0).

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> loss = gn.MSELoss()
>>> float(loss(np.array([[0.5], [1.0]]), np.array([[0.0], [1.0]])))
0.125
"""

from __future__ import annotations

import numpy as np

from .._fast import ops
from ..validation import as_float_array
from .activations import Activation, Sigmoid, Softmax

# PyTorch's BCELoss clamps log() at -100 so that a prediction of exactly 0 or 1 gives a
# large finite loss instead of inf; we do the same for the probability forms.
_LOG_FLOOR = -100.0


def _safe_log(P: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(P), _LOG_FLOOR)


def _mean(L_i: np.ndarray) -> float:
    """(1/n) sum_i L_i, bitwise ``float(L_i.mean())`` in under half its time.

    The same operations as numpy's mean, without its generic dispatch: the sum in
    L_i's dtype (pairwise), divided by n in float64 (numpy divides by an intp
    count, which promotes a float32 sum to float64), rounded once to L_i's dtype."""
    if L_i.dtype.char not in "fd" or L_i.ndim != 1 or L_i.shape[0] == 0:
        return float(L_i.mean())
    return float(L_i.dtype.type(float(np.add.reduce(L_i)) / L_i.shape[0]))


def _sample_scale(n: int, sample_weight, dtype) -> np.ndarray | float:
    """The weight of each sample in the mean: 1/n, or w_i / sum(w) as a column."""
    if sample_weight is None:
        return 1.0 / n
    w = np.asarray(sample_weight, dtype=dtype).reshape(-1, 1)
    return w / w.sum()


class Loss:
    """Base class. Subclasses define ``elementwise(A, Y)`` and ``grad``."""

    name = "loss"
    #: The output activation whose gradient fuses with this loss, if any.
    fused_activation: type[Activation] | None = None

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def __call__(self, A, Y, sample_weight=None) -> float:
        return self.value(A, Y, sample_weight)

    # -- to be defined by each loss ---------------------------------------------------
    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """L_i for each sample i: shape (n,)."""
        raise NotImplementedError

    def grad(self, A: np.ndarray, Y: np.ndarray, sample_weight=None, out=None):
        """dL/dA, shape of A (written into ``out`` if given)."""
        raise NotImplementedError

    def prepare_targets(self, y, n_outputs: int, dtype) -> np.ndarray:
        """Validate targets and return them shaped like the network's output."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------
    def value(self, A, Y, sample_weight=None) -> float:
        L_i = self.per_sample(A, Y)
        if sample_weight is None:
            return _mean(L_i)
        w = np.asarray(sample_weight, dtype=L_i.dtype)
        return float((w * L_i).sum() / w.sum())

    def fuses_with(self, activation: Activation | None) -> bool:
        """Whether dL/dZ through ``activation`` has this loss's fused form."""
        return (
            not self.from_logits
            and self.fused_activation is not None
            and isinstance(activation, self.fused_activation)
        )

    def per_sample_from_logits(self, Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no fused logit form")

    def value_from_logits(self, Z, Y, sample_weight=None) -> float:
        """L computed from the logits Z of the fused output activation."""
        L_i = self.per_sample_from_logits(Z, Y)
        if sample_weight is None:
            return _mean(L_i)
        w = np.asarray(sample_weight, dtype=L_i.dtype)
        return float((w * L_i).sum() / w.sum())

    def grad_from_logits(self, A, Y, sample_weight=None, out=None) -> np.ndarray:
        """dL/dZ through the fused output activation, from its output A."""
        raise NotImplementedError(f"{self.name} has no fused logit form")

    def config(self) -> dict:
        return {"from_logits": self.from_logits} if self.from_logits else {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def _shaped_targets(self, y, n_outputs: int, dtype) -> np.ndarray:
        Y = as_float_array(y, "y", dtype)
        if Y.ndim == 1 and n_outputs == 1:
            Y = Y.reshape(-1, 1)
        if Y.ndim != 2 or Y.shape[1] != n_outputs:
            raise ValueError(
                f"{self.name} targets y must have shape (n_samples, {n_outputs}) to match "
                f"the network's {n_outputs} output(s)"
                + (" (or (n_samples,) for one output)" if n_outputs == 1 else "")
                + f", got shape {Y.shape}"
            )
        return Y


class MSELoss(Loss):
    """Mean squared error, L = (1 / (n k)) sum_i sum_j (a_ij - y_ij)^2."""

    name = "mse"

    def __init__(self):
        super().__init__(from_logits=False)

    def per_sample(self, A, Y):
        D = A - Y
        return (D * D).mean(axis=1)

    def grad(self, A, Y, sample_weight=None, out=None):
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype)
        D = np.subtract(A, Y, out=out)
        D *= (2.0 / A.shape[1]) * scale  # dL/da = 2 (a - y) / (n k)
        return D

    def prepare_targets(self, y, n_outputs, dtype):
        return self._shaped_targets(y, n_outputs, dtype)


class BinaryCrossEntropyLoss(Loss):
    """L = -(1 / (n k)) sum [y log a + (1 - y) log(1 - a)], targets y in [0, 1].

    With ``from_logits=True`` the network's output is read as the logit z and
    a = sigmoid(z) is applied inside the loss (PyTorch's BCEWithLogitsLoss).
    """

    name = "binary_crossentropy"
    fused_activation = Sigmoid

    def per_sample(self, A, Y):
        if self.from_logits:
            return self.per_sample_from_logits(A, Y)
        return -(Y * _safe_log(A) + (1.0 - Y) * _safe_log(1.0 - A)).mean(axis=1)

    def grad(self, A, Y, sample_weight=None, out=None):
        if self.from_logits:
            return self.grad_from_logits(Sigmoid().forward(A), Y, sample_weight, out)
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype) / A.shape[1]
        # dL/da = (a - y) / (a (1 - a)); the floor keeps a = 0 or 1 finite, as PyTorch.
        return scale * (A - Y) / np.maximum(A * (1.0 - A), 1e-12)

    def per_sample_from_logits(self, Z, Y):
        # -[y log sigma(z) + (1-y) log(1 - sigma(z))] = max(z, 0) - z y + log(1 + e^-|z|),
        # the stable form: no exp of a positive number, no log of 0.
        return (np.maximum(Z, 0.0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))).mean(axis=1)

    def grad_from_logits(self, A, Y, sample_weight=None, out=None):
        # dL/dz = dL/da * da/dz = (a - y)/(a (1 - a)) * a (1 - a) = (a - y): the
        # sigmoid's derivative cancels exactly, so this is the same gradient, finite.
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype) / A.shape[1]
        D = np.subtract(A, Y, out=out)
        D *= scale  # dL/dz = (a - y) / (n k)
        return D

    def prepare_targets(self, y, n_outputs, dtype):
        Y = self._shaped_targets(y, n_outputs, dtype)
        if Y.min() < 0 or Y.max() > 1:
            raise ValueError(
                f"binary_crossentropy targets must be in [0, 1], got values from "
                f"{Y.min():g} to {Y.max():g}"
            )
        return Y


class CrossEntropyLoss(Loss):
    """L = -(1/n) sum_i sum_c y_ic log p_ic, over the network's class probabilities p.

    Targets are integer class labels, shape (n,), or one-hot / probability rows,
    shape (n, C). With ``from_logits=True`` the output is read as logits and
    softmax is applied inside the loss (PyTorch's CrossEntropyLoss).
    """

    name = "cross_entropy"
    fused_activation = Softmax

    def per_sample(self, A, Y):
        if self.from_logits:
            return self.per_sample_from_logits(A, Y)
        return -(Y * _safe_log(A)).sum(axis=1)

    def grad(self, A, Y, sample_weight=None, out=None):
        if self.from_logits:
            return self.grad_from_logits(Softmax().forward(A), Y, sample_weight, out)
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype)
        return -scale * Y / np.maximum(A, np.finfo(A.dtype).tiny)  # dL/dp = -y / p

    @ops.cross_entropy_rows  # the per-row steps: compiled row loops
    def per_sample_from_logits(self, Z, Y):  # Z, Y: (n, k)
        # log softmax(z) = z - max - log sum e^(z - max): exponents <= 0, never overflow.
        shifted = Z - Z.max(axis=1, keepdims=True)  # z - max                  (n, k)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (n, k)
        return -(Y * log_p).sum(axis=1)  # L_i = -sum_c y_ic log p_ic           (n,)

    def grad_from_logits(self, A, Y, sample_weight=None, out=None):
        # dL/dz_j = sum_i (-y_i / p_i) p_i (delta_ij - p_j) = p_j sum_i y_i - y_j = p_j - y_j
        # because each target row sums to 1: exact, and finite even when p_j -> 0.
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype)
        D = np.subtract(A, Y, out=out)
        D *= scale  # dL/dz = (p - y) / n
        return D

    def prepare_targets(self, y, n_outputs, dtype):
        if n_outputs < 2:
            raise ValueError(
                "cross_entropy needs a network with at least 2 outputs (one per class); "
                "for a single output use binary_crossentropy"
            )
        y = np.asarray(y)
        if y.ndim == 1:
            return _one_hot(y, n_outputs, dtype)
        Y = self._shaped_targets(y, n_outputs, dtype)
        if Y.min() < 0:
            raise ValueError(
                f"cross_entropy probability targets must be >= 0, got {Y.min():g}"
            )
        row_sums = Y.sum(axis=1)
        bad = np.flatnonzero(np.abs(row_sums - 1.0) > 1e-4)
        if bad.size:
            raise ValueError(
                "cross_entropy targets given as rows must be one-hot or probabilities "
                f"summing to 1; row {bad[0]} sums to {row_sums[bad[0]]:g}"
            )
        return Y


class PoissonLoss(Loss):
    """Poisson negative log-likelihood with a log link, on the log-mean z = log mu:

        L = (1 / (n k)) sum_i sum_j (exp(z_ij) - y_ij z_ij),     y >= 0 (counts)

    the likelihood's -log P(y | mu) = mu - y log mu + log(y!) without the constant
    log(y!) (PyTorch's ``PoissonNLLLoss(log_input=True)``). The network's output A is
    z itself (an identity output layer), so mu = exp(A) > 0 whatever the weights, and
    dL/dz = (exp(z) - y) / (n k). Not in ``LOSSES``: the scikit-learn regressor
    (``loss="poisson"``) is its user.
    """

    name = "poisson"

    def __init__(self):
        super().__init__(from_logits=False)

    def per_sample(self, A, Y):
        return (np.exp(A) - Y * A).mean(axis=1)

    def grad(self, A, Y, sample_weight=None, out=None):
        scale = _sample_scale(A.shape[0], sample_weight, A.dtype)
        D = np.exp(A, out=out)
        D -= Y
        D *= (1.0 / A.shape[1]) * scale  # dL/dz = (exp(z) - y) / (n k)
        return D

    def prepare_targets(self, y, n_outputs, dtype):
        Y = self._shaped_targets(y, n_outputs, dtype)
        if not (Y >= 0).all():
            raise ValueError(
                "poisson targets y must be counts or rates >= 0 (the Poisson mean is "
                f"positive), got a minimum of {float(np.nanmin(Y)):g}"
            )
        return Y


def _one_hot(labels: np.ndarray, n_classes: int, dtype) -> np.ndarray:
    if labels.dtype.kind not in "iub":
        as_float = as_float_array(labels, "y", np.float64)
        if not np.array_equal(as_float, np.round(as_float)):
            raise ValueError(
                "cross_entropy targets of shape (n_samples,) must be integer class labels, "
                f"got non-integer values such as {as_float[as_float != np.round(as_float)][0]:g}"
            )
        labels = as_float.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"cross_entropy class labels must be in 0..{n_classes - 1} for a network with "
            f"{n_classes} outputs, got labels from {labels.min()} to {labels.max()}"
        )
    Y = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1.0
    return Y


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MSELoss, BinaryCrossEntropyLoss, CrossEntropyLoss)
}
_ALIASES = {
    "mean_squared_error": "mse",
    "bce": "binary_crossentropy",
    "binary_cross_entropy": "binary_crossentropy",
    "crossentropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "ce": "cross_entropy",
}


def get_loss(loss: str | Loss) -> Loss:
    """A Loss from a name (see ``LOSSES``) or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = _ALIASES.get(loss.lower(), loss.lower())
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
    raise TypeError(
        f"loss must be a name or a glassnet Loss, got {type(loss).__name__}"
    )


def default_loss(output_activation: Activation | None) -> Loss:
    """The loss that goes with an output activation, when none is named: the one
    whose gradient fuses with it (dL/dZ = (A - Y)/n).

    softmax -> cross-entropy, sigmoid -> binary cross-entropy, anything else -> mse.

    Examples
    --------
    >>> from glassnet.nn.activations import Softmax
    >>> default_loss(Softmax())
    CrossEntropyLoss()
    """
    if isinstance(output_activation, Softmax):
        return CrossEntropyLoss()
    if isinstance(output_activation, Sigmoid):
        return BinaryCrossEntropyLoss()
    return MSELoss()


def check_loss_suits_output(loss: Loss, output_activation: Activation | None) -> None:
    """Refuse a loss the network's output cannot feed, saying what it needs.

    Binary cross-entropy takes log a and log(1 - a), so it needs outputs in (0, 1)
    (a sigmoid output); cross-entropy takes log a_c of a probability vector, so it
    needs a softmax output. With ``from_logits=True`` either reads any output as
    logits.

    Examples
    --------
    >>> from glassnet.nn.activations import Identity
    >>> check_loss_suits_output(BinaryCrossEntropyLoss(), Identity())
    Traceback (most recent call last):
    ...
    ValueError: binary cross-entropy needs outputs in (0, 1), e.g. a sigmoid output layer, but this network's output activation is identity; use a sigmoid output, or BinaryCrossEntropyLoss(from_logits=True) to read the outputs as logits
    """
    if loss.from_logits:
        return
    name = getattr(output_activation, "name", "identity")
    if isinstance(loss, BinaryCrossEntropyLoss) and not isinstance(
        output_activation, (Sigmoid, Softmax)
    ):
        raise ValueError(
            "binary cross-entropy needs outputs in (0, 1), e.g. a sigmoid output "
            f"layer, but this network's output activation is {name}; use a sigmoid "
            "output, or BinaryCrossEntropyLoss(from_logits=True) to read the outputs "
            "as logits"
        )
    if isinstance(loss, CrossEntropyLoss) and not isinstance(
        output_activation, Softmax
    ):
        raise ValueError(
            "cross-entropy needs a softmax output (probabilities that sum to 1), but "
            f"this network's output activation is {name}; use a softmax output, or "
            "CrossEntropyLoss(from_logits=True) to read the outputs as logits"
        )
