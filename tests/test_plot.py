"""gn.plot: every picture is a real PNG with the right content; matplotlib stays
optional; ``glassnet plot`` writes the files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main

pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
from PIL import Image  # noqa: E402  (installed with matplotlib)


def assert_png(path, min_size=(300, 200)):
    """A PNG of at least ``min_size`` pixels with real content (not one flat colour)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 10 and len(np.unique(pixels)) > 20


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_history_png_from_a_fit_history(tmp_path):
    X, y = gn.datasets.moons(n_samples=60, noise=0.2, seed=0)
    net = gn.Sequential(gn.Dense(2, 8, "tanh"), gn.Dense(8, 1, "sigmoid"), seed=0)
    history = net.fit(
        X, y, loss="binary_crossentropy", epochs=12, batch_size=None, verbose=0,
        validation_split=0.25, metrics=["accuracy"],
    )  # fmt: skip
    fig = gn.plot.history(history, path=tmp_path / "history.png")
    assert_png(tmp_path / "history.png")
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_visible()] == [
        "loss",
        "accuracy",
    ]
    loss_ax = fig.axes[0]
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    np.testing.assert_array_equal(
        lines["training"].get_ydata(), history.history["loss"]
    )
    best = int(np.argmin(history.history["val_loss"])) + 1  # epochs count from 1
    assert f"epoch {best}" in " ".join(texts(fig))
    # the same curves from the JSON file History.to_json writes, and from a plain dict
    history.to_json(tmp_path / "history.json")
    doc = json.loads((tmp_path / "history.json").read_text())
    for source in (doc, doc["history"]):
        again = gn.plot.history(source)
        np.testing.assert_array_equal(
            again.axes[0].get_lines()[0].get_ydata(), history.history["loss"]
        )


def test_history_learning_rate_panel_and_bad_input():
    fig = gn.plot.history({"loss": [1.0, 0.5, 0.4], "lr": [0.1, 0.05, 0.025]})
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_visible()] == ["loss", "lr"]
    with pytest.raises(TypeError, match="history must be a History"):
        gn.plot.history([0.5, 0.4])
    with pytest.raises(ValueError, match="history has no 'accuracy'; it records"):
        gn.plot.history({"loss": [1.0]}, metrics=["accuracy"])
    with pytest.raises(ValueError, match="history has no epochs to plot"):
        gn.plot.history({"loss": []})


def test_decision_boundary_png_binary_and_multiclass(tmp_path):
    X, y = gn.datasets.moons(n_samples=80, noise=0.1, seed=1)
    net = gn.Sequential(gn.Dense(2, 8, "tanh"), gn.Dense(8, 1, "sigmoid"), seed=1)
    net.fit(X, y, loss="binary_crossentropy", epochs=60, batch_size=None, verbose=0,
            optimizer=gn.Adam(lr=0.05))  # fmt: skip
    fig = gn.plot.decision_boundary(net, X, y, resolution=80, path=tmp_path / "b.png")
    assert_png(tmp_path / "b.png")
    accuracy = 100 * np.mean((net.forward(X)[:, 0] >= 0.5) == y)
    assert fig.axes[0].get_title().endswith(f"accuracy {accuracy:.1f}%")

    X3, y3 = gn.datasets.spirals(n_samples=90, n_classes=3, seed=0)
    net3 = gn.Sequential(gn.Dense(2, 3, "softmax"), seed=0)
    fig = gn.plot.decision_boundary(
        net3, X3, y3, resolution=60, path=tmp_path / "m.png"
    )
    assert_png(tmp_path / "m.png")
    accuracy = 100 * np.mean(net3.forward(X3).argmax(axis=1) == y3)
    assert fig.axes[0].get_title().endswith(f"accuracy {accuracy:.1f}%")


def test_decision_boundary_bad_input():
    with pytest.raises(
        ValueError,
        match="draws networks with 2 inputs, got a network with in_features=3",
    ):
        gn.plot.decision_boundary(
            gn.Sequential(gn.Dense(3, 1), seed=0), np.zeros((2, 3)), [0, 1]
        )
    net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    with pytest.raises(ValueError, match="X has 3 features per sample"):
        gn.plot.decision_boundary(net, np.zeros((2, 3)), [0, 1])
    with pytest.raises(
        ValueError, match="X and y have different numbers of samples: 2 and 3"
    ):
        gn.plot.decision_boundary(net, np.zeros((2, 2)), [0, 1, 1])
    with pytest.raises(TypeError, match="net must be a glassnet Sequential, got dict"):
        gn.plot.decision_boundary({}, np.zeros((2, 2)), [0, 1])


# fmt: skip


