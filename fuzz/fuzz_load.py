"""Coverage-guided fuzzing of the model-file loader with atheris (run by hand).

    pip install atheris
    python fuzz/fuzz_load.py --make-corpus fuzz/corpus     # real models and checkpoints
    python fuzz/fuzz_load.py fuzz/corpus -max_total_time=600 -rss_limit_mb=2048

Every input is loaded as a model and as a checkpoint. The only acceptable failure is
glassnet.ModelFormatError; anything else (another exception, a crash, a hang past
libFuzzer's -timeout, memory past -rss_limit_mb) is reported by libFuzzer with the
input that caused it, saved as crash-<hash> for replay:

    python fuzz/fuzz_load.py crash-<hash>

Every network that loads also draws from its restored generator, so a generator state
that passes the checks but crashes numpy (Philox ``buffer_pos = -2**31``) is a crash.

Generator states get a structured fuzzer of their own (no atheris needed): fields of
every bit generator replaced by edge values, wrong types and lengths, keys dropped
or added, names swapped, written into model files and checkpoints with the checksum
recomputed, loaded, and drawn from. Each batch runs in a child process, so a segfault
is counted, not fatal:

    python fuzz/fuzz_load.py --rng-states 300      # seconds; prints the counts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def make_corpus(folder: Path) -> None:
    """Writes a few real files (models of each dtype and layer kind, checkpoints with
    SGD and Adam state and a History) as the seed corpus."""
    import numpy as np

    import glassnet as gn
    from glassnet.io.checkpoint import checkpoint_bytes
    from glassnet.optim import get_optimizer
    from glassnet.training.history import History

    folder.mkdir(parents=True, exist_ok=True)
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
    ]
    for i, net in enumerate(nets):
        (folder / f"model{i}.safetensors").write_bytes(
            gn.io.to_bytes(net, metadata={"classes": ["a", "b"]})
        )
    net = nets[0]
    X = np.random.default_rng(0).normal(size=(8, 3))
    history = History({"epochs": 2})
    history.append(0, {"loss": 0.5, "lr": 0.1})
    for name, config in (("sgd", {"lr": 0.1, "momentum": 0.9}), ("adam", {})):
        optimizer = get_optimizer(name, **config)
        net.loss_and_grad(X, X[:, :1], "mse")
        optimizer.step(net.flat_params, net.flat_grads)
        data = checkpoint_bytes(net, optimizer, history, None, 1, 1)
        (folder / f"checkpoint-{name}.safetensors").write_bytes(data)
    print(f"wrote {len(list(folder.iterdir()))} files to {folder}")


# -- generator states --------------------------------------------------------------
_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _weird(rng, current):
    """A replacement for one field: edges of every unsigned width, negatives, wrong
    types, wrong lengths."""
    edges = [0, 1, 4, 5, 623, 624, 625, 2**31, -(2**31), -1, -5, 2**32 - 1, 2**32,
             2**63, 2**64 - 1, 2**64, 2**128 - 1, 2**128, 2**200, -(2**64)]  # fmt: skip
    choice = rng.integers(9)
    if choice < 4:
        return edges[rng.integers(len(edges))]
    if choice == 4:
        return [True, 1.5, "1", None, {}, float("1e300")][rng.integers(6)]
    if choice == 5 and isinstance(current, list) and current:
        items = list(current)
        items[rng.integers(len(items))] = edges[rng.integers(len(edges))]
        return items
    if choice == 6 and isinstance(current, list):
        n = int(rng.integers(0, len(current) + 3))
        return [edges[rng.integers(len(edges))] for _ in range(n)]
    if choice == 7:
        return [edges[rng.integers(len(edges))]]
    return None


def mutate_rng_state(state: dict, rng) -> dict:
    """``state`` (plain JSON) with one to three fields changed, dropped or added, or
    its generator name swapped."""
    state = json.loads(json.dumps(state))
    for _ in range(int(rng.integers(1, 4))):
        holders = [state] + [v for v in state.values() if isinstance(v, dict)]
        holder = holders[rng.integers(len(holders))]
        keys = sorted(holder)
        kind = rng.integers(10)
        if kind == 0 and keys:
            del holder[keys[rng.integers(len(keys))]]
        elif kind == 1:
            holder[["extra", "pos", "buffer_pos", "key"][rng.integers(4)]] = 0
        elif kind == 2:
            state["bit_generator"] = _GENERATORS[rng.integers(len(_GENERATORS))]
        elif keys:
            key = keys[rng.integers(len(keys))]
            if key != "bit_generator":
                holder[key] = _weird(rng, holder[key])
    return state


def _rng_bases():
    """(kind, bytes, architecture-or-training edit point) for each generator."""
    import numpy as np

    import glassnet as gn
    from glassnet.io.checkpoint import checkpoint_bytes

    bases = []
    for name in _GENERATORS:
        bit_generator = getattr(np.random, name)(5)
        generator = np.random.Generator(bit_generator)
        generator.integers(0, 2**31, 3, dtype=np.uint32)  # a spare uint32, buffers
        net = gn.Sequential(
            gn.Dense(2, 3, activation="relu"), gn.Dropout(0.5), gn.Dense(3, 1),
            seed=generator,
        )  # fmt: skip
        bases.append(("model", gn.io.to_bytes(net)))
        state = net.rng.bit_generator.state
        bases.append(("checkpoint", checkpoint_bytes(net, None, None, state, 1, 2)))
    return bases


def rng_worker(seed: int, seconds: float) -> dict:
    """Mutants of generator states until ``seconds`` pass: counts by outcome."""
    import time

    import numpy as np

    import glassnet
    from glassnet.io import container
    from glassnet.io.checkpoint import checkpoint_from_bytes
    from glassnet.io.model import from_bytes

    rng = np.random.default_rng(seed)
    bases = _rng_bases()
    counts = {"cases": 0, "refused": 0, "loaded": 0, "other": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind, data = bases[rng.integers(len(bases))]
        header, tensors = container.decode(data)
        meta = dict(header.metadata)
        key = "architecture" if kind == "model" else "training"
        record = json.loads(meta[key])
        field = "rng" if kind == "model" else "rng_state"
        record[field] = mutate_rng_state(record[field], rng)
        meta[key] = json.dumps(record)
        mutant = container.encode(tensors, meta)
        counts["cases"] += 1
        try:
            if kind == "model":
                net = from_bytes(mutant)
            else:
                net = checkpoint_from_bytes(mutant).net
        except glassnet.ModelFormatError:
            counts["refused"] += 1
            continue
        except Exception as error:  # anything else is a finding
            counts["other"] += 1
            print(f"not a ModelFormatError: {type(error).__name__}: {error}")
            continue
        net.rng.random(8), net.rng.integers(0, 2**40, 8), net.rng.bit_generator.state
        counts["loaded"] += 1
    return counts


def run_rng_states(seconds: float, batch: float = 30.0) -> dict:
    """Child processes of ``batch`` seconds each until ``seconds`` pass; a child
    that dies by a signal is a crash, counted with its seed."""
    import subprocess
    import time

    total = {"cases": 0, "refused": 0, "loaded": 0, "other": 0, "crashes": 0}
    deadline = time.monotonic() + seconds
    seed = 0
    while time.monotonic() < deadline:
        budget = min(batch, max(deadline - time.monotonic(), 1.0))
        child = subprocess.run(
            [sys.executable, __file__, "--rng-worker", str(seed), str(budget)],
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            total["crashes"] += 1
            print(f"seed {seed}: child ended with {child.returncode}: "
                  f"{child.stderr.strip()[-300:]}")  # fmt: skip
        else:
            lines = child.stdout.strip().splitlines()
            for line in lines[:-1]:
                print(f"seed {seed}: {line}")
            for name, n in json.loads(lines[-1]).items():
                total[name] += n
        seed += 1
    return total


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--rng-states":
        print(json.dumps(run_rng_states(float(sys.argv[2]))))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--rng-worker":
        print(json.dumps(rng_worker(int(sys.argv[2]), float(sys.argv[3]))))
        return

    import atheris

    with atheris.instrument_imports():
        import glassnet
        from glassnet.io.checkpoint import checkpoint_from_bytes
        from glassnet.io.model import from_bytes

    def test_one_input(data: bytes) -> None:
        for load in (from_bytes, checkpoint_from_bytes):
            try:
                loaded = load(data)
            except glassnet.ModelFormatError:
                continue
            net = getattr(loaded, "net", loaded)
            net.rng.random(4)  # a restored generator must draw without crashing

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
