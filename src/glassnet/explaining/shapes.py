"""What a rendering says about the matrices it shows in part, and optional summaries.

A matrix larger than ``max_rows`` x ``max_cols`` is drawn as its first rows and
columns; the line beside it says what is missing, in the orientation drawn::

    W1 (128 × 784): rows 1–8 of 128, columns 1–6 of 784

With ``summaries`` (``Format.summaries``), every matrix gets its norm, smallest and
largest entry, once, where it is first drawn:
``‖W1‖ = 9.87, min −0.41, max 0.43``. The text, Markdown and HTML renderings all
write these lines (as plain text); the JSON has every number anyway.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> from glassnet.explaining.numbers import Format
>>> net = gn.Sequential(gn.Dense(20, 3, "sigmoid"), dtype="float64", seed=0)
>>> trace = gn.explain(net, np.zeros(20))
>>> cut_lines(trace, [Q("1.W")], Format())
['W1 (3 × 20): columns 1–6 of 20']
"""

from __future__ import annotations

import numpy as np

from .expr import Expr, Partial, Q, Sym, T, children, output_key
from .numbers import Format

# ``record`` below is a ``record.Record``, not imported: the renderers import this
# module, and record must stay importable without them.

__all__ = ["cut_lines", "drawn", "size_lines", "summary_lines", "symbol_text"]


def symbol_text(expr: Expr) -> str:
    """A symbol as plain text: W1, ∂L/∂W2, x_adv."""
    if isinstance(expr, Sym):
        return expr.name + expr.sub + (f"_{expr.sup}" if expr.sup else "")
    if isinstance(expr, Partial):
        return f"∂{symbol_text(expr.num)}/∂{symbol_text(expr.den)}"
    return type(expr).__name__


def drawn(record, expr: Expr) -> list[tuple[str, np.ndarray]]:
    """The matrices the numbers pass draws for ``expr``: (name, matrix as drawn)."""
    if isinstance(expr, Q):
        q = record.quantities[expr.key]
        return [(symbol_text(q.symbol), q.display())]
    if isinstance(expr, T) and isinstance(expr.arg, Q):
        q = record.quantities[expr.arg.key]
        return [(symbol_text(q.symbol) + "ᵀ", q.display().T)]
    return [item for child in children(expr) for item in drawn(record, child)]


def cut_lines(record, exprs, fmt: Format) -> list[str]:
    """One line per matrix of ``exprs`` drawn in part: its shape, the rows and columns
    shown. Each matrix once, in the order they are written."""
    lines, seen = [], set()
    output = record.quantities.get(output_key(record))
    whole = None if output is None else symbol_text(output.symbol)  # never cut
    for expr in exprs:
        for name, matrix in drawn(record, expr):
            rows, cols = matrix.shape
            if name == whole:
                rows = min(rows, fmt.max_rows)
            if name in seen or (rows <= fmt.max_rows and cols <= fmt.max_cols):
                continue
            seen.add(name)
            parts = []
            if rows > fmt.max_rows:
                parts.append(_span("row", fmt.max_rows, rows))
            if cols > fmt.max_cols:
                parts.append(_span("column", fmt.max_cols, cols))
            lines.append(f"{name} ({rows} × {cols}): {', '.join(parts)}")
    return lines


def size_lines(record, exprs, fmt: Format, summarized: set) -> list[str]:
    """The lines under an equation drawing ``exprs`` (the same format for all), each
    starting with its label: "Shown in part: ...", and "Summary: ..." with
    ``fmt.summaries`` for the matrices not in ``summarized`` (the rendering's set of
    those already summarised, updated)."""
    lines = [f"Shown in part: {line}" for line in cut_lines(record, exprs, fmt)]
    if fmt.summaries:
        lines += [
            f"Summary: {line}" for line in summary_lines(record, exprs, fmt, summarized)
        ]
    return lines


def _span(what: str, shown: int, total: int) -> str:
    """ "rows 1–8 of 128", or "row 1 of 2" when one is shown."""
    if shown == 1:
        return f"{what} 1 of {total}"
    return f"{what}s 1–{shown} of {total}"


def summary_lines(record, exprs, fmt: Format, seen: set) -> list[str]:
    """‖M‖ (the Frobenius norm), min and max of every matrix of ``exprs`` with more
    than one entry and not in ``seen`` (updated)."""
    lines = []
    for expr in exprs:
        for name, matrix in drawn(record, expr):
            if name in seen or matrix.size <= 1 or name.endswith("ᵀ"):
                continue
            seen.add(name)
            norm = np.sqrt(np.sum(np.square(matrix, dtype=np.float64)))
            lines.append(
                f"‖{name}‖ = {fmt.number(norm)}, min {fmt.number(matrix.min())}, "
                f"max {fmt.number(matrix.max())}"
            )
    return lines
