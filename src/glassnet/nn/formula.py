"""Formulas as small expression trees: the one written form of each activation.

Each activation writes its equation once, as a tree of these nodes over its input (see
``Activation.formula``). ``glassnet.explaining`` renders the tree as text, LaTeX or
MathML, with symbols or with the numbers in them; ``glassnet.interop.onnx_export``
translates it into ONNX operators; the tests evaluate it with numpy and check it equals
``forward``. So the formula a student reads is the one the code computes.

What the nodes mean, for arrays of the layer's shape (n samples, k units):

- ``Sym``: a variable bound by name (z, a), or one of the constants e and √2;
- ``Num``: a number; ``Neg``, ``Abs``, ``Paren``: -x, |x|, (x);
- ``Bin``: "+", "-"; "*", "⊙", "×", "·" elementwise products ("*" of two matrices
  is the matrix product); ">", ">=", "<", "<=" comparisons (in ``Cases``);
- ``Frac``: num / den; ``Pow``: base ** exponent, with base e the exponential;
- ``Fn``: max, min, tanh, log, exp, erf, Φ (the standard normal cdf), φ (its
  density), diag;
- ``Sum(body, "j")``: the sum over the k entries of a sample;
- ``Cases``: the first piece whose condition holds, elementwise;
- ``T``, ``Mean``, ``Partial``: the transpose, a mean, a partial derivative symbol
  (used by the explanations' other equations).

Examples
--------
>>> e = Bin("+", Bin("*", Sym("W"), Sym("x")), Sym("b"))
>>> [type(n).__name__ for n in walk(e)]
['Bin', 'Bin', 'Sym', 'Sym', 'Sym']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class Expr:
    """A node of an equation tree."""


@dataclass(frozen=True)
class Sym(Expr):
    """A symbol with no value of its own: a name, with optional subscript/superscript.

    ``upright`` names (functions, constants such as e, text such as "new") are set
    roman, not italic.
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
        """As written, with the typographic minus sign (U+2212) of rendered math."""
        return f"{self.value:g}".replace("-", "\u2212")


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
    ">", ">=", "<", "<=": comparisons inside piecewise conditions.
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
    """base ** exponent (e^z uses ``E``, the upright symbol e, as the base)."""

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


#: The constants formulas use: Euler's number (the base of e^z), 0, 1 and √2.
E = Sym("e", upright=True)
ZERO, ONE = Num(0), Num(1)
SQRT2 = Sym("√2", upright=True)


def minus(a: Expr, b: Expr) -> Expr:
    """a - b"""
    return Bin("-", a, b)


#: Products whose factor 1 is left unwritten: 1 (e^z − 1) reads e^z − 1.
_PRODUCTS = ("*", "⊙", "×", "·")


def simplified(expr: Expr) -> Expr:
    """The node as a reader writes it, the same value: a factor 1 of a product
    dropped (α (e^z − 1) with α = 1 is e^z − 1), and a sum or difference of a negation
    written with one sign (x + −y is x − y, x − −y is x + y). Only the top node is
    rewritten (renderers apply it to every node they draw); quantities are never
    touched, so the numbers line still shows each value where its symbol stood.

    >>> simplified(Bin("*", ONE, Sym("z")))
    Sym(name='z', sub='', sup='', upright=False)
    >>> simplified(Bin("+", Sym("x"), Neg(Sym("y")))).op
    '-'
    """
    while isinstance(expr, Bin):
        if expr.op in _PRODUCTS and expr.left == ONE:
            expr = _unwrap(expr.right)
        elif expr.op in _PRODUCTS and expr.right == ONE:
            expr = _unwrap(expr.left)
        elif expr.op in ("+", "-") and isinstance(expr.right, Neg):
            expr = Bin("-" if expr.op == "+" else "+", expr.left, expr.right.arg)
        else:
            break
    return expr


def _unwrap(expr: Expr) -> Expr:
    """(x) without its parentheses, once the factor they grouped for is gone."""
    return expr.arg if isinstance(expr, Paren) and not expr.square else expr


def walk(expr: Expr):
    """Every node of the tree, depth first, parents before children."""
    yield expr
    for child in children(expr):
        yield from walk(child)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The node's sub-expressions, in the order they are written."""
    if not isinstance(expr, Expr) or not dataclasses.is_dataclass(expr):
        raise TypeError(f"not an equation node: {expr!r}")
    found: list[Expr] = []
    for field in dataclasses.fields(expr):
        _collect(getattr(expr, field.name), found)
    return tuple(found)


def _collect(value, found: list[Expr]) -> None:
    if isinstance(value, Expr):
        found.append(value)
    elif isinstance(value, tuple):  # Fn's arguments, Cases' (value, condition) pairs
        for item in value:
            _collect(item, found)
