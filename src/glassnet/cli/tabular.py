"""``glassnet.tabular``: the command line's data layer, as the library offers it.

Everything of ``glassnet.data.tabular`` (reading data files, selecting features and
target, the labels, the ``Preprocessing`` record), and the two steps that need a
model, which the data layer may not import: ``load_model`` (a model or checkpoint file
with its preprocessing record) and ``fold_standardization`` (the record's
standardisation folded into the first Dense layer, so that the network takes raw
features).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> import glassnet as gn
>>> from glassnet import tabular
>>> net = gn.Sequential(gn.Dense(2, 1), seed=0)
>>> record = tabular.Preprocessing.fit([[1.0, 10.0], [3.0, 30.0]], ["a", "b"],
...                                    "regression")
>>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
>>> _ = gn.save(net, path, metadata={tabular.METADATA_KEY: record.to_metadata()})
>>> loaded, saved, _ = tabular.load_model(path)
>>> saved.features, saved.mean.tolist()
(['a', 'b'], [2.0, 20.0])
>>> raw = tabular.fold_standardization(loaded, saved)   # takes x, not z
>>> x = np.array([[3.0, 30.0]])
>>> bool(np.allclose(raw.forward(x), loaded.forward(saved.transform(x)[0])))
True
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.tabular import *  # noqa: F403  (the data side, re-exported whole)
from ..data.tabular import DataError, Preprocessing
from ..data.tabular import __all__ as _data_names
from ..io import load
from ..nn.layers import Dense

__all__ = [*_data_names, "fold_standardization", "load_model"]


def load_model(path):
    """(net, record or None, metadata) of a model or checkpoint file.

    A missing file or folder raises DataError; a malformed file gn.ModelFormatError.
    """
    text = os.fspath(path)
    if not Path(text).exists():
        raise DataError(f"no such model file: {text}")
    if Path(text).is_dir():
        raise DataError(f"{text} is a folder, not a model file")
    net, metadata = load(text, return_metadata=True)
    return net, Preprocessing.from_metadata(metadata, net), metadata


def fold_standardization(net, record: Preprocessing):
    """A copy of ``net`` that takes raw features: the first Dense layer absorbs
    z = (x - mean) / scale.

    W z + b = W ((x - mean) / scale) + b = W' x + b'  with  W' = W / scale (each
    column j divided by scale_j) and b' = b - W' mean.  Computed in float64, then
    stored in the network's dtype. The first layer must be a Dense with a bias.
    """
    folded = net.copy()
    layer = folded.layers[0]
    if not isinstance(layer, Dense):
        raise ValueError(
            "cannot fold the standardisation into this network: its first layer is "
            f"{type(layer).__name__}, not Dense"
        )
    if not layer.use_bias:
        raise ValueError(
            "cannot fold the standardisation into a first Dense without a bias"
        )
    W = np.asarray(layer.W, dtype=np.float64) / record.scale  # W': (out, in)
    b = np.asarray(layer.b, dtype=np.float64) - W @ record.mean  # b': (out,)
    layer.W, layer.b = W, b
    return folded
