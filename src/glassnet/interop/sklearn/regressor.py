"""MLPRegressor: one or several real-valued targets."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ...nn.losses import MSELoss, PoissonLoss
from .base import BaseMLP
from .docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from .params import DEFAULT_LEARNING_RATE, DEFAULT_MAX_ITER

_SQUARED = ("squared_error", "mse", "mean_squared_error")


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = f"""A multi-layer perceptron regressor trained by glassnet.

    Identity output layer, one unit per target, trained on the mean squared error
    L = (1/(n k)) sum_i sum_j (a_ij - y_ij)^2, or with loss="poisson" on the Poisson
    negative log-likelihood of counts y >= 0 with a log link: the network outputs
    z = log mu, L = (1/(n k)) sum (exp(z) - y z), predictions exp(z)
    (``out_activation_ == "exp"``; ``net_`` itself outputs z). y may be (n_samples,)
    (predictions (n_samples,)) or (n_samples, k) (predictions (n_samples, k); k = 1
    gives (n_samples,) as in scikit-learn).

    Parameters
    ----------
    loss : "squared_error" or "poisson", default "squared_error"
        scikit-learn's two regression losses ("mse" is an alias of
        "squared_error"). glassnet's forms are the mean over the k targets, not
        scikit-learn's halved sums: the same minimiser, see "Objective" in
        ``glassnet.sklearn``.
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
    ...                    learning_rate_init=0.01, max_iter=1000, random_state=0)
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
        loss="squared_error",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=DEFAULT_LEARNING_RATE,
        power_t=0.5,
        max_iter=DEFAULT_MAX_ITER,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        optimizer=None,
        epochs=None,
        dropout=0.0,
        dtype=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.optimizer = optimizer
        self.epochs = epochs
        self.dropout = dropout
        self.dtype = dtype

    def fit(self, X, y, sample_weight=None):
        """Train a new network on (X, y) for up to max_iter epochs. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current network and optimizer
        state. Returns self."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _poisson(self) -> bool:
        """True for loss="poisson", False for the squared error; else an error."""
        loss = self.loss
        if isinstance(loss, MSELoss) or (
            isinstance(loss, str) and loss.lower() in _SQUARED
        ):
            return False
        if isinstance(loss, PoissonLoss) or loss == "poisson":
            return True
        raise ValueError(
            f"loss must be 'squared_error' (alias 'mse') or 'poisson', got {loss!r}"
        )

    def _targets(self, y, *, first, classes, dtype):
        poisson = self._poisson()
        if poisson and not (np.asarray(y) >= 0).all():
            raise ValueError(
                "loss='poisson' needs targets y >= 0 (counts or rates), got a minimum "
                f"of {float(np.min(y)):g}"
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
        k = self._n_targets
        if self._poisson():
            # The network outputs z = log mu (identity layer), predictions exp(z).
            # scikit-learn's half Poisson deviance per sample sums mu_j - y_j z_j over
            # the k targets (gradient exp(z) - y); glassnet's averages it: 1/k.
            return k, "identity", PoissonLoss(), 1.0 / k
        # scikit-learn descends (1/2) sum_j (a_j - y_j)^2 per sample (its gradient is
        # a - y); glassnet's mse is mean_j (a_j - y_j)^2, i.e. 2/k times that.
        return k, "identity", MSELoss(), 2.0 / k

    def _out_activation_name(self, out_activation: str) -> str:
        return "exp" if self._poisson() else out_activation

    def _validation_score(self, A, Y, sample_weight):
        return float(r2_score(Y, self._mean(A), sample_weight=sample_weight))

    def _mean(self, A):
        """The predicted mean from the network's outputs: exp(z) for poisson."""
        A = A.astype(np.float64)
        return np.exp(A) if self.out_activation_ == "exp" else A

    def predict(self, X):
        """Predictions, shape (n_samples,) for one target, else (n_samples, k)."""
        A = self._mean(self._outputs(X))
        return A[:, 0] if A.shape[1] == 1 else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
