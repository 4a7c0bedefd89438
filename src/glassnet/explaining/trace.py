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
    optimizer : with ``optimizer=``: its "config", "steps", the "losses" before step
        1 and after each step, the final flat "params" and its "state" (state_dict).
    """

    def to_text(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 6,
        width: int = 88,
        summaries: bool = False,
    ) -> str:
        """A terminal rendering: each equation, then with numbers, then the result.

        Matrices larger than ``max_rows`` x ``max_cols`` show their first rows and
        columns, with a line giving their shape ("W1 (128 × 784): rows 1–8 of 128,
        columns 1–6 of 784"); ``summaries`` adds each matrix's norm, min and max.
        """
        return render_text(self, precision, max_rows, max_cols, width, summaries)

    def to_markdown(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 6,
        summaries: bool = False,
    ) -> str:
        """Markdown with LaTeX math ($$ ... $$), for GitHub, Jupyter or pandoc."""
        return render_markdown(self, precision, max_rows, max_cols, summaries)

    def to_html(
        self,
        precision: int = 6,
        max_rows: int = 8,
        max_cols: int = 6,
        full_page: bool = True,
        summaries: bool = False,
    ) -> str:
        """One self-contained HTML page (MathML, inline CSS, no scripts, no network)."""
        return render_html(self, precision, max_rows, max_cols, full_page, summaries)

    def to_json(self, indent: int | None = 2) -> str:
        """Every number at full precision, keyed by layer and quantity."""
        return render_json(self, indent)

    def to_dict(self) -> dict:
        """The JSON document as Python objects (lists of floats)."""
        return trace_dict(self)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        """What Jupyter shows: the HTML rendering as one self-contained fragment
        (MathML, its styles scoped to a ``<div class="gx">``, no scripts, no
        network).

        Examples
        --------
        >>> import glassnet as gn
        >>> net, X, y = gn.worked_example.seed003_example()
        >>> gn.explain(net, X, y)._repr_html_().startswith('<div class="gx">')
        True
        """
        return self.to_html(full_page=False)

    def _repr_markdown_(self) -> str:
        """The Markdown rendering, for front ends that show Markdown but not HTML."""
        return self.to_markdown()

    def __repr__(self) -> str:
        loss = "" if self.loss_value is None else f", L={self.loss_value:.6g}"
        return (
            f"<glassnet explain trace: {self.title} · {self.subtitle}{loss}, "
            f"{len(self.steps)} steps>"
        )
