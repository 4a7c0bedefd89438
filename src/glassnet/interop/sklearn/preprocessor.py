"""glassnet's own table preprocessing as a scikit-learn transformer.

``TablePreprocessor`` fits the preprocessing record that ``glassnet train`` fits
(``glassnet.data.preprocessing``): per numeric column the median fill, a 0/1
indicator where the training rows had empty cells, and z = (x - mean) / scale; per
text, boolean, pandas-categorical or named (``categorical``) column one input per
category, a "(missing)" category where training had empty cells, and all zeros for a
category never seen. It is the same code as the command line's, so a Pipeline
``TablePreprocessor() -> MLPClassifier()`` saved with ``glassnet.sklearn.save`` is one
model file that ``glassnet predict`` reads by column name.

Every categorical column is one-hot here (``glassnet train`` embeds columns of more
than 16 categories, which needs the network's first layer; a scikit-learn estimator
after this step sees only a matrix).

Examples
--------
>>> import pandas as pd
>>> from glassnet.sklearn import TablePreprocessor
>>> X = pd.DataFrame({"size": [1.0, None, 3.0], "city": ["Oslo", "Rome", None]})
>>> pre = TablePreprocessor().fit(X)
>>> list(pre.get_feature_names_out())
['size', 'size (missing)', 'city=Oslo', 'city=Rome', 'city=(missing)']
>>> pre.transform(pd.DataFrame({"city": ["Rome"], "size": [None]})).tolist()
[[0.0, 1.0, 0.0, 1.0, 0.0]]
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ...data.preprocessing import Preprocessing
from ...errors import InputError


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """The preprocessing record of ``glassnet train`` as a transformer.

    Parameters
    ----------
    categorical : list of str, optional
        Integer columns to treat as categories (text, boolean and pandas
        categorical columns are categories anyway).

    Attributes
    ----------
    record_ : glassnet.data.preprocessing.Preprocessing
        The fitted record (fills, categories, mean and scale per column).
    feature_names_in_ : ndarray of str
        The columns read, by name (x0, x1, ... for an array).
    n_features_in_ : int
    """

    def __init__(self, categorical=None):
        self.categorical = categorical

    def fit(self, X, y=None):
        columns, names = _columns_of(X)
        categorical = list(self.categorical or ())
        unknown = [name for name in categorical if name not in names]
        if unknown:
            raise InputError(
                f"categorical names {unknown[0]!r}, which is not a column of X "
                f"(columns: {', '.join(names[:8])}{', ...' * (len(names) > 8)})"
            )
        # every category one-hot: the estimator after this step takes a matrix only
        self.record_ = Preprocessing.fit(
            columns,
            names,
            "regression",
            categorical=categorical,
            onehot_max=sys.maxsize,
        )
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        return self

    def transform(self, X):
        """The network's inputs (n, len(get_feature_names_out())) float64: columns
        found by name in a DataFrame, by position in an array."""
        check_is_fitted(self, "record_")
        columns, names = _columns_of(X)
        if not _named(X) and len(names) != self.n_features_in_:
            raise InputError(
                f"X has {len(names)} features, but TablePreprocessor is expecting "
                f"{self.n_features_in_} features as input"
            )
        absent = [name for name in self.feature_names_in_ if name not in names]
        if absent:
            raise InputError(
                f"X lacks the column {absent[0]!r} that TablePreprocessor was fitted on"
            )
        Z, report = self.record_.transform(columns)
        unknown = report.unknown_line()
        if unknown:
            warnings.warn(unknown, UserWarning, stacklevel=2)
        return Z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # empty cells are what it fills
        tags.input_tags.string = True  # text columns are categories
        return tags

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "record_")
        return np.asarray(self.record_.features, dtype=object)


def _columns_of(X) -> tuple[dict, list[str]]:
    """({name: column}, names) of a DataFrame (cells as ``glassnet train`` reads
    them: numbers as float64/int64/bool, text as objects with None where empty) or
    of a 2-D array (columns x0, x1, ...)."""
    if hasattr(X, "tocsr") or hasattr(X, "todense"):
        raise TypeError(
            "TablePreprocessor takes a table (a DataFrame or a dense 2-D array); "
            "sparse input is not supported: X.toarray() densifies it"
        )
    if _named(X):
        import pandas as pd

        from ...data.tables import columns_of_frame

        columns = columns_of_frame(pd, X, "X")
        names = list(columns)
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise InputError(
                f"X must be 2-D (rows, columns), got shape {X.shape}. Reshape your "
                "data with X.reshape(-1, 1) for one column or X.reshape(1, -1) for "
                "one row"
            )
        names = [f"x{j}" for j in range(X.shape[1])]
        columns = {name: X[:, j] for j, name in enumerate(names)}
    n, d = X.shape
    if d == 0 or n == 0:  # scikit-learn's words, which its checks look for
        what = "feature(s)" if d == 0 else "sample(s)"
        raise InputError(
            f"Found array with 0 {what} (shape=({n}, {d})) while a minimum of 1 is "
            "required by TablePreprocessor"
        )
    for name, values in columns.items():
        if np.iscomplexobj(values):
            raise InputError(
                f"Complex data not supported: column {name!r} holds complex numbers; "
                "a table takes real numbers and text"
            )
    return columns, names


def _named(X) -> bool:
    """True for a DataFrame: its columns are found by name."""
    return hasattr(X, "columns") and hasattr(X, "iloc")
