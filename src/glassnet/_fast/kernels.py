"""Fused loops: an update computed in one pass over memory, compiled by numba.

numpy evaluates ``m <- beta1 m + (1 - beta1) g`` as separate passes over whole arrays
(scale m, scale g, add), each reading and writing every element; Adam's update is a
dozen such passes over every parameter of the network, and on a network of 235,000
parameters those passes cost more than the step's matrix products at small batch
sizes. The loops here compute each element's whole update at once, with the
intermediate values in registers.

Each loop does the same floating-point operations, in the same order, as the numpy
code it stands for (in ``glassnet.optim``, ``glassnet.nn.layers``,
``glassnet.nn.activations`` and ``glassnet.nn.losses``, under a decorator of
``glassnet._fast.ops`` naming the loop; numpy's pairwise row sums included), so the
results are bitwise the numpy ones (``tests/test_kernels.py`` checks this): they
change the speed, never the numbers. One loop serves verification instead:
``relax_step`` (a bound's coefficients through a ReLU relaxation) gives numpy's
coefficients exactly but sums its offsets in another order, which verification's
rounding margin covers (``tests/test_verify_bounds.py`` checks both).
``glassnet._fast.ops`` decides when a training loop runs,
``glassnet._fast.fused`` packs its arguments. exp and log are never compiled here:
numpy's own SIMD exp and log run between the row loops, since a compiled one can
differ from numpy's in the last bit. Loops run on one core: a second set of threads
next to OpenBLAS's fights it for the two cores (measured in BENCHMARKS.md).

numba is optional (``pip install glassnet[fast]``). Without it, after
``kernels.enable(False)``, or with ``GLASSNET_KERNELS=0`` in the environment, the numpy
code runs. The loops compile on first use (about a second; cached on disk after).

Examples
--------
>>> from glassnet import kernels
>>> kernels.enable(False); kernels.get() is None        # numpy code from now on
True
>>> kernels.enable(None)                                # back to the default
"""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

import numpy as np

_ENV = "GLASSNET_KERNELS"

_choice: bool | None = None  # enable(...); None: use numba if installed
_environment_off: bool | None = None  # GLASSNET_KERNELS=0; read at first use
_compiled: SimpleNamespace | None = None
_import_failed = False


def enable(flag: bool | None) -> None:
    """Use the compiled loops (True), the numpy code (False), or the default (None):
    the loops when numba is installed and ``GLASSNET_KERNELS`` is not ``0`` (the
    variable is read at first use and again after each ``enable`` call).

    ``enable(True)`` without numba raises ImportError naming the extra to install.
    """
    global _choice, _environment_off
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"kernels.enable takes True, False or None, got {flag!r}")
    if flag:
        _load(required=True)
    _choice = flag
    _environment_off = None  # read GLASSNET_KERNELS again at the next use


def enabled() -> bool:
    """Whether training uses the compiled loops now."""
    return get() is not None


def get() -> SimpleNamespace | None:
    """The compiled loops, or None when the numpy code should run."""
    global _environment_off
    if _choice is False:
        return None
    if _choice is None:
        if _environment_off is None:  # read once: this runs at every training step
            _environment_off = os.environ.get(_ENV) == "0"
        if _environment_off:
            return None
    return _compiled if _compiled is not None else _load(required=False)


def get_if_loaded() -> SimpleNamespace | None:
    """As ``get``, but None while the loops are not loaded yet: for callers for whom
    loading numba (a fraction of a second) would cost more than the loop saves."""
    return get() if _compiled is not None else None


def _load(required: bool) -> SimpleNamespace | None:
    global _compiled, _import_failed
    if _compiled is not None:
        return _compiled
    if _import_failed and not required:
        return None
    try:
        import numba
    except ImportError as error:
        _import_failed = True
        if required:
            raise ImportError(
                "the fused loops need numba: pip install 'glassnet[fast]'"
            ) from error
        return None
    _compiled = _build(numba)
    return _compiled


