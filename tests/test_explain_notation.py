"""One notation in every rendered explanation: the minus sign is U+2212 (−) wherever
a number or a difference is written (TeX's ``-`` inside the Markdown's LaTeX, which
TeX draws as the same sign), no factor 1 written in front of a bracket, no "+ −" or
"− −", and η written the same way in front of every gradient.

The traces cover every activation, every loss, each optimizer's steps, the perceptron
rule and the attack step, in text, Markdown and HTML; their weights are drawn so that
negative numbers appear in every kind of step."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet.explaining.markdown import LatexRenderer
from glassnet.explaining.numbers import Format
from glassnet.explaining.text import TextRenderer
from glassnet.nn.activations import ACTIVATIONS

# A hyphen-minus used as a sign or an operator: not inside a word (cross-entropy,
# float-64), not a CLI flag (--lr), not a range of integers (rows 1-8); and the sign
# of an exponent (1.5e-05).
ASCII_MINUS = re.compile(r"(?<![\w\-])-(?=[\d.(])|(?<=\s)-(?=\s)|(?<=\de)-(?=\d)")
# A factor 1 in front of a bracket: "1 (e^z − 1)", "1 \left(" (not 0.1 (, 21 (, 1.1 ().
ONE_COEFFICIENT = re.compile(r"(?<![\w.⁰¹²³⁴⁵⁶⁷⁸⁹^])1 (\(|\\left)")
DOUBLE_SIGN = re.compile(r"[+−] −(?!\S*[A-Za-z])|[+\-] -(?=\d)")
# What stands between η and the gradient it scales, in each rendering.
ETA_FORMS = {
    "text": re.compile(r"η( · | × | )(?=∂)"),
    "markdown": re.compile(r"\\eta( \\cdot | \\, | )(?=\\frac\{\\partial)"),
    "html": re.compile(
        r"<mi>η</mi>(<mo>[^<]*</mo>(?:<mspace[^>]*></mspace>)?)?(?=<mfrac>)"
    ),
}


def network(activation, n_out=1, seed=0, dtype="float64"):
    net = gn.Sequential(
        gn.Dense(3, 3, activation=activation),
        gn.Dense(3, n_out, activation="softmax" if n_out > 1 else "sigmoid"),
        dtype=dtype,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    for layer in net.layers:  # weights of both signs, so negatives appear everywhere
        layer.W = rng.normal(size=layer.W.shape)
        layer.b = rng.normal(size=layer.b.shape)
    return net


X = np.array([[0.5, -1.5, 2.0]])


def traces():
    """(name, trace) for every kind of explanation glassnet renders."""
    for name in ACTIVATIONS:
        if name in ("softmax", "step"):
            continue
        yield name, gn.explain(network(name), X, [1.0], lr=0.1)
    yield "elu alpha 1", gn.explain(network(gn.ELU(1.0)), X, [0.0])
    yield "step", gn.explain(network("step"), X, [1.0])
    yield "mse", gn.explain(network("tanh"), X, [0.3], loss="mse", lr=0.1)
    yield "cross-entropy", gn.explain(network("relu", 3), X, [2], lr=0.1)
    yield "batch", gn.explain(network("tanh", 3), np.vstack([X, -X]), [0, 2], lr=0.1)
    logits = gn.Sequential(gn.Dense(3, 2, activation="tanh"), gn.Dense(2, 1), seed=1)
    yield (
        "bce from logits",
        gn.explain(logits, X, [1.0], loss=gn.BinaryCrossEntropyLoss(from_logits=True)),
    )
    for optimizer in (
        gn.SGD(0.1, momentum=0.9),
        gn.Adam(0.01),
        gn.AdamW(0.01),
        gn.RMSprop(0.01),
    ):
        name = type(optimizer).__name__
        yield name, gn.explain(network("relu"), X, [1.0], optimizer=optimizer, steps=2)
    gates = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    yield "perceptron AND", gn.explain_perceptron(gates, [0, 0, 0, 1])
    yield "perceptron XOR", gn.explain_perceptron(gates, [0, 1, 1, 0])
    yield "attack", gn.explain(network("relu"), X, [1.0], attack="fgsm", eps=0.1)


TRACES = list(traces())
IDS = [name for name, _ in TRACES]


def visible_text(page: str) -> str:
    """The words and math of an HTML page, without its style sheet and tags."""
    page = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def outside_math(markdown: str) -> str:
    """The Markdown's words: without its math and its list bullets ("- ")."""
    words = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", markdown, flags=re.S)
    return re.sub(r"(?m)^\s*- ", "", words)


