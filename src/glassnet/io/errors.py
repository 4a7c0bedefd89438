"""The one error a bad model file raises."""

from __future__ import annotations

from ..errors import GlassnetError


class ModelFormatError(GlassnetError, ValueError):
    """A file that is not a valid glassnet model or checkpoint.

    Raised for every malformed, truncated, corrupted or hostile file, with a message
    naming what was wrong, what was expected and what was found. A subclass of
    ``ValueError``, so ``except ValueError`` catches it too.
    """
