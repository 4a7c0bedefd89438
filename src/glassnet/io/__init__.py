"""Model files and checkpoints: safe (nothing in a file is executed), exact (bit for
bit) and durable (atomic writes).

- ``save(net, path, metadata=None)`` / ``load(path)``: a network in a safetensors file.
- ``save_checkpoint(...)`` / ``load_checkpoint(path)``: network, optimizer, history,
  random state and training position, to resume training exactly. The history is
  plain data here (the dict ``History.to_dict()`` gives); ``gn.save_checkpoint`` and
  ``gn.load_checkpoint`` (``glassnet.training.checkpoint``) take and give a History.
- ``latest_checkpoint(folder)``: the newest checkpoint in a folder that loads.
- ``describe(path)``: the text ``glassnet info`` prints.
- ``to_bytes`` / ``from_bytes``: the same files in memory.

Every malformed file raises ``ModelFormatError`` (a ``ValueError``).
"""

from __future__ import annotations

from .atomic import atomic_write
from .checkpoint import Checkpoint, latest_checkpoint, load_checkpoint, save_checkpoint
from .errors import ModelFormatError
from .info import describe
from .model import FORMAT_VERSION, from_bytes, load, save, to_bytes

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "ModelFormatError",
    "atomic_write",
    "describe",
    "from_bytes",
    "latest_checkpoint",
    "load",
    "load_checkpoint",
    "save",
    "save_checkpoint",
    "to_bytes",
]
