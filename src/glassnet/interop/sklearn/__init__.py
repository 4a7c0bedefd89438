"""scikit-learn estimators on glassnet networks: ``MLPClassifier`` and ``MLPRegressor``.

They follow scikit-learn's estimator API (fit, partial_fit, predict, predict_proba,
score, get_params/set_params, clone, warm_start) and its MLP's parameters with their
meaning (solver "adam", "sgd" or "lbfgs", learning_rate schedules, momentum, ...);
they pass every check of ``sklearn.utils.estimator_checks`` with default arguments,
so they work in Pipeline, GridSearchCV and cross_val_score; the trained network is
``est.net_``, a ``gn.Sequential`` like any other. Needs scikit-learn, the ``sklearn``
extra: ``pip install "glassnet[sklearn]"``. ``save(pipeline, path)`` writes a fitted
Pipeline ending in one (scaler, imputer, one-hot encoder, ColumnTransformer) as one
model file that ``glassnet predict`` reads by column name (``save.py``).

Objective
---------
Each step descends, on its batch (rows i with sample weights w_i, S_b = sum w_i;
unweighted, w_i = 1 and S_b = n_b):

    J = sum_i w_i L_i / S_b  +  s * alpha / (2 S_b) * sum_l ||W_l||^2

with L_i glassnet's loss of row i (binary or categorical cross-entropy, mse or Poisson) and
the biases not penalised. scikit-learn's MLP descends sum_i w_i l_i / S_b +
alpha / (2 S_b) sum_l ||W_l||^2, whose per-row loss l_i differs from glassnet's by a
constant factor: L_i = s * l_i with

- s = 1 for binary and multiclass cross-entropy,
- s = 1/k for k labels (glassnet's BCE averages over the labels, scikit-learn's sums),
- s = 2/k for k regression targets (scikit-learn's gradient a - y is that of
  (1/2) sum_j (a_j - y_j)^2; glassnet's mse is mean_j (a_j - y_j)^2).
- s = 1/k for the Poisson loss with k targets (scikit-learn's half deviance sums
  exp(z_j) - y_j z_j over the targets, glassnet's averages it).

So J = s * (scikit-learn's objective): alpha weighs the penalty against the data
exactly as in scikit-learn. The solvers "adam" and "sgd" step on scikit-learn's
gradient, dJ/dtheta / s, with scikit-learn's update rules, so from the same weights
they take scikit-learn's steps (tested against scikit-learn's MLP); "lbfgs" minimises
J / s itself with scipy's L-BFGS-B. A glassnet ``optimizer`` steps on J.
loss_curve_ is J averaged over the epoch's batches by rows, which is s times
scikit-learn's loss_curve_, except with several regression targets: there
scikit-learn reports (1/2) mean_j (a_j - y_j)^2, 1/k of the sum it descends.

Computation follows the input's dtype (``dtype=None``): float32 X trains a float32
network, anything else float64. Sparse X (scipy.sparse CSR or CSC, e.g. a
ColumnTransformer's one-hot columns) is accepted and never densified whole: each
batch, and each block of rows at prediction or in the "lbfgs" objective, is
densified on its own before the first layer's dense product, so the results are
bitwise those of the dense matrix.

Differences from scikit-learn's MLP, all deliberate:
- Extra parameters: ``optimizer`` (a glassnet optimizer instead of ``solver``),
  ``epochs`` (alias of ``max_iter``), ``dropout``, ``dtype`` and ``class_weight``.
  ``learning_rate`` also takes a number, glassnet's older spelling of
  ``learning_rate_init``. An alias given with a different value of its twin is an
  error.
- Predictions are returned as float64. A batch whose rows all have weight 0 is
  skipped (scikit-learn would divide by 0).
- With several regression targets and "lbfgs", scikit-learn's value (1/2 mean over
  targets) is not the function its gradient belongs to (1/2 sum); glassnet's value
  and gradient are of one function, so the two L-BFGS-B runs differ there.

Examples
--------
>>> from sklearn.datasets import load_breast_cancer
>>> from sklearn.model_selection import train_test_split
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from glassnet.sklearn import MLPClassifier
>>> X, y = load_breast_cancer(return_X_y=True)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
>>> model = make_pipeline(StandardScaler(), MLPClassifier(
...     hidden_layer_sizes=(32,), max_iter=1000, random_state=0))
>>> model.fit(X_train, y_train).score(X_test, y_test) > 0.95
True
>>> net = model[-1].net_                      # the glassnet network inside
>>> net.in_features, net.out_features
(30, 1)
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401  (the top-level scikit-learn package)
except ImportError as error:
    raise ImportError(
        "glassnet.sklearn needs scikit-learn, which is not installed: install the "
        f"`sklearn` extra, pip install 'glassnet[sklearn]' ({error})"
    ) from error

from .classifier import MLPClassifier
from .preprocessor import TablePreprocessor
from .regressor import MLPRegressor
from .save import save

__all__ = ["MLPClassifier", "MLPRegressor", "TablePreprocessor", "save"]
