"""The record of one walk through a network: quantities (numbers) and steps (equations).

A ``Quantity`` is one array of the walk (z1, a1, dL/dW2, ...) with the symbol it is
written with. A ``Step`` is one equation: ``lhs = rhs[0] = rhs[1] ...``, whose right-hand
sides are equation trees (``expr``) referring to quantities by key; its ``result`` is the
quantity the step computes. A ``Record`` holds them all, and is what every renderer
reads; it knows no renderer, so that the renderers can depend on it and
``trace.Trace`` on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

import numpy as np

from .expr import Expr, Q, has_quantities, walk

#: Headings of the four phases, in order.
PHASES = {
    "forward": "Forward pass",
    "loss": "Loss",
    "backward": "Backward pass (backpropagation)",
    "update": "Gradient-descent update",
    "attack": "Adversarial example (FGSM)",
    "optimizer": "Optimizer steps",
    "perceptron": "Perceptron learning rule",
    "outcome": "Outcome",
    "interval": "Interval bounds, layer by layer",
    "linear": "Linear (CROWN) bounds",
    "verdict": "Verdict",
}


@dataclass(frozen=True)
class Quantity:
    """One array of the walk.

    ``layout`` says how it is drawn: "batch" arrays have glassnet's shape
    (n_samples, width) and are drawn transposed, one column per sample, as in the
    textbook z = W x + b; "param" arrays are drawn as stored (b as a column); "matrix"
    as stored; "scalar" as one number.
    """

    key: str
    name: str
    layer: int | None
    symbol: Expr
    value: np.ndarray
    layout: str

    @property
    def drawable(self) -> bool:
        """Whether the value is one matrix (a batch's Jacobians are one per sample)."""
        return not (self.layout == "jacobian" and self.value.shape[0] > 1)

    def display(self) -> np.ndarray:
        """The value as the 2-D matrix that is drawn."""
        value = np.asarray(self.value)
        if self.layout == "jacobian":
            return value[0]
        if self.layout == "batch":
            return value.T
        if value.ndim == 0:
            return value.reshape(1, 1)
        if value.ndim == 1:
            return value.reshape(-1, 1)
        return value


@dataclass(frozen=True)
class Step:
    """One equation: ``lhs = rhs[0] = rhs[1] = ...``, computing quantity ``result``.

    ``title`` is a few words naming the step; ``note`` explains why, when that is not
    obvious (fused gradients, the softmax Jacobian, where backpropagation stops). A
    step with no ``lhs`` is a note alone. ``numbers=False`` leaves out the line with the
    numbers put in (when it would not be one matrix expression, e.g. per-sample
    Jacobians of a batch).
    """

    phase: str
    layer: int | None
    title: str
    lhs: Expr | None = None
    rhs: tuple[Expr, ...] = ()
    result: str | None = None
    note: str = ""
    numbers: bool = True

    def numeric_rhs(self, quantities: dict) -> list[Expr]:
        """The right-hand sides worth writing again with numbers: those with values in
        them, other than a bare quantity (its value is the result line) and other than
        per-sample Jacobians of a batch (not one matrix)."""
        if not self.numbers:
            return []
        return [
            e
            for e in self.rhs
            if has_quantities(e)
            and not isinstance(e, Q)
            and all(quantities[n.key].drawable for n in walk(e) if isinstance(n, Q))
        ]


@dataclass
class Record:
    """The fields and lookups of a trace, without its renderers: ``trace.Trace``
    adds them, and documents each field."""

    title: str
    layer_titles: list[str]
    loss_name: str | None
    loss_label: str | None
    loss_value: float | None
    lr: float | None
    dtype: str
    n_samples: int
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    quantities: dict[str, Quantity] = field(default_factory=dict)
    grads: list[dict] = field(default_factory=list)
    stopped: str | None = None
    attack: dict | None = None
    optimizer: dict | None = None

    @property
    def subtitle(self) -> str:
        parts = [] if self.loss_label is None else [self.loss_label]
        parts.append(f"{self.n_samples} sample" + ("" if self.n_samples == 1 else "s"))
        parts.append(self.dtype)
        return " · ".join(parts)

    # -- access -------------------------------------------------------------------------
    def __getitem__(self, key: str) -> np.ndarray:
        """The array of a quantity: ``trace["x"]``, ``trace["2.dL/dW"]`` (layer 2 of
        the math is ``net.layers[1]``; keys are listed in ``trace.quantities``)."""
        try:
            return self.quantities[key].value
        except KeyError:
            raise KeyError(
                f"no quantity {key!r} in this trace; it has {sorted(self.quantities)}"
            ) from None

    def add(self, quantity: Quantity) -> str:
        self.quantities[quantity.key] = quantity
        return quantity.key

    def sections(self):
        """(phase, layer, [steps]) in order: the headings the renderers write."""
        for (phase, layer), steps in groupby(
            self.steps, key=lambda s: (s.phase, s.layer)
        ):
            yield phase, layer, list(steps)
