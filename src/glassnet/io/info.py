"""A readable description of a model or checkpoint file (``glassnet info``)."""

from __future__ import annotations

import json
import os

import numpy as np

from . import container
from .checkpoint import parse_training
from .model import CHECKPOINT_FORMAT, read_model_file


def describe(path) -> str:
    """Architecture, parameter count, versions, and for a checkpoint the training
    position and optimizer, of the file at ``path`` (validated like ``gn.load``;
    non-finite weights are reported, not refused).

    Examples
    --------
    >>> import tempfile, os
    >>> import glassnet as gn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> _ = gn.save(gn.Sequential(gn.Dense(2, 1), seed=0), path)
    >>> print(gn.io.describe(path).splitlines()[0])
    glassnet model file (format version 1, written by glassnet 0.1.0)
    """
    path = os.fspath(path)
    loaded = read_model_file(path, allow_nonfinite=True)
    net = loaded.net
    kind = "checkpoint" if loaded.format == CHECKPOINT_FORMAT else "model file"
    lines = [
        f"glassnet {kind} (format version {loaded.format_version}, written by "
        f"glassnet {loaded.glassnet_version})",
        "",
        net.summary(),
    ]
    if not all(np.isfinite(p).all() for _, _, p in net.parameters()):
        lines.append("Warning: some weights are NaN or infinite")
    if loaded.metadata:
        lines.append(f"Metadata: {json.dumps(loaded.metadata, sort_keys=True)}")
    if loaded.format == CHECKPOINT_FORMAT:
        record = parse_training(loaded.header.metadata, loaded.tensors, net)
        lines.append(
            f"Training position: epoch {record['epoch']}, step {record['step']}"
        )
        config = record["optimizer_config"]
        if config is None:
            lines.append("Optimizer: none saved")
        else:
            settings = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name")
            lines.append(f"Optimizer: {config['name']}({settings})")
        if "history" in loaded.header.metadata:
            history = container.strict_json(
                loaded.header.metadata["history"], "history"
            )
            if isinstance(history, dict):
                series = history.get("history", history)
                if isinstance(series, dict):
                    tracked = ", ".join(sorted(map(str, series))[:10])
                    lines.append(f"History: {tracked}")
    return "\n".join(lines)
