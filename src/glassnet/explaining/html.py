"""The HTML rendering: one self-contained page, equations in MathML.

No scripts, no web fonts, no network: the math is MathML Core, which browsers draw
natively (Chromium 109+, Firefox, Safari), styled by the inline stylesheet. Matrix
brackets are drawn with CSS borders, so they stretch to any height even without a
math font installed.
"""

from __future__ import annotations

from html import escape

from .expr import Frac, Q, Renderer
from .numbers import ELLIPSES, MINUS, Format
from .record import PHASES, Record
from .shapes import size_lines

_OPERATORS = {
    "+": "+",
    "-": "−",
    "*": "&#x2062;",  # invisible times: juxtaposition, read as a product
    "⊙": "⊙",
    "×": "×",
    "·": "·",
    ">": "&gt;",
    ">=": "≥",
    "<=": "≤",
}


def mo(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<mo{attr}>{text}</mo>"


def mrow(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def mi(text: str, upright: bool = False) -> str:
    variant = ' mathvariant="normal"' if upright and len(text) == 1 else ""
    return f"<mi{variant}>{escape(text)}</mi>"


class MathMLRenderer(Renderer):
    def number(self, text):
        text = text.replace(MINUS, "-")  # parsed here; drawn as <mo>−</mo> below
        if "e" in text and text not in ("inf", "-inf", "nan"):
            mantissa, power = text.split("e")
            sign = "−" if power.startswith("-") else ""
            body = mrow(
                f"<mn>{mantissa.lstrip('-')}</mn>",
                mo("×"),
                f"<msup><mn>10</mn><mrow>{mo(sign) if sign else ''}<mn>{int(power[1:] if power[0] in '+-' else power)}</mn></mrow></msup>",
            )
        else:
            body = f"<mn>{text.lstrip('-')}</mn>"
        return mrow(mo("−"), body) if text.startswith("-") else body

    def matrix(self, cells):
        # Decimal points line up: cells are right-aligned (CSS) and each number's
        # fraction is padded to its column's longest with invisible digits.
        tails = [[_tail(c) for c in col] for col in zip(*cells, strict=True)]
        longest = [max(len(t) for t in col) for col in tails]
        rows = []
        for row in cells:
            tds = []
            for j, c in enumerate(row):
                if c in ELLIPSES:
                    tds.append(f"<mtd>{mo(c)}</mtd>")
                    continue
                pad = longest[j] - len(_tail(c))
                phantom = f"<mphantom><mn>{'0' * pad}</mn></mphantom>" if pad else ""
                tds.append(f"<mtd>{mrow(self.number(c), phantom)}</mtd>")
            rows.append(f"<mtr>{''.join(tds)}</mtr>")
        return f'<mtable class="matrix">{"".join(rows)}</mtable>'

    def paren(self, inner, square=False):
        left, right = ("[", "]") if square else ("(", ")")
        if "<mtable" in inner or "<mfrac" in inner:  # tall content: let them stretch
            return mrow(mo(left), inner, mo(right))
        # Otherwise keep them text-sized: without a math font some browsers stretch
        # every fence in a row to the row's tallest one.
        fixed = '<mo stretchy="false">{}</mo>'
        return mrow(fixed.format(left), inner, fixed.format(right))

    def transpose(self, inner):
        t = mi("T", upright=True)
        if inner.startswith("<msub>") and inner.endswith(
            "</msub>"
        ):  # W_2^T, not W_2 ^T
            return f"<msubsup>{inner[6:-7]}{t}</msubsup>"
        return f"<msup>{inner}{t}</msup>"

    def node_sym(self, expr, tight):
        base = mi(expr.name, expr.upright)
        if expr.name == "√2":
            base = "<msqrt><mn>2</mn></msqrt>"
        sub = f"<mn>{escape(expr.sub)}</mn>" if expr.sub else ""
        if expr.sup:
            sup = (
                mrow(mo("("), f"<mn>{escape(expr.sup[1:-1])}</mn>", mo(")"))
                if expr.sup.startswith("(")
                else f"<mtext>{escape(expr.sup)}</mtext>"
            )
            if sub:
                return f"<msubsup>{base}{sub}{sup}</msubsup>"
            return f"<msup>{base}{sup}</msup>"
        return f"<msub>{base}{sub}</msub>" if sub else base

    def node_num(self, expr, tight):
        rendered = self.number(expr.text())
        return self.paren(rendered) if tight and expr.value < 0 else rendered

    def node_partial(self, expr, tight):
        return (
            "<mfrac>"
            + mrow(mi("∂", True), self.visit(expr.num))
            + mrow(mi("∂", True), self.visit(expr.den))
            + "</mfrac>"
        )

    def node_bin(self, expr, tight):
        op = self.product_operator(expr)
        operator = mo(_OPERATORS[op])
        if (
            op == "*"
        ):  # a thin space after it, like LaTeX's \, : "y log a", not "ylog a"
            operator += '<mspace width="0.17em"></mspace>'
        return mrow(self.visit(expr.left), operator, self.visit(expr.right, True))

    def node_frac(self, expr, tight):
        return f"<mfrac>{self.visit(expr.num)}{self.visit(expr.den)}</mfrac>"

    def node_neg(self, expr, tight):
        return mrow(mo("−"), self.visit(expr.arg, True))

    def node_pow(self, expr, tight):
        base = self.visit(expr.base, True)
        if isinstance(expr.base, Frac):
            base = self.paren(base)
        return f"<msup>{base}{self.visit(expr.exponent)}</msup>"

    def node_fn(self, expr, tight):
        name = mi(expr.name, upright=True)
        args = [self.visit(arg) for arg in expr.args]
        if expr.name == "√":
            return f"<msqrt>{mrow(*args)}</msqrt>"
        joined = mo(",").join(args)
        if (
            len(args) == 1
            and isinstance(expr.args[0], Q)
            and self.numeric
            and "mtable" in args[0]
        ):
            return mrow(name, mo("&#x2061;"), joined)  # log [..]: the brackets suffice
        return mrow(name, mo("&#x2061;"), self.paren(joined))

    def node_sum(self, expr, tight):
        return mrow(
            f"<munder>{mo('∑', 'big')}{mi(expr.index)}</munder>", self.visit(expr.body)
        )

    def node_mean(self, expr, tight):
        name = mi("mean", upright=True)
        if expr.index:
            name = f"<msub>{name}{mi(expr.index)}</msub>"
        return mrow(name, self.paren(self.visit(expr.body), square=True))

    def node_paren(self, expr, tight):
        return self.paren(self.visit(expr.arg), expr.square)

    def node_abs(self, expr, tight):
        return mrow(mo("|"), self.visit(expr.arg), mo("|"))

    def node_cases(self, expr, tight):
        rows = []
        for value, cond in expr.pieces:
            rule = (
                "<mtext>otherwise</mtext>"
                if cond is None
                else mrow("<mtext>if&#xA0;</mtext>", self.visit(cond))
            )
            rows.append(f"<mtr><mtd>{self.visit(value)}</mtd><mtd>{rule}</mtd></mtr>")
        return mrow(mo("{"), f'<mtable class="cases">{"".join(rows)}</mtable>')


def _tail(cell: str) -> str:
    """What follows the integer part: ".0612" of "-0.0612" ("" for ellipses and
    numbers in exponent form, which are not padded)."""
    if cell in ELLIPSES or "e" in cell:
        return ""
    return cell[len(cell.split(".")[0]) :]


def math(inner: str) -> str:
    return f'<math display="inline">{inner}</math>'


def step_html(r: MathMLRenderer, step) -> str:
    parts = [f'<section class="step"><h4>{escape(step.title)}</h4>']
    if step.lhs is not None:
        lhs = r.render(step.lhs)
        rows = [("equation", lhs, [r.render(e) for e in step.rhs])]
        numeric = [
            r.render(e, numeric=True) for e in step.numeric_rhs(r.trace.quantities)
        ]
        if numeric:
            rows.append(("numbers", "", numeric))
        rows.append(("result", "", [r.render(Q(step.result), numeric=True)]))
        parts.append('<table class="eq">')
        for label, left, rights in rows:
            rhs = mrow(*[p for item in rights for p in (mo("="), item)][1:])
            parts.append(
                f'<tr class="{label}"><th>{label}</th>'
                f'<td class="lhs">{math(left) if left else ""}</td>'
                f'<td class="rel">{math(mo("="))}</td>'
                f'<td class="rhs">{math(rhs)}</td></tr>'
            )
        parts.append("</table>")
        shown = [*step.numeric_rhs(r.trace.quantities), Q(step.result)]
        parts += _sizes(r, shown)
    if step.note:
        parts.append(f'<p class="note">{escape(step.note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _sizes(r: MathMLRenderer, exprs) -> list[str]:
    """The shapes of matrices shown in part, and the summaries, one paragraph each."""
    return [
        f'<p class="size">{escape(line)}</p>'
        for line in size_lines(r.trace, exprs, r.fmt, r.summarized)
    ]


STYLE = """
.gx { --ink: #1d2330; --muted: #5b6577; --rule: #d9dee8;
  --forward: #2357a6; --loss: #8a3fa0; --backward: #b5541c; --update: #2e7d4f;
  color: var(--ink); font: 17px/1.55 "Charter", "Iowan Old Style", "Palatino Linotype",
  "DejaVu Serif", Georgia, serif; max-width: 62rem; margin: 0 auto;
  padding: 2.5rem 1.5rem 4rem; }
.gx * { box-sizing: border-box; }
.gx h1 { font-size: 1.7rem; margin: 0 0 .2rem; letter-spacing: -.01em; }
.gx .sub { color: var(--muted); margin: 0 0 1.2rem; }
.gx h2 { font-size: 1.25rem; margin: 2.6rem 0 .4rem; padding-bottom: .25rem;
  border-bottom: 2px solid var(--accent, var(--ink)); color: var(--accent, var(--ink)); }
.gx h3 { font-size: 1.05rem; margin: 1.6rem 0 .3rem; color: var(--muted);
  font-weight: 600; }
.gx h4 { font-size: .95rem; margin: 0 0 .35rem; font-weight: 600; }
.gx .phase-forward { --accent: var(--forward); }
.gx .phase-loss { --accent: var(--loss); }
.gx .phase-backward { --accent: var(--backward); }
.gx .phase-update { --accent: var(--update); }
.gx .phase-attack { --accent: #a3213a; }
.gx .phase-optimizer { --accent: var(--update); }
.gx .phase-perceptron { --accent: var(--forward); }
.gx .notes { color: var(--muted); padding-left: 1.2rem; }
.gx .step { margin: .9rem 0 1.2rem; padding: .7rem 1rem .6rem;
  border-left: 3px solid var(--accent, var(--rule)); background: #fff;
  border-radius: 0 6px 6px 0; box-shadow: 0 1px 2px rgba(20, 30, 50, .08);
  overflow-x: auto; }
.gx table.eq { border-collapse: collapse; }
.gx table.eq th { font: 600 .68rem/1 system-ui, sans-serif; text-transform: uppercase;
  letter-spacing: .06em; color: #9aa3b2; text-align: right; padding: 0 .8rem 0 0;
  vertical-align: middle; white-space: nowrap; }
.gx table.eq td { padding: .3rem 0; vertical-align: middle; }
.gx td.lhs { text-align: right; padding-right: .3rem; }
.gx td.rel { padding: 0 .35rem; }
.gx tr.numbers td.rhs { color: #3a4a66; }
.gx tr.result td.rhs math { background: #eef3fb; padding: .1rem .4rem;
  border-radius: 4px; }
.gx .size { margin: .3rem 0 0; color: var(--muted); font-size: .88rem; }
.gx .note { margin: .4rem 0 0; color: var(--muted); font-size: .92rem; }
.gx .note::before { content: "Note: "; font-weight: 600; color: var(--ink); }
.gx math { math-style: normal; font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", math,
  "DejaVu Serif", serif; font-size: 1.08em; }
.gx mtable.matrix { border-left: 1.5px solid currentColor;
  border-right: 1.5px solid currentColor; padding: 0 .15em; margin: 0 .2em;
  background: linear-gradient(currentColor, currentColor) top left / .3em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) bottom left / .3em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) top right / .3em 1.5px no-repeat,
    linear-gradient(currentColor, currentColor) bottom right / .3em 1.5px no-repeat; }
.gx mtable.matrix mtd { padding: .1em .45em; }
.gx mtable.matrix mtd > * { display: block math; margin-left: auto; }
.gx mtable.cases { margin-left: .1em; }
.gx mtable.cases mtd { padding: .05em .4em; text-align: left; }
.gx mo.big { font-size: 1.3em; }
.gx footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""
PAGE_STYLE = "body { margin: 0; background: #fbfbf8; }"


def render_html(
    trace: Record,
    precision: int = 6,
    max_rows: int = 8,
    max_cols: int = 6,
    full_page: bool = True,
    summaries: bool = False,
) -> str:
    r = MathMLRenderer(trace, Format(precision, max_rows, max_cols, summaries))
    r.summarized = set()  # the matrices whose norm, min and max are written already
    body = [f"<h1>{escape(trace.title)}</h1>"]
    body.append(
        f'<p class="sub">{escape(trace.subtitle)} · numbers to {precision} '
        "significant digits</p>"
    )
    body.append('<ul class="notes">')
    body += [f"<li>{escape(note)}</li>" for note in trace.notes]
    body.append("</ul>")
    given = [mrow(mi("x"), mo("="), r.render(Q("x"), numeric=True))]
    if "y" in trace.quantities:
        given.append(mrow(mi("y"), mo("="), r.render(Q("y"), numeric=True)))
    body.append(f"<h2>Input{' and target' if len(given) > 1 else ''}</h2>")
    body.append(
        "<p>"
        + " &#xA0; &#xA0; ".join(f'<math display="inline">{g}</math>' for g in given)
        + "</p>"
    )
    body += _sizes(r, [Q(k) for k in ("x", "y") if k in trace.quantities])
    phase_seen = None
    for phase, layer, steps in trace.sections():
        if phase != phase_seen:
            if phase_seen is not None:
                body.append("</div>")
            heading = PHASES[phase]
            if phase == "update":
                heading += f", η = {r.fmt.number(trace.lr)}"
            body.append(f'<div class="phase-{phase}"><h2>{escape(heading)}</h2>')
            if phase == "update":
                body.append("<p>Shown, not applied: the network keeps its weights.</p>")
            phase_seen = phase
        if layer is not None:
            body.append(f"<h3>{escape(trace.layer_titles[layer])}</h3>")
        body += [step_html(r, step) for step in steps]
    if phase_seen is not None:
        body.append("</div>")
    if trace.loss_value is not None and trace.stopped is None:
        body.append(
            f"<p>Loss {math(mrow(mi('L'), mo('='), r.number(r.fmt.number(trace.loss_value))))}.</p>"
        )
    body.append(
        "<footer>Made by glassnet explain. Every number was computed by "
        "glassnet's own layers, activations and losses.</footer>"
    )
    content = "\n".join(body)
    if not full_page:  # for Jupyter: every rule is scoped to .gx
        return f'<div class="gx"><style>{STYLE}</style>\n{content}\n</div>'
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>glassnet explain: {escape(trace.title)}</title>\n"
        f"<style>{PAGE_STYLE}{STYLE}</style>\n</head>\n<body>\n"
        f'<main class="gx">\n{content}\n</main>\n</body>\n</html>\n'
    )
