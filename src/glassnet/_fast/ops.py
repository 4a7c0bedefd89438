"""The operations the math modules call, so that their code reads as the equations.

Three kinds of machinery live here, each behind one short call:

- matrix products on the BLAS threads chosen for their size: ``matmul``
  (``glassnet._fast.threads``);
- calls that pass ``out=`` or ``reuse=`` only to methods that take them, so that a
  user's layer or activation written without them works unchanged: ``with_out``,
  ``with_reuse`` (the signature is read once per function, then cached);
- the switch between the compiled loops (``glassnet._fast.kernels``) and the numpy
  code they stand for. The numpy code stays where the math is, as the readable
  reference; a decorator there names the loop that may stand in for it
  (``@ops.bias_relu``, ``@ops.softmax_rows``, ...; ``@ops.update_loop("adam")`` for
  an optimizer, whose ``step`` asks ``compiled_update`` first). Whether the loop
  runs is decided here and nowhere else: the loops are on, the arrays are of one
  float dtype and shape they take, and the code is the stock one (a subclass, or a
  method patched as in a gradcheck lesson, runs its own code). The packing of
  arguments for each loop is in ``glassnet._fast.fused``.

Work arrays kept per batch size are in ``glassnet._fast.work``.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from . import fused, kernels, threads

# -- matrix products -------------------------------------------------------------------
#: A product of at most this many rows by a transposed matrix of at least
#: ``FEW_ROWS_SIZE`` entries is taken as (B^T A^T)^T (see ``matmul``).
FEW_ROWS = 64
FEW_ROWS_SIZE = 2**16


def matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A B for A (m, k) and B (k, n), into ``out`` if given, on the BLAS threads
    ``threads.for_product`` chooses for m k n multiply-adds.

    A dense layer's Z = A W^T has B = W^T, a transposed view of W (out, in). For a
    few rows OpenBLAS is much slower at that than at the same product with both
    operands as stored, Z^T = W A^T (measured, float32, 32 x 784 by 784 x 256: 220
    against 155 us on one thread, 139 against 91 on two), so few rows by a large
    transposed B are computed that way and copied into place transposed."""
    m, k = A.shape
    n = B.shape[1]
    if m * k * n > threads.SPLIT:  # smaller products run on one thread in any case
        threads.for_product(m, k, n)
    if (
        m <= FEW_ROWS
        and k * n >= FEW_ROWS_SIZE
        and B.flags.f_contiguous
        and not B.flags.c_contiguous
    ):
        Z_T = np.matmul(B.T, A.T)  # (n, m): W A^T, W as stored
        if out is None:
            return np.ascontiguousarray(Z_T.T)
        out[...] = Z_T.T
        return out
    return np.matmul(A, B, out=out)


# -- optional keywords -------------------------------------------------------------------
_ACCEPTS: dict = {}


def accepts(method, keyword: str) -> bool:
    """Whether ``method`` takes ``keyword`` (custom layers and activations written
    without ``reuse``/``out`` are called without it). Cached per function."""
    function = getattr(method, "__func__", method)
    known = _ACCEPTS.get((function, keyword))
    if known is None:
        known = _ACCEPTS[function, keyword] = (
            keyword in inspect.signature(function).parameters
        )
    return known


def with_out(method, *args, out=None):
    """``method(*args, out=out)``; without ``out`` when it is None or ``method``
    does not take it (callers always use the returned array)."""
    if out is None or not accepts(method, "out"):
        return method(*args)
    return method(*args, out=out)


def with_reuse(method, *args, reuse=False):
    """``method(*args, reuse=True)`` under ``reuse``, when ``method`` takes it;
    else ``method(*args)``."""
    if not reuse or not accepts(method, "reuse"):
        return method(*args)
    return method(*args, reuse=True)


# -- the compiled loops or the numpy code -------------------------------------------------
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

#: The stock ReLU and its methods as written (``@stock_relu``): the layer loops stand
#: in for these and nothing else.
_relu_class: type | None = None
_relu_methods: tuple = ()


def stock_relu(cls: type) -> type:
    """Class decorator: the ReLU whose methods, as written, the Dense + ReLU loops
    stand in for."""
    global _relu_class, _relu_methods
    _relu_class, _relu_methods = cls, (cls.forward, cls.derivative, cls.backward)
    return cls


def _relu_loops(layer, Z: np.ndarray):
    """The loops, when they can stand in for this layer's activation, an instance of
    the stock ReLU class (the caller checks the class): not when an instance
    attribute or a patched method (as in a gradcheck lesson) changes it, and only
    for width >= 2 (numpy sums a single column pairwise, not row after row as the
    loop does)."""
    activation = layer.activation
    cls = type(activation)
    if (
        vars(activation)
        or (cls.forward, cls.derivative, cls.backward) != _relu_methods
        or Z.shape[1] < 2
    ):
        return None
    return kernels.get()


