"""The perceptron rule as a trace: ``gn.explain_perceptron`` and ``--perceptron``.

The final w and b must be ``gn.Perceptron.fit``'s, bit for bit, and every number of
every sample (z, y_hat, the error, w_new, b_new) the rule's, written out again here by
hand; the AND trace is kept as a snapshot (text and Markdown), read line by line: in
epoch 1 the samples (0, 0) and (1, 1) are mistakes, w = (1, 1), b = 0 after it; the
mistakes per epoch are 2, 3, 3, 2, 1, 0 and the end is w = (2, 1), b = -3, which puts
(1, 1) at z = 0 (predicted 1) and the others below 0.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.explaining.perceptron import GATES, gate
from glassnet.nn.neuron import NotLinearlySeparableWarning
from test_explain_render import check_snapshot


def fit_perceptron(X, y, lr=1.0, max_epochs=100) -> gn.Perceptron:
    p = gn.Perceptron(X.shape[1], lr=lr, max_epochs=max_epochs)
    with warnings.catch_warnings(record=True) as caught:  # warns if not converged
        warnings.simplefilter("always")
        p.fit(X, y)
    assert all(w.category is NotLinearlySeparableWarning for w in caught)
    assert len(caught) == (0 if p.converged_ else 1)
    return p


def hand_rule(X, y, lr, max_epochs, w0, b0):
    """The perceptron rule in plain Python floats: one record per sample, and how it
    ended ("converged", ("cycle", epoch of the repeated state) or "stopped")."""
    w, b = [float(v) for v in w0], float(b0)
    seen = {(*w, b): 0}
    log, mistakes_per_epoch = [], []
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for i, (x_i, y_i) in enumerate(zip(X.tolist(), y.tolist(), strict=True)):
            z = sum(xj * wj for xj, wj in zip(x_i, w, strict=True)) + b
            y_hat = 1.0 if z >= 0 else 0.0
            entry = dict(epoch=epoch, sample=i + 1, w=list(w), b=b, z=z, y=y_i)
            entry.update(y_hat=y_hat, error=y_i - y_hat)
            if y_hat != y_i:
                step = lr * (y_i - y_hat)
                w = [wj + step * xj for wj, xj in zip(w, x_i, strict=True)]
                b = b + lr * (y_i - y_hat)
                entry.update(w_new=list(w), b_new=b)
                mistakes += 1
            log.append(entry)
        mistakes_per_epoch.append(mistakes)
        if mistakes == 0:
            return log, mistakes_per_epoch, "converged", w, b
        if (*w, b) in seen:
            return log, mistakes_per_epoch, ("cycle", seen[(*w, b)]), w, b
        seen[(*w, b)] = epoch
    return log, mistakes_per_epoch, "stopped", w, b


def fmt(value: float) -> str:
    text = f"{value:.6g}"
    return "0" if text in ("0", "-0") else text


@pytest.mark.parametrize(("name", "epochs"), [("AND", 6), ("OR", 4), ("NAND", 6)])
@pytest.mark.parametrize("lr", [1.0, 0.1])
def test_converges_to_perceptron_fit_weights_bitwise(name, epochs, lr):
    X, y = gate(name)
    trace = gn.explain_perceptron(X, y, lr=lr)
    p = fit_perceptron(X, y, lr=lr)
    assert trace.w.tobytes() == p.w.tobytes() and trace.b == p.b
    assert trace.converged and p.converged_ and trace.separable
    assert len(trace.epochs) == p.n_epochs_
    if lr == 1.0:  # the epoch counts traced by hand on the truth tables
        assert p.n_epochs_ == epochs
    assert trace.mistakes_per_epoch == p.mistakes_per_epoch_
    assert trace.mistakes_per_epoch[-1] == 0
    assert trace.message == p.message_
    assert (p.predict(X) == y).all()
    assert f"Epoch {p.n_epochs_} made no mistakes" in trace.to_text(width=200)


def test_xor_cycle_is_detected_as_perceptron_fit_detects_it():
    X, y = gate("XOR")
    trace = gn.explain_perceptron(X, y)
    p = fit_perceptron(X, y)
    assert trace.w.tobytes() == p.w.tobytes() and trace.b == p.b
    assert trace.separable is False is p.separable_ and not trace.converged
    assert len(trace.epochs) == p.n_epochs_ == 3
    assert trace.repeat_of == 2
    # by hand: epoch 2 ends at w = (-1, 0), b = 0; epoch 3 starts there and ends there
    assert trace.epochs[1]["w"] == trace.epochs[2]["w"] == [-1.0, 0.0]
    assert trace.epochs[1]["b"] == trace.epochs[2]["b"] == 0.0
    text = trace.to_text(width=200)
    assert "Cycle detected" in text
    assert (
        "After epoch 3, w = (-1, 0), b = 0: the same as at the end of epoch 2." in text
    )
    assert "so epoch 3 repeats forever" in text


def test_stops_at_the_epoch_limit_like_perceptron_fit():
    X, y = gate("AND")
    trace = gn.explain_perceptron(X, y, epochs=3)
    p = fit_perceptron(X, y, max_epochs=3)
    assert trace.w.tobytes() == p.w.tobytes() and trace.b == p.b
    assert trace.separable is None and not trace.converged
    assert trace.mistakes_per_epoch == p.mistakes_per_epoch_ == [2, 3, 3]
    assert "Not converged" in trace.to_text()


@pytest.mark.parametrize("name", list(GATES))
@pytest.mark.parametrize(
    ("lr", "w0", "b0"), [(1.0, None, 0.0), (0.5, [0.25, -0.5], 0.125)]
)
def test_every_sample_against_the_rule_by_hand(name, lr, w0, b0):
    X, y = gate(name)
    trace = gn.explain_perceptron(X, y, lr=lr, w0=w0, b0=b0)
    log, mistakes, end, w, b = hand_rule(
        X, y, lr, 100, [0, 0] if w0 is None else w0, b0
    )
    assert trace.mistakes_per_epoch == mistakes
    assert trace.w.tolist() == w and trace.b == b
    assert (end == "converged") is trace.converged
    if end != "converged":
        assert end == ("cycle", trace.repeat_of)
    text = trace.to_text(width=200)
    blocks = re.split(r"\n(?=Epoch \d+, sample \d+: |End of epoch )", text)[1:]
    samples = [blk for blk in blocks if not blk.startswith("End of epoch")]
    assert len(samples) == len(log)
    for entry, block in zip(log, samples, strict=True):
        k = f"e{entry['epoch']}.s{entry['sample']}"
        x = X[entry["sample"] - 1]
        assert trace[f"{k}.w"].tolist() == entry["w"] and trace[f"{k}.b"] == entry["b"]
        assert trace[f"{k}.z"] == entry["z"] and trace[f"{k}.y_hat"] == entry["y_hat"]
        assert trace[f"{k}.error"] == entry["error"]
        heading = f"Epoch {entry['epoch']}, sample {entry['sample']}: "
        heading += f"x = ({fmt(x[0])}, {fmt(x[1])}), y = {fmt(entry['y'])}"
        assert block.startswith(heading + "\n")
        lines = [line.strip() for line in block.splitlines()]
        assert f"step({fmt(entry['z'])})" in block
        assert lines[lines.index("e = y − ŷ") + 1 :][:2] == [
            f"= {fmt(entry['y'])} − {fmt(entry['y_hat'])}",
            f"= {fmt(entry['error'])}",
        ]
        if "w_new" not in entry:
            assert "No change" in block and f"{k}.w_new" not in trace.quantities
            continue
        assert trace[f"{k}.w_new"].tolist() == entry["w_new"]
        assert trace[f"{k}.b_new"] == entry["b_new"]
        assert lines[lines.index("b_new = b + η (y − ŷ)") + 1 :][:2] == [
            f"= {fmt(entry['b'])} + {fmt(lr)} × ({fmt(entry['y'])} − "
            f"{fmt(entry['y_hat'])})",
            f"= {fmt(entry['b_new'])}",
        ]
        assert "No change" not in block


def test_all_four_renderings_and_json_holds_every_w_and_b():
    X, y = gate("OR")
    trace = gn.explain_perceptron(X, y, lr=0.5)
    log, *_ = hand_rule(X, y, 0.5, 100, [0.0, 0.0], 0.0)
    doc = json.loads(trace.to_json())
    assert doc["format"] == "glassnet-explain-perceptron/1"
    assert doc["X"] == X.tolist() and doc["y"] == y.tolist() and doc["lr"] == 0.5
    flat = [s for epoch in doc["epochs"] for s in epoch["samples"]]
    assert len(flat) == len(log)
    for got, entry in zip(flat, log, strict=True):
        for key in ("w", "b", "z", "y_hat", "error", "w_new", "b_new"):
            assert got.get(key) == entry.get(key)
    assert doc["w"] == trace.w.tolist() and doc["b"] == trace.b
    assert doc["epochs"][-1]["w"] == doc["w"] and doc["converged"] is True
    bias_steps = [s for s in doc["steps"] if s["title"] == "New bias"]
    # sample (0, 0) of OR: z = 0, so y_hat = 1 for y = 0, and b = 0 + 0.5 (0 - 1)
    assert bias_steps[0]["numbers"] == r"0 + 0.5 \times \left( 0 - 1 \right) = -0.5"
    html = trace.to_html()
    assert html.startswith("<!DOCTYPE html>") and html.count("<math") > 10
    assert "Perceptron learning rule" in html and "Outcome" in html
    assert trace._repr_html_().startswith('<div class="gx">')
    md = trace.to_markdown()
    assert r"\hat{y} &= \operatorname{step}\left( w \cdot x + b \right)" in md
    assert "## Outcome" in md


def test_snapshot_of_and_text():
    check_snapshot("perceptron_and.txt", gn.explain_perceptron(*gate("AND")).to_text())


def test_snapshot_of_and_markdown():
    trace = gn.explain_perceptron(*gate("AND"))
    check_snapshot("perceptron_and.md", trace.to_markdown())


def test_explain_of_a_perceptron_uses_its_lr_and_max_epochs():
    X, y = gate("NAND")
    trace = gn.explain(gn.Perceptron(2, lr=0.25, max_epochs=4), X, y)
    expected = gn.explain_perceptron(X, y, lr=0.25, epochs=4)
    assert trace.to_json() == expected.to_json()
    with pytest.raises(ValueError, match="loss do not apply"):
        gn.explain(gn.Perceptron(2), X, y, loss="mse")
    with pytest.raises(ValueError, match="y is missing"):
        gn.explain(gn.Perceptron(2), X)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(y=[0, 1, 2, 0]), "labels must be 0 or 1"),
        (dict(y=[0, 1]), "samples"),
        (dict(lr=0), "lr must be"),
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(w0=[1.0]), "w0 must have 2 entries"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    X, y = gate("AND")
    args = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=message):
        gn.explain_perceptron(X, **args)


@pytest.mark.parametrize("name", [*GATES, "and"])
def test_cli_walks_each_gate(name, capsys):
    assert main(["explain", "--perceptron", name]) == 0
    assert capsys.readouterr().out == gn.explain_perceptron(*gate(name)).to_text()
    argv = ["explain", "--perceptron", name, "--lr", "0.5", "--epochs", "2"]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = gn.explain_perceptron(*gate(name), lr=0.5, epochs=2)
    assert doc["w"] == expected.w.tolist() and doc["lr"] == 0.5
    assert len(doc["epochs"]) <= 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--perceptron", "XAND"], "gate must be one of AND, OR, NAND, XOR"),
        (["--perceptron", "AND", "--input", "1,2"], "not used with --perceptron"),
        (["--perceptron", "AND", "--lr", "-1"], "lr must be"),
        (["--epochs", "3"], "--epochs goes with --perceptron"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys):
    assert main(["explain", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_writes_html(tmp_path, capsys):
    out = tmp_path / "and.html"
    assert main(["explain", "--perceptron", "AND", "--out", str(out)]) == 0
    assert (
        out.read_text(encoding="utf-8") == gn.explain_perceptron(*gate("AND")).to_html()
    )
    assert str(out) in capsys.readouterr().out


def test_docs_perceptron_commands_run_and_say_what_they_print(
    tmp_path, monkeypatch, capsys
):
    page = Path(__file__).parent.parent / "docs" / "explain.md"
    section = page.read_text(encoding="utf-8").split("## The perceptron learning rule")[
        1
    ]
    block = section.split("```\n", 2)[1]
    commands = [line.split("  ")[0].split()[2:] for line in block.splitlines()]
    assert len(commands) == 3
    monkeypatch.chdir(tmp_path)
    for argv in commands:
        assert main(["explain", *argv]) == 0
    assert (tmp_path / "or.html").exists()
    out = capsys.readouterr().out
    assert "Epoch 6 made no mistakes" in out and "w = (2, 1), b = -3" in out
    assert "After epoch 3, w = (-1, 0), b = 0: the same as at the end of epoch" in (
        " ".join(out.split())
    )
