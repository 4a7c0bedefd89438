"""Coverage-guided fuzzing of the model-file loader with atheris (run by hand).

    pip install atheris
    python fuzz/fuzz_load.py --make-corpus fuzz/corpus     # real models and checkpoints
    python fuzz/fuzz_load.py fuzz/corpus -max_total_time=600 -rss_limit_mb=2048

Every input is loaded as a model and as a checkpoint. The only acceptable failure is
glassnet.ModelFormatError; anything else (another exception, a crash, a hang past
libFuzzer's -timeout, memory past -rss_limit_mb) is reported by libFuzzer with the
input that caused it, saved as crash-<hash> for replay:

    python fuzz/fuzz_load.py crash-<hash>
"""

from __future__ import annotations

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


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
        return

    import atheris

    with atheris.instrument_imports():
        import glassnet
        from glassnet.io.checkpoint import checkpoint_from_bytes
        from glassnet.io.model import from_bytes

    def test_one_input(data: bytes) -> None:
        for load in (from_bytes, checkpoint_from_bytes):
            try:
                load(data)
            except glassnet.ModelFormatError:
                pass

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
