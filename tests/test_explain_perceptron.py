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

import numpy as np
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
    return "0" if text in ("0", "-0") else text.replace("-", "−")  # the math's minus


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
        "After epoch 3, w = (−1, 0), b = 0: the same as at the end of epoch 2." in text
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
        (["--perceptron", "AND", "--optimizer", "adam"], "--optimizer: not used"),
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
    assert "Epoch 6 made no mistakes" in out and "w = (2, 1), b = −3" in out
    assert "After epoch 3, w = (−1, 0), b = 0: the same as at the end of epoch" in (
        " ".join(out.split())
    )


# -- on a data file -------------------------------------------------------------------------
def write_csv(path, X, labels, header=("a", "b", "label")):
    lines = [",".join(header)]
    lines += [
        f"{a!r},{b!r},{label}" for (a, b), label in zip(X.tolist(), labels, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def points(seed=0, n=24):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))


def test_cli_csv_separable_converges_to_perceptron_fit_bitwise(tmp_path, capsys):
    X = points()
    side = X[:, 0] + 2 * X[:, 1] - 0.3 > 0  # a line: linearly separable
    path = write_csv(tmp_path / "sep.csv", X, np.where(side, "yes", "no"))
    argv = ["explain", "--perceptron", path, "--target", "label", "--lr", "0.5"]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    y = side.astype(float)  # classes sorted: "no" -> 0, "yes" -> 1
    p = fit_perceptron(X, y, lr=0.5)
    assert p.converged_ and doc["converged"] and doc["separable"]
    assert np.array(doc["w"]).tobytes() == p.w.tobytes() and doc["b"] == p.b
    assert doc["X"] == X.tolist() and doc["y"] == y.tolist()
    assert len(doc["epochs"]) == p.n_epochs_
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "target 'label': 'no' → 0, 'yes' → 1" in text
    assert f"Epoch {p.n_epochs_} made no mistakes" in text


def test_cli_csv_not_separable_cycles_or_states_the_limit(tmp_path, capsys):
    X = points(1)
    same = X[:, 0] * X[:, 1] > 0  # XOR of the signs: no line separates it
    path = write_csv(tmp_path / "xor.csv", X, np.where(same, 1, 0))
    argv = ["explain", "--perceptron", path, "--target", "label", "--epochs", "15"]
    assert main([*argv, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    p = fit_perceptron(X, same.astype(float), max_epochs=15)
    assert not doc["converged"] and not p.converged_
    assert np.array(doc["w"]).tobytes() == p.w.tobytes() and doc["b"] == p.b
    assert doc["mistakes_per_epoch"] == p.mistakes_per_epoch_
    assert min(doc["mistakes_per_epoch"]) > 0
    assert main(argv) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Stopped after 15 epochs" in text or "Cycle detected" in text
    assert "target 'label': 0 → 0, 1 → 1" in text


def test_cli_csv_features_choose_columns(tmp_path, capsys):
    X = points(2)
    path = tmp_path / "three.csv"
    noise = np.random.default_rng(5).normal(size=len(X))
    rows = [
        f"{a!r},{b!r},{c!r},{int(a > 0.1)}"
        for (a, b), c in zip(X.tolist(), noise.tolist(), strict=True)
    ]
    path.write_text("a,b,c,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    argv = ["explain", "--perceptron", str(path), "--target", "label"]
    assert main([*argv, "--features", "a", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    p = fit_perceptron(X[:, :1], (X[:, 0] > 0.1).astype(float))
    assert np.array(doc["w"]).tobytes() == p.w.tobytes() and doc["b"] == p.b


@pytest.mark.parametrize(
    ("labels", "extra", "message"),
    [
        (["a", "b", "c"] * 8, [], "holds 3 distinct values ('a', 'b', 'c')"),
        (["a"] * 24, [], "holds 1 distinct value ('a')"),
        (["0", "1"] * 12, ["--target", "nope"], "no target column 'nope'"),
        (["0", "1"] * 12, ["--input", "1,2"], "--input: not used with --perceptron"),
        (["0", "1"] * 12, ["--features", "a,zz"], "no feature column 'zz'"),
    ],
)
def test_cli_csv_errors_are_one_line(tmp_path, labels, extra, message, capsys):
    path = write_csv(tmp_path / "d.csv", points(), labels)
    argv = ["explain", "--perceptron", path]
    argv += extra if "--target" in extra else ["--target", "label", *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_csv_needs_target_and_features_need_a_file(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", points(), ["0", "1"] * 12)
    assert main(["explain", "--perceptron", path]) == 1
    assert "needs --target COLUMN" in capsys.readouterr().err
    assert main(["explain", "--perceptron", "AND", "--features", "a"]) == 1
    assert "--features: not used with --perceptron" in capsys.readouterr().err
    assert main(["explain", "--features", "a"]) == 1
    assert "--features goes with --perceptron FILE" in capsys.readouterr().err


def test_docs_csv_commands_run(tmp_path, monkeypatch, capsys):
    page = Path(__file__).parent.parent / "docs" / "explain.md"
    section = page.read_text(encoding="utf-8").split("### On a data file")[1]
    block = section.split("```\n", 2)[1]
    commands = [line.split()[2:] for line in block.splitlines()]
    assert len(commands) == 2
    X = points(3)
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "points.csv", X, np.where(X[:, 0] > X[:, 1], "yes", "no"))
    for argv in commands:
        assert main(["explain", *argv]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "target 'label': 'no' → 0, 'yes' → 1" in out and "made no mistakes" in out
