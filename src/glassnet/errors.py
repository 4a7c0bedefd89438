"""The exceptions glassnet raises on purpose.

Each is a ``GlassnetError`` and also a subclass of the builtin exception a Python user
would expect (``except ValueError`` still catches a bad argument), so code can tell
glassnet's deliberate, explained errors from a bug: the command line prints a
``GlassnetError`` as one line, and anything else with its traceback.
"""

from __future__ import annotations


class GlassnetError(Exception):
    """Base of every exception glassnet raises on purpose, with a message saying what
    was wrong and what to do."""


class InputError(GlassnetError, ValueError):
    """A bad input caught at a boundary (a constructor, fit, predict, loading): the
    message names the argument, what was expected and what was received."""


class InputTypeError(InputError, TypeError):
    """A bad input of the wrong type: a ``TypeError`` as Python convention has it, and
    an ``InputError`` like every other checked input."""


class StepGradientError(GlassnetError, RuntimeError):
    """Backpropagation reached a step activation, whose derivative is 0 everywhere."""

    def __init__(self) -> None:
        super().__init__(
            "the step activation has no useful gradient (its derivative is 0 "
            "everywhere except at 0, where it is undefined), so backpropagation cannot "
            "train through it. Train a step-activated unit with gn.Perceptron, or use "
            "'sigmoid' for a differentiable stand-in."
        )


class NotBuiltError(GlassnetError, RuntimeError):
    """A layer was used before its parameters exist."""


class DivergenceError(GlassnetError, FloatingPointError):
    """Training produced a NaN or infinite loss or weight."""


class ConcurrentUseError(GlassnetError, RuntimeError):
    """A network was fitted in one thread while another thread used it (inference
    from many threads at once is safe; ``fit`` overlapping anything else is not)."""
