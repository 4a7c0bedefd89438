"""MLPRegressor: one or several real-valued targets."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ...nn.losses import MSELoss
from .base import BaseMLP
from .docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from .params import DEFAULT_LEARNING_RATE, DEFAULT_MAX_ITER

_LOSS_NAMES = ("mse", "squared_error", "mean_squared_error")


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = f"""A multi-layer perceptron regressor trained by glassnet.

    Identity output layer, one unit per target, trained on the mean squared error
    L = (1/(n k)) sum_i sum_j (a_ij - y_ij)^2. y may be (n_samples,) (predictions
    (n_samples,)) or (n_samples, k) (predictions (n_samples, k); k = 1 gives
    (n_samples,) as in scikit-learn).

    Parameters
    ----------
    loss : "mse", default "mse"
        The only regression loss; "squared_error" (scikit-learn's name) is accepted
        and means the same fit. glassnet's mse is not halved and averages over the
        targets (see "Objective" in ``glassnet.sklearn``).
{SHARED_PARAMETERS}

    Attributes
    ----------
{SHARED_ATTRIBUTES}

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.sklearn import MLPRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(300, 2))
    >>> y = X[:, 0] ** 2 + np.sin(2 * X[:, 1])
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), activation="tanh",
    ...                    learning_rate=0.01, max_iter=1000, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.95
    True
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _y_numeric = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="mse",
        optimizer="adam",
        learning_rate=DEFAULT_LEARNING_RATE,
        batch_size="auto",
        max_iter=DEFAULT_MAX_ITER,
        epochs=None,
        alpha=1e-4,
        dropout=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        random_state=None,
        verbose=False,
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.epochs = epochs
        self.alpha = alpha
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def fit(self, X, y, sample_weight=None):
        """Train a new network on (X, y) for up to max_iter epochs. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current network and optimizer
        state. Returns self."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y, *, first, classes, dtype):
        is_mse = isinstance(self.loss, MSELoss) or (
            isinstance(self.loss, str) and self.loss.lower() in _LOSS_NAMES
        )
        if not is_mse:
            raise ValueError(
                f"loss must be 'mse' (alias 'squared_error'), the regression loss, got "
                f"{self.loss!r}"
            )
        Y = y.reshape(-1, 1) if y.ndim == 1 else y  # (n, k)
        if first:
            self._n_targets = Y.shape[1]
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} target column(s) but this regressor was fitted "
                f"with {self.n_outputs_}"
            )
        return Y.astype(dtype), y

    def _output_spec(self):
        # scikit-learn descends (1/2) sum_j (a_j - y_j)^2 per sample (its gradient is
        # a - y); glassnet's mse is mean_j (a_j - y_j)^2, i.e. 2/k times that.
        k = self._n_targets
        return k, "identity", MSELoss(), 2.0 / k

    def _validation_score(self, A, Y, sample_weight):
        return float(r2_score(Y, A, sample_weight=sample_weight))

    def predict(self, X):
        """Predictions, shape (n_samples,) for one target, else (n_samples, k)."""
        A = self._outputs(X).astype(np.float64)
        return A[:, 0] if A.shape[1] == 1 else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
