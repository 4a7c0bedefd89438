"""The columns of .npy and .npz files, read by numpy alone and never unpickled.

A .npy array of shape (n, d) has columns "0" .. "d-1" (as pandas names the columns of
a headerless file); a structured .npy array keeps its field names; in a .npz file a
1-D array is one column named by its key and a 2-D array ``K`` of width d gives the
columns "K0" .. "K<d-1>".
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

_MAGIC = {"npy": b"\x93NUMPY", "npz": b"PK"}


def read_numpy(path: str, fmt: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        start = handle.read(len(_MAGIC[fmt]))
    if start != _MAGIC[fmt]:  # np.load would take anything else for a pickle
        raise DataError(
            f"{path} is not a valid {fmt} file (it does not start with numpy's "
            f"{_MAGIC[fmt]!r} signature)"
        )
    try:
        loaded = np.load(path, allow_pickle=False)  # never unpickle: object arrays fail
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise DataError(
                f"{path} holds Python objects (a pickled object array), which glassnet "
                "never loads: save numbers only (e.g. X.astype(float))"
            ) from None
        raise DataError(f"{path} is not a valid {fmt} file: {error}") from None
    except (OSError, EOFError) as error:
        raise DataError(f"{path} is not a valid {fmt} file: {error}") from None
    if fmt == "npy":
        return _columns_of_array(path, loaded, None)
    columns: dict[str, np.ndarray] = {}
    with loaded:
        try:
            arrays = {key: loaded[key] for key in loaded.files}
        except ValueError as error:  # an object array inside the archive
            raise DataError(
                f"{path} holds Python objects (a pickled object array), which glassnet "
                f"never loads: save numbers only ({error})"
            ) from None
        except (OSError, EOFError) as error:
            raise DataError(f"{path} is not a valid npz file: {error}") from None
    if not arrays:
        raise DataError(f"{path} holds no arrays")
    for key, array in arrays.items():
        for name, values in _columns_of_array(path, array, key).items():
            if name in columns:
                raise DataError(f"{path}: the column name {name!r} appears twice")
            columns[name] = values
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(
            f"{path}: the arrays have different numbers of rows: "
            + ", ".join(f"{name} {n}" for name, n in list(lengths.items())[:6])
        )
    return columns


def _columns_of_array(path: str, array: np.ndarray, key: str | None):
    where = path if key is None else f"{path}[{key!r}]"
    if array.dtype.names:  # a structured array: one column per field
        if array.ndim != 1:
            raise DataError(
                f"{where}: a structured array must be 1-D, got shape {array.shape}"
            )
        return {name: _plain(array[name], where) for name in array.dtype.names}
    if array.ndim == 1 and key is not None:
        return {key: _plain(array, where)}
    if array.ndim != 2:
        expected = "1-D (one column) or 2-D (rows, columns)"
        if key is None:
            expected = "2-D (rows, columns)"
        raise DataError(f"{where} must be {expected}, got shape {array.shape}")
    prefix = "" if key is None else key
    return {f"{prefix}{j}": _plain(array[:, j], where) for j in range(array.shape[1])}


def _plain(values: np.ndarray, where: str) -> np.ndarray:
    kind = values.dtype.kind
    if kind == "b":
        return values.astype(bool)
    if kind in "iu":
        return values.astype(np.int64)
    if kind == "f":
        return values.astype(np.float64)
    if kind in "US":
        return np.array([v.item() or None for v in values], dtype=object)
    raise DataError(f"{where} has unsupported dtype {values.dtype}")
