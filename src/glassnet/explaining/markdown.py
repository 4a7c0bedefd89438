"""The Markdown rendering: headings and prose in Markdown, equations in LaTeX.

Each step is one ``$$\\begin{aligned} ... \\end{aligned}$$`` block: the equation, the
same equation with the numbers in it, and the result, aligned on their = signs (GitHub,
Jupyter, pandoc and MathJax/KaTeX all render it).
"""

from __future__ import annotations

import re

from .expr import Frac, Q, Renderer
from .numbers import D_DOTS, H_DOTS, MINUS, V_DOTS, Format
from .record import PHASES, Record
from .shapes import size_lines

_GREEK = {
    "δ": r"\delta",
    "η": r"\eta",
    "σ": r"\sigma",
    "Φ": r"\Phi",
    "φ": r"\varphi",
    "Σ": r"\Sigma",
    "ŷ": r"\hat{y}",
    "m̂": r"\hat{m}",
    "v̂": r"\hat{v}",
}
_OPERATORS = {
    "+": " + ",
    "-": " - ",
    "*": " \\, ",
    "⊙": r" \odot ",
    "×": r" \times ",
    "·": r" \cdot ",
    ">": " > ",
    ">=": r" \geq ",
    "<=": r" \leq ",
}
_FUNCTIONS = {
    "log": r"\log",
    "tanh": r"\tanh",
    "max": r"\max",
    "σ": r"\sigma",
    "Φ": r"\Phi",
    "φ": r"\varphi",
}
_DOTS = {H_DOTS: r"\cdots", V_DOTS: r"\vdots", D_DOTS: r"\ddots"}
_EXPONENT = re.compile(r"^(-?[\d.]+)e([+-])0*(\d+)$")


def latex_symbol(name: str) -> str:
    if name == "√2":
        return r"\sqrt{2}"
    if name.endswith(("\u0332", "\u0304")):  # a lower (z̲) or upper (z̄) bound
        accent = r"\underline" if name.endswith("\u0332") else r"\overline"
        return f"{accent}{{{latex_symbol(name[:-1])}}}"
    return _GREEK.get(name, name)


def latex_number(text: str) -> str:
    """1.5e−05 -> 1.5 \\times 10^{-5}; other numbers as they are, with TeX's minus
    ``-`` for the rendered minus sign −."""
    text = text.replace(MINUS, "-")
    match = _EXPONENT.match(text)
    if not match:
        return text
    mantissa, sign, power = match.groups()
    return rf"{mantissa} \times 10^{{{'-' if sign == '-' else ''}{power}}}"


