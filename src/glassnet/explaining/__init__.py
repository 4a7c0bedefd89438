"""gn.explain and its trace: the math of a network, step by step, with the numbers.

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

from .perceptron import PerceptronTrace, explain_perceptron
from .record import Quantity, Step
from .recorder import explain
from .trace import Trace
from .verification import VerificationTrace, explain_verification

__all__ = [
    "PerceptronTrace",
    "Quantity",
    "Step",
    "Trace",
    "VerificationTrace",
    "explain",
    "explain_perceptron",
    "explain_verification",
]
