"""The perceptron learning rule as a trace: epoch by epoch, sample by sample.

For each sample, in order (seed 004, Rosenblatt's rule)::

    y_hat = step(w . x + b)                 step(z) = 1 if z >= 0, else 0
    w_new = w + lr (y - y_hat) x            only when y_hat != y
    b_new = b + lr (y - y_hat)

An epoch without mistakes ends the walk (converged); a state (w, b) seen again at the
end of an epoch proves a cycle (the rule is deterministic), as ``gn.Perceptron.fit``
decides it. The arithmetic is ``Perceptron.fit``'s, operation for operation, so the
final w and b are the same bits.
"""

from __future__ import annotations

import json

import numpy as np

from ..validation import (
    as_float_array,
    check_input_matrix,
    check_number,
    check_positive_int,
    check_same_length,
)
from .expr import Bin, Fn, Paren, Q, Sym
from .markdown import LatexRenderer
from .numbers import Format
from .record import Quantity, Step
from .trace import Trace

FORMAT = "glassnet-explain-perceptron/1"

#: The four two-input logic gates, on the inputs (0, 0), (0, 1), (1, 0), (1, 1).
GATE_INPUTS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
GATES = {
    "AND": (0.0, 0.0, 0.0, 1.0),
    "OR": (0.0, 1.0, 1.0, 1.0),
    "NAND": (1.0, 1.0, 1.0, 0.0),
    "XOR": (0.0, 1.0, 1.0, 0.0),
}


