"""The "lbfgs" solver: scipy's L-BFGS-B on every parameter at once, as scikit-learn.

The objective is scikit-learn's, on the whole training set (rows i with sample
weights w_i, S = sum w_i, or n unweighted):

    f(theta) = sum_i w_i l_i / S  +  alpha / (2 S) * sum_l ||W_l||^2

glassnet's loss L_i = s * l_i (see "Objective" in ``glassnet.sklearn``), so the data
term is (glassnet's weighted mean loss) / s and its gradient (flat_grads) / s; the
penalty's gradient is alpha / S * W_l on the weights, 0 on the biases. theta is
``net.flat_params`` in its own order (W and b of each Dense), handed to
``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with maxiter = max_iter,
maxfun = max_fun and gtol = tol, as scikit-learn does.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .rows import blocks, dense, is_sparse


def objective(net, loss, scale: float, alpha: float, X, Y, weights):
    """f(theta) and df/dtheta (float64) for scipy, on (X, Y) with weights or None."""
    n = X.shape[0]
    S = float(n if weights is None else weights.sum())
    mask = np.concatenate(
        [np.full(p.size, name == "W") for _, name, p in net.parameters()]
    )  # M: 1 on the weights, 0 on the biases
    row_blocks = list(blocks(n)) if is_sparse(X) else [slice(0, n)]

    def f(theta):
        net.flat_params[...] = theta
        data, grad = 0.0, np.zeros(theta.size)
        for rows in row_blocks:
            w = None if weights is None else weights[rows]
            S_b = float(rows.stop - rows.start) if w is None else float(w.sum())
            if S_b <= 0:
                continue  # only zero-weight rows: nothing to add (and L = 0/0)
            L_b, _ = net.loss_and_grad(dense(X[rows]), Y[rows], loss, sample_weight=w)
            data += S_b * L_b  # sum_i w_i L_i over the block
            grad += S_b * net.flat_grads
        W = theta[mask]
        value = data / (S * scale) + alpha / (2 * S) * float(W @ W)
        grad /= S * scale
        grad[mask] += (alpha / S) * W
        return value, grad

    return f


def run(net, f, max_iter: int, max_fun: int, tol: float, verbose) -> tuple[float, int]:
    """Minimise f from the network's weights; leaves the result in the network.
    Returns (f at the end, iterations run), warning as scikit-learn when L-BFGS-B
    stopped before converging."""
    from scipy.optimize import minimize

    start = net.flat_params.astype(np.float64)
    result = minimize(
        f,
        start,
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol},
    )
    net.flat_params[...] = result.x
    if result.status != 0:
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) "
            f"(status={result.status}): {result.message}. Increase the number of "
            "iterations (max_iter) or the function evaluations (max_fun), or scale "
            "the data.",
            ConvergenceWarning,
            stacklevel=4,
        )
    if verbose:
        print(f"lbfgs: {result.nit} iterations, loss = {result.fun:.8f}")
    return float(result.fun), min(int(result.nit), max_iter)
