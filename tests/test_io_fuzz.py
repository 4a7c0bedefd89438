"""Seeded mutation fuzzing of the model-file reader.

Real saved models (and checkpoints) are mutated in memory: byte and bit flips,
truncations, bad header lengths, appended junk, inserted and deleted bytes, edits to
the header JSON (tensor table and metadata), and edits to the architecture JSON with
the checksum recomputed, so that mutants get past the checksum to the deeper checks.
Every mutant must either load or raise ModelFormatError: any other exception, or a
hang (a watchdog alarm), fails the test.
"""

from __future__ import annotations

import json
import signal
import struct
from collections import Counter

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import container
from glassnet.io.checkpoint import checkpoint_from_bytes
from glassnet.io.model import from_bytes

N_MUTANTS = 24_000
WATCHDOG_SECONDS = 240  # far beyond the suite's run time: only a hang reaches it


# -- the corpus: real files -----------------------------------------------------------
def _models() -> list[bytes]:
    nets = [
        gn.Sequential(gn.Dense(3, 4, activation="relu"), gn.Dense(4, 1), seed=0),
        gn.Sequential(
            gn.Dense(2, 5, activation="leaky_relu"),
            gn.Dropout(0.25),
            gn.Tanh(),
            gn.Dense(5, 3, activation=gn.ELU(0.5), use_bias=False),
            gn.Dense(3, 3, activation="softmax", init="he_uniform"),
            dtype="float64",
            seed=1,
        ),
        gn.Sequential(gn.Dense(1, 1, activation="sigmoid"), seed=2),
    ]
    files = [gn.io.to_bytes(net) for net in nets]
    files.append(gn.io.to_bytes(nets[0], metadata={"classes": ["a", "b"], "mu": [0.5]}))
    return files


def _checkpoints() -> list[bytes]:
    from glassnet.io.checkpoint import checkpoint_bytes

    net = gn.Sequential(gn.Dense(2, 3, activation="tanh"), gn.Dense(3, 1), seed=3)
    files = [checkpoint_bytes(net, None, None, net.rng.bit_generator.state, 2, 17)]
    from glassnet.optim import get_optimizer
    from glassnet.training.history import History

    history = History({"epochs": 3, "seed": 4})
    history.append(0, {"loss": 0.75, "lr": 0.1})
    history.next_epoch = 1
    for name, config in (("sgd", {"lr": 0.1, "momentum": 0.9}), ("adam", {"lr": 0.01})):
        optimizer = get_optimizer(name, **config)
        X = np.random.default_rng(0).normal(size=(8, 2))
        y = X[:, :1] * 2.0
        for _ in range(2):
            net.loss_and_grad(X, y, "mse")
            optimizer.step(net.flat_params, net.flat_grads)
        files.append(checkpoint_bytes(net, optimizer, history, None, 1, 2))
    return files


# -- mutators ---------------------------------------------------------------------------
def _split(data: bytes):
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _join(table: dict, buffer: bytes) -> bytes:
    text = json.dumps(table).encode()
    return struct.pack("<Q", len(text)) + text + buffer


def _resign(table: dict, original: bytes) -> dict:
    """Recomputes the checksum after a metadata edit (tensor table unchanged)."""
    header = container.parse_header(original, len(original))
    meta = table["__metadata__"]
    meta[container.CHECKSUM_KEY] = container.checksum(
        meta, header.entries, memoryview(original)[header.data_start :]
    )
    return table


def _weird_value(rng):
    choices = [
        None,
        True,
        -1,
        0,
        2**64 + 1,
        10**30,
        1e308,
        -0.5,
        "",
        "os.system",
        "numpy.load",
        "F16",
        "O",
        [],
        [2**62, 2**62],
        [-1, 4],
        {},
        {"a": 1},
        "x" * 1000,
        [[[[[[[[[[1]]]]]]]]]],
        int(rng.integers(0, 100)),
        float(rng.normal()),
    ]
    return choices[int(rng.integers(len(choices)))]