def _stands_in(choose, readable):
    functools.update_wrapper(choose, readable)
    choose.readable = readable  # the numpy code, callable on its own
    return choose


def bias_relu(readable):
    """Decorates Dense's ``Z += b; A = g(Z)`` (``readable(layer, Z, out)``): for a
    ReLU layer, one compiled pass (``fused.bias_relu``)."""

    def choose(layer, Z, out):
        relu = type(layer.activation) is _relu_class
        loops = _relu_loops(layer, Z) if relu else None
        if loops is None:
            return readable(layer, Z, out)
        return fused.bias_relu(loops, layer, Z, out)

    return _stands_in(choose, readable)


def relu_backward(readable):
    """Decorates Dense's ``dZ = dA * g'(Z); db = sum_i dZ_i``
    (``readable(layer, dA, out)``): for a ReLU layer and dA of Z's shape and dtype,
    one compiled pass (``fused.relu_backward``)."""

    def choose(layer, dA, out):
        Z = layer._Z
        relu = type(layer.activation) is _relu_class
        loops = _relu_loops(layer, Z) if relu else None
        if loops is None or dA.dtype != Z.dtype or dA.shape != Z.shape:
            return readable(layer, dA, out)
        return fused.relu_backward(loops, layer, dA, out)

    return _stands_in(choose, readable)


def softmax_rows(readable):
    """Decorates Softmax's forward (``readable(activation, Z, out=None)``): the shift
    and division per row compiled (``fused.softmax``) when the row loops take Z
    (``kernels.for_rows``)."""

    def choose(activation, Z, out=None):
        loops = kernels.for_rows(Z) if out is None else kernels.for_rows(Z, out)
        if loops is None:
            return readable(activation, Z, out)
        return fused.softmax(loops, Z, out)

    return _stands_in(choose, readable)


def cross_entropy_rows(readable):
    """Decorates cross-entropy from logits (``readable(loss, Z, Y)``): the per-row
    steps compiled (``fused.cross_entropy``) when the row loops take Z and Y."""

    def choose(loss, Z, Y):
        loops = kernels.for_rows(Z, Y)
        if loops is None:
            return readable(loss, Z, Y)
        return fused.cross_entropy(loops, Z, Y)

    return _stands_in(choose, readable)


#: {an optimizer's readable update function: its packing in glassnet._fast.fused}
_UPDATES: dict = {}


def update_loop(name: str):
    """Decorates an optimizer's ``_update``: the compiled loop ``fused.<name>`` may
    stand in for it (``compiled_update``). The function is returned unchanged."""
    pack = getattr(fused, name)

    def register(update):
        _UPDATES[update] = pack
        return update

    return register


def stock_update(optimizer) -> bool:
    """Whether ``optimizer`` runs a stock update (one marked ``@update_loop``), as
    written: elementwise, each parameter's new value from its own numbers only."""
    return type(optimizer)._update in _UPDATES and "_update" not in vars(optimizer)


def compiled_update(optimizer, params: np.ndarray, grads: np.ndarray) -> bool | None:
    """Apply ``optimizer``'s update in one compiled pass and return whether every new
    parameter is finite, when a loop stands in for its ``_update`` (a subclass that
    writes its own, or a patched one, is not taken) and the arrays are of one float
    dtype and shape; else None and nothing is done."""
    pack = _UPDATES.get(type(optimizer)._update)
    if pack is None:
        return None
    loops = kernels.get()
    if loops is None or params.dtype not in _FLOATS:
        return None
    if grads.dtype != params.dtype or grads.shape != params.shape:
        return None
    for buffer in optimizer.state.values():
        if buffer.dtype != params.dtype:
            return None
    return bool(pack(loops, optimizer, params, grads))


# -- checks ------------------------------------------------------------------------------
def all_finite(array: np.ndarray, *, load: bool = False) -> bool | None:
    """Whether no element of ``array`` is NaN or inf, by one compiled pass; None when
    the loop cannot take it (not float32/float64, not C-contiguous, the loops off)
    or, unless ``load``, while the loops are not loaded yet (loading numba costs a
    fraction of a second, more than a boundary check saves)."""
    if array.dtype.char not in "fd" or not array.flags.c_contiguous:
        return None
    loops = kernels.get() if load else kernels.get_if_loaded()
    if loops is None:
        return None
    if array.ndim != 1 or type(array) is not np.ndarray:
        array = np.asarray(array).reshape(-1)  # a memmap as a plain view, for numba
    return bool(loops.all_finite(array))
