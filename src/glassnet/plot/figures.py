"""Pictures of networks and their training, with matplotlib (the ``plot`` extra).

- ``history(history)``: loss and metrics per epoch, training and validation.
- ``decision_boundary(net, X, y)``: a 2-feature classifier's regions, with the points.
- ``network(net)``: neurons and connections; edge colour from the weight's sign, width
  from its size.
- ``activations(net, X)``: a histogram of each layer's outputs, to spot dead ReLUs and
  saturated sigmoids.

Each returns a ``matplotlib.figure.Figure`` and, given ``path``, also writes it there
(PNG, SVG or PDF by extension; written atomically). Figures are made on matplotlib's Agg
canvas directly, never through pyplot: nothing opens a window, nothing changes the
caller's matplotlib backend, and in Jupyter a returned figure displays itself.

Examples
--------
>>> import glassnet as gn
>>> fig = gn.plot.network(gn.worked_example.seed003_network())
>>> [ax.get_title() for ax in fig.axes][:1]
['Sequential 2 → 2 (ReLU) → 1 (sigmoid)']
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.network import Sequential
from ..validation import check_input_matrix, check_positive_int

#: Colours: positive weights blue, negative red (colour-blind safe pair).
POSITIVE, NEGATIVE = "#2166ac", "#b2182b"
CLASS_COLOURS = ["#2166ac", "#d6604d", "#1b7837", "#762a83", "#e08214", "#35978f"]
_INSTALL = 'glassnet\'s plots need matplotlib: pip install "glassnet[plot]"'


def _matplotlib():
    """(Figure, FigureCanvasAgg), or an ImportError saying which extra to install."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"{_INSTALL} (could not import matplotlib: {error})"
        ) from None
    return Figure, FigureCanvasAgg


def _figure(width: float, height: float):
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas: savefig needs no pyplot
    return fig


def _finish(fig, path):
    if path is not None:
        save(fig, path)
    return fig


def save(fig, path, dpi: int = 150) -> str:
    """Write ``fig`` to ``path`` (format from the extension), atomically: a temporary
    file in the same folder, then a rename, so a reader never sees half a PNG."""
    from ..io.atomic import atomic_write

    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    atomic_write(path, buffer.getvalue())
    return path


# -- training history ---------------------------------------------------------------
def _history_lists(history) -> tuple[dict, list]:
    """(dict name -> per-epoch values, epoch numbers) from a History, its dict / JSON
    form, or a plain dict of lists (Keras' ``history.history``)."""
    epochs = None
    if hasattr(history, "history") and isinstance(history.history, dict):
        epochs = getattr(history, "epoch", None)
        logs = history.history
    elif isinstance(history, dict) and isinstance(history.get("history"), dict):
        epochs, logs = history.get("epoch"), history["history"]
    elif isinstance(history, dict):
        logs = history
    else:
        raise TypeError(
            "history must be a History (from fit), its to_dict()/JSON form, or a dict "
            f"of per-epoch lists such as {{'loss': [...]}}, got {type(history).__name__}"
        )
    lists = {}
    for name, values in logs.items():
        if not isinstance(values, (list, tuple, np.ndarray)):
            raise TypeError(
                f"history[{name!r}] must be a list with one value per epoch, "
                f"got {type(values).__name__}"
            )
        lists[str(name)] = np.array(
            [np.nan if v is None else v for v in values], dtype=float
        )
    if not lists or not any(v.size for v in lists.values()):
        raise ValueError("history has no epochs to plot")
    n = max(v.size for v in lists.values())
    epochs = list(range(n)) if epochs is None or len(epochs) != n else list(epochs)
    return lists, [e + 1 for e in epochs]  # 1-based, as progress bars count


