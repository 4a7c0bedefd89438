"""The terminal rendering: equations laid out in two dimensions with aligned matrices.

Each equation is drawn as a ``Box`` (lines of text and a baseline row); boxes are put
side by side on a shared baseline, so a matrix product reads as it does on paper::

    z1 = W1 x + b1
       = ⎡0.2  0.4⎤ ⎡1⎤ + ⎡0.3⎤
         ⎣0.1  0.6⎦ ⎣2⎦   ⎣0.5⎦
       = ⎡1.3⎤
         ⎣1.8⎦
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .expr import Bin, Frac, Neg, Num, Q, Renderer, Sym
from .numbers import MINUS, Format, decimal_align
from .record import PHASES, Record
from .shapes import cut_lines, summary_lines

_SUPERSCRIPTS = str.maketrans("0123456789()+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻")
_OPERATORS = {
    "+": " + ",
    "-": " − ",
    "*": " ",
    "⊙": " ⊙ ",
    "×": " × ",
    "·": " · ",
    ">": " > ",
    ">=": " ≥ ",
    "<=": " ≤ ",
}


@dataclass
class Box:
    """Lines of text with a baseline row: the row the operators around it sit on."""

    lines: list[str]
    base: int = 0

    @property
    def width(self) -> int:
        return max((len(line) for line in self.lines), default=0)

    @property
    def height(self) -> int:
        return len(self.lines)


def box(item) -> Box:
    return item if isinstance(item, Box) else Box([str(item)])


def hcat(*items) -> Box:
    """Side by side, baselines aligned."""
    boxes = [box(item) for item in items]
    above = max(b.base for b in boxes)
    below = max(b.height - b.base - 1 for b in boxes)
    rows = [""] * (above + below + 1)
    for b in boxes:
        top, width = above - b.base, b.width
        for r in range(len(rows)):
            inside = 0 <= r - top < b.height
            rows[r] += (b.lines[r - top] if inside else "").ljust(width)
    return Box(rows, above)


def vcat(boxes: list[Box], base: int) -> Box:
    """One above the other, left-aligned, with the baseline at row ``base``."""
    return Box([line for b in boxes for line in b.lines], base)


def fence(inner: Box, left: str, right: str) -> Box:
    """Brackets as tall as ``inner``: left/right are "(", "[", "|" or "{"."""
    if inner.height == 1:
        return hcat(left, inner, right)
    pieces = {
        "(": ("⎛", "⎜", "⎝"),
        ")": ("⎞", "⎟", "⎠"),
        "[": ("⎡", "⎢", "⎣"),
        "]": ("⎤", "⎥", "⎦"),
        "|": ("│", "│", "│"),
        "{": ("⎧", "⎪", "⎩"),
        "": ("", "", ""),
    }

    def column(symbol):
        top, middle, bottom = pieces[symbol]
        rows = [top] + [middle] * (inner.height - 2) + [bottom]
        if symbol == "{" and inner.height > 2:
            rows[inner.height // 2] = "⎨"
        return Box(rows, inner.base)

    return hcat(column(left), inner, column(right))


class TextRenderer(Renderer):
    # -- leaves -------------------------------------------------------------------------
    def number(self, text):
        return Box([text])

    def matrix(self, cells):
        columns = [decimal_align(list(col)) for col in zip(*cells, strict=True)]
        rows = ["  ".join(row) for row in zip(*columns, strict=True)]
        return fence(Box(rows, (len(rows) - 1) // 2), "[", "]")

    def paren(self, inner, square=False):
        return fence(box(inner), "[" if square else "(", "]" if square else ")")

    def transpose(self, inner):
        return hcat(inner, "ᵀ")

    def node_sym(self, expr, tight):
        text = expr.name + expr.sub
        if expr.sup:
            sup = expr.sup.translate(_SUPERSCRIPTS)
            text += sup if sup != expr.sup else f"_{expr.sup}"
        return Box([text])

    def node_num(self, expr, tight):
        text = expr.text()
        if tight and text.startswith(MINUS):
            return self.paren(Box([text]))
        return Box([text])

    def node_partial(self, expr, tight):
        return hcat("∂", self.visit(expr.num), "/∂", self.visit(expr.den))

    # -- operations ---------------------------------------------------------------------
    def operand(self, expr, tight):
        """A factor of a product: an inline fraction gets parentheses, (2/N)(a − y)."""
        rendered = self.visit(expr, tight)
        if isinstance(expr, Frac) and rendered.height == 1:
            return self.paren(rendered)
        return rendered

    def node_bin(self, expr, tight):
        op = self.product_operator(expr)
        if op in ("*", "⊙", "×"):
            left, right = self.operand(expr.left, False), self.operand(expr.right, True)
        else:
            left, right = self.visit(expr.left), self.visit(expr.right, True)
        return hcat(left, _OPERATORS[op], right)

    def node_frac(self, expr, tight):
        num, den = self.visit(expr.num), self.visit(expr.den)
        atomic = isinstance(expr.den, (Q, Num, Sym))
        if atomic and num.height == den.height == 1 and num.width + den.width <= 12:
            # 2/N, (a2 − y)/N: inline reads better in a terminal
            if isinstance(expr.num, (Bin, Neg)):
                num = self.paren(num)
            if isinstance(expr.den, (Bin, Neg)):
                den = self.paren(den)
            return hcat(num, "/", den)
        width = max(num.width, den.width) + 2
        lines = [line.center(width) for line in num.lines]
        lines.append("─" * width)
        lines += [line.center(width) for line in den.lines]
        return Box(lines, num.height)

    def node_neg(self, expr, tight):
        return hcat("−", self.visit(expr.arg, True))

    def node_pow(self, expr, tight):
        base = self.visit(expr.base, True)
        if getattr(expr.exponent, "value", None) == 2:
            return hcat(base, "²")
        exponent = self.visit(expr.exponent)
        return hcat(base, "^", self.paren(exponent))

    def node_fn(self, expr, tight):
        args = [self.visit(arg) for arg in expr.args]
        if len(args) == 1 and args[0].height > 1 and isinstance(expr.args[0], Q):
            return hcat(expr.name, " ", args[0])  # log ⎡..⎤: the brackets suffice
        joined = hcat(*[part for a in args for part in (a, ", ")][:-1])
        return hcat(expr.name, self.paren(joined))

    def node_sum(self, expr, tight):
        return hcat(f"Σ_{expr.index} ", self.visit(expr.body))

    def node_mean(self, expr, tight):
        name = "mean" + (f"_{expr.index}" if expr.index else "")
        return hcat(name, self.paren(self.visit(expr.body), square=True))

    def node_paren(self, expr, tight):
        return self.paren(self.visit(expr.arg), expr.square)

    def node_abs(self, expr, tight):
        return fence(self.visit(expr.arg), "|", "|")

    def node_cases(self, expr, tight):
        values = [self.visit(value) for value, _ in expr.pieces]
        width = max(v.width for v in values)
        rows = []
        for value, (_, cond) in zip(values, expr.pieces, strict=True):
            rule = "otherwise" if cond is None else hcat("if ", self.visit(cond))
            rows.append(
                hcat(
                    Box([line.ljust(width) for line in value.lines], value.base),
                    "  ",
                    rule,
                )
            )
        stacked = vcat(rows, 0)
        stacked.base = (stacked.height - 1) // 2
        return fence(stacked, "{", "")


# -- page layout ----------------------------------------------------------------------
def render_text(
    trace: Record,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 6,
    width: int = 88,
    summaries: bool = False,
) -> str:
    fmt = Format(precision, max_rows, max_cols, summaries)
    r = TextRenderer(trace, fmt)
    r.summarized = set()  # the matrices whose norm, min and max are written already
    out = [f"glassnet explain · {trace.title}"]
    out.append(f"{trace.subtitle} · numbers to {precision} significant digits")
    out += ["", "Notation"]
    for note in trace.notes:
        out += textwrap.wrap(
            note, width, initial_indent="  • ", subsequent_indent="    "
        )
    out += ["", "Input" + ("" if "y" not in trace.quantities else " and target")]
    given = [hcat("x = ", r.render(Q("x"), numeric=True))]
    if "y" in trace.quantities:
        given += ["     ", hcat("y = ", r.render(Q("y"), numeric=True))]
    out += _indent(hcat(*given).lines, "  ")
    out += _sizes(r, [(Q(k), fmt) for k in ("x", "y") if k in trace.quantities])
    phase_seen = None
    for phase, layer, steps in trace.sections():
        if phase != phase_seen:
            heading = PHASES[phase].upper()
            if phase == "update":
                heading += f", η = {fmt.number(trace.lr)}"
                out += ["", heading, "═" * len(heading)]
                out += ["  Shown, not applied: the network keeps its weights."]
                phase_seen = phase
                heading = None
            if heading:
                out += ["", heading, "═" * len(heading)]
            phase_seen = phase
        if layer is not None:
            out += ["", trace.layer_titles[layer]]
        for step in steps:
            out += [""] + _step(r, step, width)
    if trace.loss_value is not None and trace.stopped is None:
        out += ["", f"Loss L = {fmt.number(trace.loss_value)}."]
    return "\n".join(line.rstrip() for line in out) + "\n"


def _step(r: TextRenderer, step, width: int) -> list[str]:
    lines = [f"  {step.title}"]
    if step.lhs is not None:
        lhs = r.render(step.lhs)
        pad = " " * lhs.width
        symbolic = [r.render(e) for e in step.rhs]
        lines += _chain(hcat(lhs, " "), pad + " ", symbolic, width)
        room = width - len(pad) - 5  # "  " + pad + " " + "= " before each item
        fitted = [
            (e, *_fit(r, e, room))
            for e in [*step.numeric_rhs(r.trace.quantities), Q(step.result)]
        ]
        numeric = [drawn for _, drawn, _ in fitted[:-1]]
        lines += _chain(Box([""]), pad + " ", numeric, width, first_is_lhs=False)
        result = fitted[-1][1]
        lines += _chain(Box([""]), pad + " ", [result], width, first_is_lhs=False)
        lines += _sizes(r, [(e, fmt) for e, _, fmt in fitted], width)
    if step.note:
        lines += textwrap.wrap(
            step.note, width, initial_indent="  Note: ", subsequent_indent="        "
        )
    return lines


def _fit(r: TextRenderer, expr, room: int) -> tuple[Box, Format]:
    """``expr`` with numbers, showing fewer columns of its matrices until it fits, and
    the format it was drawn with."""
    drawn = r.render(expr, numeric=True)
    fmt = r.fmt
    while drawn.width > room and fmt.max_cols > 2:
        fmt = Format(fmt.precision, fmt.max_rows, fmt.max_cols - 1, fmt.summaries)
        drawn = TextRenderer(r.trace, fmt).render(expr, numeric=True)
    return drawn, fmt


def _sizes(r: TextRenderer, drawn: list, width: int = 88) -> list[str]:
    """The lines under an equation: the shape of each matrix shown in part, and with
    ``summaries`` the norm, min and max of each matrix not summarised before."""
    cut, summary = [], []
    for expr, fmt in drawn:
        cut += [line for line in cut_lines(r.trace, [expr], fmt) if line not in cut]
        if fmt.summaries:
            summary += summary_lines(r.trace, [expr], fmt, r.summarized)
    lines = []
    for label, items in (("Shown in part", cut), ("Summary", summary)):
        for item in items:
            lines += textwrap.wrap(
                item, width, initial_indent=f"  {label}: ", subsequent_indent="    "
            )
    return lines


def _chain(lhs: Box, pad: str, items: list[Box], width: int, first_is_lhs=True):
    """``lhs = item = item ...`` on one line if it fits, else one ``= item`` a line."""
    if not items:
        return _indent(lhs.lines, "  ") if first_is_lhs else []
    start = lhs if first_is_lhs else Box([pad])
    parts = [start]
    for item in items:
        parts += ["= ", item, " "]
    one_line = hcat(*parts[:-1])
    if one_line.width + 2 <= width:
        return _indent(one_line.lines, "  ")
    lines = []
    for n, item in enumerate(items):
        head = start if n == 0 else Box([pad])
        lines += _indent(hcat(head, "= ", item).lines, "  ")
    return lines


def _indent(lines: list[str], prefix: str) -> list[str]:
    return [prefix + line for line in lines]
