"""What MLPClassifier and MLPRegressor share: the network and the epoch loop.

Each epoch is one call of the public ``net.fit`` on batches chosen here (an iterable
of (X_b, Y_b[, w_b])), so the estimator knows every batch: it sets the L2 penalty's
coefficient for it and logs scikit-learn's epoch loss

    loss_ = sum_b n_b (L_b + s alpha/(2 S_b) sum_l ||W_l||^2) / sum_b n_b

with n_b the batch's rows, S_b its weight sum (n_b when unweighted), L_b glassnet's
batch loss before the step and s the factor from scikit-learn's loss to glassnet's
(``_loss_scale``; see "Objective" in ``glassnet.sklearn``). After each epoch come
the stopping rules of scikit-learn's MLP (tol, n_iter_no_change, early_stopping on a
validation score) and the learning-rate schedules of its "sgd" (``solvers.py``).
solver="lbfgs" has no epochs: one call of scipy's L-BFGS-B (``lbfgs.py``).

A fit starts a new network, unless warm_start keeps the last one; partial_fit keeps
the network and the optimizer's state. The network's dtype is the input's floating
dtype unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data

from ...nn.layers import Dense, Dropout
from ...nn.network import Sequential
from ...training import LambdaCallback
from ...validation import check_sample_weight
from . import lbfgs
from .params import check_settings, draw_seed, new_solver
from .penalty import L2Penalty
from .rows import blocks, dense, is_sparse, predict_rows


class BaseMLP(BaseEstimator):
    """Shared parameters and training; subclasses define the targets and outputs."""

    # Subclass hooks ---------------------------------------------------------------------
    def _targets(self, y, *, first: bool, classes, dtype):
        """-> (Y for the loss, y as given after validation)."""
        raise NotImplementedError

    def _output_spec(self):
        """-> (n_outputs, output activation name, glassnet loss, loss_scale)."""
        raise NotImplementedError

    def _weights(self, y, sample_weight, n: int, incremental: bool):
        return _check_sample_weight(sample_weight, n)

    def _validation_score(self, A, Y, sample_weight) -> float:
        raise NotImplementedError

    def _stratify(self, Y):
        return None

    # fit ----------------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, *, incremental: bool, classes=None):
        settings = check_settings(self)
        fitted = hasattr(self, "net_")
        first = not fitted or (not incremental and not settings.warm_start)
        if incremental and settings.solver == "lbfgs":
            raise ValueError(
                "partial_fit needs a stochastic solver ('adam' or 'sgd'), got "
                "solver='lbfgs'; use fit"
            )
        if incremental and settings.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True (no validation set is "
                "held out between calls); set early_stopping=False or use fit"
            )
        # None: the input's floating dtype (float32 stays float32), float64 otherwise
        dtype = settings.dtype if first else self.net_.dtype
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32) if dtype is None else dtype,
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        if is_sparse(X):
            X = X.tocsr()  # row slices for the batches (still sparse)
        Y, y = self._targets(y, first=first, classes=classes, dtype=X.dtype)
        weights = _nonzero_weights(
            self._weights(y, sample_weight, X.shape[0], incremental)
        )
        if first:
            self._initialize(settings, X.shape[1], X.dtype)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = L2Penalty(
                new_solver(self, settings, self._loss_scale), self.net_
            )
        if not incremental:
            self.n_iter_ = 0  # epochs of this fit (warm_start continues the weights)
        if settings.solver == "lbfgs":
            self._fit_lbfgs(X, Y, weights, settings)
        else:
            self._train(X, Y, weights, settings, incremental)
        return self

    def _initialize(self, settings, n_features: int, dtype) -> None:
        n_outputs, out_activation, loss, scale = self._output_spec()
        self.seed_ = draw_seed(self.random_state)
        layers, width = [], n_features
        for size, activation, p in zip(
            settings.hidden, settings.activations, settings.dropouts, strict=True
        ):
            layers.append(Dense(width, size, activation))
            if p:
                layers.append(Dropout(p))
            width = size
        layers.append(Dense(width, n_outputs, out_activation))
        self.net_ = Sequential(*layers, dtype=dtype, seed=self.seed_)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(settings.hidden) + 2
        self.out_activation_ = self._out_activation_name(out_activation)
        self._loss, self._loss_scale = loss, scale
        self._shuffle_rng = np.random.default_rng([self.seed_, 1])
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if settings.early_stopping:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _out_activation_name(self, out_activation: str) -> str:
        return out_activation

    def _fit_lbfgs(self, X, Y, weights, settings) -> None:
        """Full-batch L-BFGS-B on scikit-learn's objective (``lbfgs.py``)."""
        if any(settings.dropouts):
            raise ValueError(
                "solver='lbfgs' minimises a fixed objective, which dropout would make "
                f"random; set dropout=0 or use solver 'adam' or 'sgd' (got dropout="
                f"{self.dropout!r})"
            )
        f = lbfgs.objective(
            self.net_, self._loss, self._loss_scale, settings.alpha, X, Y, weights
        )
        value, self.n_iter_ = lbfgs.run(
            self.net_,
            f,
            settings.max_iter,
            settings.max_fun,
            settings.tol,
            self.verbose,
        )
        self.loss_ = self._loss_scale * value  # J = s f, as for the other solvers
        self.t_ += X.shape[0]

    def _train(self, X, Y, weights, settings, incremental: bool) -> None:
        """Epochs until max_iter (one for partial_fit) or a stopping rule."""
        val = None
        if settings.early_stopping:
            X, Y, weights, val = self._split(X, Y, weights, settings)
        batch_size = settings.batch_for(X.shape[0])
        schedule = self._optimizer.optimizer  # scikit-learn's solvers: lr schedules
        best_params = None
        try:
            for _ in range(1 if incremental else settings.max_iter):
                loss, interrupted, val_loss = self._epoch(
                    X, Y, weights, batch_size, settings, val
                )
                if interrupted:
                    warnings.warn("Training interrupted by user.", stacklevel=4)
                    break
                if self._record_epoch(X.shape[0], loss, val, val_loss, settings):
                    best_params = self.net_.flat_params.copy()
                if hasattr(schedule, "epoch_ends"):
                    schedule.epoch_ends(self.t_)
                if self._no_improvement_count > settings.n_iter_no_change:
                    self._say_stopping(val is not None, settings)
                    if not hasattr(schedule, "no_improvement"):
                        break
                    if schedule.no_improvement():
                        break
                    self._no_improvement_count = 0  # "adaptive": lr / 5, go on
                    if self.verbose:
                        print(f"Setting learning rate to {schedule.lr:f}")
                if incremental:
                    break
                if self.n_iter_ == settings.max_iter:
                    warnings.warn(
                        f"glassnet {type(self).__name__}: maximum iterations "
                        f"(max_iter={settings.max_iter}) reached and the optimization "
                        "hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except KeyboardInterrupt:  # between epochs (inside one, net.fit stops cleanly)
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if best_params is not None:
            self.net_.flat_params[...] = best_params  # in place: layers hold views

    def _record_epoch(self, n, loss, val, val_loss, settings) -> bool:
        """Log a finished epoch and update the no-improvement count (scikit-learn's
        rules); True when the validation score is the best so far."""
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if val is not None:
            return self._record_validation(val, val_loss, settings.tol)
        self._record_loss(loss, settings.tol)
        return False

    def _say_stopping(self, on_validation: bool, settings) -> None:
        if self.verbose:
            what = "Validation score" if on_validation else "Training loss"
            print(
                f"{what} did not improve more than tol={settings.tol:f} for "
                f"{settings.n_iter_no_change + 1} consecutive epochs. Stopping."
            )

    def _epoch(self, X, Y, weights, batch_size, settings, val):
        """One pass over (X, Y) by ``net.fit``; (loss_, interrupted, validation loss)."""
        n = X.shape[0]
        order = self._shuffle_rng.permutation(n) if settings.shuffle else None
        if n <= batch_size:
            order = None  # one batch: the same gradient in any row order
        scale, alpha = self._loss_scale, settings.alpha
        penalty = self._optimizer
        rows, penalties, losses = [], [], []

        def batches():
            for lo in range(0, n, batch_size):
                hi = min(lo + batch_size, n)
                idx = slice(lo, hi) if order is None else order[lo:hi]
                w = None if weights is None else weights[idx]
                total = float(hi - lo) if w is None else float(w.sum())
                if total <= 0:
                    continue  # only zero-weight rows: no gradient (and L = 0/0)
                penalty.coefficient = scale * alpha / total  # c = s alpha / S_b
                rows.append(hi - lo)
                penalties.append(penalty.value())  # at the weights the step starts from
                X_b = dense(X[idx])  # a sparse X is densified a batch at a time
                yield (X_b, Y[idx]) if w is None else (X_b, Y[idx], w)

        sparse_val = val is not None and is_sparse(val[0])
        history = self.net_.fit(
            batches(),
            loss=self._loss,
            optimizer=penalty,
            epochs=1,
            seed=0,
            verbose=0,
            validation_data=None if sparse_val else val,
            callbacks=[
                LambdaCallback(
                    on_batch_end=lambda step, logs: losses.append(logs["loss"])
                )
            ],
        )
        if history.stop_reason == "interrupted" or not history.epoch:
            return None, True, None
        n_b = np.asarray(rows, dtype=np.float64)
        batch = np.asarray(losses, dtype=np.float64) + np.asarray(penalties)
        loss = float(n_b @ batch) / float(n_b.sum())  # J averaged by rows
        if sparse_val:
            val_loss = self._loss_by_blocks(*val)
        else:
            val_loss = history.history["val_loss"][0] if val is not None else None
        return loss, False, val_loss

    def _loss_by_blocks(self, X, Y, weights=None) -> float:
        """glassnet's (weighted) mean loss on a sparse X, a block of rows at a time."""
        total, S = 0.0, 0.0
        for rows in blocks(X.shape[0]):
            w = None if weights is None else weights[rows]
            S_b = float(rows.stop - rows.start) if w is None else float(w.sum())
            if S_b > 0:
                L_b = self.net_.loss_value(dense(X[rows]), Y[rows], self._loss, w)
                total, S = total + S_b * L_b, S + S_b
        return total / S

    def _split(self, X, Y, weights, settings):
        """Hold out validation_fraction of the rows (stratified by class for a
        single-output classifier), seeded by seed_."""
        arrays = [X, Y] if weights is None else [X, Y, weights]
        parts = train_test_split(
            *arrays,
            test_size=settings.validation_fraction,
            random_state=self.seed_,
            stratify=self._stratify(Y),
        )
        X_train, X_val, Y_train, Y_val = parts[:4]
        w_train, w_val = (None, None) if weights is None else parts[4:]
        if X_val.shape[0] < 2:
            raise ValueError(
                f"the validation set is too small ({X_val.shape[0]} sample(s) from "
                f"validation_fraction={settings.validation_fraction:g} of {X.shape[0]}); "
                "increase validation_fraction or give more samples"
            )
        val = (X_val, Y_val) if w_val is None else (X_val, Y_val, w_val)
        return X_train, Y_train, w_train, val

    def _record_validation(self, val, val_loss, tol) -> bool:
        A = predict_rows(self.net_, val[0])
        score = self._validation_score(A, val[1], val[2] if len(val) == 3 else None)
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(val_loss)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _record_loss(self, loss, tol) -> None:
        if loss > self.best_loss_ - tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, loss)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC, densified a batch at a time
        return tags

    # pickling ----------------------------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        if "net_" in state:  # the weights, without the last batch's work arrays
            state = {**state, "net_": state["net_"].copy()}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" in self.__dict__:
            # pickle stores every array apart, so the layers' W and b are no longer
            # views into net_.flat_params (and may be read-only memory maps): a copy
            # of the network binds them again, so that training can go on.
            self.net_ = self.net_.copy()
            self._optimizer.bind(self.net_)
            inner = self._optimizer.optimizer
            inner.load_state_dict(inner.state_dict())  # writable copies of its moments

    # prediction ---------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The network's outputs A for X, shape (n, n_outputs), in its dtype."""
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, accept_sparse=("csr", "csc"), dtype=self.net_.dtype
        )
        return predict_rows(self.net_, X.tocsr() if is_sparse(X) else X)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """scikit-learn's layout of the weights: W^T of each Dense, shape (in, out)
        (views: writing to them changes the network)."""
        return [layer.W.T for layer in self._dense_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The biases b of each Dense, shape (out,) (views)."""
        return [layer.b for layer in self._dense_layers()]

    def _dense_layers(self):
        if "net_" not in vars(self):
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet: call fit first"
            )
        return [layer for layer in self.net_.layers if isinstance(layer, Dense)]


def _check_sample_weight(sample_weight, n: int):
    """sample_weight as float64 (n,), finite and >= 0; None stays None (all zero is
    checked later, once class weights have multiplied in)."""
    if sample_weight is None:
        return None
    return check_sample_weight(sample_weight, n, allow_all_zero=True)


def _nonzero_weights(w):
    """Weights that are all exactly 1 become None: the same fit as no weights, and
    then bitwise the same network. All-zero weights are an error."""
    if w is None:
        return None
    if not w.sum() > 0:
        raise ValueError(
            "the sample weights (sample_weight times class_weight) are all zero: "
            "nothing to fit"
        )
    if (w == 1.0).all():
        return None
    return w
