"""What the page's Export menu downloads: the model file, a point's trace, a script.

Nothing here touches the disk: each function returns the file's bytes and the name
the browser offers, and the server sends them as an attachment, so the browser
saves them where the user chooses.

- ``model_file``: the network as a glassnet model file (``gn.io.to_bytes``, the
  bytes ``gn.save`` writes; ``gn.load`` reads them back).
- ``trace_file``: the clicked point's ``gn.explain`` trace as JSON or HTML.
- ``script_file``: a short Python script that builds the same data, features and
  network and trains it with ``gn.Sequential(...).fit(...)`` for the epochs done so
  far: the session steps in fit's own batch order, so in float64 the script's
  weights equal the session's bitwise.

Examples
--------
>>> import glassnet as gn
>>> from glassnet.playground import Config, Session
>>> session = Session(Config(dataset="xor", hidden=[3]))
>>> name, data = model_file(session)
>>> name, gn.io.from_bytes(data).layers[0].W.shape
('playground-xor.gnn', (3, 2))
"""

from __future__ import annotations

from ..errors import InputError
from ..io.model import to_bytes

#: The model file's suffix, as ``glassnet train`` names its output.
MODEL_SUFFIX = ".gnn"


def model_file(session) -> tuple[str, bytes]:
    """The session's network as a glassnet model file: (file name, bytes)."""
    with session.lock:
        c = session.config
        metadata = {
            "source": "glassnet playground",
            "dataset": c.dataset,
            "features": ",".join(c.features),
            "epochs": str(session.epochs_done),
        }
        return f"playground-{c.dataset}{MODEL_SUFFIX}", to_bytes(session.net, metadata)


def trace_file(session, split: str, index: int, kind: str) -> tuple[str, bytes]:
    """The ``gn.explain`` trace of one point as "json" or "html": (name, bytes)."""
    if kind not in ("json", "html"):
        raise InputError(f"the trace's format must be 'json' or 'html', got {kind!r}")
    trace = session.explain_point(split, index)
    text = trace.to_json() if kind == "json" else trace.to_html(full_page=True)
    return f"playground-trace-{split}-{index}.{kind}", text.encode("utf-8")


def script_file(session) -> tuple[str, bytes]:
    """A Python script that reproduces the run's completed epochs: (name, bytes)."""
    with session.lock:
        c = session.config
        if c.dataset == "user":
            raise InputError(
                "a script can be exported for the built-in data sets only; for your "
                "own table, export the model file"
            )
        widths = [len(c.features), *c.hidden]
        output = "sigmoid" if c.task == "classification" else "identity"
        layers = [
            f'    gn.Dense({widths[i]}, {widths[i + 1]}, activation="{c.activations[i]}"),'
            for i in range(len(c.hidden))
        ]
        layers.append(f'    gn.Dense({widths[-1]}, 1, activation="{output}"),')
        partial = ""
        if session._position:
            partial = (
                f"# The page had also trained {session._position} points of epoch "
                f"{session.epochs_done + 1}; fit trains whole epochs, so those are "
                "not repeated here.\n"
            )
        text = _SCRIPT.format(
            dataset=c.dataset,
            n_samples=c.n_samples,
            noise=repr(c.noise),
            ratio=repr(c.ratio),
            seed=c.seed,
            features=repr(list(c.features)),
            layers="\n".join(layers),
            optimizer=f"gn.{session.optimizer!r}",
            loss=c.loss,
            epochs=session.epochs_done,
            batch_size=c.batch_size,
            partial=partial,
        )
        return f"playground-{c.dataset}.py", text.encode("utf-8")


_SCRIPT = '''\
"""A glassnet playground run, reproduced with gn.Sequential(...).fit(...).

The data set and features are the playground's own (glassnet.playground); the
network, optimizer, batch order and float64 arithmetic are fit's, so the weights
printed are those the page showed after the same epochs.
"""

import numpy as np

import glassnet as gn
from glassnet.playground.datasets2d import make_dataset
from glassnet.playground.features import feature_matrix

data = make_dataset(
    "{dataset}", n_samples={n_samples}, noise={noise}, ratio={ratio}, seed={seed}
)
features = {features}
X_train = feature_matrix(data.X_train, features)
X_test = feature_matrix(data.X_test, features)

net = gn.Sequential(
{layers}
    dtype="float64",
    seed={seed},
)
optimizer = {optimizer}
epochs = {epochs}
{partial}if epochs:
    net.fit(
        X_train, data.y_train, loss="{loss}", optimizer=optimizer, epochs=epochs,
        batch_size={batch_size}, seed={seed}, verbose=0,
    )

for i, layer in enumerate(net.layers, start=1):
    print(f"W{{i}} =", np.array2string(layer.W, precision=6))
    print(f"b{{i}} =", np.array2string(layer.b, precision=6))
if len(X_test):
    print("test loss:", net.loss_value(X_test, data.y_test, loss="{loss}"))
'''
