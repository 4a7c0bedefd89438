"""explain's first steps for a model trained on a table: from the raw cells to the
network's input x, one equation per column, with its numbers.

Column j gives the block x_j of x (the one symbol of the encoded input throughout):

- numeric: x_j = the cell, or the stored fill (the training median) when it is empty;
  then, when training had empty cells, the indicator m_j = 1 if empty, else 0;
- one-hot: x_j = e_k, the k-th unit vector for the row's category k (all zeros for a
  category not seen in training: the unknown slot);
- embedded: x_j = c, the category's index, which the Embedding layer looks up.

x stacks the blocks in the order of the columns; the standardisation step that
follows writes x_std = (x − μ)/σ.
"""

from __future__ import annotations

import numpy as np

from ..data.column_stats import is_missing
from ..data.preprocessing import FILL_STRATEGIES
from .expr import Cases, Fn, Num, Q, Sym

EMPTY = Sym("empty", upright=True)  # the condition "the cell is empty"
CELL = Sym("cell", upright=True)  # the cell's own number


def preprocessing_steps(walk, record, cells, x) -> None:
    """Append one step per column (two for a numeric column with an indicator),
    then x as the blocks stacked. ``x``: the encoded, filled rows (n, n_inputs)."""
    x = np.asarray(x, dtype=np.float64).reshape(walk.n, -1)
    blocks, at = [], 0
    for j, spec in enumerate(record.columns, 1):
        width = len(spec.features)
        block, at = x[:, at : at + width], at + width
        values = list(np.asarray(cells[spec.name], dtype=object))
        if spec.kind == "numeric":
            blocks += _numeric(walk, j, spec, values, block)
        else:
            blocks.append(_categorical(walk, j, spec, values, block))
    walk.step(
        "forward",
        None,
        "The input x: every column's inputs, in order",
        Q("x"),
        (Fn("stack", tuple(blocks)),),
        note="x_j is column j's block; the standardisation below works on x entry by "
        "entry.",
        numbers=False,
    )


def _samples(walk, described: list[str]) -> str:
    """One description per sample, numbered when there are several."""
    if walk.n == 1:
        return described[0]
    return "; ".join(f"sample {s}: {d}" for s, d in enumerate(described, 1))


def _numeric(walk, j: int, spec, values: list, block: np.ndarray) -> list[Q]:
    """x_j = the cell, or the fill when it is empty; then m_j when recorded."""
    how = spec.strategy
    fill_name = "median" if how == "median" else "fill"
    fill = walk.quantity(
        f"pre.{j}.fill", "fill", None, Sym(fill_name, upright=True),
        np.array(spec.fill), "scalar",
    )  # fmt: skip
    empty = [is_missing(v) for v in values]
    x_j = walk.quantity(f"pre.{j}.x", "x", None, Sym("x", str(j)), block[:, :1])
    described = [
        f"the cell is empty, so x{j} = {spec.fill:.6g}, the training "
        + ("median" if how == "median" else FILL_STRATEGIES.get(how, how))
        if e
        else f"the cell holds {float(v):.6g}"
        for v, e in zip(values, empty, strict=True)
    ]
    walk.step(
        "forward",
        None,
        f"Column {j}, {spec.name}: numeric"
        + (", the empty cell filled" if any(empty) else ""),
        x_j,
        (Cases(((fill, EMPTY), (CELL, None))),),
        note=f"x{j} is column {spec.name!r}: {_samples(walk, described)}.",
    )
    if not spec.indicator:
        return [x_j]
    m_j = walk.quantity(f"pre.{j}.m", "m", None, Sym("m", str(j)), block[:, 1:2])
    walk.step(
        "forward",
        None,
        f"Column {j}, {spec.name}: missing-value indicator",
        m_j,
        (Cases(((Num(1), EMPTY), (Num(0), None))),),
        note=f"Training had empty cells in {spec.name!r}, so the network has an input "
        f"m{j} that marks them (not standardised).",
    )
    return [x_j, m_j]


def _categorical(walk, j: int, spec, values: list, block: np.ndarray) -> Q:
    """x_j = e_k (one-hot) or c = k (the embedding's index) for the row's category."""
    K = len(spec.categories)
    if spec.encoding == "embedding":
        index = block[:, 0].astype(np.int64)
    else:  # the unknown slot is all zeros: index K
        index = np.where(block.any(axis=1), block.argmax(axis=1), K)
    described = []
    for value, k in zip(values, index.tolist(), strict=True):
        shown = "empty" if is_missing(value) else repr(value)
        if k == K:
            slot = "all zeros" if spec.encoding == "onehot" else f"c = {K}, a zero row"
            described.append(
                f"{shown}, not seen in training: the unknown slot ({slot})"
            )
        elif spec.encoding == "embedding":
            described.append(f"{shown} is category {k} (from 0), so c = {k}")
        else:
            described.append(f"{shown} is category {k + 1} of {K}, so x{j} = e{k + 1}")
    names = ", ".join("(missing)" if c is None else str(c) for c in spec.categories[:8])
    names += ", ..." if K > 8 else ""
    if spec.encoding == "embedding":
        rhs = Sym("c")
        how = f"the index c of its category among {K} ({names}), which the Embedding "
        how += f"layer looks up ({K}: the unknown row)"
    else:
        known = index[0] < K
        rhs = Sym("e", str(index[0] + 1)) if walk.n == 1 and known else Sym("e", "k")
        if walk.n == 1 and not known:
            rhs = Num(0)
        how = f"one-hot over its {K} categories ({names}): e_k is 1 at category k"
    x_j = walk.quantity(f"pre.{j}.x", "x", None, Sym("x", str(j)), block)
    walk.step(
        "forward",
        None,
        f"Column {j}, {spec.name}: "
        + ("embedding index" if spec.encoding == "embedding" else "one-hot"),
        x_j,
        (rhs,),
        note=f"x{j} is column {spec.name!r}, {how}; {_samples(walk, described)}.",
    )
    return x_j
