"""Equations as small trees, so that one template renders as symbols *and* as numbers.

An explain step's right-hand side is a tree of these nodes. ``Q(key)`` stands for a
quantity of the trace (z1, W1, dL/da2, ...): a renderer draws it as its symbol when
writing the equation, and as its value when writing "the same equation with the numbers
in it". Everything else (sums, fractions, functions, piecewise cases) renders the same way
in both passes, so the numbers line is, by construction, the equation above it.

Each renderer (text, LaTeX, MathML) subclasses ``Renderer`` and draws every node type.

Examples
--------
>>> e = Bin("+", Bin("*", Q("W"), Q("x")), Q("b"))
>>> [type(n).__name__ for n in walk(e)]
['Bin', 'Bin', 'Q', 'Q', 'Q']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Expr:
    """A node of an equation tree."""


@dataclass(frozen=True)
class Q(Expr):
    """A quantity of the trace, by key: its symbol, or its value in the numbers pass."""

    key: str


@dataclass(frozen=True)
class Sym(Expr):
    """A symbol with no value of its own: a name, with optional subscript/superscript.

    ``upright`` names (functions, text such as "new") are set roman, not italic.
    """

    name: str
    sub: str = ""
    sup: str = ""
    upright: bool = False


@dataclass(frozen=True)
class Num(Expr):
    """A constant (printed as written: 1, 2, 0.01)."""

    value: float

    def text(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class Partial(Expr):
    """The partial derivative d(num)/d(den), written as a fraction with curly d's."""

    num: Expr
    den: Expr


@dataclass(frozen=True)
class Bin(Expr):
    """A binary operation. ``op`` is one of

    "+", "-": sum and difference;
    "*": a product written by juxtaposition (matrix product, or scalar times matrix);
    "⊙": the elementwise (Hadamard) product;  "×", "·": explicit scalar products;
    ">", ">=", "<=": comparisons inside piecewise conditions.
    """

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Frac(Expr):
    """num / den, drawn as a stacked fraction (elementwise when the parts are arrays)."""

    num: Expr
    den: Expr


@dataclass(frozen=True)
class Neg(Expr):
    """-x"""

    arg: Expr


@dataclass(frozen=True)
class Pow(Expr):
    """base ** exponent (e^z uses ``Sym("e", upright=True)`` as the base)."""

    base: Expr
    exponent: Expr


@dataclass(frozen=True)
class Fn(Expr):
    """A named function applied to arguments: max(0, z), log a, tanh z, diag(a)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class T(Expr):
    """The transpose. In the numbers pass the transposed value is shown directly."""

    arg: Expr


@dataclass(frozen=True)
class Sum(Expr):
    """A sum over an index: "s" the samples (columns), "j"/"c" the entries of a column."""

    body: Expr
    index: str


@dataclass(frozen=True)
class Mean(Expr):
    """The mean over the entries (``index=""``) or over the samples (``index="s"``)."""

    body: Expr
    index: str = ""


@dataclass(frozen=True)
class Paren(Expr):
    """Explicit grouping: (x), or [x] with ``square=True``."""

    arg: Expr
    square: bool = False


@dataclass(frozen=True)
class Abs(Expr):
    """|x|"""

    arg: Expr


@dataclass(frozen=True)
class Cases(Expr):
    """A piecewise definition: ((value, condition), ...); a condition of None is
    "otherwise"."""

    pieces: tuple[tuple[Expr, Expr | None], ...]


def walk(expr: Expr):
    """Every node of the tree, depth first, parents before children."""
    yield expr
    for child in children(expr):
        yield from walk(child)


def children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, (Q, Sym, Num)):
        return ()
    if isinstance(expr, (Partial, Frac)):
        return (expr.num, expr.den)
    if isinstance(expr, Bin):
        return (expr.left, expr.right)
    if isinstance(expr, (Neg, T, Paren, Abs)):
        return (expr.arg,)
    if isinstance(expr, Pow):
        return (expr.base, expr.exponent)
    if isinstance(expr, Fn):
        return expr.args
    if isinstance(expr, (Sum, Mean)):
        return (expr.body,)
    if isinstance(expr, Cases):
        return tuple(
            node for value, cond in expr.pieces for node in (value, cond) if node
        )
    raise TypeError(f"not an equation node: {expr!r}")


def has_quantities(expr: Expr) -> bool:
    """Whether the numbers pass would put any value into ``expr``."""
    return any(isinstance(node, Q) for node in walk(expr))


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
        (right of an operator, inside a power or a negation)."""
        return getattr(self, f"node_{type(expr).__name__.lower()}")(expr, tight)

    # -- quantities ---------------------------------------------------------------------
    def node_q(self, expr: Q, tight: bool):
        quantity = self.trace.quantities[expr.key]
        if not self.numeric:
            return self.visit(quantity.symbol, tight)
        return self.value(quantity.display(), tight)

    def node_t(self, expr: T, tight: bool):
        if self.numeric and isinstance(expr.arg, Q):
            return self.value(self.trace.quantities[expr.arg.key].display().T, tight)
        return self.transpose(self.visit(expr.arg, True))

    def value(self, matrix: np.ndarray, tight: bool):
        if matrix.size == 1:
            text = self.fmt.number(matrix.flat[0])
            if tight and text.startswith("-"):
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
        an explicit × (0.9 × 0.06, never "0.9 0.06"), and between two scalar symbols
        plain juxtaposition (a2 (1 - a2), as ⊙ of 1 x 1 arrays is just a product)."""
        if expr.op not in ("*", "⊙"):
            return expr.op
        if self.is_scalar(expr.left) and self.is_scalar(expr.right):
            if self.numeric:
                return "×"
            partials = [self.is_partial(expr.left), self.is_partial(expr.right)]
            return "·" if any(partials) else "*"  # ∂L/∂a2 · ∂a2/∂z2
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
