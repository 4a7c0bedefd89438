"""Checks at the library's boundaries: every message names the argument, what was
expected and what was received. Nothing here runs inside the training hot loop.

A bad value raises ``glassnet.errors.InputError`` (a ``ValueError``), a value of the
wrong type ``InputTypeError`` (a ``TypeError``): both are ``GlassnetError``, so the
command line reports them as the user's mistake, not as a bug."""

from __future__ import annotations

import numbers

import numpy as np

from ._fast import ops
from .errors import InputError, InputTypeError

FLOAT_DTYPES = ("float32", "float64")


def check_dtype(dtype) -> np.dtype:
    """The network dtype: float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise InputTypeError(
            f"dtype must be 'float32' or 'float64', got {dtype!r}"
        ) from error
    if resolved.name not in FLOAT_DTYPES:
        raise InputError(f"dtype must be 'float32' or 'float64', got {resolved.name!r}")
    return resolved


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise InputError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_number(
    value, name: str, *, low=None, high=None, low_open=False, high_open=False
):
    """A real number inside [low, high] (or open ends where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise InputError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def as_float_array(data, name: str, dtype, *, ndim: int | None = None) -> np.ndarray:
    """``data`` as a finite float array of ``dtype``, copying only when it must."""
    if isinstance(data, np.ndarray) and data.dtype == dtype:
        array = data
    elif np.iscomplexobj(data):
        # numpy would keep the real part and drop the imaginary one with a warning
        raise InputTypeError(
            f"{name} must hold real numbers, got complex values; take .real or "
            f"abs() yourself if that is what you mean"
        )
    else:
        try:
            array = np.asarray(data, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise InputTypeError(
                f"{name} must be numeric (convertible to {np.dtype(dtype).name}); "
                f"could not convert it: {error}"
            ) from error
    if ndim is not None and array.ndim != ndim:
        raise InputError(
            f"{name} must be {ndim}-D, got an array of shape {array.shape}"
        )
    check_finite(array, name)
    return array


#: From this many elements on, the compiled loop checks finiteness when it is loaded:
#: one read of the array instead of np.isfinite's boolean array written and read
#: again (60,000 x 784 float32: 6 ms instead of 11 ms, BENCHMARKS.md).
_LARGE = 1 << 20


def all_finite(array: np.ndarray) -> bool:
    """Whether no element of ``array`` is NaN or inf."""
    if array.size >= _LARGE:
        finite = ops.all_finite(array)  # one compiled pass, if the loops are loaded
        if finite is not None:
            return finite
    return bool(np.isfinite(array).all())


def check_finite(array: np.ndarray, name: str) -> None:
    if not all_finite(array):
        kind = "NaN" if np.isnan(array).any() else "inf"
        where = np.argwhere(~np.isfinite(array))[0]
        raise InputError(
            f"Input {name} contains {kind} (first at index {tuple(int(i) for i in where)}); "
            "remove or impute those values first"
        )


def check_input_matrix(
    X, in_features: int | None, dtype, name: str = "X"
) -> np.ndarray:
    """A batch of inputs, shape (n_samples, in_features)."""
    X = as_float_array(X, name, dtype)
    if X.ndim == 1 and in_features is not None:
        # A single sample written as a vector: treat it as a batch of one row.
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise InputError(
            f"{name} must be 2-D with shape (n_samples, n_features), got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise InputError(f"{name} has no samples (shape {X.shape})")
    if in_features is not None and X.shape[1] != in_features:
        raise InputError(
            f"{name} has {X.shape[1]} features per sample (shape {X.shape}) but the "
            f"first layer expects in_features={in_features}"
        )
    return X


def check_same_length(X: np.ndarray, y, x_name: str = "X", y_name: str = "y") -> None:
    n_y = len(y)
    if X.shape[0] != n_y:
        raise InputError(
            f"{x_name} and {y_name} have different numbers of samples: "
            f"{X.shape[0]} and {n_y}"
        )


def check_sample_weight(
    sample_weight, n: int, name: str = "sample_weight", *, allow_all_zero=False
) -> np.ndarray:
    """Sample weights as float64 (n,): finite, non-negative and, unless
    ``allow_all_zero``, not all zero (a weighted mean sum_i w_i L_i / sum_i w_i needs
    sum_i w_i > 0)."""
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputTypeError(
            f"{name} must be numbers, one per sample; could not convert it: {error}"
        ) from error
    if w.shape != (n,):
        raise InputError(
            f"{name} must have shape ({n},), one weight per sample, got {w.shape}"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"{name} must be finite and non-negative")
    if not allow_all_zero and w.sum() <= 0:
        raise InputError(f"{name} must not be all zero")
    return w


def as_generator(seed) -> np.random.Generator:
    """A numpy Generator from an int seed, a Generator (used as is), or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (
        isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    ):
        if seed is not None and seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise InputTypeError(
        f"seed must be an int, a numpy Generator or None, got {seed!r}"
    )


def check_clip(clip, name: str = "clip") -> tuple[float, float] | None:
    """None, or the input range (lo, hi) with lo < hi, as attacks and certified
    training take it."""
    if clip is None:
        return None
    try:
        lo, hi = clip
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be None or a pair (lo, hi), got {clip!r}"
        ) from error
    lo = check_number(lo, f"{name} lower bound")
    hi = check_number(hi, f"{name} upper bound")
    if not lo < hi:
        hint = "; the bounds are reversed" if lo > hi else ""
        raise ValueError(
            f"{name} must be (lo, hi) with lo < hi, got ({lo:g}, {hi:g}){hint}"
        )
    return lo, hi
