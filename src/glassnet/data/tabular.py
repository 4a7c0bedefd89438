"""Tabular data files as numeric features X and a target y: the data side of the
command line's ``train``, ``predict``, ``evaluate`` and ``attack``, in one namespace.

- ``read_table(path)`` (``tables``): a file as named columns (CSV with a header and
  Parquet through pandas, the ``data`` extra; .npy and .npz through numpy alone,
  never unpickling).
- ``select(table, target, features)`` (``columns``): the feature matrix X (n, d) as
  float64 and the target column, with one clear error for each way a file can be
  unusable (a missing or misspelled column, text in a feature column, an empty cell,
  too few rows).
- ``infer_task(y)``, ``fit_classes(y)``, ``encode_labels(y, classes)`` (``labels``):
  what the target means and its class labels as indices 0..k-1.
- ``Preprocessing`` (``preprocessing``): the record kept with a trained model (the
  columns read, each numeric one filled with the training median where empty and
  standardised, z = (x - mean) / scale, each categorical one one-hot or an embedding
  index; the task, the target and the class labels), fitted on the training rows
  (``select_columns`` gives them raw) and stored as the ``"preprocessing"`` entry of
  the model file's metadata so that predict, evaluate, attack and export apply the
  same steps.

The two steps that need a model, ``load_model`` (a model file with its record) and
``fold_standardization`` (the record folded into the first Dense layer), sit a layer
up in ``glassnet.cli.tabular``, which is ``glassnet.tabular``: this namespace and
those two.

Column names of array files: a .npy array of shape (n, d) has columns "0" .. "d-1"
(as pandas names the columns of a headerless file); a structured .npy array keeps its
field names; in a .npz file a 1-D array is one column named by its key and a 2-D array
``K`` of width d gives the columns "K0" .. "K<d-1>".

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from glassnet.data import tabular
>>> path = os.path.join(tempfile.mkdtemp(), "data.npz")
>>> np.savez(path, X=np.array([[1.0, 10.0], [3.0, 30.0]]), y=np.array([0, 1]))
>>> table = tabular.read_table(path)
>>> table.names
['X0', 'X1', 'y']
>>> X, y, names = tabular.select(table, "y")
>>> X.tolist(), y.tolist(), names
([[1.0, 10.0], [3.0, 30.0]], [0, 1], ['X0', 'X1'])
>>> record = tabular.Preprocessing.fit(X, names, "classification", "y", [0, 1])
>>> record.transform(X)[0].tolist()     # (x - mean) / scale, column by column
[[-1.0, -1.0], [1.0, 1.0]]
"""

from __future__ import annotations

from .columns import (
    check_rows,
    column,
    features_matrix,
    fingerprint,
    select,
    select_columns,
    target_column,
)
from .errors import DataError
from .labels import MAX_AUTO_CLASSES, encode_labels, fit_classes, infer_task
from .preprocessing import METADATA_KEY, RECORD_VERSION, Preprocessing
from .tables import (
    CSV_CHUNK_ROWS,
    FORMATS,
    LARGE_FILE_BYTES,
    Progress,
    Table,
    format_of,
    read_table,
)

__all__ = [
    "CSV_CHUNK_ROWS",
    "FORMATS",
    "LARGE_FILE_BYTES",
    "MAX_AUTO_CLASSES",
    "METADATA_KEY",
    "RECORD_VERSION",
    "DataError",
    "Preprocessing",
    "Progress",
    "Table",
    "check_rows",
    "column",
    "encode_labels",
    "features_matrix",
    "fingerprint",
    "fit_classes",
    "format_of",
    "infer_task",
    "read_table",
    "select",
    "select_columns",
    "target_column",
]
