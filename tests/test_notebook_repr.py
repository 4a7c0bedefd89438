"""How a trace and a network show themselves in Jupyter: ``_repr_html_``,
``_repr_markdown_`` and ``__repr__``."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np

import glassnet as gn


class Collect(HTMLParser):
    """The tags, the table cells' text, and whether any tag was left open."""

    VOID = {"br", "meta", "img", "hr", "input", "link", "col"}

    def __init__(self):
        super().__init__()
        self.tags, self.open, self.cells, self._cell = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)
        if tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
        self.open.pop()
        if tag in ("td", "th"):
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(page: str) -> Collect:
    parser = Collect()
    parser.feed(page)
    parser.close()
    assert parser.open == []  # every tag closed, in order
    return parser


def test_trace_repr_html_is_a_self_contained_fragment_with_the_numbers():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y, lr=0.1)
    fragment = trace._repr_html_()
    assert fragment == trace.to_html(full_page=False)
    parsed = parse(fragment)
    names = [tag for tag, _ in parsed.tags]
    assert names[0] == "div" and parsed.tags[0][1] == {"class": "gx"}
    assert "math" in names and "style" in names
    assert "script" not in names and "link" not in names and "img" not in names
    assert "http" not in fragment  # nothing fetched from the network
    for number in ("0.938774", "0.0631807", "-0.0612262", "-0.110207"):
        assert f"<mn>{number.lstrip('-')}</mn>" in fragment  # the sign is an <mo>


def test_trace_repr_markdown_and_repr():
    net, X, y = gn.worked_example.seed003_example()
    trace = gn.explain(net, X, y)
    assert trace._repr_markdown_() == trace.to_markdown()
    assert repr(trace) == (
        "<glassnet explain trace: Sequential 2 → 2 (ReLU) → 1 (sigmoid) · "
        f"binary cross-entropy · 1 sample · float64, L=0.0631807, "
        f"{len(trace.steps)} steps>"
    )


def test_network_repr_html_is_the_summary_table():
    net = gn.Sequential(
        gn.Dense(784, 128, "relu"), gn.Dropout(0.2), gn.Dense(128, 10, "softmax")
    )
    parsed = parse(net._repr_html_())
    assert [tag for tag, _ in parsed.tags].count("tr") == 1 + 3 + 1  # head, rows, foot
    header, rows = parsed.cells[:5], parsed.cells[5:20]
    assert header == ["#", "Layer", "Output shape", "Params", "Activation"]
    # the same rows as the text summary: 784*128 + 128 and 128*10 + 10 parameters
    assert rows[0:5] == ["0", repr(net.layers[0]), "(n, 128)", "100,480", "relu"]
    assert rows[10:15] == ["2", repr(net.layers[2]), "(n, 10)", "1,290", "softmax"]
    assert parsed.cells[20].startswith("Total parameters: 101,770")
    assert net.n_params == 784 * 128 + 128 + 128 * 10 + 10


def test_network_repr_html_escapes_its_text():
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"))
    page = net._repr_html_()
    assert "'sigmoid'" not in page and "&#x27;sigmoid&#x27;" in page
    assert parse(page).cells[6] == repr(net.layers[0])  # unescaped by the parser


def test_network_repr_markdown_table():
    net = gn.Sequential(gn.Dense(3, 2, "tanh"), gn.Dense(2, 1))
    lines = net._repr_markdown_().splitlines()
    assert lines[0] == "| # | Layer | Output shape | Params | Activation |"
    assert lines[1] == "|---:|---|---|---:|---|"
    assert lines[2] == f"| 0 | {net.layers[0]!r} | (n, 2) | 8 | tanh |"
    assert lines[3].startswith(f"| 1 | {net.layers[1]!r} | (n, 1) | 3 |")
    assert lines[-1] == net.summary().splitlines()[-1]
    assert np.sum([line.startswith("|") for line in lines]) == 4
