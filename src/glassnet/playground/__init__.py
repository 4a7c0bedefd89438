"""The playground: a live page where a network learns a 2-D data set, and a click on
any point shows its math (``gn.explain``) with the current weights.

``glassnet playground`` starts it (``cli/playground.py``). ``session`` holds the
training state, ``datasets2d`` and ``features`` the data, ``stepview`` one batch with
what it changed, ``export`` the downloads (model file, trace, script), ``server`` the
web server and its JSON API; ``static/`` the page (plain HTML, CSS and JavaScript, no
network).
"""

from __future__ import annotations

from .server import PlaygroundServer
from .session import Config, Session

__all__ = ["Config", "PlaygroundServer", "Session"]