def inside_math(markdown: str) -> list[str]:
    return re.findall(r"\$\$.*?\$\$|\$[^$\n]*\$", markdown, flags=re.S)


def renderings(trace) -> dict[str, str]:
    return {
        "text": trace.to_text(),
        "markdown": trace.to_markdown(),
        "html": trace.to_html(),
    }


def offending(pattern: re.Pattern, text: str) -> list[str]:
    return [text[max(m.start() - 25, 0) : m.end() + 25] for m in pattern.finditer(text)]


@pytest.mark.parametrize(("name", "trace"), TRACES, ids=IDS)
def test_minus_sign_is_unicode_in_every_rendering(name, trace):
    pages = renderings(trace)
    assert "−" in pages["text"]  # negative numbers were written, with U+2212
    for fmt, words in (
        ("text", pages["text"]),
        ("markdown", outside_math(pages["markdown"])),
        ("html", visible_text(pages["html"])),
    ):
        assert not offending(ASCII_MINUS, words), (fmt, offending(ASCII_MINUS, words))
    # MathML draws a minus as an operator, never as part of a number or as "-"
    assert not re.search(r"<mn>[-−]|<mo>-</mo>", pages["html"])
    # inside the Markdown's LaTeX the minus is TeX's "-", the same sign when drawn
    assert not [m for m in inside_math(pages["markdown"]) if "−" in m]


def equations(trace) -> list[str]:
    """Every right-hand side of the trace as text and as LaTeX, in symbols and with
    the numbers in it: the math alone, without the prose around it."""
    text, latex = TextRenderer(trace, Format()), LatexRenderer(trace, Format())
    drawn = []
    for step in trace.steps:
        for rhs in step.rhs:
            for numeric in (False, True):
                drawn.append("\n".join(text.render(rhs, numeric).lines))
                drawn.append(latex.render(rhs, numeric))
    return drawn


@pytest.mark.parametrize(("name", "trace"), TRACES, ids=IDS)
def test_no_unit_coefficients_or_doubled_signs(name, trace):
    drawn = equations(trace)
    assert drawn
    for math in drawn:
        assert not offending(ONE_COEFFICIENT, math), math
        assert not offending(DOUBLE_SIGN, math), math
    assert "<mn>1</mn><mo>(</mo>" not in trace.to_html().replace(" ", "")


def test_elu_with_alpha_one_drops_the_coefficient():
    trace = dict(TRACES)["elu alpha 1"]
    text = trace.to_text()
    assert "e^(z1) − 1" in text and "1 (e^(z1) − 1)" not in text
    assert "0.7 (e^(z1) − 1)" in gn.explain(network(gn.ELU(0.7)), X, [0.0]).to_text()


def test_eta_is_written_one_way_everywhere():
    seen = {fmt: set() for fmt in ETA_FORMS}
    for _, trace in TRACES:
        for fmt, page in renderings(trace).items():
            seen[fmt] |= {m.group(1) or "" for m in ETA_FORMS[fmt].finditer(page)}
    for fmt, forms in seen.items():
        assert len(forms) == 1, (fmt, forms)  # the weight and the bias update alike
    assert seen["text"] == {" "}  # η ∂L/∂W2, η ∂L/∂b2


def test_negative_value_in_an_exponent_keeps_one_sign():
    # sigmoid(z) = 1/(1 + e^(−z)) with z < 0: e^(−(−0.5)), never e^(−(-0.5))
    net = gn.Sequential(gn.Dense(1, 1, activation="sigmoid"), dtype="float64", seed=0)
    net.layers[0].W, net.layers[0].b = [[1.0]], [0.0]
    text = gn.explain(net, [[-0.5]], [1.0]).to_text()
    assert "e^(−(−0.5))" in text
    assert not offending(ASCII_MINUS, text)
