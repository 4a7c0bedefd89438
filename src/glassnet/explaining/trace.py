"""The trace ``gn.explain`` returns: the record of one walk, and its renderers.

``Trace`` is a ``record.Record`` (the quantities and steps of the walk) that renders
itself as text, Markdown (LaTeX), HTML (MathML) or JSON. The renderers read the
record and never this module, so the imports run one way: trace -> renderers ->
record.
"""

from __future__ import annotations

from .html import render_html
from .json import render_json, trace_dict
from .markdown import render_markdown
from .record import PHASES, Quantity, Record, Step
from .text import render_text

__all__ = ["PHASES", "Quantity", "Record", "Step", "Trace"]


class Trace(Record):
    """Everything ``gn.explain`` recorded; render it with ``to_text``, ``to_markdown``,
    ``to_html`` or ``to_json``.

    Attributes
    ----------
    title : the network in one line ("Sequential 2 → 2 (ReLU) → 1 (sigmoid)").
    subtitle : the loss, the number of samples and the dtype.
    steps : list of Step, in the order a teacher would write them.
    quantities : dict key -> Quantity (keys like "x", "L", "1.z", "2.dL/dW").
    layer_titles : one heading per layer of the network.
    loss_value : the loss L (float), or None when no target was given.
    grads : per layer, {"W": dL/dW, "b": dL/db} as ``net.loss_and_grad`` returns them
        (empty dicts for layers without parameters, and for every layer when
        backpropagation could not run).
    stopped : why backpropagation stopped (the StepGradientError message), or None.
    """

    def to_text(
        self, precision: int = 6, max_rows: int = 8, max_cols: int = 6, width: int = 88
    ) -> str:
        """A terminal rendering: each equation, then with numbers, then the result."""
        return render_text(self, precision, max_rows, max_cols, width)

    def to_markdown(
        self, precision: int = 6, max_rows: int = 8, max_cols: int = 6
    ) -> str:
        """Markdown with LaTeX math ($$ ... $$), for GitHub, Jupyter or pandoc."""
        return render_markdown(self, precision, max_rows, max_cols)

    def to_html(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 6,
        full_page: bool = True,
    ) -> str:
        """One self-contained HTML page (MathML, inline CSS, no scripts, no network)."""
        return render_html(self, precision, max_rows, max_cols, full_page)

    def to_json(self, indent: int | None = 2) -> str:
        """Every number at full precision, keyed by layer and quantity."""
        return render_json(self, indent)

    def to_dict(self) -> dict:
        """The JSON document as Python objects (lists of floats)."""
        return trace_dict(self)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:  # Jupyter shows the trace as formatted math
        return self.to_html(full_page=False)

    def __repr__(self) -> str:
        loss = "" if self.loss_value is None else f", L={self.loss_value:.6g}"
        return (
            f"<glassnet explain trace: {self.title} · {self.subtitle}{loss}, "
            f"{len(self.steps)} steps>"
        )
