"""VNNLIB: the property files of the verification competition, read into a Property
and written from one.

A VNNLIB file is a small SMT-LIB script. Its asserts describe a *counterexample*:
an input in the stated region whose output meets the stated output constraints. A
solver that finds one answers ``sat`` (the property is violated); ``unsat`` means no
such input exists (the property holds). So the input constraints become the regions
of a :class:`~glassnet.verification.spec.Property` and the output constraints its
unsafe sets { y : C y <= d }.

The subset read here is the one the competition's benchmarks use:

- ``(declare-const X_i Real)`` for the inputs, ``(declare-const Y_j Real)`` for the
  outputs;
- ``(assert ...)`` statements, several of them meaning "and";
- comparisons ``(<= a b)`` and ``(>= a b)`` between a variable and a decimal
  constant (``0.5``, ``-1e-3``, ``2.5E+2``), or between two outputs;
- ``(and ...)`` of comparisons, and ``(or (and ...) (and ...))`` over inputs only
  (several input boxes: several regions) or over outputs only (several unsafe sets);
- comments from ``;`` to the end of a line, and statements over several lines.

Every input needs a lower and an upper bound in every region. Anything else (another
sort, ``<``, ``+``, ``*``, an ``or`` mixing inputs and outputs or nested deeper, an
unknown variable, an index out of range) is refused with a :class:`VnnlibError`
naming the line and the text.

``write_vnnlib`` writes a Property in the same subset, so that another verifier can
be asked the same question: every number in its shortest positional decimal that
reads back as the same float64, so reading the file gives the property back exactly.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_write
from .spec import Box, LinearConstraints, Property

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_VARIABLE = re.compile(r"([XY])_(\d+)")


class VnnlibError(InputError):
    """A VNNLIB file outside the subset read here, or malformed; names the line."""


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


@dataclass(frozen=True)
class _List:
    """A parenthesised expression, with the line its '(' is on."""

    items: tuple
    line: int

    def __str__(self) -> str:
        return "(" + " ".join(str(item) for item in self.items) + ")"


@dataclass(frozen=True)
class _Atom:
    text: str
    line: int

    def __str__(self) -> str:
        return self.text


# A comparison as "kind, data": ("X", i, lower or upper, value) for an input bound,
# ("Y", row of C, d) for an output inequality  row . y <= d.


def read_vnnlib(path_or_text, n_inputs=None, n_outputs=None) -> Property:
    """The Property a VNNLIB file states (its asserts describe the counterexample).

    Parameters
    ----------
    path_or_text : str or os.PathLike
        A file path, or the text itself (a str containing "(").
    n_inputs, n_outputs : int, optional
        The network's widths: the file must declare exactly these many X_i and Y_j.

    Returns
    -------
    Property
        One region per input box (an ``or`` of input boxes gives several), one unsafe
        set { y : C y <= d } per conjunction of output constraints.

    Examples
    --------
    >>> prop = read_vnnlib('''
    ... ; y_0 must stay below y_1 for x in [0, 1] x [-1, 1]
    ... (declare-const X_0 Real) (declare-const X_1 Real)
    ... (declare-const Y_0 Real) (declare-const Y_1 Real)
    ... (assert (>= X_0 0.0)) (assert (<= X_0 1.0))
    ... (assert (>= X_1 -1)) (assert (<= X_1 1e0))
    ... (assert (>= Y_0 Y_1))
    ... ''')
    >>> prop.regions[0].lower, prop.regions[0].upper
    (array([ 0., -1.]), array([1., 1.]))
    >>> prop.unsafe[0].C, prop.unsafe[0].d
    (array([[-1.,  1.]]), array([0.]))
    """
    text, source = _text(path_or_text)
    statements = _parse(_tokens(text))
    return _Reader(source, n_inputs, n_outputs).read(statements)


def write_vnnlib(prop: Property, path=None) -> str:
    """The VNNLIB text of ``prop`` (written atomically to ``path`` when given).

    The asserts describe a counterexample, as the format asks: x in a region (an
    ``or`` of boxes when there are several) and y in an unsafe set (an ``or`` of
    conjunctions when there are several). Each row of an unsafe set must be one the
    subset can state: y_j <= c (the row e_j), y_j >= c (the row -e_j) or y_i <= y_j
    (the row e_i - e_j with d = 0); any other row raises an ``InputError`` naming it.

    >>> from glassnet.verification import Box, Property, stays_class
    >>> prop = Property(Box([0.0, -1.0], [0.5, 1.0]), stays_class(0, 2))
    >>> print(write_vnnlib(prop))  # doctest: +NORMALIZE_WHITESPACE
    ; 2 inputs X_i, 2 outputs Y_j; the asserts describe a counterexample
    (declare-const X_0 Real)
    (declare-const X_1 Real)
    (declare-const Y_0 Real)
    (declare-const Y_1 Real)
    (assert (>= X_0 0.0))
    (assert (<= X_0 0.5))
    (assert (>= X_1 -1.0))
    (assert (<= X_1 1.0))
    (assert (<= Y_0 Y_1))
    >>> read_vnnlib(write_vnnlib(prop)).unsafe[0].C
    array([[ 1., -1.]])
    """
    if not isinstance(prop, Property):
        raise TypeError(f"write_vnnlib needs a Property, got {type(prop).__name__}")
    n_in, n_out = prop.n_inputs, prop.n_outputs
    lines = [
        f"; {n_in} inputs X_i, {n_out} outputs Y_j; the asserts describe a "
        "counterexample"
    ]
    lines += [f"(declare-const X_{i} Real)" for i in range(n_in)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
    regions = [_box_comparisons(box) for box in prop.regions]
    unsafe = [
        [_output_comparison(u.C[r], u.d[r], s, r) for r in range(len(u.d))]
        for s, u in enumerate(prop.unsafe)
    ]
    for alternatives in (regions, unsafe):
        if len(alternatives) == 1:
            lines += [f"(assert {c})" for c in alternatives[0]]
        else:
            ands = "\n".join(f"  (and {' '.join(c)})" for c in alternatives)
            lines.append(f"(assert (or\n{ands}\n))")
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write(path, text.encode("utf-8"))
    return text


def _decimal(value: float) -> str:
    """The shortest positional decimal that reads back as the same float64."""
    return np.format_float_positional(float(value), unique=True, trim="0")


def _box_comparisons(box: Box) -> list[str]:
    comparisons = []
    for i, (lo, hi) in enumerate(zip(box.lower, box.upper, strict=True)):
        comparisons += [f"(>= X_{i} {_decimal(lo)})", f"(<= X_{i} {_decimal(hi)})"]
    return comparisons


def _output_comparison(row: np.ndarray, d: float, s: int, r: int) -> str:
    """One row . y <= d as a comparison of the subset, or an InputError."""
    nonzero = np.flatnonzero(row)
    if len(nonzero) == 1 and abs(row[nonzero[0]]) == 1.0:
        j = nonzero[0]
        if row[j] > 0:
            return f"(<= Y_{j} {_decimal(d)})"  # y_j <= d
        return f"(>= Y_{j} {_decimal(-d)})"  # -y_j <= d:  y_j >= -d
    if len(nonzero) == 2 and d == 0 and sorted(row[nonzero]) == [-1.0, 1.0]:
        i, j = nonzero[np.argmax(row[nonzero])], nonzero[np.argmin(row[nonzero])]
        return f"(<= Y_{i} Y_{j})"  # y_i - y_j <= 0
    raise InputError(
        f"unsafe set {s}, row {r}: {row.tolist()} . y <= {d} cannot be written in "
        "VNNLIB's subset; expected y_j <= c, y_j >= c or y_i <= y_j"
    )


def _text(path_or_text) -> tuple[str, str]:
    if isinstance(path_or_text, str) and "(" in path_or_text:
        return path_or_text, "the VNNLIB text"
    if not isinstance(path_or_text, (str, os.PathLike)):
        raise TypeError(
            "read_vnnlib needs a file path or the text of a VNNLIB file, got "
            f"{type(path_or_text).__name__}"
        )
    path = Path(path_or_text)
    if not path.is_file():
        raise FileNotFoundError(f"no such VNNLIB file: {path}")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError as error:
        raise VnnlibError(f"{path} is not a text file ({error})") from None


def _tokens(text: str) -> list[_Token]:
    """'(', ')' and atoms, each with its line; comments (';' to the line's end) out."""
    tokens = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split(";", 1)[0]
        for piece in re.findall(r"\(|\)|[^\s()]+", line):
            tokens.append(_Token(piece, number))
    return tokens


def _parse(tokens: list[_Token]) -> list[_List]:
    """The top-level expressions, as nested _List/_Atom."""
    stack: list[tuple[int, list]] = []
    statements = []
    for token in tokens:
        if token.text == "(":
            stack.append((token.line, []))
        elif token.text == ")":
            if not stack:
                raise VnnlibError(f"line {token.line}: ')' without a matching '('")
            line, items = stack.pop()
            expr = _List(tuple(items), line)
            if stack:
                stack[-1][1].append(expr)
            else:
                statements.append(expr)
        elif stack:
            stack[-1][1].append(_Atom(token.text, token.line))
        else:
            raise VnnlibError(
                f"line {token.line}: '{token.text}' outside any statement"
            )
    if stack:
        raise VnnlibError(f"line {stack[-1][0]}: '(' is never closed")
    return statements


def _fail(expr, why: str):
    text = str(expr)
    if len(text) > 80:
        text = text[:77] + "..."
    raise VnnlibError(f"line {expr.line}: {text}: {why}")


class _Reader:
    def __init__(self, source: str, n_inputs, n_outputs):
        self.source = source
        self.expected = {"X": n_inputs, "Y": n_outputs}
        self.declared: dict[str, set[int]] = {"X": set(), "Y": set()}
        self.asserts: list[_List] = []

    def read(self, statements) -> Property:
        for statement in statements:
            head = _head(statement)
            if head == "declare-const":
                self._declare(statement)
            elif head == "assert":
                if len(statement.items) != 2:
                    _fail(statement, "assert takes one expression")
                self.asserts.append(statement)
            else:
                _fail(statement, "expected (declare-const ...) or (assert ...)")
        self.n = {kind: self._count(kind) for kind in "XY"}
        input_bounds, output_rows = [], []  # each: a list of alternatives
        for statement in self.asserts:
            kind, alternatives = self._assertion(statement.items[1])
            (input_bounds if kind == "X" else output_rows).append(alternatives)
        return Property(self._regions(input_bounds), self._unsafe(output_rows))

    def _declare(self, statement):
        items = statement.items
        if len(items) != 3 or not all(isinstance(i, _Atom) for i in items[1:]):
            _fail(statement, "expected (declare-const NAME Real)")
        name, sort = items[1].text, items[2].text
        if sort != "Real":
            _fail(statement, f"sort {sort} is not supported; only Real")
        match = _VARIABLE.fullmatch(name)
        if match is None:
            _fail(statement, f"variable {name}: expected X_i (inputs) or Y_j (outputs)")
        kind, index = match.group(1), int(match.group(2))
        limit = self.expected[kind]
        if limit is not None and index >= limit:
            what = "inputs" if kind == "X" else "outputs"
            _fail(statement, f"{name} is out of range: the network has {limit} {what}")
        self.declared[kind].add(index)

    def _count(self, kind) -> int:
        indices = self.declared[kind]
        what = "inputs X_i" if kind == "X" else "outputs Y_j"
        n = max(indices) + 1 if indices else 0
        if indices != set(range(n)) or n == 0:
            raise VnnlibError(
                f"{self.source}: the declared {what} must be numbered 0, 1, ... with "
                f"none missing, got {sorted(indices) or 'none'}"
            )
        expected = self.expected[kind]
        if expected is not None and n != expected:
            raise VnnlibError(
                f"{self.source}: declares {n} {what}, the network has {expected}"
            )
        return n

    # -- expressions ------------------------------------------------------------------
    def _assertion(self, expr):
        """("X" or "Y", alternatives): each alternative a list of comparisons."""
        head = _head(expr)
        if head == "or":
            alternatives = [self._conjunction(arg) for arg in expr.items[1:]]
            if not alternatives:
                _fail(expr, "an empty or")
        else:
            alternatives = [self._conjunction(expr)]
        kinds = {c[0] for alternative in alternatives for c in alternative}
        if len(kinds) != 1:
            _fail(expr, "constraints over both inputs X and outputs Y in one assert")
        return kinds.pop(), alternatives

    def _conjunction(self, expr):
        if _head(expr) == "and":
            if len(expr.items) < 2:
                _fail(expr, "an empty and")
            return [self._comparison(arg) for arg in expr.items[1:]]
        return [self._comparison(expr)]

    def _comparison(self, expr):
        head = _head(expr)
        if head not in ("<=", ">="):
            _fail(
                expr,
                f"operator {head or str(expr)!r} is not supported here; expected "
                "(<= a b) or (>= a b) (inside and/or)",
            )
        for item in expr.items[1:]:
            if isinstance(item, _List):
                _fail(
                    item,
                    f"operator {_head(item)!r} is not supported; a comparison takes "
                    "two variables or numbers",
                )
        if len(expr.items) != 3:
            _fail(expr, "a comparison takes two variables or numbers")
        a, b = (self._term(expr, atom) for atom in expr.items[1:])
        if head == ">=":
            a, b = b, a  # always  a <= b
        if a[0] == "c" and b[0] == "c":
            _fail(expr, "a comparison of two numbers")
        if "X" in (a[0], b[0]):
            if a[0] == "X" and b[0] == "c":
                return ("X", a[1], "upper", b[1])
            if a[0] == "c" and b[0] == "X":
                return ("X", b[1], "lower", a[1])
            _fail(expr, "an input can only be compared with a number")
        row, d = np.zeros(self.n["Y"]), 0.0
        for (kind, value), sign in ((a, 1.0), (b, -1.0)):  # a - b <= 0
            if kind == "Y":
                row[value] += sign
            else:
                d -= sign * value
        return ("Y", row, d)

    def _term(self, expr, atom: _Atom):
        match = _VARIABLE.fullmatch(atom.text)
        if match is not None:
            kind, index = match.group(1), int(match.group(2))
            if index not in self.declared[kind]:
                _fail(expr, f"{atom.text} is not declared")
            return kind, index
        if _NUMBER.fullmatch(atom.text):
            return "c", float(atom.text)
        _fail(expr, f"{atom.text!r} is neither a declared variable nor a number")

    # -- the property -----------------------------------------------------------------
    def _regions(self, input_bounds) -> list[Box]:
        regions = []
        for choice in itertools.product(*input_bounds):
            lower = np.full(self.n["X"], -np.inf)
            upper = np.full(self.n["X"], np.inf)
            for _, i, side, value in itertools.chain.from_iterable(choice):
                if side == "lower":
                    lower[i] = max(lower[i], value)
                else:
                    upper[i] = min(upper[i], value)
            missing = np.flatnonzero(~(np.isfinite(lower) & np.isfinite(upper)))
            if missing.size:
                names = ", ".join(f"X_{i}" for i in missing[:8])
                raise VnnlibError(
                    f"{self.source}: every input needs a lower and an upper bound; "
                    f"missing for {names}{' ...' if missing.size > 8 else ''}"
                )
            if np.any(lower > upper):
                continue  # an empty box: no input there
            regions.append(Box(lower, upper))
        if not regions:
            raise VnnlibError(f"{self.source}: the input region is empty")
        return regions

    def _unsafe(self, output_rows) -> list[LinearConstraints]:
        if not output_rows:
            raise VnnlibError(f"{self.source}: no constraint on the outputs Y")
        unsafe = []
        for choice in itertools.product(*output_rows):
            rows = list(itertools.chain.from_iterable(choice))
            C = np.array([row for _, row, _ in rows])
            d = np.array([d for _, _, d in rows])
            unsafe.append(LinearConstraints(C, d))
        return unsafe


def _head(expr) -> str | None:
    if isinstance(expr, _List) and expr.items and isinstance(expr.items[0], _Atom):
        return expr.items[0].text
    return None
