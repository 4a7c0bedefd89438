"""Embedding: categorical columns looked up in learned tables (entity embeddings).

A categorical column j holds a category index c in 0..K_j as a float (K_j =
``n_categories[j]``; the last index, K_j itself, is the "unknown" slot for a category
not seen in training). Its table E_j has K_j + 1 rows of ``dims[j]`` numbers, and the
layer replaces the index by that row:

    e_j = E_j[c]                                   (dims[j],)    one row per sample
    A = [x_other, e_1, ..., e_k]                   (n, d - k + sum(dims))

the columns that are not indices first, unchanged and in their order, then one row per
table, in the listed order. A lookup is a product with a one-hot vector, e_j =
onehot(c)^T E_j, so its gradient scatters each sample's upstream gradient back to the
row it read:

    dE_j[r] = sum over samples i with c_ij = r of dA_i[e_j]      (K_j + 1, dims[j])

Indices are not differentiable (a category has no "slightly more"): dL/dX is dA for
the pass-through columns and zero for the index columns.

The unknown row starts at zero and stays zero: its gradient is set to zero, so a
sample with an unknown category gets e_j = 0 (no information) at training and at
inference. Every glassnet optimizer keeps a zero parameter with a zero gradient at
zero (L2 weight decay and AdamW shrink by a multiple of theta, the L1 term adds
l1 * sign(0) = 0, and Adam's and RMSprop's steps divide 0 by sqrt(0) + eps).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._fast.work import check_memory
from ..errors import InputError, InputTypeError, NotBuiltError
from ..validation import check_positive_int
from .layers import Layer


def _int_list(values, name: str, *, low: int) -> list[int]:
    """A non-empty list of integers >= low."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputTypeError(f"{name} must be a list of integers, got {values!r}")
    values = list(values)
    if not values:
        raise InputError(f"{name} must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise InputTypeError(f"{name} must hold integers, got {v!r} in {values}")
        if v < low:
            raise InputError(f"{name} must hold integers >= {low}, got {v} in {values}")
    return [int(v) for v in values]


class Embedding(Layer):
    """A learned table per categorical column: e_j = E_j[c_j], concatenated after
    the other columns.

    Parameters
    ----------
    index_columns : list of int
        The input columns that hold category indices (as floats), distinct.
    n_categories : list of int
        K_j, the number of known categories of each index column: indices run
        0..K_j, and K_j is the unknown slot (its row is zero and stays zero).
    dims : list of int
        The width of each table's rows.
    in_features : int, optional
        The input width d. When omitted, ``Sequential`` works it out from the next
        layer's input width (d = width - sum(dims) + len(index_columns)).

    The tables ``E0``, ``E1``, ... (in ``params``; ``layer.tables``) have shapes
    (K_j + 1, dims[j]) and are drawn from N(0, 1) like ``torch.nn.Embedding``, from
    the network's seeded generator. The output is
    (n, d - len(index_columns) + sum(dims)).

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Embedding([1], [3], [2]), gn.Dense(3, 1),
    ...                     dtype="float64", seed=0)
    >>> emb = net.layers[0]
    >>> emb.tables[0].shape  # 3 categories and the unknown row, 2 numbers each
    (4, 2)
    >>> emb.tables[0][-1]  # the unknown row
    array([0., 0.])
    >>> emb.tables[0][...] = [[1, 2], [3, 4], [5, 6], [0, 0]]
    >>> emb.forward(np.array([[0.5, 2.0], [-1.0, 3.0]]))
    array([[ 0.5,  5. ,  6. ],
           [-1. ,  0. ,  0. ]])
    """

    def __init__(self, index_columns, n_categories, dims, *, in_features=None):
        super().__init__()
        self.index_columns = _int_list(index_columns, "index_columns", low=0)
        self.n_categories = _int_list(n_categories, "n_categories", low=1)
        self.dims = _int_list(dims, "dims", low=1)
        k = len(self.index_columns)
        if len(self.n_categories) != k or len(self.dims) != k:
            raise InputError(
                f"index_columns, n_categories and dims must have one entry per "
                f"index column, got lengths {k}, {len(self.n_categories)} and "
                f"{len(self.dims)}"
            )
        if len(set(self.index_columns)) != k:
            raise InputError(
                f"index_columns must be distinct, got {self.index_columns}"
            )
        self._in = None
        if in_features is not None:
            self._set_in_features(check_positive_int(in_features, "in_features"))

    def _set_in_features(self, d: int) -> None:
        if max(self.index_columns) >= d:
            raise InputError(
                f"index_columns {self.index_columns} must be columns of the input, "
                f"which has {d} columns (0..{d - 1})"
            )
        self._in = d
        index = set(self.index_columns)
        #: The pass-through columns, in their order.
        self._other = np.array([c for c in range(d) if c not in index], dtype=np.intp)

    # -- shape ------------------------------------------------------------------------
    @property
    def in_features(self):
        return self._in

    def input_features_for(self, out_features: int) -> int:
        """The input width d whose output is ``out_features`` wide."""
        return out_features - sum(self.dims) + len(self.index_columns)

    def output_features(self, in_features):
        return in_features - len(self.index_columns) + sum(self.dims)

    # -- parameters -------------------------------------------------------------------
    def build(self, in_features, dtype, rng, init_hint=None):
        if self._in is None:
            self._set_in_features(in_features)
        elif in_features != self._in:
            raise InputError(
                f"{self!r} takes inputs of {self._in} columns, got {in_features}"
            )
        if self.params:
            return
        sizes = zip(self.n_categories, self.dims, strict=True)
        numbers = sum((K + 1) * dim for K, dim in sizes)
        # each table four times while it is built (as Dense weights): the draw, the
        # table, the network's flat buffer and the gradient
        check_memory(
            4 * numbers * np.dtype(dtype).itemsize,
            f"the embedding tables of {self!r} ({numbers:,} numbers)",
            "use fewer categories or narrower rows (dims)",
        )
        for j, (K, dim) in enumerate(zip(self.n_categories, self.dims, strict=True)):
            E = np.zeros((K + 1, dim), dtype=dtype)
            E[:K] = rng.normal(0.0, 1.0, size=(K, dim))  # N(0, 1); row K: unknown = 0
            self.params[f"E{j}"] = E
            self.grads[f"E{j}"] = np.zeros_like(E)

    @property
    def tables(self) -> list[np.ndarray]:
        """E_0, E_1, ...: each (n_categories[j] + 1, dims[j]), the last row the
        unknown category's (views: writing into them changes the network)."""
        if self._in is None or len(self.params) != len(self.dims):
            raise NotBuiltError(
                f"{self!r} has no tables yet: put it in a gn.Sequential or call "
                "build(in_features, dtype, rng)"
            )
        return [self.params[f"E{j}"] for j in range(len(self.dims))]

    def fixed_entries(self, name: str) -> np.ndarray:
        """Which entries of ``params[name]`` are not learned: the unknown row."""
        fixed = np.zeros(self.params[name].shape, dtype=bool)
        fixed[-1] = True
        return fixed

    # -- computation ------------------------------------------------------------------
    def categories(self, X: np.ndarray) -> np.ndarray:
        """The category indices of X as integers (n, k), each checked to be a whole
        number in 0..n_categories[j]."""
        C = np.empty((X.shape[0], len(self.index_columns)), dtype=np.intp)
        for j, (col, K) in enumerate(
            zip(self.index_columns, self.n_categories, strict=True)
        ):
            x = X[:, col]
            # NaN fails every comparison, so it is caught here too (without a warning)
            ok = (x >= 0) & (x <= K) & (x == np.floor(x))
            if not ok.all():
                row = int(np.argmin(ok))
                raise InputError(
                    f"column {col} holds category indices, which must be whole "
                    f"numbers in 0..{K} ({K} = unknown); row {row} has {float(x[row])!r}"
                )
            C[:, j] = x
        return C

    def forward(self, A_prev, training=False, *, reuse=False):  # A_prev: (n, d)
        tables = self.tables  # E_j: (K_j + 1, dims[j]); raises if not built
        self._C = C = self.categories(A_prev)  # c_ij                             (n, k)
        self._shape = A_prev.shape
        parts = [A_prev[:, self._other]]  # x_other                   (n, d - k)
        parts += [E[C[:, j]] for j, E in enumerate(tables)]  # e_j = E_j[c_j]
        self._forward_done = True
        return np.concatenate(parts, axis=1).astype(A_prev.dtype, copy=False)

    def backward(self, dA, need_input_grad=True, *, reuse=False):  # dA: (n, out)
        self._require_forward()
        n_other = len(self._other)
        start = n_other
        for j, (dE, K, dim) in enumerate(
            zip(self._table_grads(), self.n_categories, self.dims, strict=True)
        ):
            G = dA[:, start : start + dim]  # dL/de_j                     (n, dims[j])
            start += dim
            # dE_j[r] = sum_{i: c_ij = r} G_i, as one bincount over the flat index
            # r * dim + t (faster than np.add.at; the sums are taken in float64)
            flat = (self._C[:, j, None] * dim + np.arange(dim)).ravel()
            sums = np.bincount(flat, weights=G.ravel(), minlength=(K + 1) * dim)
            dE[...] = sums.reshape(K + 1, dim)
            dE[K] = 0.0  # the unknown row is not learned: it stays e = 0
        if not need_input_grad:
            return None
        dX = np.zeros(self._shape, dtype=dA.dtype)  # indices: dL/dc = 0    (n, d)
        dX[:, self._other] = dA[:, :n_other]  # pass-through: dL/dx = dA
        return dX

    def _table_grads(self) -> list[np.ndarray]:
        return [self.grads[f"E{j}"] for j in range(len(self.dims))]

    def clear_cache(self):
        super().clear_cache()
        self._C = self._shape = None

    def config(self):
        return {
            "index_columns": list(self.index_columns),
            "n_categories": list(self.n_categories),
            "dims": list(self.dims),
            "in_features": self._in,
        }

    def describe(self):
        return "e = E[c]"

    def __repr__(self):
        return f"Embedding({self.index_columns}, {self.n_categories}, {self.dims})"
