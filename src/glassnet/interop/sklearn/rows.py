"""Rows of X as dense arrays, a block at a time, for sparse input.

A scipy.sparse X (e.g. the one-hot output of a ColumnTransformer) is never densified
whole: the network's first product Z = X W^T + b takes a dense block of rows, so each
batch (and each block of rows at prediction) is densified on its own, as X[rows].
The result is bitwise that of the dense matrix: the same numbers go into the same
products.
"""

from __future__ import annotations

import numpy as np

#: Rows densified at once for prediction and full-batch objectives.
BLOCK_ROWS = 1024


def is_sparse(X) -> bool:
    return hasattr(X, "toarray") and hasattr(X, "nnz")


def dense(X) -> np.ndarray:
    """X (a block of rows) as a dense array in its own dtype."""
    return X.toarray() if is_sparse(X) else X


def blocks(n: int, size: int = BLOCK_ROWS):
    """Slices covering range(n) in blocks of ``size`` rows."""
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))


def predict_rows(net, X) -> np.ndarray:
    """net.predict(X) for dense or sparse X, (n, n_outputs)."""
    if not is_sparse(X):
        return net.predict(X)
    parts = [net.predict(X[rows].toarray()) for rows in blocks(X.shape[0])]
    return np.concatenate(parts, axis=0)