def _mutate_json(obj, rng, depth=0):
    """A copy of a JSON value with one random leaf or key changed, added or removed."""
    if isinstance(obj, dict) and obj and depth < 6:
        key = list(obj)[int(rng.integers(len(obj)))]
        copy = dict(obj)
        roll = rng.random()
        if roll < 0.1:
            del copy[key]
        elif roll < 0.2:
            copy[f"{key}_extra"] = _weird_value(rng)
        else:
            copy[key] = _mutate_json(obj[key], rng, depth + 1)
        return copy
    if isinstance(obj, list) and obj and depth < 6:
        copy = list(obj)
        i = int(rng.integers(len(obj)))
        roll = rng.random()
        if roll < 0.15:
            del copy[i]
        elif roll < 0.25:
            copy.append(_weird_value(rng))
        else:
            copy[i] = _mutate_json(obj[i], rng, depth + 1)
        return copy
    if isinstance(obj, str) and rng.random() < 0.5:
        try:
            inner = json.loads(obj)
        except ValueError:
            inner = None
        if isinstance(inner, (dict, list)):
            return json.dumps(_mutate_json(inner, rng, depth + 1))
    if isinstance(obj, int) and not isinstance(obj, bool) and rng.random() < 0.5:
        return obj + int(rng.choice([-1, 1, 8, -8, 2**32]))
    return _weird_value(rng)


def mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    kind = int(rng.integers(10))
    size = len(data)
    if kind == 0:  # random byte overwrites
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            out[int(rng.integers(size))] = int(rng.integers(256))
        return "bytes", bytes(out)
    if kind == 1:  # single bit flips
        out = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(size))
            out[i] ^= 1 << int(rng.integers(8))
        return "bits", bytes(out)
    if kind == 2:  # truncation
        return "truncate", data[: int(rng.integers(size))]
    if kind == 3:  # bad header length
        n = int.from_bytes(data[:8], "little")
        choice = int(rng.integers(5))
        value = [
            n + int(rng.integers(-16, 17)),
            int(rng.integers(0, 2**63)),
            2**64 - 1,
            size - 8,
            int(rng.integers(0, 64)),
        ][choice]
        return "header length", struct.pack("<Q", max(0, value) % 2**64) + data[8:]
    if kind == 4:  # appended junk
        junk = rng.integers(0, 256, size=int(rng.integers(1, 64)), dtype=np.uint8)
        return "append", data + junk.tobytes()
    if kind == 5:  # insert or delete a few bytes
        i = int(rng.integers(size))
        if rng.random() < 0.5:
            return "delete", data[:i] + data[i + int(rng.integers(1, 8)) :]
        extra = rng.integers(0, 256, size=int(rng.integers(1, 8)), dtype=np.uint8)
        return "insert", data[:i] + extra.tobytes() + data[i:]
    table, buffer = _split(data)
    if kind == 6:  # edit the header JSON anywhere (tensor table or metadata)
        return "header json", _join(_mutate_json(table, rng), buffer)
    if kind == 7:  # edit metadata JSON and recompute the checksum: reach deep checks
        meta = dict(table["__metadata__"])
        key = [k for k in meta if k != container.CHECKSUM_KEY][
            int(rng.integers(len(meta) - 1))
        ]
        meta[key] = _mutate_json(meta[key], rng)
        if not isinstance(meta[key], str):
            meta[key] = json.dumps(meta[key])
        table["__metadata__"] = meta
        return "metadata json (re-signed)", _join(_resign(table, data), buffer)
    if kind == 8:  # swap or corrupt tensor bytes, re-signed: finiteness and shapes
        out = bytearray(buffer)
        if out:
            i = int(rng.integers(len(out)))
            patches = [b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\xff" * 8, b"\0" * 8]
            patch = patches[int(rng.integers(len(patches)))][: len(out) - i]
            out[i : i + len(patch)] = patch
        table = _resign(table, _join(table, bytes(out)))
        return "tensor bytes (re-signed)", _join(table, bytes(out))
    # kind 9: a tensor entry's dtype/shape/offsets changed, buffer kept
    names = [k for k in table if k != "__metadata__"]
    name = names[int(rng.integers(len(names)))]
    entry = dict(table[name])
    field = ["dtype", "shape", "data_offsets"][int(rng.integers(3))]
    entry[field] = _mutate_json(entry[field], rng)
    table[name] = entry
    return "tensor entry", _join(table, buffer)


# -- the test ---------------------------------------------------------------------------
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def run_fuzz(readers, corpus, n, seed):
    """Mutants of ``corpus`` fed to every reader; returns (outcomes, failures)."""
    rng = np.random.default_rng(seed)
    outcomes: Counter = Counter()
    failures = []
    for i in range(n):
        original = corpus[i % len(corpus)]
        kind, mutant = mutate(original, rng)
        for reader in readers:
            try:
                reader(mutant)
                outcomes[(kind, "loaded")] += 1
            except gn.ModelFormatError:
                outcomes[(kind, "ModelFormatError")] += 1
            except _Hang:
                raise
            except BaseException as error:  # noqa: BLE001 - anything else is the bug
                failures.append((i, kind, type(error).__name__, str(error)[:200]))
    return outcomes, failures


@pytest.fixture
def watchdog():
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_fuzz_model_files_raise_only_model_format_error(watchdog):
    outcomes, failures = run_fuzz([from_bytes], _models(), N_MUTANTS, seed=20240601)
    assert not failures, failures[:10]
    assert sum(outcomes.values()) == N_MUTANTS
    errors = sum(v for (k, r), v in outcomes.items() if r == "ModelFormatError")
    # Most mutants must be caught (a few are harmless: JSON whitespace, padding bytes).
    assert errors > 0.9 * N_MUTANTS, outcomes
    kinds = {k for (k, r) in outcomes if r == "ModelFormatError"}
    assert len(kinds) == 11, kinds  # every mutator produced rejected files


def test_fuzz_checkpoints_raise_only_model_format_error(watchdog):
    readers = [from_bytes, checkpoint_from_bytes]
    outcomes, failures = run_fuzz(readers, _checkpoints(), 3_000, seed=7)
    assert not failures, failures[:10]
    assert sum(outcomes.values()) == 2 * 3_000


def test_mutator_reaches_deep_checks():
    """The re-signed mutants get past the checksum, so the deep checks are exercised:
    their messages are about the architecture or the weights, not the checksum."""
    rng = np.random.default_rng(1)
    corpus = _models()
    messages = []
    for i in range(1000):
        kind, mutant = mutate(corpus[i % len(corpus)], rng)
        if "re-signed" not in kind:
            continue
        try:
            from_bytes(mutant)
        except gn.ModelFormatError as error:
            messages.append(str(error))
    deep = [m for m in messages if "checksum" not in m]
    assert len(deep) > 0.8 * len(messages) and len(messages) > 50
    assert any("not finite" in m for m in deep)
    assert any("unknown" in m for m in deep)


def test_generator_state_fuzzer_finds_no_crash():
    """fuzz/fuzz_load.py's generator-state mutants (fields at the edges of every
    bit generator, wrong types and lengths, keys dropped, added or renamed) in model
    files and checkpoints, for two seconds in a child process: each is refused
    with ModelFormatError or loads and draws; none crashes."""
    import json as json_module
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "fuzz" / "fuzz_load.py"
    result = subprocess.run(
        [sys.executable, str(script), "--rng-states", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-800:]
    *findings, last = result.stdout.strip().splitlines()
    counts = json_module.loads(last)
    assert findings == [] and counts["crashes"] == 0 and counts["other"] == 0, (
        findings,
        counts,
    )
    assert counts["refused"] > 50 and counts["loaded"] > 0, counts
