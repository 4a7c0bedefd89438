"""Pictures of networks and their training (matplotlib, the ``plot`` extra): see
``glassnet.plot.figures``."""

from .figures import (
    CLASS_COLOURS,
    NEGATIVE,
    POSITIVE,
    activations,
    decision_boundary,
    history,
    network,
    save,
)

__all__ = [
    "CLASS_COLOURS",
    "NEGATIVE",
    "POSITIVE",
    "activations",
    "decision_boundary",
    "history",
    "network",
    "save",
]
