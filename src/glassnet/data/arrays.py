"""The columns of .npy and .npz files, read by numpy alone and never unpickled.

A .npy array of shape (n, d) has columns "0" .. "d-1" (as pandas names the columns of
a headerless file); a structured .npy array keeps its field names; in a .npz file a
1-D array is one column named by its key and a 2-D array ``K`` of width d gives the
columns "K0" .. "K<d-1>".

Before numpy allocates anything, each array's header (shape and dtype) is read and its
byte size checked against the bytes the file (or the zip entry, by its declared
decompressed size) holds and against ``MAX_ARRAY_BYTES``; so is the total declared
decompressed size of an .npz. A 128-byte header claiming (10**11, 10), or a small
deflated archive that inflates to gigabytes, is refused with a ``DataError``.
"""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np

from .errors import DataError

_MAGIC = {"npy": b"\x93NUMPY", "npz": b"PK"}
#: The most bytes a data file may declare for its arrays (after decompression), unless
#: the environment variable GLASSNET_MAX_DATA_BYTES says otherwise. Checked on the
#: headers, before numpy allocates anything: a 1 kB header can claim (10**11, 10).
MAX_ARRAY_BYTES = 4 * 2**30
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
    (3, 0): np.lib.format.read_array_header_2_0,  # 2.0 with UTF-8 field names
}


def max_array_bytes() -> int:
    """The limit on the bytes a .npy/.npz file may declare (see MAX_ARRAY_BYTES)."""
    text = os.environ.get("GLASSNET_MAX_DATA_BYTES")
    if text is None:
        return MAX_ARRAY_BYTES
    try:
        return int(text)
    except ValueError:
        raise DataError(
            f"GLASSNET_MAX_DATA_BYTES must be a whole number of bytes, got {text!r}"
        ) from None


def _gib(n: int) -> str:
    return f"{n:,} bytes ({n / 2**30:.3g} GiB)"


def check_npy_header(handle, where: str, available: int, limit: int) -> int:
    """The bytes the .npy array at the position of ``handle`` declares, checked
    against ``limit`` and against the ``available`` bytes of the file (or zip
    entry) that hold it; reads the header only."""
    start = handle.tell()
    try:
        version = np.lib.format.read_magic(handle)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"unknown .npy format version {version}")
        shape, _, dtype = reader(handle)
    except (ValueError, EOFError, OSError, SyntaxError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"{where} is not a valid npy array: {detail}") from None
    if dtype.hasobject:
        raise DataError(
            f"{where} holds Python objects (a pickled object array), which glassnet "
            "never loads: save numbers only (e.g. X.astype(float))"
        )
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: never overflows
    if nbytes > limit:
        raise DataError(
            f"{where} declares an array of shape {shape} ({dtype}), "
            f"{_gib(nbytes)}, over the limit of {_gib(limit)} for a data file (set "
            "GLASSNET_MAX_DATA_BYTES to allow more)"
        )
    data = available - (handle.tell() - start)
    if nbytes > data:
        raise DataError(
            f"{where} declares an array of shape {shape} ({dtype}), {nbytes:,} "
            f"bytes, but holds only {max(data, 0):,} bytes of data: it is truncated "
            "or its header is wrong"
        )
    return nbytes


def _check_npz(handle, path: str, limit: int) -> None:
    """Each member's declared (decompressed) size and array header, before numpy
    inflates anything: a small deflated file can expand to gigabytes."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DataError(f"{path} is not a valid npz file: {error}") from None
    with archive:
        members = archive.infolist()
        total = sum(info.file_size for info in members)
        if total > limit:
            raise DataError(
                f"{path} expands to {_gib(total)} when decompressed, over the limit "
                f"of {_gib(limit)} for a data file (set GLASSNET_MAX_DATA_BYTES to "
                "allow more)"
            )
        for info in members:
            if not info.filename.endswith(".npy"):
                continue
            where = f"{path}[{info.filename[:-4]!r}]"
            try:
                with archive.open(info) as member:
                    check_npy_header(member, where, info.file_size, limit)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as error:
                raise DataError(f"{path} is not a valid npz file: {error}") from None


def read_numpy(path: str, fmt: str, source=None) -> dict[str, np.ndarray]:
    """The columns of the .npy or .npz file at ``path``, or in ``source`` (a seekable
    binary file with its bytes, e.g. a stream read into memory)."""
    if source is None:
        with open(path, "rb") as handle:
            return _read_numpy(path, fmt, handle)
    return _read_numpy(path, fmt, source)


def _read_numpy(path: str, fmt: str, handle) -> dict[str, np.ndarray]:
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    start = handle.read(len(_MAGIC[fmt]))
    if start != _MAGIC[fmt]:  # np.load would take anything else for a pickle
        raise DataError(
            f"{path} is not a valid {fmt} file (it does not start with numpy's "
            f"{_MAGIC[fmt]!r} signature)"
        )
    handle.seek(0)
    if fmt == "npy":
        check_npy_header(handle, path, size, max_array_bytes())
    else:
        _check_npz(handle, path, max_array_bytes())
    handle.seek(0)
    try:
        loaded = np.load(handle, allow_pickle=False)  # never unpickle: objects fail
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
        except (OSError, EOFError, zipfile.BadZipFile) as error:
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
