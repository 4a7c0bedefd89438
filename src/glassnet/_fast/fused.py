"""The compiled stand-ins: each runs a loop of ``glassnet._fast.kernels`` in place of
one piece of readable numpy code, and gives bitwise its numbers.

Each function here takes the loaded loops first, then the object and arrays of the
code it stands for, and does the packing that code has no need of: scalars cast to
the arrays' dtype (numba would otherwise compile a float64 version of a float32
loop), flags, empty arrays for options that are off. When one runs is decided in
``glassnet._fast.ops``; the numpy code it stands for is named in each docstring.

A buffer an option leaves unused is passed as scratch space, never as theta itself:
the compiled loop checks at run time that the arrays it writes do not overlap the
others, and runs element by element, unvectorised, when they do (RMSprop took
400 us instead of 36 with theta standing in).
"""

from __future__ import annotations

import math

import numpy as np


# -- optimizers: theta and the moments updated in one pass -----------------------------
def sgd(loops, opt, theta, g) -> bool:
    """``glassnet.optim.SGD._update``. Returns whether the new theta is all finite,
    as the other optimizers do."""
    x = theta.dtype.type
    return loops.sgd(
        theta,
        g,
        opt.state.get("velocity", opt._scratch),  # only with momentum
        x(opt.lr),
        x(opt.momentum),
        x(opt.weight_decay),
        opt.nesterov,
        opt.keeping_previous,
    )


def adam(loops, opt, theta, g) -> bool:
    """``glassnet.optim.Adam._update`` (AdamW's too: decoupled weight decay)."""
    x = theta.dtype.type
    b1, b2, t = opt.beta1, opt.beta2, opt.t
    c = math.sqrt(1.0 - b2**t)  # as in Adam._update: step_size m / (sqrt(v) + eps c)
    step_size = opt.lr * c / (1.0 - b1**t)
    decoupled = opt.weight_decay and opt.decoupled
    return loops.adam(
        theta,
        g,
        opt.state["m"],
        opt.state["v"],
        opt.state.get("v_max", opt._scratch),  # only when amsgrad
        x(b1),
        x(1.0 - b1),
        x(b2),
        x(1.0 - b2),
        x(step_size),
        x(opt.eps * c),
        x(0.0 if decoupled else opt.weight_decay),
        x(1.0 - opt.lr * opt.weight_decay if decoupled else 1.0),
        opt.amsgrad,
        opt.keeping_previous,
    )


def rmsprop(loops, opt, theta, g) -> bool:
    """``glassnet.optim.RMSprop._update``."""
    x = theta.dtype.type
    a = opt.alpha
    return loops.rmsprop(
        theta,
        g,
        opt.state["square_avg"],
        opt.state.get("grad_avg", opt._scratch),  # only when centered
        opt.state.get("momentum_buffer", opt._scratch2),  # only with momentum
        x(a),
        x(1.0 - a),
        x(opt.eps),
        x(opt.weight_decay),
        x(opt.momentum),
        x(opt.lr),
        opt.centered,
        opt.keeping_previous,
    )


# -- a dense ReLU layer: the bias, the activation and its gradient ----------------------
def bias_relu(loops, layer, Z, out) -> np.ndarray:
    """``glassnet.nn.Dense._add_bias_and_activate``: Z += b, A = max(Z, 0)."""
    A = np.empty_like(Z) if out is None else out
    b = layer.params["b"] if layer.use_bias else _nothing(Z)
    loops.bias_relu(Z, b, A, layer.use_bias, Z.dtype.type(0))
    return A


def relu_backward(loops, layer, dA, out) -> np.ndarray:
    """``glassnet.nn.Dense._dZ_and_db``: dZ = dA * (Z > 0) and db = sum_i dZ_i."""
    Z = layer._Z
    dZ = np.empty_like(Z) if out is None else out
    db = layer.grads["b"] if layer.use_bias else _nothing(Z)
    loops.relu_backward(dA, Z, dZ, db, layer.use_bias, Z.dtype.type(0))
    return dZ


def _nothing(Z) -> np.ndarray:
    """An empty 1-D array of Z's dtype: the bias argument of a loop without bias."""
    return Z.reshape(-1)[:0]


# -- row loops: softmax and cross-entropy ------------------------------------------------
def softmax(loops, Z, out) -> np.ndarray:
    """``glassnet.nn.Softmax.forward``: the shift and the division per row compiled;
    exp stays numpy's, whose last bits a compiled exp need not match."""
    E = np.empty_like(Z) if out is None else out
    loops.shift_rows(Z, E)  # z - max
    np.exp(E, out=E)  # e^(z - max)
    loops.normalise_rows(E, E.dtype.type(0))  # e^(z - max) / sum_j e^(z_j - max)
    return E


def cross_entropy(loops, Z, Y) -> np.ndarray:
    """``glassnet.nn.CrossEntropyLoss.per_sample_from_logits``: the per-row steps
    compiled; exp and log stay numpy's."""
    zero = Z.dtype.type(0)
    shifted = np.empty_like(Z)
    loops.shift_rows(Z, shifted)  # z - max
    log_sums = np.empty(Z.shape[0], dtype=Z.dtype)
    loops.row_sums(np.exp(shifted), log_sums, zero)
    np.log(log_sums, out=log_sums)  # log sum e^(z - max)
    L = np.empty(Z.shape[0], dtype=Z.dtype)
    loops.cross_entropy_rows(shifted, log_sums, Y, L, zero)  # -sum_c y_c log p_c
    return L