def history(history, metrics=None, *, path=None, title: str | None = None):
    """Loss and metrics per epoch, training (solid) and validation (dashed).

    One panel for the loss, one per metric ("accuracy", ...), and one for the learning
    rate when it changed during training. The best validation loss is marked.

    Parameters
    ----------
    history : History, its ``to_dict()`` / JSON form, or a dict of per-epoch lists
    metrics : names of the metrics to plot (default: every one recorded)
    path : optional file to write the figure to

    Examples
    --------
    >>> import glassnet as gn
    >>> fig = gn.plot.history({"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6]})
    >>> fig.axes[0].get_ylabel()
    'loss'
    """
    lists, epochs = _history_lists(history)
    skip = {"epoch_time", "lr"}
    names = [k for k in lists if not k.startswith("val_") and k not in skip]
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    if metrics is not None:
        unknown = [m for m in metrics if m not in lists]
        if unknown:
            raise ValueError(
                f"history has no {unknown[0]!r}; it records {sorted(lists)}"
            )
        names = ["loss"] * ("loss" in lists) + [m for m in metrics if m != "loss"]
    lr = lists.get("lr")
    show_lr = bool(lr is not None and np.nanmax(lr) != np.nanmin(lr))
    panels = names + ["lr"] * show_lr
    if not panels:  # only validation values were logged
        panels = [k[4:] for k in lists if k.startswith("val_")][:1]
    fig = _figure(4.2 * min(len(panels), 3), 3.3 * ((len(panels) + 2) // 3))
    axes = fig.subplots((len(panels) + 2) // 3, min(len(panels), 3), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    x = np.asarray(epochs)
    for ax, name in zip(axes.flat, panels, strict=False):
        if name == "lr":
            ax.plot(x, lr, color="#555555", lw=1.8)
            ax.set_yscale("log")
        else:
            if name in lists:
                ax.plot(x, lists[name], color=POSITIVE, lw=2, label="training")
            if f"val_{name}" in lists:
                val = lists[f"val_{name}"]
                ax.plot(x, val, color=NEGATIVE, lw=2, ls="--", label="validation")
                if name == "loss" and np.isfinite(val).any():
                    best = int(np.nanargmin(val))
                    ax.plot(x[best], val[best], "o", color=NEGATIVE, ms=7)
                    ax.annotate(
                        f"best {val[best]:.4g}\nepoch {x[best]}",
                        (x[best], val[best]),
                        textcoords="offset points",
                        xytext=(6, 10),
                        fontsize=8,
                        color=NEGATIVE,
                    )
            ax.legend(frameon=False, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if len(x) < 15:
            ax.set_xticks(x)
    fig.suptitle(title or "Training history")
    return _finish(fig, path)


# -- decision boundary ----------------------------------------------------------------
def _labels(y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1)
    if y.shape[0] != n:
        raise ValueError(
            f"X and y have different numbers of samples: {n} and {y.shape[0]}"
        )
    return np.rint(y).astype(int)


def decision_boundary(
    net: Sequential,
    X,
    y,
    *,
    resolution: int = 300,
    path=None,
    title: str | None = None,
):
    """The regions a 2-feature classifier assigns to each class, with the data on top.

    One sigmoid (or other single) output: the colour is the predicted probability of
    class 1 and the line is the boundary p = 0.5 (0 for an unbounded output). Several
    outputs: each region takes the colour of its arg-max class, fainter where the
    network is less sure.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), seed=0)
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> fig = gn.plot.decision_boundary(net, X, [0, 1], resolution=50)
    >>> "accuracy" in fig.axes[0].get_title()
    True
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    if net.in_features != 2:
        raise ValueError(
            "decision_boundary draws networks with 2 inputs, got a network with "
            f"in_features={net.in_features}"
        )
    X = check_input_matrix(X, 2, np.float64)
    labels = _labels(y, X.shape[0])
    resolution = check_positive_int(resolution, "resolution")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.12 * np.maximum(hi - lo, 1e-9)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    G0, G1 = np.meshgrid(g0, g1)
    grid = np.column_stack([G0.ravel(), G1.ravel()])
    out = np.concatenate(
        [
            net.forward(chunk)
            for chunk in np.array_split(grid, max(1, grid.shape[0] // 8192))
        ]
    ).astype(float)
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap

    fig = _figure(6.2, 5.2)
    ax = fig.subplots()
    if out.shape[1] == 1:
        p = out[:, 0].reshape(G0.shape)
        bounded = 0.0 <= p.min() and p.max() <= 1.0
        threshold = 0.5 if bounded else 0.0
        predicted = (net.forward(X)[:, 0] >= threshold).astype(int)
        levels = np.linspace(0, 1, 21) if bounded else 20
        # low p in class 0's colour, high p in class 1's, as the points are drawn
        cmap = LinearSegmentedColormap.from_list(
            "p", [CLASS_COLOURS[0], "#f7f7f7", CLASS_COLOURS[1]]
        )
        filled = ax.contourf(G0, G1, p, levels=levels, cmap=cmap, alpha=0.5)
        ax.contour(G0, G1, p, levels=[threshold], colors="k", linewidths=1.6)
        bar = fig.colorbar(filled, ax=ax, shrink=0.85)
        bar.set_label("P(class 1)" if bounded else "output")
        bar.ax.axhline(threshold, color="k", lw=1.2)
    else:
        k = out.shape[1]
        cls = out.argmax(axis=1).reshape(G0.shape)
        confidence = out.max(axis=1).reshape(G0.shape)
        colours = [CLASS_COLOURS[c % len(CLASS_COLOURS)] for c in range(k)]
        ax.contourf(
            G0,
            G1,
            cls,
            levels=np.arange(k + 1) - 0.5,
            cmap=ListedColormap(colours),
            alpha=0.35,
        )
        # fade where the network is unsure: white overlay of opacity 1 - confidence
        shade = np.ones(G0.shape + (4,))
        shade[..., 3] = np.clip(1.0 - confidence, 0.0, 1.0) * 0.6
        ax.imshow(
            shade, extent=(g0[0], g0[-1], g1[0], g1[-1]), origin="lower", aspect="auto"
        )
        ax.contour(G0, G1, cls, levels=np.arange(k) + 0.5, colors="k", linewidths=1.2)
        predicted = net.forward(X).argmax(axis=1)
    for c in np.unique(labels):
        mask = labels == c
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            s=24,
            color=CLASS_COLOURS[c % len(CLASS_COLOURS)],
            edgecolors="#1a1a1a",
            linewidths=0.6,
            label=f"class {c}",
            zorder=3,
        )
    wrong = predicted != labels
    if wrong.any():
        ax.scatter(
            X[wrong, 0],
            X[wrong, 1],
            s=70,
            facecolors="none",
            edgecolors="k",
            linewidths=1.1,
            label="misclassified",
            zorder=4,
        )
    ax.legend(loc="best", fontsize=8, framealpha=0.85)
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    accuracy = 100.0 * (1.0 - wrong.mean())
    ax.set_title(f"{title or 'Decision boundary'} · accuracy {accuracy:.1f}%")
    return _finish(fig, path)


# -- the network itself ---------------------------------------------------------------
def _columns(net: Sequential):
    """[(label, width, W or None, b or None)] for the input and each Dense output."""
    columns = [(f"input\n{net.in_features}", net.in_features, None, None)]
    for layer in net.layers:
        if isinstance(layer, Dense):
            name = layer.activation.name
            columns.append(
                (
                    f"Dense {layer.out_features}\n{name}",
                    layer.out_features,
                    layer.W,
                    layer.b if layer.use_bias else None,
                )
            )
        elif isinstance(layer, ActivationLayer):
            label, width, W, b = columns[-1]
            columns[-1] = (f"{label} → {layer.activation.name}", width, W, b)
        elif isinstance(layer, Dropout):
            label, width, W, b = columns[-1]
            columns[-1] = (f"{label}\ndropout {layer.p:g}", width, W, b)
    return columns


def _shown(width: int, max_neurons: int) -> list[int]:
    """Indices of the neurons drawn for a layer: all, or the first max_neurons - 1."""
    return list(range(width if width <= max_neurons else max_neurons - 1))


def network(
    net: Sequential,
    *,
    max_neurons: int = 20,
    values: bool | None = None,
    path=None,
    title=None,
):
    """The network as neurons (circles) and connections (lines).

    A line's colour is its weight's sign (blue +, red -) and its width and opacity its
    size, relative to the largest weight in the network; a neuron's fill is its bias
    on the same scale. Layers wider than ``max_neurons`` show their first neurons and
    "+ N more". ``values`` writes each weight and bias beside it (by default when the
    network has at most 30 connections, as the seed texts' small examples do).

    Examples
    --------
    >>> import glassnet as gn
    >>> fig = gn.plot.network(gn.Sequential(gn.Dense(50, 8, "relu"), gn.Dense(8, 3)))
    >>> any("+ 31 more" in t.get_text() for t in fig.axes[0].texts)
    True
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    max_neurons = check_positive_int(max_neurons, "max_neurons")
    if max_neurons < 3:
        raise ValueError(f"max_neurons must be at least 3, got {max_neurons}")
    from matplotlib.colors import LinearSegmentedColormap

    columns = _columns(net)
    shown = [_shown(width, max_neurons) for _, width, _, _ in columns]
    counts = [
        len(s) + (w > max_neurons)
        for s, (_, w, _, _) in zip(shown, columns, strict=True)
    ]
    tallest = max(counts)
    height = max(3.4, 0.36 * tallest + 2.0)
    fig = _figure(max(5.0, 2.3 * len(columns) + 0.8), height)
    ax = fig.subplots()
    ax.set_axis_off()
    weights = [np.abs(W).max() for _, _, W, _ in columns if W is not None and W.size]
    biases = [np.abs(b).max() for _, _, _, b in columns if b is not None and b.size]
    scale = max(weights + biases + [1e-12])
    cmap = LinearSegmentedColormap.from_list("sign", [NEGATIVE, "#f7f7f7", POSITIVE])
    top = (tallest - 1) / 2.0

    def y_of(n, count):  # a column's neurons centred on 0, one unit apart
        return (count - 1) / 2.0 - n

    positions = []
    for c, ((label, width, _, _), idx) in enumerate(zip(columns, shown, strict=True)):
        positions.append({i: (float(c), y_of(n, counts[c])) for n, i in enumerate(idx)})
        ax.text(c, top + 0.8, label, ha="center", va="bottom", fontsize=9)
        if width > max_neurons:
            ax.text(
                c,
                y_of(counts[c] - 1, counts[c]),
                f"+ {width - len(idx)} more",
                ha="center",
                va="center",
                fontsize=8,
                color="#555555",
            )
    n_edges = sum(W.size for _, _, W, _ in columns if W is not None)
    values = n_edges <= 30 if values is None else bool(values)
    label_box = {
        "boxstyle": "round,pad=0.15",
        "fc": "white",
        "ec": "none",
        "alpha": 0.85,
    }
    for c in range(1, len(columns)):
        W = columns[c][2]
        for j, (x1, y1) in positions[c].items():
            for i, (x0, y0) in positions[c - 1].items():
                w = float(W[j, i])
                strength = abs(w) / scale
                colour = POSITIVE if w >= 0 else NEGATIVE
                ax.plot(
                    [x0, x1],
                    [y0, y1],
                    color=colour,
                    lw=0.3 + 3.2 * strength,
                    alpha=0.2 + 0.7 * strength,
                    zorder=1,
                    solid_capstyle="round",
                )
                if values:  # near the receiving neuron: the weight w_ji of z_j
                    t = 0.72
                    ax.text(
                        x0 + t * (x1 - x0),
                        y0 + t * (y1 - y0),
                        f"{w:.3g}",
                        fontsize=8,
                        color=colour,
                        ha="center",
                        va="center",
                        bbox=label_box,
                        zorder=3,
                    )
    # markers are sized in points, so neurons stay round whatever the aspect ratio
    size = min(900.0, (0.55 * 72 * (height - 2.0) / max(tallest, 1)) ** 2)
    for c, ((_, _, _, b), pos) in enumerate(zip(columns, positions, strict=True)):
        xs, ys = zip(*pos.values(), strict=True)
        faces = (
            ["#ffffff"] * len(xs)
            if b is None
            else [cmap(0.5 + 0.5 * float(b[i]) / scale) for i in pos]
        )
        ax.scatter(
            xs,
            ys,
            s=size,
            c=faces,
            edgecolors="#2b2b2b" if c else "#777777",
            linewidths=1.2,
            zorder=2,
        )
        if c == 0 and len(pos) <= 12:
            for i, (x, y) in pos.items():
                ax.text(x - 0.22, y, f"x{i + 1}", ha="right", va="center", fontsize=8)
        if values and b is not None:
            for i, (x, y) in pos.items():
                ax.text(
                    x,
                    y - 0.3,
                    f"b = {float(b[i]):.3g}",
                    ha="center",
                    va="top",
                    fontsize=8,
                    color="#333333",
                    zorder=3,
                )
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(-top - 0.7, top + 1.6)
    from ..explaining.recorder import describe_network

    # Column labels sit above the plot area, one line each for layer, activation,
    # dropout: lift the title clear of the tallest one (about 12 points a line).
    label_lines = max(label.count("\n") + 1 for label, _, _, _ in columns)
    ax.set_title(
        title or describe_network(net), fontsize=11, pad=6 + 12 * (label_lines - 1)
    )
    ax.text(
        0.5,
        -0.01,
        f"lines: weights, blue > 0, red < 0, width ∝ |w| (max |w| = {scale:.3g}); "
        "fill: bias",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8,
        color="#444444",
    )
    return _finish(fig, path)


# -- activations ----------------------------------------------------------------------
def activations(net: Sequential, X, *, bins: int = 40, path=None, title=None):
    """A histogram of every activation's outputs over the samples X.

    Each panel says how many ReLU-family units are dead (0 for every sample) and what
    share of sigmoid / tanh outputs are saturated (within 0.02 of their bounds, where
    the slope, and so the gradient, nearly vanishes).

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> net = gn.Sequential(gn.Dense(3, 8, "relu"), gn.Dense(8, 1, "sigmoid"), seed=0)
    >>> fig = gn.plot.activations(net, np.random.default_rng(0).normal(size=(64, 3)))
    >>> len(fig.axes)
    2
    """
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    X = check_input_matrix(X, net.in_features, net.dtype)
    bins = check_positive_int(bins, "bins")
    cache = net.forward(X, return_all=True)
    panels = [
        (k, layer, step["A"])
        for k, (layer, step) in enumerate(zip(net.layers, cache, strict=True), 1)
        if isinstance(layer, (Dense, ActivationLayer))
    ]
    cols = min(len(panels), 3)
    rows = (len(panels) + cols - 1) // cols
    fig = _figure(4.2 * cols, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (k, layer, A) in zip(axes.flat, panels, strict=False):
        name = layer.activation.name
        values = np.asarray(A, dtype=float).ravel()
        ax.hist(values, bins=bins, color=POSITIVE, alpha=0.85)
        ax.set_title(f"layer {k} · {name} · {A.shape[1]} units", fontsize=10)
        ax.set_xlabel("activation a")
        ax.set_ylabel("count")
        ax.grid(alpha=0.3)
        note = _health(name, A)
        if note:
            ax.text(
                0.97,
                0.95,
                note,
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc"},
            )
    fig.suptitle(title or f"Activations over {X.shape[0]} samples")
    return _finish(fig, path)


def _health(name: str, A: np.ndarray) -> str:
    """A one-line diagnosis of a layer's outputs."""
    if name in ("relu", "step"):
        dead = int((A <= 0).all(axis=0).sum())
        zeros = float((A <= 0).mean())
        return f"dead units: {dead} of {A.shape[1]}\nzeros: {zeros:.0%}"
    if name == "sigmoid":
        return f"saturated: {float(((A < 0.02) | (A > 0.98)).mean()):.0%}"
    if name == "tanh":
        return f"saturated: {float((np.abs(A) > 0.98).mean()):.0%}"
    if name == "softmax":
        return f"max p > 0.98: {float((A.max(axis=1) > 0.98).mean()):.0%} of samples"
    return ""
