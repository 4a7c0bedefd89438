"""The safetensors container, read as hostile input.

A safetensors file is

    [8 bytes: N, little-endian u64] [N bytes: JSON header] [tensor bytes]

and the header maps each tensor name to {"dtype", "shape", "data_offsets": [begin,
end]} (offsets into the tensor bytes), plus an optional "__metadata__" map of
str -> str. Every number in the header is checked here *before* anything is allocated
or handed to the ``safetensors`` library: the header length against a limit and the
file size, the JSON (strict: no duplicate keys, no NaN), each dtype against a short
whitelist, each shape's byte size (Python ints: no overflow) against its byte range,
and the ranges against each other (contiguous from 0 to the end of the file, as the
format requires). Any failure is a ``ModelFormatError``.

glassnet adds a SHA-256 checksum (metadata key "checksum") over the metadata, the
tensor table and the tensor bytes, so a flipped bit anywhere is caught on load.

Files are opened only if they are regular files (a FIFO would block, a device never
end). From a path, the checksum is verified on the tensor bytes streamed in pieces
before any tensor is allocated, and the tensors are then read straight into their
arrays (``read_tensors_into``), so loading takes about the file's size once.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass

import numpy as np
import safetensors.numpy

from .errors import ModelFormatError

#: The reference implementation's limit; real headers are a few kB to a few MB.
MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_NDIM = 8
#: safetensors' dtype codes that glassnet writes and reads (little-endian).
DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
CODE_OF_DTYPE = {dtype: code for code, dtype in DTYPES.items()}
CHECKSUM_KEY = "checksum"
#: Tensor bytes are hashed and read in pieces of this size, never the whole file.
CHUNK_BYTES = 1 << 20
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}


@dataclass(frozen=True)
class Entry:
    """One tensor's row of the header table."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Header:
    """A validated header: metadata, tensor table, and where the tensor bytes start."""

    metadata: dict[str, str]
    entries: dict[str, Entry]
    data_start: int  # 8 + N


# -- strict JSON --------------------------------------------------------------------
class _Duplicate(Exception):
    pass


class _NotFinite(Exception):
    pass


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _reject_constant(name):
    raise _NotFinite(name)


def strict_json(text: str, what: str):
    """Parses JSON, rejecting duplicate keys and NaN/Infinity, as ModelFormatError."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except _Duplicate as error:
        raise ModelFormatError(f"{what}: key {error.args[0]!r} appears twice") from None
    except _NotFinite as error:
        raise ModelFormatError(
            f"{what}: the number {error.args[0]} is not finite (NaN/Infinity are not "
            "valid JSON)"
        ) from None
    except RecursionError:
        raise ModelFormatError(f"{what} is not valid JSON: nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, and ints with too many digits
        raise ModelFormatError(f"{what} is not valid JSON: {error}") from None


def canonical_json(obj) -> str:
    """JSON with sorted keys and no spaces: equal objects give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


