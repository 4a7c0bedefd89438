"""The optimizer and perceptron pages of explain in a real browser: headless Chromium,
offline, with the helpers of ``test_explain_browser``.

For a 3-step Adam trace on the seed 003 network and the perceptron rule on AND, the
page is loaded with no host name resolving, and the test checks that it asked for
nothing over the network, that every equation is MathML in the DOM after load, that
the key numbers (the losses, the final weights, the mistakes) are in its text, and
that the screenshot is a real, non-blank picture.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.explaining.perceptron import gate
from test_explain_browser import CHROMIUM, open_in_chromium

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium is not installed (/usr/bin/chromium, Debian package "
    "'chromium'); `make browser` installs it when run as root",
)


def shown(value: float) -> str:
    """A number as the page writes it: 6 significant digits, MathML's minus sign;
    of 2.14045e-06, written 2.14045 × 10 with a superscript −6, the digits."""
    return f"{value:.6g}".split("e")[0].replace("-", "−")


def dom_text(dom: str) -> str:
    """The text of the DOM: tags dropped, so a number split over elements joins up."""
    return re.sub(r"<[^>]+>", "", dom)


def check_screenshot(screenshot: Path) -> None:
    from PIL import Image  # matplotlib's dependency, installed with the dev extra

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(screenshot) as image:
        assert image.size == (1200, 2000)
        pixels = np.asarray(image.convert("L"), dtype=float)
    ink = pixels < 128
    assert 0.01 < ink.mean() < 0.5, ink.mean()  # neither blank nor a solid block
    assert np.flatnonzero(ink.any(axis=1)).size > 500  # text runs down the page


def equations(trace) -> int:
    return sum(step.lhs is not None for step in trace.steps)


def test_adam_steps_page_offline_with_mathml_and_its_numbers(tmp_path):
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, optimizer=gn.Adam(0.1), steps=3)
    page = tmp_path / "adam.html"
    page.write_text(trace.to_html(), encoding="utf-8")
    dom, screenshot, requested = open_in_chromium(page, tmp_path)
    assert requested == []
    # each equation is one <math> on its symbols line, more on the numbers lines
    assert dom.count("<math") >= 2 * equations(trace) > 100
    assert "Optimizer steps" in dom and "<msqrt>" in dom
    text = dom_text(dom)
    for loss in trace.optimizer["losses"]:  # before step 1 and after each step
        assert f"{loss:.6g}" in text, loss
    for key in ("t3.1.W", "t3.2.W", "t3.2.m_hat_W", "t3.1.v_b"):
        for value in trace[key].ravel():
            assert shown(value) in text, (key, value)
    check_screenshot(screenshot)


def test_perceptron_page_offline_with_mathml_and_its_numbers(tmp_path):
    trace = gn.explain_perceptron(*gate("AND"))
    page = tmp_path / "and.html"
    page.write_text(trace.to_html(), encoding="utf-8")
    dom, screenshot, requested = open_in_chromium(page, tmp_path)
    assert requested == []
    assert dom.count("<math") >= 2 * equations(trace) > 100
    text = " ".join(dom_text(dom).replace("−", "-").split())  # either minus sign
    p = gn.Perceptron(2)
    p.fit(*gate("AND"))
    w = ", ".join(f"{v:g}" for v in p.w)
    assert f"Epoch {p.n_epochs_} made no mistakes" in text
    assert f"w = ({w}), b = {p.b:g}" in text
    for epoch, mistakes in enumerate(p.mistakes_per_epoch_, 1):
        assert f"{mistakes} mistake{'' if mistakes == 1 else 's'} in epoch {epoch}" in (
            text
        )
    check_screenshot(screenshot)
