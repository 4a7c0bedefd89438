"""Large networks in explain: every matrix shown in part states its shape and what is
shown, in text, Markdown and HTML; ``summaries`` adds norm, min and max; the CLI's
``--max-rows``, ``--max-cols`` and ``--summaries``."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main


@pytest.fixture(scope="module")
def mnist_sized():
    net = gn.Sequential(
        gn.Dense(784, 128, "relu"),
        gn.Dense(128, 10, "softmax"),
        dtype="float64",
        seed=3,
    )
    x = np.random.default_rng(3).uniform(size=784)
    return net, x, gn.explain(net, x, 7)


class Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.paragraphs, self._in = [], False

    def handle_starttag(self, tag, attrs):
        self._in = tag == "p" and ("class", "size") in attrs
        if self._in:
            self.paragraphs.append("")

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.paragraphs[-1] += data


def test_cut_matrices_carry_their_shape_in_markdown_and_html(mnist_sized):
    net, x, trace = mnist_sized
    md = trace.to_markdown()
    assert "*Shown in part: W1 (128 × 784): rows 1–8 of 128, columns 1–6 of 784*" in md
    assert "*Shown in part: x (784 × 1): rows 1–8 of 784*" in md
    # dL/da1 = W2^T delta2: W2 is (10 × 128), drawn transposed
    assert "*Shown in part: W2ᵀ (128 × 10): rows 1–8 of 128, columns 1–6 of 10*" in md
    assert (
        "*Shown in part: ∂L/∂W1 (128 × 784): rows 1–8 of 128, columns 1–6 of 784*" in md
    )
    parser = Text()
    parser.feed(trace.to_html())
    assert (
        "Shown in part: W1 (128 × 784): rows 1–8 of 128, columns 1–6 of 784"
        in parser.paragraphs
    )
    # the drawn corner is the matrix's own first row: W1[0, :6]
    first_row = " & ".join(
        f"{v:.6g}" if v >= 0 else f"-{-v:.6g}" for v in net.layers[0].W[0, :6]
    )
    assert first_row.replace("-", "") in md.replace("-", "")


def test_cut_matrices_carry_their_shape_in_text(mnist_sized):
    _, _, trace = mnist_sized
    text = trace.to_text()
    # the text narrows a matrix to the terminal's width: it says how many columns
    found = re.search(
        r"Shown in part: W1 \(128 × 784\): rows 1–8 of 128, columns 1–(\d) of 784", text
    )
    assert found and 2 <= int(found.group(1)) <= 6
    drawn = text.split("Weighted sum", 1)[1].split("Shown in part", 1)[0]
    row = next(line for line in drawn.splitlines() if "⎡" in line and "⋯" in line)
    assert row.count("⋯") == 1 and len(row.split("⎤")[0].split()) - 2 == int(
        found.group(1)
    )
    assert "Shown in part: z1 (128 × 1): rows 1–8 of 128" in text
    assert text.count("Shown in part: x (784 × 1)") >= 2  # under the input, and in z1


def test_small_matrices_get_no_shape_line():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, lr=0.1)
    for page in (trace.to_text(), trace.to_markdown(), trace.to_html()):
        assert "Shown in part" not in page and "Summary:" not in page


def test_max_rows_and_max_cols_shape_lines():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y)
    text = trace.to_text(max_rows=1, max_cols=1)
    assert "  Shown in part: W1 (2 × 2): row 1 of 2, column 1 of 2\n" in text
    assert "  Shown in part: x (2 × 1): row 1 of 2\n" in text


def test_summaries_give_norm_min_max_once_per_matrix(mnist_sized):
    net, x, trace = mnist_sized
    W1 = net.layers[0].W
    line = (
        f"Summary: ‖W1‖ = {np.linalg.norm(W1):.6g}, min {W1.min():.6g}, "
        f"max {W1.max():.6g}"
    ).replace("-", "−")  # the rendered minus sign, U+2212
    dW1 = trace["1.dL/dW"]
    grad = (
        f"Summary: ‖∂L/∂W1‖ = {np.linalg.norm(dW1):.6g}, min {dW1.min():.6g}, "
        f"max {dW1.max():.6g}"
    ).replace("-", "−")
    for page in (
        trace.to_text(summaries=True),
        trace.to_markdown(summaries=True),
        trace.to_html(summaries=True),
    ):
        assert page.count(line) == 1 and page.count(grad) == 1
        assert page.count("Summary: ‖x‖") == 1
    assert "Summary:" not in trace.to_text()


def test_cli_max_rows_max_cols_summaries(capsys):
    assert main(["explain", "--max-rows", "1", "--max-cols", "1", "--summaries"]) == 0
    out = capsys.readouterr().out
    net, X, y = gn.worked_example.seed003_example()
    expected = gn.explain(net, X, y).to_text(max_rows=1, max_cols=1, summaries=True)
    assert out.startswith(expected)
    assert "Summary: ‖W1‖ = 0.754983, min 0.1, max 0.6" in out  # √(.04+.16+.01+.36)
    assert main(["explain", "--format", "markdown", "--max-cols", "1"]) == 0
    assert "*Shown in part: W1 (2 × 2): column 1 of 2*" in capsys.readouterr().out
    assert main(["explain", "--max-rows", "0"]) == 1
    assert "--max-rows must be at least 1, got 0" in capsys.readouterr().err
