"""Saturated networks are explained with true arithmetic.

Where a sigmoid or softmax output rounds to exactly 0 or 1, glassnet computes the loss
in its stable form and δ in its fused form a − y; the textbook forms would, as numbers,
take log 0 or divide 0 by 0. A general checker re-evaluates every equation a trace
writes with numbers in it (the "= ..." line under each equation) with numpy, on the
trace's own values, and compares it with the step's result: each must be a true
equation. It runs on saturated networks of several activations and losses, in float32
and float64, alongside checks that no number made by an internal clamp (1e+12, the
floor of a(1 − a)) is printed."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from scipy.special import erf

import glassnet as gn
from glassnet.explaining.expr import Q, Symbolic
from glassnet.nn.formula import (
    Abs,
    Bin,
    Cases,
    Fn,
    Frac,
    Mean,
    Neg,
    Num,
    Paren,
    Pow,
    Sum,
    Sym,
    T,
)


class CannotEvaluate(Exception):
    """A node with no numpy meaning here (a backward of a layer, a named symbol)."""


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax_columns(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


FUNCTIONS = {
    "log": np.log,
    "exp": np.exp,
    "tanh": np.tanh,
    "erf": erf,
    "σ": sigmoid,
    "softmax": softmax_columns,
    "sign": np.sign,
    "step": lambda x: (x >= 0).astype(float),
    "Φ": lambda x: 0.5 * (1.0 + erf(x / math.sqrt(2.0))),
    "φ": lambda x: np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),
    "min": np.minimum,
    "diag": lambda column: np.diagflat(column),
}
COMPARISONS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def evaluate(expr, trace):
    """The value of an equation's right-hand side, in the layout the trace draws
    (columns are samples), with every quantity at its full float64 value."""
    if isinstance(expr, Q):
        return trace.quantities[expr.key].display().astype(np.float64)
    if isinstance(expr, Symbolic):
        raise CannotEvaluate("written in symbols only")
    if isinstance(expr, Num):
        return float(expr.value)
    if isinstance(expr, Sym):
        if expr.name == "e":
            return math.e
        if expr.name == "√2":
            return math.sqrt(2.0)
        raise CannotEvaluate(expr.name)
    if isinstance(expr, Paren):
        return evaluate(expr.arg, trace)
    if isinstance(expr, Neg):
        return -evaluate(expr.arg, trace)
    if isinstance(expr, Abs):
        return np.abs(evaluate(expr.arg, trace))
    if isinstance(expr, T):
        return np.transpose(evaluate(expr.arg, trace))
    if isinstance(expr, Frac):
        return evaluate(expr.num, trace) / evaluate(expr.den, trace)
    if isinstance(expr, Pow):
        exponent = evaluate(expr.exponent, trace)
        if expr.base == Sym("e", upright=True):
            return np.exp(exponent)
        return evaluate(expr.base, trace) ** exponent
    if isinstance(expr, Fn):
        args = [evaluate(arg, trace) for arg in expr.args]
        if expr.name == "max":  # max(z, 0) entry by entry; max z of one column
            return np.maximum(*args) if len(args) == 2 else args[0].max(axis=0)
        if expr.name not in FUNCTIONS:
            raise CannotEvaluate(expr.name)
        return FUNCTIONS[expr.name](*args)
    if isinstance(expr, Sum):  # "s": over the samples; "j", "c": down a column
        return np.sum(evaluate(expr.body, trace), axis=1 if expr.index == "s" else 0)
    if isinstance(expr, Mean):
        body = evaluate(expr.body, trace)
        return np.mean(body, axis=1) if expr.index == "s" else np.mean(body)
    if isinstance(expr, Cases):
        result = evaluate(expr.pieces[-1][0], trace)
        for value, condition in reversed(expr.pieces[:-1]):
            result = np.where(
                evaluate(condition, trace), evaluate(value, trace), result
            )
        return result
    if isinstance(expr, Bin):
        left, right = evaluate(expr.left, trace), evaluate(expr.right, trace)
        if expr.op in COMPARISONS:
            return COMPARISONS[expr.op](left, right)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        matrices = np.ndim(left) == 2 and np.ndim(right) == 2
        if expr.op == "*" and matrices and np.size(left) > 1 and np.size(right) > 1:
            return left @ right
        return left * right
    raise CannotEvaluate(type(expr).__name__)


def equation_errors(trace) -> tuple[list[str], int]:
    """The equations with numbers that are false, and how many were checked."""
    rtol = 1e-3 if trace.dtype == "float32" else 1e-7
    false, checked = [], 0
    for step in trace.steps:
        if step.result is None:
            continue
        result = trace.quantities[step.result].display().astype(np.float64)
        for rhs in step.numeric_rhs(trace.quantities):
            try:
                with np.errstate(all="ignore"):
                    got = np.broadcast_to(evaluate(rhs, trace), result.shape)
            except CannotEvaluate:
                continue
            checked += 1
            scale = np.nanmax(np.abs(np.where(np.isfinite(result), result, 0)))
            if not np.allclose(
                got, result, rtol=rtol, atol=rtol * (1.0 + scale), equal_nan=True
            ):
                false.append(f"{step.title}: {step.result} is {result}, written {got}")
    return false, checked


def layer(net, k, W, b):
    net.layers[k].W, net.layers[k].b = W, b


def seed_net(activation, out, dtype):
    """The seed 003 weights, hidden activation and output chosen per case."""
    net = gn.Sequential(
        gn.Dense(2, 2, activation=activation),
        gn.Dense(2, out[0], activation=out[1]),
        dtype=dtype,
        seed=0,
    )
    layer(net, 0, [[0.2, 0.4], [0.1, 0.6]], [0.3, 0.5])
    W2 = [[0.7, 0.9]] if out[0] == 1 else [[0.7, 0.9], [-0.7, -0.9], [0.1, -0.1]]
    layer(net, 1, W2, [0.2] * out[0])
    return net


SIGMOID = (1, "sigmoid")
SOFTMAX = (3, "softmax")
CASES = [
    # (hidden activation, output, loss, x, y)
    ("relu", SIGMOID, None, [100.0, 200.0], 0.0),  # a2 rounds to 1, y = 0
    ("relu", SIGMOID, None, [100.0, 200.0], 1.0),  # a2 = 1 = y: 0/0 in the chain
    ("relu", SIGMOID, None, [-300.0, -500.0], 1.0),  # relu off: nothing saturates
    ("tanh", SIGMOID, None, [100.0, 200.0], 0.0),  # tanh saturated at 1: slope 0
    ("sigmoid", SIGMOID, None, [-1000.0, -2000.0], 1.0),  # hidden sigmoid at 0
    ("relu", SIGMOID, "mse", [100.0, 200.0], 0.0),  # finite dL/da, slope 0
    ("relu", SOFTMAX, None, [1000.0, 2000.0], 2),  # softmax at huge logits
    ("relu", SOFTMAX, None, [1000.0, 2000.0], 0),
    ("elu", SIGMOID, None, [-800.0, -900.0], 1.0),  # ELU's e^z underflows
    ("softplus", SIGMOID, None, [50.0, 80.0], 0.0),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("hidden", "out", "loss", "x", "y"), CASES)
def test_every_equation_with_numbers_is_true(dtype, hidden, out, loss, x, y):
    net = seed_net(hidden, out, dtype)
    trace = gn.explain(net, [x], [y], loss=loss, lr=0.1)
    false, checked = equation_errors(trace)
    assert checked >= 10 and not false, "\n".join(false)
    # no number made by a clamp: the floor 1e-12 of a(1 − a) gives 1e+12, the
    # floor tiny of a gives 1e+38 or more
    for page in (trace.to_text(), trace.to_markdown(), trace.to_html()):
        assert not re.search(
            r"e\+(1[1-9]|[2-9]\d|\d{3})|10\^\{(1[1-9]|[2-9]\d)\}", page
        )


def test_saturated_bce_shows_the_fused_delta_and_the_stable_loss():
    net = seed_net("relu", SIGMOID, "float64")
    trace = gn.explain(net, [[100.0, 200.0]], [0.0])
    text = trace.to_text()
    # z2 = 0.7 * 100.3 + 0.9 * 130.5 + 0.2 = 187.86: a2 is exactly 1 in float64
    assert trace["2.a"][0, 0] == 1.0
    assert "δ2 = ∂L/∂z2 = ∂L/∂a2 · ∂a2/∂z2 = a2 − y\n     = 1 − 0\n     = 1\n" in text
    assert "1e+12" not in text and "× 0 = 1" not in text
    # the loss: by the stable form, max(z, 0) − z y + log(1 + e^(−|z|)) = z for y = 0
    assert "= max(187.86, 0) − 187.86 × 0 + log(1 + e^(−|187.86|))" in text
    assert trace.loss_value == pytest.approx(187.86, rel=1e-12)
    # ∂L/∂a2 as the formula gives it in floating point: 1/0 is inf, and the note
    # says it is never used; the gradients are the library's, unchanged
    assert np.isinf(trace["2.dL/da"]).all()
    assert "never uses it" in " ".join(text.split())
    layers = json.loads(trace.to_json())["layers"]  # strict JSON: inf as a string
    assert layers[1]["dL/da"] == [["inf"]]
    reference = seed_net("relu", SIGMOID, "float64")
    reference.loss_and_grad(np.array([[100.0, 200.0]]), np.array([[0.0]]), "bce")
    for k, grads in enumerate(trace.grads):
        for name, g in grads.items():
            np.testing.assert_array_equal(g, reference.layers[k].grads[name])


def test_saturated_sigmoid_slope_is_explained():
    net = seed_net("sigmoid", SIGMOID, "float64")
    text = " ".join(gn.explain(net, [[-1000.0, -2000.0]], [1.0]).to_text().split())
    assert "this slope is 0: the true slope is positive" in text


def test_the_checker_catches_false_arithmetic():
    # the checker itself: an equation whose numbers do not give its result fails
    net = seed_net("relu", SIGMOID, "float64")
    trace = gn.explain(net, [[1.0, 2.0]], [1.0])
    assert equation_errors(trace)[0] == []
    trace.quantities["2.dL/dz"].value[...] = 0.5  # δ2 no longer a2 − y
    assert any("2.dL/dz" in line for line in equation_errors(trace)[0])
