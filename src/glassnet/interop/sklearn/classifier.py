"""MLPClassifier: binary, multiclass and multilabel classification."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from ...nn.losses import BinaryCrossEntropyLoss, CrossEntropyLoss
from ...validation import check_number
from .base import BaseMLP, _check_sample_weight
from .docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from .params import DEFAULT_LEARNING_RATE, DEFAULT_MAX_ITER


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = f"""A multi-layer perceptron classifier trained by glassnet.

    The output layer and loss follow the targets: two classes give one sigmoid
    output with binary cross-entropy (p = P(classes_[1])); more give a softmax over
    the classes with cross-entropy; a multilabel indicator matrix (n, k) gives k
    sigmoid outputs with binary cross-entropy. Labels may be of any type (strings,
    ints...); they are encoded like scikit-learn's LabelEncoder (sorted classes_).

    Parameters
    ----------
{SHARED_PARAMETERS}
    class_weight : dict, "balanced" or None, default None
        Weight of each class in the loss, multiplied into sample_weight: a dict
        {{label: weight}} (missing labels weigh 1) or "balanced",
        n_samples / (n_classes * count of the class). Not for multilabel targets;
        partial_fit takes dicts only.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (for multilabel targets: 0..k-1, one per column).
{SHARED_ATTRIBUTES}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from glassnet.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                     max_iter=1000, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]), clf.predict_proba(X[:1]).shape
    (array([0, 0, 0]), (1, 3))
    >>> clf.score(X, y) > 0.95
    True
    """

    _y_numeric = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
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
        class_weight=None,
    ):
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
        self.class_weight = class_weight

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train a new network on (X, y) for up to max_iter epochs.

        X : array-like (n_samples, n_features); y : labels (n_samples,) or a
        multilabel indicator matrix (n_samples, k); sample_weight : (n_samples,).
        Returns self.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current network (and optimizer
        state). ``classes`` (every label that will ever appear) is required on the
        first call, as in scikit-learn. Returns self."""
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every label "
                "the classifier will see, e.g. classes=np.unique(y_all)"
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _targets(self, y, *, first, classes, dtype):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind == "multiclass-multioutput":
            raise ValueError(
                "y has several columns of class labels (multiclass-multioutput), which "
                "MLPClassifier does not support; it takes labels (n_samples,) or a "
                "multilabel 0/1 indicator matrix (n_samples, k)"
            )
        multilabel = kind == "multilabel-indicator"
        if first:
            self._define_classes(y, classes, multilabel)
        else:
            self._check_classes(y, classes, multilabel)
        if multilabel:
            return y.astype(dtype), y  # (n, k) 0/1 targets of k sigmoid outputs
        codes = self._encoder.transform(y)  # labels -> 0..C-1 (sorted classes_)
        if len(self.classes_) == 2:
            return codes.astype(dtype).reshape(-1, 1), y  # P(classes_[1]) target
        return codes, y

    def _define_classes(self, y, classes, multilabel: bool) -> None:
        self._multilabel = multilabel
        if multilabel:
            k = y.shape[1]
            if classes is not None and len(classes) != k:
                raise ValueError(
                    f"classes has {len(classes)} entries but the multilabel y has {k} "
                    "columns (one per label)"
                )
            self.classes_ = np.arange(k)
            self._encoder = None
            self._label_dtype = y.dtype
            return
        self._encoder = LabelEncoder().fit(y if classes is None else classes)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_.tolist()[0]!r}); a classifier "
                "needs at least two classes"
            )

    def _check_classes(self, y, classes, multilabel: bool) -> None:
        if multilabel != self._multilabel:
            raise ValueError(
                f"y is {'a multilabel indicator matrix' if multilabel else 'labels'} but "
                f"this classifier was first fitted on "
                f"{'a multilabel indicator matrix' if self._multilabel else 'labels'}"
            )
        if classes is not None and not (
            len(classes) == len(self.classes_)
            and np.array_equal(np.sort(np.asarray(classes)), self.classes_)
        ):
            raise ValueError(
                f"classes={np.asarray(classes).tolist()!r} differs from the classes of "
                f"the first partial_fit call, {self.classes_.tolist()!r}"
            )
        if multilabel and y.shape[1] != len(self.classes_):
            raise ValueError(
                f"y has {y.shape[1]} label columns but this classifier was fitted with "
                f"{len(self.classes_)}"
            )

    def _output_spec(self):
        k = len(self.classes_)
        if self._multilabel:
            # glassnet's BCE averages over the k labels, scikit-learn's sums them.
            return k, "sigmoid", BinaryCrossEntropyLoss(), 1.0 / k
        if k == 2:
            return 1, "sigmoid", BinaryCrossEntropyLoss(), 1.0
        return k, "softmax", CrossEntropyLoss(), 1.0

    def _weights(self, y, sample_weight, n, incremental):
        w = _check_sample_weight(sample_weight, n)
        if self.class_weight is None:
            return w
        if self._multilabel:
            raise ValueError(
                "class_weight is not supported for multilabel targets; pass "
                "sample_weight instead"
            )
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                f"class_weight={self.class_weight!r} needs all of y at once, which "
                "partial_fit does not see; give a dict, e.g. from "
                "sklearn.utils.class_weight.compute_class_weight('balanced', ...)"
            )
        per_class = self._class_weight_table(y)[self._encoder.transform(y)]  # (n,)
        return per_class if w is None else w * per_class

    def _class_weight_table(self, y) -> np.ndarray:
        """The weight of each class, in the order of classes_, from class_weight."""
        cw, classes = self.class_weight, self.classes_
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(
                    f"class_weight must be a dict {{label: weight}}, 'balanced' or None, "
                    f"got {cw!r}"
                )
            # n_samples / (n_classes * count of each class), scikit-learn's definition
            return compute_class_weight("balanced", classes=classes, y=y)
        if not isinstance(cw, dict):
            raise TypeError(
                "class_weight must be a dict {label: weight}, 'balanced' or None, got "
                f"{type(cw).__name__}"
            )
        position = {label: i for i, label in enumerate(classes.tolist())}
        unknown = [label for label in cw if label not in position]
        if unknown:
            raise ValueError(
                f"class_weight has label(s) {unknown!r} that are not classes of y "
                f"(classes_ = {classes.tolist()!r})"
            )
        table = np.ones(len(classes))
        for label, weight in cw.items():
            table[position[label]] = check_number(
                weight, f"class_weight[{label!r}]", low=0.0
            )
        return table

    def _stratify(self, Y):
        if self._multilabel:
            return None
        return Y[:, 0] if Y.ndim == 2 else Y

    def _labels_from_outputs(self, A):
        """Encoded labels from outputs: argmax, or a > 0.5 for sigmoid outputs."""
        if A.shape[1] == 1 or self._multilabel:
            return (A > 0.5).astype(np.int64)
        return A.argmax(axis=1)

    def _validation_score(self, A, Y, sample_weight):
        true = Y.astype(np.int64) if Y.ndim == 2 else Y
        return float(
            accuracy_score(
                true, self._labels_from_outputs(A), sample_weight=sample_weight
            )
        )

    # -- prediction ---------------------------------------------------------------------
    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of
        classes_ (for multilabel: P(label j) per column, (n_samples, k))."""
        A = self._outputs(X).astype(np.float64)
        if self._multilabel:
            return A
        if A.shape[1] == 1:
            p = A[:, 0]
            return np.column_stack([1.0 - p, p])  # [P(classes_[0]), P(classes_[1])]
        return A / A.sum(
            axis=1, keepdims=True
        )  # the softmax's rows, renormalised in float64

    def predict_log_proba(self, X):
        """log(predict_proba(X)); -inf where a probability underflowed to 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row (for multilabel: (n, k) 0/1 with
        P > 0.5)."""
        P = self.predict_proba(X)
        if self._multilabel:
            return (P > 0.5).astype(self._label_dtype)
        return self.classes_[P.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
