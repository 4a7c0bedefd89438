"""Check backpropagation against central finite differences.

For each parameter entry theta_k:

    dL/dtheta_k ~ (L(theta + h e_k) - L(theta - h e_k)) / (2h)

whose error is O(h^2). In float64 with h = 1e-6 the truncation error (~h^2) and the
rounding error (~1e-16 / h) are both around 1e-10 relative, so a correct gradient agrees
to better than 1e-6 and a wrong one, even a slightly wrong one, does not.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> net = gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 2, "softmax"), seed=0)
>>> X = np.random.default_rng(1).normal(size=(5, 3))
>>> gn.gradcheck(net, X, [0, 1, 1, 0, 1], loss="cross_entropy").passed
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..nn.losses import get_loss
from ..nn.network import Sequential
from ..validation import check_input_matrix, check_same_length

DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GradcheckRow:
    layer: int
    layer_name: str
    param: str
    shape: tuple
    max_rel_error: float
    max_abs_error: float


@dataclass
class GradcheckReport:
    """Per layer and parameter: max |analytic - numeric| relative to the gradient's size."""

    rows: list[GradcheckRow] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    loss: str = ""

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.rows), default=0.0)

    @property
    def passed(self) -> bool:
        return bool(self.max_rel_error <= self.tolerance)

    def __str__(self) -> str:
        header = ("layer", "param", "shape", "max rel error", "max abs error", "")
        lines = [header]
        for r in self.rows:
            ok = "ok" if r.max_rel_error <= self.tolerance else "FAIL"
            lines.append(
                (
                    f"{r.layer} {r.layer_name}",
                    r.param,
                    "x".join(map(str, r.shape)),
                    f"{r.max_rel_error:.2e}",
                    f"{r.max_abs_error:.2e}",
                    ok,
                )
            )
        widths = [max(len(row[c]) for row in lines) for c in range(len(header))]
        text = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in lines
        ]
        verdict = "PASSED" if self.passed else "FAILED"
        text.append(
            f"{verdict}: max relative error {self.max_rel_error:.2e} "
            f"(tolerance {self.tolerance:.0e}, loss {self.loss})"
        )
        return "\n".join(text)


def gradcheck(
    net: Sequential,
    X,
    y,
    loss="mse",
    *,
    h: float = 1e-6,
    tolerance: float = DEFAULT_TOLERANCE,
    sample_weight=None,
) -> GradcheckReport:
    """Compare ``net.loss_and_grad`` with central finite differences, in float64.

    The check runs on a float64 copy of ``net`` (the network itself is unchanged), with
    dropout off. A parameter's error is max_k |g_k - n_k| / max(max_k |g_k|, max_k |n_k|),
    which is scale-free and does not blow up for entries that are almost zero.
    """
    loss = get_loss(loss)
    net64 = net.copy(dtype="float64")
    X = check_input_matrix(X, net64.in_features, np.float64)
    check_same_length(X, y)
    Y = net64.prepare_targets(y, loss)
    _, analytic = net64.loss_and_grad(X, Y, loss=loss, sample_weight=sample_weight)

    def loss_at_current_params() -> float:
        return net64.loss_value(X, Y, loss, sample_weight)

    report = GradcheckReport(tolerance=tolerance, loss=loss.name)
    for layer_index, name, param in net64.parameters():
        numeric = np.zeros_like(param)
        flat = param.reshape(-1)  # a view: writing to it moves the network's parameter
        # entries a layer does not learn (an Embedding's unknown row) have gradient 0
        # by definition: checked against 0, not against the loss's slope
        layer = net64.layers[layer_index]
        fixed = np.zeros(param.shape, bool)
        if hasattr(layer, "fixed_entries"):
            fixed = layer.fixed_entries(name)
        for k in np.flatnonzero(~fixed.reshape(-1)):
            original = flat[k]
            flat[k] = original + h
            loss_plus = loss_at_current_params()
            flat[k] = original - h
            loss_minus = loss_at_current_params()
            flat[k] = original
            numeric.reshape(-1)[k] = (loss_plus - loss_minus) / (2 * h)
        g = analytic[layer_index][name]
        abs_error = float(np.abs(g - numeric).max())
        scale = max(float(np.abs(g).max()), float(np.abs(numeric).max()), 1e-300)
        report.rows.append(
            GradcheckRow(
                layer=layer_index,
                layer_name=repr(net64.layers[layer_index]),
                param=name,
                shape=param.shape,
                max_rel_error=abs_error / scale,
                max_abs_error=abs_error,
            )
        )
    return report