# -- reading ------------------------------------------------------------------------
def _describe_start(data: bytes) -> str:
    """A hint for common non-safetensors files."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return (
            " (it starts like a Python pickle; glassnet never unpickles, since loading "
            "a pickle can run arbitrary code)"
        )
    if data[:4] == b"PK\x03\x04":
        return " (it is a zip archive, e.g. a PyTorch .pt file or a Keras .keras file)"
    if data[:8] == b"\x89HDF\r\n\x1a\n":
        return " (it is an HDF5 file, e.g. an old Keras .h5 model)"
    return ""


def header_length(prefix: bytes, total_size: int) -> int:
    """N from the first 8 bytes, checked against the limit and the file size."""
    if total_size < 8:
        raise ModelFormatError(
            f"not a safetensors file: {total_size} bytes is shorter than the 8-byte "
            "header length that starts every safetensors file"
        )
    n = int.from_bytes(prefix[:8], "little")
    hint = _describe_start(prefix)
    if n > MAX_HEADER_BYTES:
        raise ModelFormatError(
            f"not a safetensors file, or its header is too large: the first 8 bytes "
            f"give a header length of {n:,} bytes, over the limit of "
            f"{MAX_HEADER_BYTES:,}{hint}"
        )
    if n < 2:
        raise ModelFormatError(
            f"not a safetensors file: header length {n} cannot hold a JSON object{hint}"
        )
    if 8 + n > total_size:
        raise ModelFormatError(
            f"truncated or not a safetensors file: the header length says {n:,} bytes "
            f"but only {total_size - 8:,} bytes follow it{hint}"
        )
    return n


def parse_header(prefix: bytes, total_size: int) -> Header:
    """Validates the header in ``prefix`` (at least the first 8 + N bytes of a file of
    ``total_size`` bytes); nothing else of the file is needed."""
    n = header_length(prefix, total_size)
    raw = prefix[8 : 8 + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelFormatError(
            f"not a safetensors file: the header is not UTF-8 text ({error})"
        ) from None
    if not text.startswith("{"):
        raise ModelFormatError(
            f"not a safetensors file: the header must be a JSON object starting with "
            f"'{{', it starts with {text[:20]!r}"
        )
    table = strict_json(text, "the safetensors header")
    if not isinstance(table, dict):  # pragma: no cover - "{" guarantees an object
        raise ModelFormatError("the safetensors header is not a JSON object")
    metadata = table.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str) for v in metadata.values()
    ):
        raise ModelFormatError(
            "the safetensors __metadata__ must map strings to strings, got "
            f"{_short(metadata)}"
        )
    entries = {name: _entry(name, value) for name, value in table.items()}
    _check_layout(entries, total_size - 8 - n)
    return Header(metadata=metadata, entries=entries, data_start=8 + n)


def _short(obj, limit: int = 80) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _entry(name: str, value) -> Entry:
    where = f"tensor {_short(name, 60)}"
    if not isinstance(value, dict) or set(value) != _ENTRY_KEYS:
        raise ModelFormatError(
            f"{where}: expected an object with keys dtype, shape, data_offsets, "
            f"got {_short(value)}"
        )
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ModelFormatError(
            f"{where}: dtype {_short(dtype, 40)} is not one glassnet reads; expected "
            f"one of {sorted(DTYPES)}"
        )
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(_is_int(d) and 0 <= d < 2**63 for d in shape)
    ):
        raise ModelFormatError(
            f"{where}: shape must be a list of at most {MAX_NDIM} non-negative "
            f"integers, got {_short(shape)}"
        )
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) and 0 <= o < 2**63 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise ModelFormatError(
            f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got "
            f"{_short(offsets)}"
        )
    # Python ints: a shape like [2**62, 2**62] gives a huge number, not an overflow.
    nbytes = math.prod(shape) * DTYPES[dtype].itemsize
    if nbytes != offsets[1] - offsets[0]:
        raise ModelFormatError(
            f"{where}: shape {shape} of {dtype} needs {nbytes:,} bytes but its "
            f"data_offsets {offsets} span {offsets[1] - offsets[0]:,}"
        )
    return Entry(dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(entries: dict[str, Entry], data_size: int) -> None:
    """The byte ranges tile [0, data_size) exactly: no gap, overlap or overrun."""
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: item[1].begin):
        if entry.begin != position:
            what = (
                "overlaps the previous one"
                if entry.begin < position
                else "leaves a gap"
            )
            raise ModelFormatError(
                f"tensor {_short(name, 60)}: data_offsets start at {entry.begin:,} "
                f"but the previous tensor ends at {position:,} (the range {what})"
            )
        position = entry.end
    if position != data_size:
        raise ModelFormatError(
            f"the tensors' data_offsets end at {position:,} but the file holds "
            f"{data_size:,} bytes of tensor data (truncated, or junk appended)"
        )


def read_tensors(data: bytes, header: Header) -> dict[str, np.ndarray]:
    """The tensors of a file whose header is already validated."""
    try:
        tensors = safetensors.numpy.load(data)
    except (
        Exception
    ) as error:  # SafetensorError and friends: any refusal is a format error
        raise ModelFormatError(
            f"safetensors could not read the file: {error}"
        ) from None
    if set(tensors) != set(
        header.entries
    ):  # pragma: no cover - same header, two readers
        raise ModelFormatError("safetensors read a different set of tensors")
    return tensors


def decode(data: bytes) -> tuple[Header, dict[str, np.ndarray]]:
    """Validates ``data`` (a whole file) and returns its header and tensors."""
    if not isinstance(data, bytes):
        data = bytes(data)
    header = parse_header(data, len(data))
    return header, read_tensors(data, header)


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path):
    """``path`` opened for reading in binary, after checking it is a regular file.

    Opened without blocking and checked on the open descriptor (no race with a
    rename): a FIFO would block ``open`` until a writer appears and a device may never
    end, so both are refused with ``ModelFormatError`` instead of hanging.
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder, not a model file", path)
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a file")
            raise ModelFormatError(
                f"{path} is {kind}, not a regular file: model files are read from "
                "regular files only"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_header(f) -> Header:
    """The validated header of the open file ``f`` (read from its start)."""
    total_size = os.fstat(f.fileno()).st_size
    f.seek(0)
    prefix = f.read(8)
    n = header_length(prefix, total_size)
    prefix += f.read(n)
    return parse_header(prefix, total_size)


def read_header_of_file(path) -> Header:
    """The validated header of a file, reading only its first 8 + N bytes."""
    with open_regular(path) as f:
        return read_header(f)


def read_file(path) -> bytes:
    """A file's bytes, after checking its header length (so nothing huge is read for
    a file that cannot be safetensors)."""
    with open_regular(path) as f:
        total_size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        header_length(prefix, total_size)
        return prefix + f.read()


def verify_checksum_streamed(f, header: Header) -> None:
    """Checks the stored checksum by hashing the tensor bytes of ``f`` piece by piece:
    a corrupted file is refused before any tensor is allocated."""
    stored = _stored_checksum(header)
    digest = _checksum_start(header.metadata, header.entries)
    f.seek(header.data_start)
    chunk = bytearray(CHUNK_BYTES)
    while n := f.readinto(chunk):
        digest.update(memoryview(chunk)[:n])
    _compare_checksum(stored, digest.hexdigest())


def read_tensors_into(f, header: Header, targets: dict[str, np.ndarray]):
    """Every tensor of ``f``, read straight into ``targets[name]`` where given (a
    C-contiguous array of the entry's dtype and shape) or into a new array, hashed
    again on the way (the file may have changed since ``verify_checksum_streamed``).
    Returns name -> array."""
    stored = _stored_checksum(header)
    digest = _checksum_start(header.metadata, header.entries)
    tensors = {}
    f.seek(header.data_start)
    for name, entry in sorted(header.entries.items(), key=lambda item: item[1].begin):
        dtype = DTYPES[entry.dtype]
        array = targets.get(name)
        if array is None:
            array = np.empty(entry.shape, dtype=dtype)
        elif array.shape != entry.shape or array.dtype != dtype:  # pragma: no cover
            raise ValueError(f"target for {name!r} does not match its entry")
        raw = memoryview(array.reshape(-1)).cast("B")
        done = 0
        while done < len(raw):
            n = f.readinto(raw[done : done + CHUNK_BYTES])
            if not n:
                raise ModelFormatError(
                    f"the file ended inside tensor {_short(name, 60)} (it changed "
                    "while it was read)"
                )
            digest.update(raw[done : done + n])
            done += n
        tensors[name] = array
    _compare_checksum(stored, digest.hexdigest())
    return tensors


# -- checksum -----------------------------------------------------------------------
def _checksum_start(metadata: dict[str, str], entries: dict[str, Entry]):
    """The SHA-256 state after the metadata (less the checksum) and the table."""
    table = {
        name: [e.dtype, list(e.shape), [e.begin, e.end]] for name, e in entries.items()
    }
    meta = {k: v for k, v in metadata.items() if k != CHECKSUM_KEY}
    digest = hashlib.sha256(b"glassnet checksum v1\n")
    digest.update(canonical_json(meta).encode("utf-8", "surrogatepass"))
    digest.update(b"\n")
    digest.update(canonical_json(table).encode("utf-8"))
    digest.update(b"\n")
    return digest


def checksum(metadata: dict[str, str], entries: dict[str, Entry], buffer) -> str:
    """SHA-256 of the metadata (less the checksum), the tensor table and the bytes."""
    digest = _checksum_start(metadata, entries)
    digest.update(buffer)
    return digest.hexdigest()


def _stored_checksum(header: Header) -> str:
    stored = header.metadata.get(CHECKSUM_KEY)
    if stored is None:
        raise ModelFormatError(
            "the file has no checksum; every file glassnet writes has one"
        )
    return stored


def _compare_checksum(stored: str, actual: str) -> None:
    if stored != actual:
        raise ModelFormatError(
            "checksum mismatch: the file was corrupted or edited after it was saved "
            f"(stored {_short(stored, 70)}, computed {actual})"
        )


def verify_checksum(data: bytes, header: Header) -> None:
    stored = _stored_checksum(header)
    actual = checksum(
        header.metadata, header.entries, memoryview(data)[header.data_start :]
    )
    _compare_checksum(stored, actual)


# -- writing ------------------------------------------------------------------------
def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A safetensors file holding ``tensors`` and ``metadata``, plus a checksum."""
    arrays = {}
    for name, array in tensors.items():
        array = np.asarray(array)
        dtype = (
            array.dtype.newbyteorder("<")
            if array.dtype.byteorder == ">"
            else array.dtype
        )
        if dtype not in CODE_OF_DTYPE:
            raise TypeError(
                f"cannot save tensor {name!r} of dtype {array.dtype}; glassnet files "
                "hold float32, float64, int32, int64, uint8 and bool arrays"
            )
        arrays[name] = np.ascontiguousarray(array, dtype=dtype)
    metadata = {k: v for k, v in metadata.items() if k != CHECKSUM_KEY}
    # Serialise once to learn the layout, then again with the checksum of that layout
    # (tensor offsets do not depend on the metadata, so they are the same both times).
    first = safetensors.numpy.save(arrays, metadata=metadata)
    header = parse_header(first, len(first))
    metadata[CHECKSUM_KEY] = checksum(
        metadata, header.entries, memoryview(first)[header.data_start :]
    )
    return safetensors.numpy.save(arrays, metadata=metadata)