def gate(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a logic gate: X (4, 2) and y (4,) with 0/1 labels.

    Examples
    --------
    >>> X, y = gate("AND")
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0.0, 0.0, 0.0, 1.0])
    """
    key = str(name).upper()
    if key not in GATES:
        raise ValueError(f"gate must be one of {', '.join(GATES)}, got {name!r}")
    return np.array(GATE_INPUTS), np.array(GATES[key])


class PerceptronTrace(Trace):
    """The trace of the perceptron rule: the steps of every sample of every epoch.

    Beside ``Trace``'s fields: ``w``, ``b`` (the final weights and bias, as
    ``Perceptron.fit`` leaves them), ``epochs`` (per epoch: its mistakes and the w, b
    at its end, and per sample x, y, z, y_hat, the error and the new w, b),
    ``mistakes_per_epoch``, ``converged``, ``separable`` (True, False when a cycle
    proves it, None when unknown), ``repeat_of`` (the earlier epoch whose end state
    came back, 0 for the start) and ``message``. The text, Markdown and HTML
    renderings are the network trace's; the JSON has its own layout (``to_dict``).
    """

    def to_dict(self) -> dict:
        """Every number at full precision: the data, each epoch, each sample."""
        latex = LatexRenderer(self, Format())
        steps = []
        for step in self.steps:
            entry = {"phase": step.phase, "title": step.title}
            entry["section"] = self.layer_titles[step.layer]
            if step.lhs is not None:
                entry["result"] = step.result
                entry["latex"] = " = ".join(
                    latex.render(e) for e in (step.lhs, *step.rhs)
                )
                shown = [*step.numeric_rhs(self.quantities), Q(step.result)]
                entry["numbers"] = " = ".join(
                    latex.render(e, numeric=True) for e in shown
                )
            if step.note:
                entry["note"] = step.note
            steps.append(entry)
        return {
            "format": FORMAT,
            "model": self.title,
            "dtype": self.dtype,
            "n_samples": self.n_samples,
            "notes": self.notes,
            "X": self["x"].tolist(),
            "y": self["y"].tolist(),
            "lr": self.lr,
            "w0": self.w0.tolist(),
            "b0": self.b0,
            "epochs": self.epochs,
            "mistakes_per_epoch": self.mistakes_per_epoch,
            "converged": self.converged,
            "separable": self.separable,
            "repeat_of": self.repeat_of,
            "message": self.message,
            "w": self.w.tolist(),
            "b": self.b,
            "steps": steps,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON document of ``to_dict`` (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def __repr__(self) -> str:
        return (
            f"<glassnet perceptron trace: {self.title} · {self.subtitle}, "
            f"{len(self.epochs)} epochs, {self.message}>"
        )


def explain_perceptron(
    X, y, lr: float = 1.0, epochs: int = 100, w0=None, b0: float = 0.0
) -> PerceptronTrace:
    """Record the perceptron learning rule on (X, y), epoch by epoch, sample by sample.

    For each sample in order: z = w . x + b, y_hat = step(z) (1 if z >= 0, else 0),
    the error y - y_hat, and when it is not zero w_new = w + lr (y - y_hat) x,
    b_new = b + lr (y - y_hat). Each epoch ends with its count of mistakes; the walk
    ends after an epoch without mistakes (converged), when (w, b) at the end of an
    epoch equals its value at the end of an earlier one (a cycle: the data is not
    linearly separable), or after ``epochs`` epochs. The rule and its arithmetic are
    ``gn.Perceptron.fit``'s: with w0 = 0, b0 = 0 the final w and b are bitwise its.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    y : array-like, shape (n_samples,), labels 0 or 1
    lr : float > 0, the learning rate (eta)
    epochs : int >= 1, the most epochs walked (``Perceptron``'s ``max_epochs``)
    w0 : array-like, shape (n_features,), optional: the starting weights (zeros)
    b0 : float: the starting bias

    Returns
    -------
    PerceptronTrace
        ``w``, ``b``, ``epochs``, ``message``; ``to_text()``, ``to_markdown()``,
        ``to_html()``, ``to_json()`` render it.

    Examples
    --------
    >>> import glassnet as gn
    >>> X, y = [[0, 0], [0, 1], [1, 0], [1, 1]], [0, 0, 0, 1]
    >>> trace = gn.explain_perceptron(X, y)
    >>> trace.w.tolist(), trace.b, trace.mistakes_per_epoch
    ([2.0, 1.0], -3.0, [2, 3, 3, 2, 1, 0])
    >>> trace.message
    'converged after 6 epoch(s): the data is linearly separable'
    """
    X = check_input_matrix(X, None, np.float64)
    y = as_float_array(y, "y", np.float64, ndim=1)
    check_same_length(X, y)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"Perceptron labels must be 0 or 1, got {np.unique(y)[:5]}")
    lr = check_number(lr, "lr", low=0.0, low_open=True)
    epochs = check_positive_int(epochs, "epochs")
    n_features = X.shape[1]
    if w0 is None:
        w0 = np.zeros(n_features)
    w0 = as_float_array(w0, "w0", np.float64, ndim=1).copy()
    if w0.shape != (n_features,):
        raise ValueError(f"w0 must have {n_features} entries like x, got {w0.size}")
    b0 = float(check_number(b0, "b0"))
    return _Walk(X, y, lr, epochs, w0, b0).run()


class _Walk:
    """Runs the rule as ``Perceptron.fit`` does, recording each step."""

    def __init__(self, X, y, lr, max_epochs, w0, b0):
        self.X, self.y, self.lr, self.max_epochs = X, y, lr, max_epochs
        self.fmt = Format()
        self.trace = PerceptronTrace(
            title=f"Perceptron {X.shape[1]} → 1 (step), η = {lr:g}",
            layer_titles=[],
            loss_name=None,
            loss_label=None,
            loss_value=None,
            lr=lr,
            dtype="float64",
            n_samples=X.shape[0],
            notes=[
                "step(z) = 1 if z ≥ 0, else 0 (z = 0 gives 1, as gn.Perceptron "
                "predicts); labels are 0 or 1. The rows of x are the samples.",
                "Samples are taken in order; w and b change only after a mistake "
                "(ŷ ≠ y), to w_new = w + η (y − ŷ) x and b_new = b + η (y − ŷ).",
                "An epoch without mistakes ends training (converged); w and b at the "
                "end of an epoch equal to those at the end of an earlier one prove a "
                "cycle: the data is not linearly separable.",
            ],
        )
        self.trace.w0, self.trace.b0 = w0.copy(), b0
        self.w, self.b = w0, b0
        self.add("x", "X", Sym("X"), X, "matrix")
        self.add("y", "y", Sym("y"), y, "param")
        self.add("lr", "lr", Sym("η"), np.asarray(lr), "scalar")

    def add(self, key, name, symbol, value, layout) -> Q:
        value = np.array(value, dtype=np.float64)  # a copy: w changes in place
        self.trace.add(Quantity(key, name, None, symbol, value, layout))
        return Q(key)

    def section(self, title: str) -> int:
        self.trace.layer_titles.append(title)
        return len(self.trace.layer_titles) - 1

    def state(self) -> bytes:
        return self.w.tobytes() + np.float64(self.b).tobytes()  # Perceptron._state

    def run(self) -> PerceptronTrace:
        t = self.trace
        t.epochs, t.mistakes_per_epoch = [], []
        t.converged, t.separable, t.repeat_of = False, None, None
        seen = {self.state(): 0}  # state -> the epoch it ended (0: the start)
        for epoch in range(1, self.max_epochs + 1):
            samples = [self.sample(epoch, i) for i in range(len(self.X))]
            mistakes = sum(s["error"] != 0 for s in samples)
            t.mistakes_per_epoch.append(int(mistakes))
            t.epochs.append(
                {
                    "epoch": epoch,
                    "mistakes": int(mistakes),
                    "w": self.w.tolist(),
                    "b": float(self.b),
                    "samples": samples,
                }
            )
            wrong = [str(s["sample"]) for s in samples if s["error"] != 0]
            where = (
                f" (sample{'s' * (len(wrong) > 1)} {', '.join(wrong)})" if wrong else ""
            )
            self.note(
                f"End of epoch {epoch}",
                f"Mistakes: {mistakes}",
                f"{mistakes} mistake{'' if mistakes == 1 else 's'} in epoch "
                f"{epoch}{where}; now {self.wb()}.",
            )
            if mistakes == 0:
                t.converged = t.separable = True
                t.message = (
                    f"converged after {epoch} epoch(s): the data is linearly separable"
                )
                return self.finish(
                    "Converged",
                    f"Epoch {epoch} made no mistakes, so every sample is "
                    f"classified right by {self.wb()} and the rule changes nothing "
                    "more. The data is linearly separable.",
                )
            state = self.state()
            if state in seen:
                t.separable, t.repeat_of = False, seen[state]
                before = (
                    "at the start"
                    if t.repeat_of == 0
                    else (f"at the end of epoch {t.repeat_of}")
                )
                t.message = (
                    f"cycle: after epoch {epoch} (w, b) returned to its value "
                    f"{before}: the data is not linearly separable"
                )
                again = (
                    f"epoch {epoch} repeats"
                    if t.repeat_of + 1 == epoch
                    else f"epochs {t.repeat_of + 1} to {epoch} repeat"
                )
                return self.finish(
                    "Cycle detected",
                    f"After epoch {epoch}, {self.wb()}: the same as {before}. The "
                    f"rule is deterministic, so {again} forever: the data is not "
                    "linearly separable (a network with a hidden layer, "
                    "gn.Sequential, can learn it).",
                )
            seen[state] = epoch
        t.message = (
            f"did not converge in {self.max_epochs} epochs "
            f"({t.mistakes_per_epoch[-1]} mistakes in the last)"
        )
        return self.finish(
            "Not converged",
            f"Stopped after {self.max_epochs} epochs with "
            f"{t.mistakes_per_epoch[-1]} mistakes in the last and no repeated state: "
            f"{self.wb()}. More epochs may converge, or find a cycle.",
        )

    def sample(self, epoch: int, i: int) -> dict:
        x_i, y_i = self.X[i], self.y[i]
        k = f"e{epoch}.s{i + 1}"
        layer = self.section(
            f"Epoch {epoch}, sample {i + 1}: x = ({', '.join(self.num(v) for v in x_i)}"
            f"), y = {self.num(y_i)}"
        )
        w = self.add(f"{k}.w", "w", Sym("w"), self.w, "param")
        b = self.add(f"{k}.b", "b", Sym("b"), self.b, "scalar")
        x = self.add(f"{k}.x", "x", Sym("x"), x_i, "param")
        y = self.add(f"{k}.y", "y", Sym("y"), y_i, "scalar")
        z_value = x_i @ self.w + self.b  # as Perceptron.fit: step(w . x + b)
        y_hat_value = 1.0 if z_value >= 0 else 0.0
        z = self.add(f"{k}.z", "z", Sym("z"), z_value, "scalar")
        y_hat = self.add(f"{k}.y_hat", "y_hat", Sym("ŷ"), y_hat_value, "scalar")
        self.step(
            layer,
            "Prediction",
            y_hat,
            (Fn("step", (Bin("+", Bin("·", w, x), b),)), Fn("step", (z,))),
        )
        error_value = y_i - y_hat_value
        error = self.add(f"{k}.error", "error", Sym("e"), error_value, "scalar")
        self.step(layer, "Error", error, (Bin("-", y, y_hat),))
        record = {
            "sample": i + 1,
            "x": x_i.tolist(),
            "y": float(y_i),
            "w": self.w.tolist(),
            "b": float(self.b),
            "z": float(z_value),
            "y_hat": y_hat_value,
            "error": float(error_value),
        }
        if y_hat_value == y_i:
            self.trace.steps.append(
                Step(
                    "perceptron",
                    layer,
                    "No change",
                    note="ŷ = y: no mistake, so w and b stay as they are.",
                )
            )
            return record
        self.w += self.lr * (y_i - y_hat_value) * x_i  # w <- w + lr (y - y_hat) x
        self.b += self.lr * (y_i - y_hat_value)  # b <- b + lr (y - y_hat)
        lr = Q("lr")
        w_new = self.add(f"{k}.w_new", "w_new", Sym("w", "", "new"), self.w, "param")
        b_new = self.add(f"{k}.b_new", "b_new", Sym("b", "", "new"), self.b, "scalar")
        diff = Paren(Bin("-", y, y_hat))
        self.step(
            layer, "New weights", w_new, (Bin("+", w, Bin("*", Bin("*", lr, diff), x)),)
        )
        self.step(layer, "New bias", b_new, (Bin("+", b, Bin("*", lr, diff)),))
        record.update(w_new=self.w.tolist(), b_new=float(self.b))
        return record

    def step(self, layer: int, title: str, result: Q, rhs: tuple) -> None:
        symbol = self.trace.quantities[result.key].symbol
        self.trace.steps.append(
            Step("perceptron", layer, title, symbol, rhs, result.key)
        )

    def note(self, section: str, title: str, text: str, phase="perceptron") -> None:
        self.trace.steps.append(Step(phase, self.section(section), title, note=text))

    def finish(self, title: str, text: str) -> PerceptronTrace:
        t = self.trace
        t.w, t.b = self.w.copy(), float(self.b)  # float() of a float64: exact
        self.note("Result", title, text, "outcome")
        return t

    def num(self, value) -> str:
        return self.fmt.number(float(value))

    def wb(self) -> str:
        w = ", ".join(self.num(v) for v in self.w)
        return f"w = ({w}), b = {self.num(self.b)}"