def test_network_png_with_values_and_summarised_wide_layers(tmp_path):
    fig = gn.plot.network(gn.worked_example.seed003_network(), path=tmp_path / "n.png")
    assert_png(tmp_path / "n.png")
    labels = texts(fig)
    for w in ("0.2", "0.4", "0.1", "0.6", "0.7", "0.9"):  # every seed 003 weight
        assert w in labels
    assert {"b = 0.3", "b = 0.5", "b = 0.2"} <= set(labels)
    ax = fig.axes[0]
    # one line per connection: 2*2 + 2*1, coloured by sign (all positive here)
    assert len(ax.get_lines()) == 6
    assert {line.get_color() for line in ax.get_lines()} == {gn.plot.POSITIVE}

    wide = gn.Sequential(gn.Dense(50, 8, "relu"), gn.Dense(8, 3, "softmax"), seed=0)
    fig = gn.plot.network(wide, path=tmp_path / "w.png")
    assert_png(tmp_path / "w.png")
    assert "+ 31 more" in texts(fig)  # 19 of 50 inputs drawn
    assert len(fig.axes[0].get_lines()) == 19 * 8 + 8 * 3
    colours = {line.get_color() for line in fig.axes[0].get_lines()}
    assert colours == {gn.plot.POSITIVE, gn.plot.NEGATIVE}
    with pytest.raises(ValueError, match="max_neurons must be at least 3, got 2"):
        gn.plot.network(wide, max_neurons=2)


def test_activations_png_finds_dead_relus_and_saturated_sigmoids(tmp_path):
    net = gn.Sequential(gn.Dense(2, 3, "relu"), gn.Dense(3, 2, "sigmoid"), seed=0,
                        dtype="float64")  # fmt: skip
    net.layers[0].W = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    net.layers[0].b = [0.0, 0.0, -1.0]  # unit 3: z = -1 for every input, dead
    net.layers[1].W = [[50.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    net.layers[1].b = [0.0, 0.0]
    X = np.random.default_rng(0).uniform(0.5, 1.0, size=(40, 2))
    fig = gn.plot.activations(net, X, path=tmp_path / "a.png")
    assert_png(tmp_path / "a.png")
    notes = texts(fig)
    assert "dead units: 1 of 3\nzeros: 33%" in notes
    # sigmoid(50 x1) > 0.98 for x1 >= 0.5: half the outputs (unit 1) saturated
    assert "saturated: 50%" in notes


def test_without_matplotlib_the_error_names_the_extra(monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    with pytest.raises(ImportError, match=r'pip install "glassnet\[plot\]"'):
        gn.plot.network(gn.worked_example.seed003_network())
    assert main(["plot", "network", "--out", "unused.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("glassnet plot: error: glassnet's plots need matplotlib")
    assert len(err.splitlines()) == 1


def test_import_glassnet_needs_no_matplotlib_and_plots_never_touch_pyplot():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import glassnet as gn\n"
        "net, X, y = gn.worked_example.seed003_example()\n"
        "print(round(gn.explain(net, X, y).loss_value, 6))\n"
        "del sys.modules['matplotlib']\n"
        "import matplotlib\n"
        "backend = dict.__getitem__(matplotlib.rcParams, 'backend')\n"  # unresolved
        "gn.plot.network(net)\n"
        "same = dict.__getitem__(matplotlib.rcParams, 'backend') is backend\n"
        "print('matplotlib.pyplot' in sys.modules, same)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.063181", "False", "True"]


# -- the command ----------------------------------------------------------------------


def test_cli_plot_writes_every_picture(tmp_path, capsys):
    X, y = gn.datasets.xor(n_repeats=5, seed=0)
    net = gn.Sequential(gn.Dense(2, 4, "tanh"), gn.Dense(4, 1, "sigmoid"), seed=0)
    history = net.fit(X, y, loss="binary_crossentropy", epochs=3, verbose=0)
    history.to_json(tmp_path / "history.json")
    model = tmp_path / "net.safetensors"
    gn.save(net, model)
    runs = [
        ["history", str(tmp_path / "history.json")],
        ["network"],
        ["network", "--model", str(model)],
        ["boundary", "--samples", "40", "--epochs", "20"],
        ["boundary", "--model", str(model), "--dataset", "circles", "--samples", "40"],
        ["activations", "--dataset", "spirals", "--samples", "30", "--epochs", "5"],
    ]
    for n, argv in enumerate(runs):
        out = tmp_path / f"picture{n}.png"
        assert main(["plot", *argv, "--out", str(out)]) == 0, argv
        assert_png(out)
        assert f"to {out}" in capsys.readouterr().out
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json"] + [".png"] * 6 + [
        ".safetensors"
    ]  # no temporary files left behind


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "missing.json"], "No such file or directory: 'missing.json'"),
        (["boundary", "--samples", "3"], "--samples must be at least 8, got 3"),
        (["boundary", "--epochs", "0"], "--epochs must be at least 1, got 0"),
    ],
)
def test_cli_plot_bad_input(argv, message, capsys, tmp_path):
    assert main(["plot", *argv, "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_cli_plot_bad_history_file_and_model_width(tmp_path, capsys):
    bad = tmp_path / "history.json"
    bad.write_text("not json")
    assert main(["plot", "history", str(bad), "--out", str(tmp_path / "h.png")]) == 1
    assert "is not JSON" in capsys.readouterr().err
    model = tmp_path / "wide.safetensors"
    gn.save(gn.Sequential(gn.Dense(3, 1), seed=0), model)
    argv = ["plot", "boundary", "--model", str(model), "--out", str(tmp_path / "b.png")]
    assert main(argv) == 1
    assert (
        "takes 3 inputs; the built-in datasets have 2 features"
        in capsys.readouterr().err
    )