def _jit(numba, function):
    # error_model="numpy": x / 0 gives inf or nan as in numpy, instead of a Python
    # ZeroDivisionError check on every element (which also stops vectorisation).
    # No fastmath: reassociating or contracting a*b + c into one rounding would
    # change the last bits, and the loops must give numpy's numbers exactly.
    options = {"nogil": True, "error_model": "numpy", "boundscheck": False}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError:  # nowhere writable to cache the machine code: compile each run
        return numba.njit(**options)(function)


def _build(numba) -> SimpleNamespace:
    global _pairwise_sum
    # The row loops call _pairwise_sum by its global name, so that name must mean
    # the compiled function before they are compiled.
    _pairwise_sum = _jit(numba, _PAIRWISE_SUM)
    return SimpleNamespace(
        adam=_jit(numba, _adam),
        sgd=_jit(numba, _sgd),
        rmsprop=_jit(numba, _rmsprop),
        bias_relu=_jit(numba, _bias_relu),
        relu_backward=_jit(numba, _relu_backward),
        all_finite=_jit(numba, _all_finite),
        shift_rows=_jit(numba, _shift_rows),
        normalise_rows=_jit(numba, _normalise_rows),
        row_sums=_jit(numba, _row_sums),
        cross_entropy_rows=_jit(numba, _cross_entropy_rows),
        relax_step=_jit(numba, _relax_step),
    )


#: The widest row the row loops take (numpy sums wider rows in another order).
MAX_ROW = 128


def for_rows(*arrays) -> SimpleNamespace | None:
    """The compiled loops if the row loops (softmax, cross-entropy) can take these
    arrays: all of one shape (the loops do not broadcast, nor check bounds), 2-D
    with 1 to ``MAX_ROW`` columns (numpy raises on none; see ``_pairwise_sum`` for
    the most), C-contiguous, of one float dtype. Else None: the numpy code runs."""
    loops = get()
    if loops is None:
        return None
    shape, dtype = arrays[0].shape, arrays[0].dtype
    for array in arrays:
        if (
            array.shape != shape
            or array.ndim != 2
            or not 1 <= array.shape[1] <= MAX_ROW
            or array.dtype != dtype
            or array.dtype.char not in "fd"
            or not array.flags.c_contiguous
        ):
            return None
    return loops


# -- the loops (plain Python, compiled by numba; scalars arrive in the arrays' dtype) ----
def _adam(
    theta,
    g,
    m,
    v,
    v_max,
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    step_size,
    eps_c,
    weight_decay,
    decay_factor,
    amsgrad,
    previous,
):
    """Adam and AdamW, ``glassnet.optim.Adam._update`` element by element.

    previous: None, or an array that receives theta as it was before the update, in
    the same pass (the fit loop's guard, see ``glassnet.training.loop``; numba
    compiles the None case without it). Returns whether every new theta is finite.
    The same for the other optimizers' loops."""
    bad = False
    for i in range(theta.shape[0]):
        theta_i, g_i = theta[i], g[i]
        if previous is not None:
            previous[i] = theta_i
        if decay_factor != 1:
            theta_i = theta_i * decay_factor  # AdamW: theta (1 - lr wd)
        if weight_decay != 0:
            g_i = theta_i * weight_decay + g_i  # L2: g + wd theta
        m_i = m[i] * beta1 + g_i * one_minus_beta1  # m = b1 m + (1 - b1) g
        v_i = v[i] * beta2 + (g_i * g_i) * one_minus_beta2  # v = b2 v + (1 - b2) g^2
        m[i], v[i] = m_i, v_i
        if amsgrad:
            vmax_i = v_max[i]
            if v_i > vmax_i or v_i != v_i:  # max(v_max, v), NaN propagating as numpy
                vmax_i = v_i
            v_max[i] = v_i = vmax_i
        # theta - step_size m / (sqrt(v) + eps c): see the comment in optim.Adam
        new = theta_i - (m_i / (math.sqrt(v_i) + eps_c)) * step_size
        theta[i] = new
        bad |= new - new != 0  # 0, or NaN for NaN and +-inf
    return not bad


