"""How numbers and matrices are written in the text, Markdown and HTML renderings.

Numbers get ``precision`` significant digits (6 by default: 0.938774, −0.0612263, 1.3),
without trailing zeros; -0 is written 0. The minus sign is the typographic one, U+2212
(−0.0612263, 1.5e−05), as everywhere in the rendered math; the LaTeX renderer turns it
back into TeX's ``-``. Matrices larger than ``max_rows`` x ``max_cols``
show their first rows and columns and an ellipsis; the JSON keeps every number.

Examples
--------
>>> import numpy as np
>>> fmt = Format(precision=4, max_rows=2, max_cols=3)
>>> fmt.number(0.93877423)
'0.9388'
>>> fmt.number(-1.5e-5)
'−1.5e−05'
>>> fmt.cells(np.arange(12.0).reshape(3, 4))
[['0', '1', '2', '⋯'], ['4', '5', '6', '⋯'], ['⋮', '⋮', '⋮', '⋱']]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..validation import check_positive_int

#: The minus sign of rendered numbers (U+2212), never the ASCII hyphen-minus.
MINUS = "\u2212"

#: Cells that stand for the rows and columns left out of a shortened matrix.
H_DOTS, V_DOTS, D_DOTS = "⋯", "⋮", "⋱"
ELLIPSES = (H_DOTS, V_DOTS, D_DOTS)

_INTEGER_PART = re.compile(r"^[-\u2212]?\d*")


@dataclass(frozen=True)
class Format:
    """Significant digits, the largest matrix shown in full, and whether each matrix
    also gets its norm, min and max (``shapes.summary_lines``)."""

    precision: int = 6
    max_rows: int = 8
    max_cols: int = 6
    summaries: bool = False

    def __post_init__(self):
        check_positive_int(self.precision, "precision")
        check_positive_int(self.max_rows, "max_rows")
        check_positive_int(self.max_cols, "max_cols")

    def number(self, value) -> str:
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else MINUS + "inf"
        text = f"{value:.{self.precision}g}"
        return "0" if text in ("-0", "0") else text.replace("-", MINUS)

    def cells(self, matrix: np.ndarray) -> list[list[str]]:
        """The strings of a 2-D array, shortened to ``max_rows`` x ``max_cols``."""
        rows, cols = matrix.shape
        shown = matrix[: self.max_rows, : self.max_cols]
        cells = [[self.number(v) for v in row] for row in shown]
        if cols > self.max_cols:
            for row in cells:
                row.append(H_DOTS)
        if rows > self.max_rows:
            cells.append(
                [V_DOTS] * len(shown[0]) + ([D_DOTS] if cols > self.max_cols else [])
            )
        return cells


def decimal_align(column: list[str]) -> list[str]:
    """The cells of one column padded so their decimal points line up."""
    split = []
    for cell in column:
        if cell in ELLIPSES:
            split.append(None)
            continue
        head = _INTEGER_PART.match(cell).group(0)
        split.append((head, cell[len(head) :]))
    heads = max((len(s[0]) for s in split if s), default=0)
    tails = max((len(s[1]) for s in split if s), default=0)
    width = max(heads + tails, 1)
    return [
        cell.center(width) if s is None else s[0].rjust(heads) + s[1].ljust(tails)
        for cell, s in zip(column, split, strict=True)
    ]