class LatexRenderer(Renderer):
    def number(self, text):
        return latex_number(text)

    def matrix(self, cells):
        rows = [" & ".join(_DOTS.get(c, latex_number(c)) for c in row) for row in cells]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"

    def paren(self, inner, square=False):
        left, right = (r"\left[", r"\right]") if square else (r"\left(", r"\right)")
        return f"{left} {inner} {right}"

    def transpose(self, inner):
        return f"{{{inner}}}^{{\\top}}"

    def node_sym(self, expr, tight):
        text = latex_symbol(expr.name)
        if expr.upright and expr.name.isalpha():
            text = rf"\mathrm{{{text}}}"
        if expr.sub:
            text += f"_{{{expr.sub}}}"
        if expr.sup:
            sup = expr.sup if expr.sup.startswith("(") else rf"\text{{{expr.sup}}}"
            text += f"^{{{sup}}}"
        return text

    def node_num(self, expr, tight):
        text = latex_number(expr.text())
        return self.paren(text) if tight and text.startswith("-") else text

    def node_partial(self, expr, tight):
        return rf"\frac{{\partial {self.visit(expr.num)}}}{{\partial {self.visit(expr.den)}}}"

    def node_bin(self, expr, tight):
        op = self.product_operator(expr)
        return self.visit(expr.left) + _OPERATORS[op] + self.visit(expr.right, True)

    def node_frac(self, expr, tight):
        return rf"\frac{{{self.visit(expr.num)}}}{{{self.visit(expr.den)}}}"

    def node_neg(self, expr, tight):
        inner = self.visit(expr.arg, True)
        return f"-{inner}"

    def node_pow(self, expr, tight):
        base = self.visit(expr.base, True)
        if isinstance(expr.base, Frac):
            base = self.paren(base)
        return f"{{{base}}}^{{{self.visit(expr.exponent)}}}"

    def node_fn(self, expr, tight):
        name = _FUNCTIONS.get(expr.name, rf"\operatorname{{{expr.name}}}")
        args = ", ".join(self.visit(arg) for arg in expr.args)
        if expr.name == "√":
            return rf"\sqrt{{{args}}}"
        if len(expr.args) == 1 and isinstance(expr.args[0], Q) and self.numeric:
            return f"{name} {args}" if "bmatrix" in args else f"{name}({args})"
        return f"{name}{self.paren(args)}"

    def node_sum(self, expr, tight):
        return rf"\sum_{{{expr.index}}} {self.visit(expr.body)}"

    def node_mean(self, expr, tight):
        name = r"\operatorname{mean}" + (f"_{{{expr.index}}}" if expr.index else "")
        return name + self.paren(self.visit(expr.body), square=True)

    def node_paren(self, expr, tight):
        return self.paren(self.visit(expr.arg), expr.square)

    def node_abs(self, expr, tight):
        return rf"\left| {self.visit(expr.arg)} \right|"

    def node_cases(self, expr, tight):
        rows = []
        for value, cond in expr.pieces:
            rule = (
                r"\text{otherwise}"
                if cond is None
                else r"\text{if } " + self.visit(cond)
            )
            rows.append(f"{self.visit(value)} & {rule}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"


def step_latex(r: LatexRenderer, step) -> str:
    """The aligned block of one step: equation, numbers, result."""
    lhs = r.render(step.lhs)
    lines = [lhs + " &= " + " = ".join(r.render(e) for e in step.rhs)]
    numeric = [r.render(e, numeric=True) for e in step.numeric_rhs(r.trace.quantities)]
    if numeric:
        lines.append("&= " + " = ".join(numeric))
    lines.append("&= " + r.render(Q(step.result), numeric=True))
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def render_markdown(
    trace: Record,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 6,
    summaries: bool = False,
) -> str:
    r = LatexRenderer(trace, Format(precision, max_rows, max_cols, summaries))
    r.summarized = set()  # the matrices whose norm, min and max are written already
    out = [f"# glassnet explain: {trace.title}", ""]
    out += [f"*{trace.subtitle} · numbers to {precision} significant digits*", ""]
    out += [f"- {note}" for note in trace.notes]
    given = [f"x = {r.render(Q('x'), numeric=True)}"]
    if "y" in trace.quantities:
        given.append(f"y = {r.render(Q('y'), numeric=True)}")
    out += ["", "## Input" + (" and target" if len(given) > 1 else ""), ""]
    out += ["$$", r", \qquad ".join(given), "$$"]
    out += _sizes(r, [Q(k) for k in ("x", "y") if k in trace.quantities])
    phase_seen = None
    for phase, layer, steps in trace.sections():
        if phase != phase_seen:
            heading = PHASES[phase]
            if phase == "update":
                heading += f", η = {r.fmt.number(trace.lr)}"
            out += ["", f"## {heading}"]
            if phase == "update":
                out += ["", "*Shown, not applied: the network keeps its weights.*"]
            phase_seen = phase
        if layer is not None:
            out += ["", f"### {trace.layer_titles[layer]}"]
        for step in steps:
            out += ["", f"**{step.title}**"]
            if step.lhs is not None:
                out += ["", "$$", step_latex(r, step), "$$"]
                shown = [*step.numeric_rhs(trace.quantities), Q(step.result)]
                out += _sizes(r, shown)
            if step.note:
                out += ["", f"> {step.note}"]
    if trace.loss_value is not None and trace.stopped is None:
        out += ["", f"Loss $L = {latex_number(r.fmt.number(trace.loss_value))}$."]
    return "\n".join(out) + "\n"


def _sizes(r: LatexRenderer, exprs) -> list[str]:
    """The shapes of matrices shown in part, and the summaries, as italic lines."""
    lines = size_lines(r.trace, exprs, r.fmt, r.summarized)
    return ["", *(f"*{line}*  " for line in lines)] if lines else []