def _sgd(theta, g, velocity, lr, momentum, weight_decay, nesterov, previous):
    """SGD with momentum, ``glassnet.optim.SGD._update`` element by element."""
    bad = False
    for i in range(theta.shape[0]):
        theta_i, d = theta[i], g[i]
        if previous is not None:
            previous[i] = theta_i
        if weight_decay != 0:
            d = theta_i * weight_decay + d  # g + wd theta
        if momentum != 0:
            v_i = velocity[i] * momentum + d  # v = mu v + g
            velocity[i] = v_i
            d = v_i * momentum + d if nesterov else v_i  # g + mu v, or v
        new = theta_i - d * lr  # theta - lr d
        theta[i] = new
        bad |= new - new != 0
    return not bad


def _rmsprop(
    theta,
    g,
    square_avg,
    grad_avg,
    momentum_buffer,
    alpha,
    one_minus_alpha,
    eps,
    weight_decay,
    momentum,
    lr,
    centered,
    previous,
):
    """RMSprop, ``glassnet.optim.RMSprop._update`` element by element."""
    bad = False
    for i in range(theta.shape[0]):
        theta_i, g_i = theta[i], g[i]
        if previous is not None:
            previous[i] = theta_i
        if weight_decay != 0:
            g_i = theta_i * weight_decay + g_i  # g + wd theta
        s_i = square_avg[i] * alpha + (g_i * g_i) * one_minus_alpha  # a s + (1-a) g^2
        square_avg[i] = s_i
        if centered:
            c_i = grad_avg[i] * alpha + g_i * one_minus_alpha  # a c + (1 - a) g
            grad_avg[i] = c_i
            s_i = s_i - c_i * c_i  # s - c^2
        d = g_i / (math.sqrt(s_i) + eps)  # g / (sqrt(s) + eps)
        if momentum != 0:
            b_i = momentum_buffer[i] * momentum + d  # b = momentum b + d
            momentum_buffer[i] = b_i
            d = b_i
        new = theta_i - d * lr  # theta - lr d
        theta[i] = new
        bad |= new - new != 0
    return not bad


def _bias_relu(Z, b, A, use_bias, zero):
    """Dense + ReLU forward, ``Z += b; A = np.maximum(Z, 0)`` in one pass."""
    n, k = Z.shape
    for i in range(n):
        for j in range(k):
            z = Z[i, j] + b[j] if use_bias else Z[i, j]  # Z = A_prev W^T + b
            Z[i, j] = z
            # a = max(0, z), as np.maximum: NaN stays NaN, -0 becomes +0
            A[i, j] = z if z > 0 or z != z else zero


def _relu_backward(dA, Z, dZ, db, use_bias, zero):
    """Dense + ReLU backward, ``dZ = dA * (Z > 0)`` and ``db = dZ.sum(axis=0)``
    (numpy sums axis 0 row after row, in this order) in one pass."""
    n, k = Z.shape
    for i in range(n):
        for j in range(k):
            dz = dA[i, j] if Z[i, j] > 0 else dA[i, j] * zero  # dL/dZ = dA g'(Z)
            dZ[i, j] = dz
            if use_bias:
                db[j] = dz if i == 0 else db[j] + dz  # dL/db = sum_i dZ_i


def _all_finite(x):
    """Whether no element of the 1-D array x is NaN or inf."""
    bad = False
    for i in range(x.shape[0]):
        bad |= x[i] - x[i] != 0  # x - x is 0, or NaN for NaN and +-inf
    return not bad


