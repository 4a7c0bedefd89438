"""Equations as small trees, so that one template renders as symbols *and* as numbers.

An explain step's right-hand side is a tree of ``glassnet.nn.formula`` nodes (the
vocabulary each activation writes its own formula in) and of ``Q`` nodes. ``Q(key)``
stands for a quantity of the trace (z1, W1, dL/da2, ...): a renderer draws it as its
symbol when writing the equation, and as its value when writing "the same equation with
the numbers in it". Everything else (sums, fractions, functions, piecewise cases)
renders the same way in both passes, so the numbers line is, by construction, the
equation above it.

Each renderer (text, LaTeX, MathML) subclasses ``Renderer`` and draws every node type.

Examples
--------
>>> e = Bin("+", Bin("*", Q("W"), Q("x")), Q("b"))
>>> [type(n).__name__ for n in walk(e)]
['Bin', 'Bin', 'Q', 'Q', 'Q']
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

# The vocabulary lives with the activations, which write their formulas in it.
from ..nn.formula import (
    Abs,
    Bin,
    Cases,
    Expr,
    Fn,
    Frac,
    Mean,
    Neg,
    Num,
    Paren,
    Partial,
    Pow,
    Sum,
    Sym,
    T,
    children,
    simplified,
    walk,
)
from .numbers import MINUS

__all__ = [
    "Abs",
    "Bin",
    "Cases",
    "Expr",
    "Fn",
    "Frac",
    "Mean",
    "Neg",
    "Num",
    "Paren",
    "Partial",
    "Pow",
    "Q",
    "Renderer",
    "Sum",
    "Sym",
    "Symbolic",
    "T",
    "children",
    "has_quantities",
    "walk",
]


@dataclass(frozen=True)
class Q(Expr):
    """A quantity of the trace, by key: its symbol, or its value in the numbers pass."""

    key: str


@dataclass(frozen=True)
class Symbolic(Expr):
    """A right-hand side written in symbols only, never again with numbers: the
    textbook form of a value glassnet computes in another, stable form, where that
    form with the numbers in it would not be a true equation (log 0, 0/0)."""

    arg: Expr


def has_quantities(expr: Expr) -> bool:
    """Whether the numbers pass would put any value into ``expr`` (never into a
    ``Symbolic`` one)."""
    if isinstance(expr, Symbolic):
        return False
    return isinstance(expr, Q) or any(has_quantities(c) for c in children(expr))


def output_key(record) -> str:
    """The key of the network's output a_L, which every rendering shows whole."""
    return f"{len(record.layer_titles)}.a"


class Renderer:
    """Base of the three equation renderers (text boxes, LaTeX, MathML).

    ``render(expr, numeric)`` dispatches on the node type to ``node_<type>``; in the
    numbers pass ``Q`` nodes become their values, via ``matrix`` (or ``number`` for a
    single entry), with the trace's display layout (columns are samples).
    """

    def __init__(self, trace, fmt):
        self.trace = trace
        self.fmt = fmt  # a numbers.Format: precision and how much of a matrix to show
        self.numeric = False

    def render(self, expr: Expr, numeric: bool = False):
        self.numeric = numeric
        return self.visit(expr)

    def visit(self, expr: Expr, tight: bool = False):
        """``tight``: the node sits where a negative number needs parentheses
        (right of an operator, inside a power or a negation). Every node is drawn in
        its ``simplified`` form: no factor 1, no "+ −"."""
        expr = simplified(expr)
        return getattr(self, f"node_{type(expr).__name__.lower()}")(expr, tight)

    def node_symbolic(self, expr: Symbolic, tight: bool):
        return self.visit(expr.arg, tight)

    # -- quantities ---------------------------------------------------------------------
    def node_q(self, expr: Q, tight: bool):
        quantity = self.trace.quantities[expr.key]
        if not self.numeric:
            return self.visit(quantity.symbol, tight)
        if expr.key == output_key(self.trace):
            return self.whole_rows(quantity.display(), tight)
        return self.value(quantity.display(), tight)

    def whole_rows(self, matrix: np.ndarray, tight: bool):
        """The network's output: every entry of the vector, however wide."""
        shown, self.fmt = self.fmt, replace(self.fmt, max_rows=max(matrix.shape[0], 1))
        try:
            return self.value(matrix, tight)
        finally:
            self.fmt = shown

    def node_t(self, expr: T, tight: bool):
        if self.numeric and isinstance(expr.arg, Q):
            return self.value(self.trace.quantities[expr.arg.key].display().T, tight)
        return self.transpose(self.visit(expr.arg, True))

    def value(self, matrix: np.ndarray, tight: bool):
        if matrix.size == 1:
            text = self.fmt.number(matrix.flat[0])
            if tight and text.startswith(MINUS):
                return self.paren(self.number(text))
            return self.number(text)
        return self.matrix(self.fmt.cells(matrix))

    def is_scalar(self, expr: Expr) -> bool:
        """Whether ``expr`` shows as one number in the numbers pass (so a product of
        two such gets an explicit ×, never plain juxtaposition of two numbers)."""
        if isinstance(expr, Q):
            return self.trace.quantities[expr.key].display().size == 1
        if isinstance(expr, (Num, Sym)):  # constants: 2, e, √2
            return True
        return all(self.is_scalar(child) for child in children(expr))

    def product_operator(self, expr: Bin) -> str:
        """The operator actually drawn for a product node: between two single numbers
        an explicit × (0.9 × 0.06, never "0.9 0.06"), between two partial derivatives
        the chain rule's ·, and between other scalar symbols plain juxtaposition
        (a2 (1 − a2), η ∂L/∂b2: the same form as η ∂L/∂W2 for a matrix)."""
        if expr.op not in ("*", "⊙"):
            return expr.op
        if self.is_scalar(expr.left) and self.is_scalar(expr.right):
            if self.numeric:
                return "×"
            partials = [self.is_partial(expr.left), self.is_partial(expr.right)]
            return "·" if all(partials) else "*"  # ∂L/∂a2 · ∂a2/∂z2, η ∂L/∂b2
        return expr.op

    def is_partial(self, expr: Expr) -> bool:
        return isinstance(expr, Q) and isinstance(
            self.trace.quantities[expr.key].symbol, Partial
        )

    # -- to be drawn by each renderer ---------------------------------------------------
    def number(self, text: str):
        raise NotImplementedError

    def matrix(self, cells: list[list[str]]):
        raise NotImplementedError

    def paren(self, inner, square: bool = False):
        raise NotImplementedError

    def transpose(self, inner):
        raise NotImplementedError
