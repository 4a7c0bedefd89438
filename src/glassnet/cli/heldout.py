"""The test rows ``glassnet train --test-split F`` holds out, and how ``glassnet
evaluate --rows test`` finds exactly those rows again.

The test rows are drawn first, before the validation split and before the
preprocessing is fitted, so neither training nor the record ever sees them: a seeded
random draw of ceil(F n) of the n rows (not stratified, so that the draw depends
only on n, F and the seed), from the seed's own stream [seed, 0, 3]. The model file
keeps the split under ``metadata["test_split"]``: the fraction, the seed, n and a
fingerprint of the table (every column's name and cells), so that ``evaluate`` can
draw the same rows again and refuse data that differ from the training data.

Examples
--------
>>> import numpy as np
>>> test, rest = held_out_rows(10, 0.3, seed=0)
>>> len(test), len(rest), sorted([*test, *rest]) == list(range(10))
(3, 7, True)
>>> bool(np.array_equal(test, held_out_rows(10, 0.3, seed=0)[0]))
True
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..data.splits import split_indices
from . import CliError

#: The key of the split in a model file's metadata.
TEST_SPLIT_KEY = "test_split"
#: Which rows ``evaluate --rows`` reads.
ROWS = ("all", "test", "train")


def held_out_rows(n: int, fraction: float, seed: int):
    """(test rows, the other rows), each sorted; (None, all rows) when fraction is 0."""
    if not fraction:
        return None, np.arange(n)
    rng = np.random.default_rng([seed, 0, 3])  # its own stream: not the validation's
    try:
        rest, test = split_indices(n, fraction, None, rng)
    except ValueError as error:
        raise CliError(f"--test-split {fraction}: {error}") from None
    return np.sort(test), np.sort(rest)


def table_fingerprint(table) -> str:
    """SHA-256 of the table's rows: each column's name and cells, in order."""
    digest = hashlib.sha256(f"{table.n_rows}".encode())
    for name, values in table.columns.items():
        digest.update(b"\x00" + str(name).encode())
        values = np.asarray(values)
        if values.dtype.kind in "biuf":  # numbers as float64: int and float alike
            digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        else:
            digest.update(repr(values.tolist()).encode())
    return digest.hexdigest()


def split_record(fraction: float, seed: int, table, n_test: int) -> dict:
    """What the model file keeps to draw the same test rows again."""
    return {
        "fraction": float(fraction),
        "seed": int(seed),
        "n_rows": int(table.n_rows),
        "n_test": int(n_test),
        "data_sha256": table_fingerprint(table),
    }


def rows_of(table, metadata: dict, rows: str, model: str):
    """The table's row indices ``evaluate --rows`` names: every row ("all"), or the
    test rows train held out ("test") or the others ("train"), drawn again from the
    split the model file stores; refused when it stores none or the data differ."""
    if rows == "all":
        return np.arange(table.n_rows)
    split = metadata.get(TEST_SPLIT_KEY) if isinstance(metadata, dict) else None
    if not isinstance(split, dict):
        raise CliError(
            f"--rows {rows}: {model} stores no held-out test rows (train it with "
            "--test-split F to hold some out), so only --rows all is possible"
        )
    try:
        fraction, seed = float(split["fraction"]), int(split["seed"])
        n_rows, digest = int(split["n_rows"]), str(split["data_sha256"])
    except (KeyError, TypeError, ValueError):
        raise CliError(f"--rows {rows}: {model} holds a malformed test split") from None
    if table.n_rows != n_rows or table_fingerprint(table) != digest:
        raise CliError(
            f"--rows {rows}: {table.path} ({table.n_rows} rows) is not the data "
            f"{model} was trained on ({n_rows} rows; its fingerprint differs), so "
            "its held-out rows cannot be found in it; use --rows all"
        )
    test, rest = held_out_rows(n_rows, fraction, seed)
    return test if rows == "test" else rest


def subset(table, rows: np.ndarray):
    """The table with only ``rows``, in order."""
    columns = {name: values[rows] for name, values in table.columns.items()}
    return type(table)(table.path, columns, len(rows))
