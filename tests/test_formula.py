"""Each activation's formula, written once (glassnet.nn.formula), is the function the
code computes: evaluated with numpy it equals forward() (and its derivative formula
equals derivative()); every registered activation can be explained with it and
exported to ONNX, and its formula alone, translated node for node, runs in
onnxruntime to the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

import glassnet as gn
from glassnet.errors import StepGradientError
from glassnet.nn.activations import ACTIVATIONS
from glassnet.nn.formula import (
    Abs,
    Bin,
    Cases,
    Fn,
    Frac,
    Neg,
    Num,
    Paren,
    Pow,
    Sum,
    Sym,
    T,
    children,
    walk,
)

#: Every registered activation, with its default parameters and with others.
ACTIVATION_CASES = [ACTIVATIONS[name]() for name in ACTIVATIONS] + [
    gn.LeakyReLU(0.2),
    gn.ELU(0.7),
]
ELEMENTWISE = [a for a in ACTIVATION_CASES if a.elementwise]
z, a = Sym("z"), Sym("a")


# -- what each node means, in numpy, for arrays of shape (n samples, k units) ----------
CONSTANTS = {"e": math.e, "√2": math.sqrt(2.0)}
FUNCTIONS = {
    "max": np.maximum,
    "min": np.minimum,
    "tanh": np.tanh,
    "log": np.log,
    "exp": np.exp,
    "erf": erf,
    "Φ": lambda x: 0.5 * (1.0 + erf(x / math.sqrt(2.0))),
    "φ": lambda x: np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi),
    "diag": lambda column: np.diagflat(column),
}
COMPARISONS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def evaluate(expr, values: dict):
    """The value of a formula tree, its symbols bound by ``values``."""
    if isinstance(expr, Sym):
        return values[expr.name] if expr.name in values else CONSTANTS[expr.name]
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Paren):
        return evaluate(expr.arg, values)
    if isinstance(expr, Neg):
        return -evaluate(expr.arg, values)
    if isinstance(expr, Abs):
        return np.abs(evaluate(expr.arg, values))
    if isinstance(expr, T):
        return evaluate(expr.arg, values).T
    if isinstance(expr, Frac):
        return evaluate(expr.num, values) / evaluate(expr.den, values)
    if isinstance(expr, Pow):
        base, exponent = evaluate(expr.base, values), evaluate(expr.exponent, values)
        return (
            np.exp(exponent) if expr.base == Sym("e", upright=True) else base**exponent
        )
    if isinstance(expr, Fn):
        return FUNCTIONS[expr.name](*(evaluate(arg, values) for arg in expr.args))
    if isinstance(expr, Sum):
        assert expr.index == "j"  # the entries of one sample: a row here
        return evaluate(expr.body, values).sum(axis=1, keepdims=True)
    if isinstance(expr, Cases):
        result = evaluate(expr.pieces[-1][0], values)
        for value, condition in reversed(expr.pieces[:-1]):
            result = np.where(
                evaluate(condition, values), evaluate(value, values), result
            )
        return result
    if isinstance(expr, Bin):
        left, right = evaluate(expr.left, values), evaluate(expr.right, values)
        if expr.op in COMPARISONS:
            return COMPARISONS[expr.op](left, right)
        if expr.op == "+":
            return left + right
        if expr.op == "-":
            return left - right
        if expr.op == "*" and np.ndim(left) == 2 and np.ndim(right) == 2:
            return left @ right  # a product of two matrices (the softmax Jacobian)
        return left * right
    raise AssertionError(f"no numpy meaning for {expr!r}")


def moderate_inputs(seed=0):
    """(6, 5) inputs where the textbook forms are computable: |z| <= 12, with 0 and
    the signs of 0 at the kinks."""
    Z = np.random.default_rng(seed).normal(scale=4.0, size=(6, 5)).clip(-12, 12)
    Z[0, :3] = [0.0, -0.0, 1e-9]
    return Z


def extreme_inputs():
    """Inputs whose exponentials overflow float64 unless the formula avoids them."""
    tails = [-1e4, -800.0, -710.0, -50.0, -1e-12, 0.0, 1e-12, 50.0, 710.0, 800.0, 1e4]
    return np.array(tails).reshape(1, -1)


# -- the formula is the function --------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATION_CASES, ids=repr)
def test_formula_evaluates_to_forward(activation):
    Z = moderate_inputs()
    got = evaluate(activation.formula(z), {"z": Z})
    np.testing.assert_allclose(got, activation.forward(Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATION_CASES, ids=repr)
def test_stable_formula_evaluates_to_forward(activation):
    Z = moderate_inputs(1)
    got = evaluate(activation.stable_formula(z), {"z": Z})
    np.testing.assert_allclose(got, activation.forward(Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("activation", ELEMENTWISE, ids=repr)
def test_stable_formula_never_overflows(activation):
    """numpy raises on overflow in the tests (conftest): the stable form, what ONNX
    export writes, computes the tails without one. (Softmax is exported as ONNX's own
    operator; its shift by the row max is in forward.)"""
    Z = extreme_inputs()
    got = evaluate(activation.stable_formula(z), {"z": Z})
    np.testing.assert_allclose(got, activation.forward(Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    "activation", [a for a in ELEMENTWISE if a.name != "step"], ids=repr
)
def test_derivative_formula_evaluates_to_derivative(activation):
    Z = moderate_inputs(2)
    A = activation.forward(Z)
    got = evaluate(activation.derivative_formula(z, a), {"z": Z, "a": A})
    expected = activation.derivative(Z, A)
    np.testing.assert_allclose(
        np.broadcast_to(got, Z.shape), expected, rtol=1e-12, atol=1e-15
    )


def test_softmax_derivative_formula_is_each_samples_jacobian():
    softmax = gn.Softmax()
    Z = moderate_inputs(3)
    A = softmax.forward(Z)
    dA = np.random.default_rng(4).normal(size=Z.shape)
    for s in range(len(Z)):
        column = A[s : s + 1].T  # one sample's a, as a column   (k, 1)
        J = evaluate(softmax.derivative_formula(z, a), {"a": column})
        # J is symmetric; dL/dz = J dL/da is what backward computes
        np.testing.assert_allclose(
            J @ dA[s], softmax.backward(dA, Z, A)[s], rtol=1e-12, atol=1e-15
        )


def test_step_has_no_derivative_formula_as_it_has_no_derivative():
    with pytest.raises(StepGradientError):
        gn.get_activation("step").derivative_formula(z, a)


def test_formulas_use_only_the_symbols_they_are_given():
    """The trees are built over the input node passed in, and only constants else."""
    for activation in ACTIVATION_CASES:
        for tree in (activation.formula(z), activation.stable_formula(z)):
            names = {n.name for n in walk(tree) if isinstance(n, Sym)}
            assert names <= {"z", *CONSTANTS}, (activation, names)


def test_children_in_written_order():
    tree = Cases(((z, Bin(">", z, Num(0))), (Fn("max", (Num(1), a)), None)))
    assert children(tree) == (z, Bin(">", z, Num(0)), Fn("max", (Num(1), a)))
    with pytest.raises(TypeError, match="not an equation node"):
        children("z")


# -- explained and exported with it --------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATION_CASES, ids=repr)
def test_every_activation_can_be_explained_with_its_formula(activation):
    net = gn.Sequential(
        gn.Dense(2, 3, activation), gn.Dense(3, 1, "sigmoid"), dtype="float64", seed=0
    )
    trace = gn.explain(net, [0.5, -1.0], 1.0)
    text = trace.to_text()
    title = activation.display_name or activation.name
    assert f"Activation: {title}" in text
    step = next(s for s in trace.steps if s.title == f"Activation: {title}")
    assert any(rhs == activation.formula(_quantity(rhs)) for rhs in step.rhs), step.rhs
    trace.to_markdown()
    trace.to_html()


def _quantity(rhs):
    """The z node an activation step's formula was built over."""
    from glassnet.explaining.expr import Q

    return next((n for n in walk(rhs) if isinstance(n, Q)), None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATION_CASES, ids=repr)
def test_every_formula_alone_exports_to_the_same_numbers(
    activation, dtype, monkeypatch
):
    """With ONNX's own activation operators switched off, each activation is written
    from its formula alone; onnxruntime then computes forward's numbers."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from glassnet.interop import onnx_export

    monkeypatch.setattr(onnx_export, "NATIVE_OPERATORS", {})
    net = gn.Sequential(
        gn.Dense(5, 4), gn.ActivationLayer(activation), dtype=dtype, seed=0
    )
    model = onnx_export.to_onnx_model(net)
    ops = {node.op_type for node in model.graph.node}
    assert not ops & {"LeakyRelu", "Elu", "Softplus", "Gelu", "Relu", "Sigmoid"}
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    X = moderate_inputs(5).astype(dtype)
    got = session.run(None, {"input": X})[0]
    tolerance = {"float32": 1e-5, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(got, net.forward(X), rtol=0, atol=tolerance)
