"""glassnet explain: the math of a network, step by step, with the numbers in it.

``gn.explain(net, x, y)`` walks one sample (or a small batch) through the network and
records each equation symbolically and each number as an array; the trace renders as
text, Markdown (LaTeX), HTML (MathML) or JSON.

Examples
--------
>>> import glassnet as gn
>>> net, X, y = gn.worked_example.seed003_example()
>>> trace = gn.explain(net, X, y)
>>> round(float(trace["2.a"][0, 0]), 6)
0.938774
"""

from __future__ import annotations

import sys
import types

from .recorder import explain
from .trace import Quantity, Step, Trace

__all__ = ["Quantity", "Step", "Trace", "explain"]


class _CallableModule(types.ModuleType):
    """This package and its main function share the name ``glassnet.explain``.
    ``import glassnet`` binds the function, but an import system that re-imports the
    package (pytest's importlib mode, reloaders) rebinds the attribute to the module;
    calling the module then still calls ``explain``."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
