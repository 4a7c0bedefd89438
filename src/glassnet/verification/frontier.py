"""The open subproblems of a branch and bound, kept so each step costs what it touches.

A branch and bound takes the few lowest-bounded subproblems, splits them, and adds
their children; the thousands of others wait. Kept as one set of arrays that every
step rebuilt (take the rest, join the children), they cost a copy of everything per
step: quadratic in the subproblems explored. Here each field is one array with room
to grow (doubled when full); adding appends, and taking rows moves the last rows
into the holes, so a step copies only the rows it adds and takes.

A subproblem is a nested dict of per-subproblem fields: arrays whose first axis runs
over subproblems (in dicts, lists and tuples) and "paths", a list of split paths.
"""

from __future__ import annotations

import numpy as np


class Frontier:
    """Open subproblems (states as in ``relu_split``), lowest bound first on demand.

    >>> f = Frontier()
    >>> f.push({"value": np.array([3.0, 1.0, 2.0]), "paths": [(), (1,), (2,)]})
    >>> f.pop(f.lowest(2))["paths"]
    [(1,), (2,)]
    >>> len(f), f.value.tolist()
    (1, [3.0])
    """

    def __init__(self):
        self._arrays: dict = {}
        self._shape = None  # the state's nesting, each array replaced by its key
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def value(self) -> np.ndarray:
        """The open subproblems' lower bounds (a view)."""
        return self.column("value") if self._shape is not None else np.empty(0)

    @property
    def nbytes(self) -> int:
        """The memory the open subproblems' rows take (the arrays' spare room and the
        objects an object field points to not counted)."""
        return sum(self._size * store[:1].nbytes for store in self._arrays.values())

    def column(self, *key) -> np.ndarray:
        """One field of every open subproblem (a view), e.g. ``column("X")``."""
        return self._arrays[key][: self._size]

    def push(self, state) -> None:
        """Add subproblems."""
        state = {**state, "paths": _objects(state["paths"])}
        leaves, shape = _flatten(state)
        if self._shape is None:
            self._shape = shape
        n = len(state["paths"])
        for key, array in leaves.items():
            store = self._arrays.get(key)
            if store is None or len(store) < self._size + n:
                room = max(2 * (self._size + n), 64)
                grown = np.empty((room,) + array.shape[1:], dtype=array.dtype)
                if store is not None:
                    grown[: self._size] = store[: self._size]
                self._arrays[key] = store = grown
            store[self._size : self._size + n] = array
        self._size += n

    def lowest(self, n: int) -> np.ndarray:
        """The rows of the n lowest-bounded subproblems, lowest first."""
        value = self.value
        if n < len(value):
            part = np.argpartition(value, n - 1)[:n]
            return part[np.argsort(value[part], kind="stable")]
        return np.argsort(value, kind="stable")

    def pop(self, rows):
        """Take the subproblems at rows out: their state."""
        rows = np.asarray(rows, dtype=np.intp)
        n, k = self._size, len(rows)
        taken = {key: store[rows].copy() for key, store in self._arrays.items()}
        # fill the holes below n - k with the tail's rows that stay
        holes = rows[rows < n - k]
        kept = np.setdiff1d(np.arange(n - k, n), rows)
        for store in self._arrays.values():
            store[holes] = store[kept]
        self._size = n - k
        state = _nest(self._shape, taken)
        return {**state, "paths": list(state["paths"])}


def _objects(items) -> np.ndarray:
    """A list of Python objects (tuples) as a 1-d object array."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _flatten(tree, key=()):
    """({key: array}, the nesting with keys for arrays)."""
    if isinstance(tree, dict):
        leaves, shape = {}, {}
        for name, sub in tree.items():
            found, shape[name] = _flatten(sub, key + (name,))
            leaves.update(found)
        return leaves, shape
    if isinstance(tree, (list, tuple)):
        leaves, shape = {}, []
        for i, sub in enumerate(tree):
            found, part = _flatten(sub, key + (i,))
            leaves.update(found)
            shape.append(part)
        return leaves, type(tree)(shape)
    return {key: np.asarray(tree)}, _Key(key)


class _Key(tuple):
    """Where an array sits in the nesting (told apart from the state's own tuples)."""


def _nest(shape, leaves):
    if isinstance(shape, dict):
        return {name: _nest(sub, leaves) for name, sub in shape.items()}
    if isinstance(shape, list):
        return [_nest(sub, leaves) for sub in shape]
    if isinstance(shape, _Key):
        return leaves[tuple(shape)]
    return tuple(_nest(sub, leaves) for sub in shape)
