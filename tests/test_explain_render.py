"""The four renderings of an explain trace, and the ``glassnet explain`` command.

The text and Markdown renderings of the seed 003 walk are compared with snapshots in
tests/snapshots/. Each snapshot was read line by line and its numbers checked against
the hand computation in test_explain.py (z1 = [1.3, 1.8], z2 = 2.73, a2 = 0.938774,
L = 0.0631807, dL/dz2 = -0.0612262, dL/dW1 = [[-0.0428583, -0.0857166],
[-0.0551035, -0.110207]], ...). After an intended change of layout, regenerate with
GLASSNET_UPDATE_SNAPSHOTS=1 and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main

SNAPSHOTS = Path(__file__).parent / "snapshots"


def seed_trace(lr=0.1):
    net, X, y = gn.worked_example.seed003_example()
    return gn.explain(net, X, y, lr=lr)


def check_snapshot(name: str, rendered: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("GLASSNET_UPDATE_SNAPSHOTS"):
        path.write_text(rendered, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert rendered == expected, f"{name} changed; see the docstring of this file"


def test_text_snapshot_of_the_seed_walk():
    check_snapshot("seed003_explain.txt", seed_trace().to_text())


def test_markdown_snapshot_of_the_seed_walk():
    check_snapshot("seed003_explain.md", seed_trace().to_markdown())


def test_text_shows_equation_then_numbers_then_result():
    text = seed_trace().to_text()
    # the first weighted sum, as a teacher writes it on the board
    assert (
        "  z1 = W1 x + b1\n"
        "     = ⎡0.2  0.4⎤ ⎡1⎤ + ⎡0.3⎤\n"
        "       ⎣0.1  0.6⎦ ⎣2⎦   ⎣0.5⎦\n"
        "     = ⎡1.3⎤\n"
        "       ⎣1.8⎦\n"
    ) in text
    assert "  δ2 = ∂L/∂z2 = ∂L/∂a2 · ∂a2/∂z2 = a2 − y\n" in text
    assert "     = −1.06522 × 0.0574775 = 0.938774 − 1\n     = −0.0612262\n" in text


def test_text_fits_a_terminal_and_shortens_large_layers():
    assert max(len(line) for line in seed_trace().to_text().splitlines()) <= 88
    rng = np.random.default_rng(0)
    net = gn.Sequential(gn.Dense(30, 20, "relu"), gn.Dense(20, 4, "softmax"), seed=0)
    trace = gn.explain(net, rng.normal(size=(1, 30)), [1], lr=0.1)
    text = trace.to_text(width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "⋯" in text and "⋮" in text
    markdown = trace.to_markdown()
    assert r"\cdots" in markdown and r"\vdots" in markdown
    # ... while the JSON keeps every number
    doc = json.loads(trace.to_json())
    assert np.array_equal(np.asarray(doc["layers"][0]["W"], "float32"), net.layers[0].W)
    assert np.asarray(doc["layers"][0]["dL/dW"]).shape == (20, 30)


def test_precision_option():
    trace = seed_trace()
    assert "= 0.939\n" in trace.to_text(precision=3)
    assert "= 0.938774\n" in trace.to_text()
    assert "&= 0.9388" in trace.to_markdown(precision=4)
    with pytest.raises(ValueError, match="precision must be a positive integer, got 0"):
        trace.to_text(precision=0)


def test_markdown_math_blocks_are_balanced():
    markdown = seed_trace().to_markdown()
    assert markdown.count("$$") % 2 == 0
    for env in ("aligned", "bmatrix", "cases"):
        assert markdown.count(rf"\begin{{{env}}}") == markdown.count(rf"\end{{{env}}}")
    assert r"\delta_{2} &= \frac{\partial L}{\partial z_{2}}" in markdown
    assert r"W_{1}^{\text{new}}" in markdown


class _Tags(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.seen, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_html_is_one_offline_page_of_mathml():
    page = seed_trace().to_html()
    parser = _Tags()
    parser.feed(page)
    assert parser.errors == [] and parser.stack == []  # every tag closed, in order
    tags = [tag for tag, _ in parser.seen]
    assert tags.count("math") > 40
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not re.search(r"(https?:)?//[a-z]", page.replace("<!DOCTYPE html>", ""))
    assert "url(" not in page and "@import" not in page
    assert "<mn>0.938774</mn>" in page
    fragment = seed_trace().to_html(full_page=False)  # Jupyter's _repr_html_
    assert fragment.startswith('<div class="gx">') and "<body" not in fragment


def test_json_has_every_number_at_full_precision():
    trace = seed_trace()
    doc = json.loads(trace.to_json())
    assert doc["format"] == "glassnet-explain/1"
    for key, quantity in trace.quantities.items():
        if quantity.layer is None or "(" in key:
            continue
        got = doc["layers"][quantity.layer][quantity.name]
        assert np.array_equal(np.asarray(got), quantity.value), key
    assert [s["phase"] for s in doc["steps"]][:2] == ["forward", "forward"]
    assert doc["steps"][0]["latex"] == r"z_{1} = W_{1} \, x + b_{1}"


# -- the command ----------------------------------------------------------------------


def test_cli_without_arguments_walks_seed_003(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(seed_trace(lr=None).to_text())
    # the footer's corrected numbers are the ones the walk computed
    footer = out[len(seed_trace(lr=None).to_text()) :]
    walk = out[: -len(footer)]
    for number in ("0.938774", "0.0631807", "−1.06522", "0.0574775", "−0.0612262",
                   "−0.0428583", "−0.0551035", "−0.0857166", "−0.110207"):  # fmt: skip
        assert number in footer and number in walk  # math: U+2212 in both


def test_docs_show_what_glassnet_explain_prints(capsys):
    page = Path(__file__).parent.parent / "docs" / "explain.md"
    shown = page.read_text(encoding="utf-8").split("$ glassnet explain\n", 1)[1]
    shown = shown.split("```", 1)[0]
    assert main(["explain"]) == 0
    assert shown == capsys.readouterr().out


def test_cli_options(tmp_path, capsys):
    assert main(["explain", "--input", "2,-1", "--target", "0", "--lr", "0.5"]) == 0
    out = capsys.readouterr().out
    net, _, _ = gn.worked_example.seed003_example()
    expected = gn.explain(net, [[2.0, -1.0]], [0.0], lr=0.5).to_text()
    assert out == expected
    assert "Compared with the seed 003 text" not in out
    out_file = tmp_path / "walk.html"
    assert main(["explain", "--out", str(out_file)]) == 0  # format from the extension
    assert capsys.readouterr().out == (
        f"wrote the html walk of Sequential 2 → 2 (ReLU) → 1 (sigmoid) to {out_file}\n"
    )
    assert out_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["walk.html"]  # no temp file left
    assert (
        main(["explain", "--format", "json", "--input", "1,2;0,1", "--target", "1;0"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_samples"] == 2 and doc["y"] == [[1.0], [0.0]]
    assert main(["explain", "--format", "markdown", "--precision", "3"]) == 0
    assert "&= 0.939" in capsys.readouterr().out


def test_cli_explains_a_saved_model(tmp_path, capsys):
    net = gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 3, "softmax"), seed=5)
    path = tmp_path / "net.safetensors"
    gn.save(net, path)
    argv = ["explain", "--model", str(path), "--input", "0.5,1,-1", "--target", "2"]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    _, grads = net.loss_and_grad([[0.5, 1.0, -1.0]], [2], loss="cross_entropy")
    assert np.array_equal(
        np.asarray(doc["layers"][1]["dL/dW"], "float32"), grads[1]["W"]
    )
    assert main(["explain", "--model", str(path), "--input", "0.5,1,-1"]) == 0
    assert "BACKWARD" not in capsys.readouterr().out  # no target: forward pass only


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "1,a"], '--input must be numbers separated by commas (samples by ";"), like "1,2", got \'1,a\''),
        (["--input", "1,2,3"], "--input has 3 number(s) per sample but the network takes 2"),
        (["--input", "1,2;3"], "--input: every sample needs the same number of values"),
        (["--target", "x"], "--target must be numbers separated by commas"),
        (["--target", "1;0"], "--target has 2 sample(s) but --input has 1"),
        (["--target", "2"], "binary_crossentropy targets must be in [0, 1]"),
        (["--loss", "hinge"], "unknown loss 'hinge'; expected one of"),
        (["--lr", "-1"], "lr must be in (0, inf], got -1"),
        (["--input", "1,inf"], "--input must be finite numbers"),
        (["--model", "/nonexistent/net.safetensors", "--input", "1,2"], "/nonexistent/net.safetensors"),
        (["--out", "/nonexistent/dir/walk.txt"], "folder '/nonexistent/dir' does not exist"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_one_line_and_exit_1(argv, message, capsys):
    assert main(["explain", *argv]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glassnet explain: error: ")
    assert message in lines[0]
    assert "Traceback" not in captured.err


def test_cli_model_needs_an_input(tmp_path, capsys):
    path = tmp_path / "net.safetensors"
    gn.save(gn.Sequential(gn.Dense(2, 1), seed=0), path)
    assert main(["explain", "--model", str(path)]) == 1
    assert (
        '--input is required with --model: 2 number(s), comma-separated, like "0.5,0.5"'
        in capsys.readouterr().err
    )
