"""The exceptions glassnet raises on purpose, each a subclass of a builtin one."""

from __future__ import annotations


class StepGradientError(RuntimeError):
    """Backpropagation reached a step activation, whose derivative is 0 everywhere."""

    def __init__(self) -> None:
        super().__init__(
            "the step activation has no useful gradient (its derivative is 0 "
            "everywhere except at 0, where it is undefined), so backpropagation cannot "
            "train through it. Train a step-activated unit with gn.Perceptron, or use "
            "'sigmoid' for a differentiable stand-in."
        )


class NotBuiltError(RuntimeError):
    """A layer was used before its parameters exist."""


class DivergenceError(FloatingPointError):
    """Training produced a NaN or infinite loss or weight."""
