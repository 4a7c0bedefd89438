"""The one error a data file that cannot be used raises."""

from __future__ import annotations

from ..errors import GlassnetError


class DataError(GlassnetError, ValueError):
    """A data file that cannot be used as asked: the message says why and what to do."""