def _relax_step(Lam, s_l, s_u, t_l, t_u, out, const, zero):
    """A bound's coefficients through a relaxed activation s_l z + t_l <= g(z) <=
    s_u z + t_u (verification's back-substitution), in one pass: out = Lam s_l where
    Lam >= 0, else Lam s_u (numpy's ``pos * s_l + neg * s_u`` exactly), and const +=
    Lam t_l or Lam t_u likewise, summed along the row (in another order than numpy's
    einsum: within the bound's rounding margin, which holds for any order). Lam,
    out: (B, m, n); s_l: (B, m or 1, n); s_u, t_l, t_u: (B, n); const: (B, m);
    zero: 0 in Lam's dtype (a float64 literal would turn float32 work to float64).

    The parts of v by sign are taken by selection, not by branches: the signs of
    Lam are as good as random, and a branch on each cost five times the time (1,079
    against 196 us for 64 x 50 x 50). Each sum then adds an exact zero to the term
    numpy's would; a NaN (numpy's maximum and minimum keep it) is carried by hand."""
    B, m, n = Lam.shape
    per_row = s_l.shape[1] != 1
    for b in range(B):
        for r in range(m):
            rs = r if per_row else 0
            acc = const[b, r] * zero
            for i in range(n):
                v = Lam[b, r, i]
                pos = v if v > zero else zero  # np.maximum(v, 0), a select
                neg = v if v < zero else zero  # np.minimum(v, 0)
                coefficient = pos * s_l[b, rs, i] + neg * s_u[b, i]
                offset = pos * t_l[b, i] + neg * t_u[b, i]
                if v != v:  # NaN, which numpy carries into both
                    coefficient = offset = v
                out[b, r, i] = coefficient
                acc += offset
            const[b, r] += acc


# -- row loops: softmax and cross-entropy, row by row -----------------------------------
def _pairwise_sum(a, lo, n, zero):
    """a[lo] + ... + a[lo + n - 1], n <= 128, in numpy's order of additions (its
    pairwise summation, ``numpy/_core/src/umath/loops_utils.h.src``: below 8 terms
    one running sum, up to 128 eight running sums), so that a row sum here is
    bitwise ``np.sum``'s. (Above 128 numpy splits the row in halves and recurses;
    ``for_rows`` leaves such wide rows to numpy.)"""
    if n < 8:
        total = zero
        for i in range(lo, lo + n):
            total += a[i]
        return total
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = lo + 8
    end = lo + n - n % 8
    while i < end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < lo + n:
        total += a[i]
        i += 1
    return total


_PAIRWISE_SUM = _pairwise_sum  # the plain function, compiled by _build


def _shift_rows(Z, E):
    """Softmax's shift, ``E = Z - Z.max(axis=1, keepdims=True)``: every exponent
    <= 0 afterwards."""
    n, k = Z.shape
    for i in range(n):
        row_max = Z[i, 0]
        for j in range(1, k):
            z = Z[i, j]
            if z > row_max or z != z:  # a NaN makes the max NaN, as np.max
                row_max = z
        for j in range(k):
            E[i, j] = Z[i, j] - row_max


def _normalise_rows(E, zero):
    """Softmax's division, ``E /= E.sum(axis=1, keepdims=True)``."""
    n, k = E.shape
    flat = E.reshape(-1)
    for i in range(n):
        row_sum = zero + _pairwise_sum(flat, i * k, k, zero)
        for j in range(k):
            E[i, j] = E[i, j] / row_sum  # a_j = e^(z_j - max) / sum_c e^(z_c - max)


def _row_sums(E, sums, zero):
    """``sums = E.sum(axis=1)``."""
    n, k = E.shape
    flat = E.reshape(-1)
    for i in range(n):
        sums[i] = zero + _pairwise_sum(flat, i * k, k, zero)


def _cross_entropy_rows(shifted, log_sums, Y, L, zero):
    """Cross-entropy per sample from the shifted logits, as
    ``-(Y * (shifted - log_sums[:, None])).sum(axis=1)``:
    L_i = -sum_c y_ic log p_ic, with log p_ic = (z_ic - max_i) - log sum_c e^(z_ic - max_i).
    """
    n, k = shifted.shape
    terms = np.empty(k, shifted.dtype)
    for i in range(n):
        for j in range(k):
            terms[j] = Y[i, j] * (shifted[i, j] - log_sums[i])  # y_c log p_c
        L[i] = -(zero + _pairwise_sum(terms, 0, k, zero))
