"""Certified training: minimise a loss on the worst logits a whole input box allows.

Interval bound propagation (IBP; Gowal et al. 2018, "On the effectiveness of interval
bound propagation for training verifiably robust models") carries the box
|x' - x|_inf <= eps through the network in centre/radius form:

    mu_z = W mu + b,   r_z = |W| r               (the box of z = W a + b)
    l, u = mu_z - r_z, mu_z + r_z
    mu, r = (g(u) + g(l)) / 2, (g(u) - g(l)) / 2   (g increasing)

The last layer is read with the specification C = e_y - e_j (the margins
z_y - z_j, tighter than bounding each logit alone): with D_j = W_y - W_j,

    m_j = D_j . mu + b_y - b_j - |D_j| . r       (a lower bound on z_y - z_j)

and the worst logits are z~_j = -m_j (z~_y = 0). The step minimises

    L = kappa L(z, y) + (1 - kappa) CE(z~, y)

with eps ramped from 0 and kappa from 1 to 0.5 (Gowal et al.). At eps = 0 the
margins are the true ones and CE(z~, y) = CE(z, y): softmax does not change when
every logit moves by z_y.

CROWN-IBP (Zhang et al. 2020) keeps the IBP bounds of the hidden layers and bounds
the margins once more, backwards from the output through each ReLU's linear
relaxation on those bounds (tighter, as CROWN is), mixing the two:
m = beta m_CROWN-IBP + (1 - beta) m_IBP, beta from 1 to 0 over the ramp.

The gradient is written out by hand, backwards through the same equations; through
r_z = |W| r it is dL/dW = sign(W) (dL/dr_z r^T). ``ibp_loss`` returns the loss and
its gradients; ``CertifiedTraining`` is the setting ``fit(..., certify=eps)`` builds.
The sound bounds that prove robustness (outward rounding included) live in
``glassnet.verification``; these are the plain float bounds training needs.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> net = gn.Sequential(gn.Dense(2, 2), dtype="float64")
>>> net.layers[0].W, net.layers[0].b = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
>>> value, _ = ibp_loss(net, np.array([[1.0, 0.0]]), np.array([0]), eps=0.5)
>>> bool(np.isclose(value, np.log1p(np.exp(0.0))))  # margin 1 - 2 * 0.5 = 0
True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.losses import CrossEntropyLoss
from ..validation import check_clip, check_number

METHODS = ("ibp", "crown-ibp")
HIDDEN = ("identity", "relu", "leaky_relu", "sigmoid", "tanh")


# -- the network as blocks z = W a + b, a = g(z) ----------------------------------------
def blocks_of(net) -> list[tuple[Dense, str, float]]:
    """(Dense layer, activation name after it, leaky ReLU slope) per block; the last block's activation
    is "logits" (a final softmax dropped: the margins are those of the logits).
    Dropout is the identity here, as at inference."""
    blocks: list[list] = []
    last = len(net.layers) - 1
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, Dense):
            blocks.append([layer, layer.activation.name, layer.activation])
        elif (
            isinstance(layer, ActivationLayer)
            and blocks
            and blocks[-1][1] == "identity"
        ):
            blocks[-1][1:] = [layer.activation.name, layer.activation]
        else:
            raise ValueError(
                "certified training supports Dense layers (an activation layer only "
                f"right after an identity Dense) and Dropout; layer {i} is {layer!r}"
            )
        if i == last and blocks[-1][1] in ("softmax", "identity"):
            blocks[-1][1] = "logits"
    if not blocks or blocks[-1][1] != "logits":
        raise ValueError(
            "certified training needs a classifier ending in logits: a last Dense "
            "with softmax, or identity trained with CrossEntropyLoss(from_logits=True)"
        )
    for i, (_, act, _) in enumerate(blocks[:-1]):
        if act not in HIDDEN:
            raise ValueError(
                f"certified training needs increasing activations ({', '.join(HIDDEN)})"
                f" in the hidden layers; block {i} uses {act}"
            )
    return [
        (layer, act, float(getattr(g, "negative_slope", 0.0)))
        for layer, act, g in blocks
    ]


def _g(act: str, Z, slope: float):
    if act == "relu":
        return np.maximum(Z, 0)
    if act == "leaky_relu":
        return np.where(Z > 0, Z, slope * Z)
    if act == "sigmoid":
        return 0.5 * (1 + np.tanh(0.5 * Z))  # the same function, no overflow
    if act == "tanh":
        return np.tanh(Z)
    return Z


def _dg(act: str, Z, slope: float):
    """g'(z), from z (the subgradient 0 at z = 0 for ReLU, as the layers use)."""
    if act == "relu":
        return (Z > 0).astype(Z.dtype)
    if act == "leaky_relu":
        return np.where(Z > 0, 1, slope).astype(Z.dtype)
    if act == "sigmoid":
        s = _g(act, Z, slope)
        return s * (1 - s)  # sigma' = s (1 - s)
    if act == "tanh":
        return 1 - np.tanh(Z) ** 2
    return np.ones_like(Z)


def _params(layer: Dense):
    W = layer.params["W"]
    b = layer.params.get("b")
    return W, (np.zeros(W.shape[0], W.dtype) if b is None else b)


# -- bounds and the loss ----------------------------------------------------------------
def ibp_bounds(net, lower, upper):
    """Interval bounds (l, u) on every block's pre-activation z, for boxes
    lower <= x <= upper (each (n, in)), in the network's dtype.

    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(1, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[-2.0]], [1.0]
    >>> [b.tolist() for b in ibp_bounds(net, [[0.0]], [[1.0]])[-1]]
    [[[-1.0]], [[1.0]]]
    """
    lower = np.asarray(lower, dtype=net.dtype)
    upper = np.asarray(upper, dtype=net.dtype)
    mu, r = (upper + lower) / 2, (upper - lower) / 2
    out = []
    for layer, act, slope in blocks_of(net):
        W, b = _params(layer)
        mu_z = mu @ W.T + b  # mu_z = W mu + b   (n, out)
        r_z = r @ np.abs(W).T  # r_z = |W| r     (n, out)
        out.append((mu_z - r_z, mu_z + r_z))
        lo = _g(act, mu_z - r_z, slope)
        hi = _g(act, mu_z + r_z, slope)
        mu, r = (hi + lo) / 2, (hi - lo) / 2
    return out


def ibp_loss(net, X, labels, eps, clip=None, sample_weight=None, grads=True, beta=0.0):
    """The certified loss CE(z~, y) over the boxes |x' - x|_inf <= eps (cut to
    ``clip``) and, with ``grads``, its gradient per layer.

    The margins' lower bounds are m = beta m_CROWN-IBP + (1 - beta) m_IBP: beta = 0
    is IBP alone; beta > 0 mixes in CROWN-IBP (``_crown_margins``; ReLU networks).

    Parameters
    ----------
    X : array (n, in); labels : int array (n,); eps : float >= 0
    sample_weight : array (n,), optional
        The loss is sum_i w_i L_i / sum_i w_i.
    beta : float in [0, 1], default 0

    Returns
    -------
    (value, grads): grads a list of (dW, db) per block (db None without a bias),
    or None without ``grads``.
    """
    X = np.asarray(X, dtype=net.dtype)
    labels = np.asarray(labels, dtype=np.intp)
    lower, upper = X - eps, X + eps
    if clip is not None:
        lower, upper = np.clip(lower, *clip), np.clip(upper, *clip)
    blocks = blocks_of(net)
    n = X.shape[0]
    mu, r = (upper + lower) / 2, (upper - lower) / 2  # (n, in)
    tape = []
    for layer, act, slope in blocks[:-1]:
        W, b = _params(layer)
        mu_z = mu @ W.T + b  # mu_z = W mu + b                     (n, out)
        r_z = r @ np.abs(W).T  # r_z = |W| r                       (n, out)
        lo, hi = mu_z - r_z, mu_z + r_z
        tape.append((mu, r, lo, hi, act, slope))
        g_lo, g_hi = _g(act, lo, slope), _g(act, hi, slope)
        mu, r = (g_hi + g_lo) / 2, (g_hi - g_lo) / 2
    W, b = _params(blocks[-1][0])
    D = W[labels][:, None, :] - W[None, :, :]  # D_ij = W_(y_i) - W_j       (n, k, h)
    Db = b[labels][:, None] - b[None, :]  # b_(y_i) - b_j                   (n, k)
    m = np.einsum("nkh,nh->nk", D, mu) + Db - np.einsum("nkh,nh->nk", np.abs(D), r)
    crown = None
    if beta > 0:
        x_mu, x_r = (upper + lower) / 2, (upper - lower) / 2
        crown = _crown_margins(blocks, tape, D, Db, x_mu, x_r)
        m = beta * crown[0] + (1 - beta) * m  # m_ij <= z_(y_i) - z_j over the box
    Zw = -m  # the worst logits, z~_(y_i) = 0
    # logsumexp with the row max subtracted, so exp never overflows
    top = Zw.max(axis=1, keepdims=True)
    E = np.exp(Zw - top)
    S = E.sum(axis=1, keepdims=True)
    per_sample = (top[:, 0] + np.log(S[:, 0])) - Zw[np.arange(n), labels]
    w = np.ones(n, dtype=X.dtype) if sample_weight is None else sample_weight
    w = np.asarray(w, dtype=X.dtype) / np.sum(w)
    value = float(per_sample @ w)
    if not grads:
        return value, None
    # dCE/dz~ = softmax(z~) - onehot(y), times each sample's weight   (n, k)
    dZw = E / S
    dZw[np.arange(n), labels] -= 1
    dZw *= w[:, None]
    dm = -dZw
    dm[np.arange(n), labels] = 0  # m_(y y) = 0 for any weights
    dD = dDb = None
    dcrown = [None] * len(tape)
    if crown is not None:
        dD, dDb, dcrown = _crown_backward(crown, beta * dm)
        dm = (1 - beta) * dm
    # back through m = D mu + Db - |D| r
    dmu = np.einsum("nk,nkh->nh", dm, D)
    dr = -np.einsum("nk,nkh->nh", dm, np.abs(D))
    G = dm[:, :, None] * (mu[:, None, :] - np.sign(D) * r[:, None, :])  # dL/dD
    dDb = dm if dDb is None else dDb + dm
    if dD is not None:
        G += dD
    onehot = np.zeros_like(dm)
    onehot[np.arange(n), labels] = 1
    dW = onehot.T @ G.sum(axis=1) - G.sum(axis=0)  # D_ij = W_(y_i) - W_j    (k, h)
    db = onehot.T @ dDb.sum(axis=1) - dDb.sum(axis=0)  # (k,)
    out = [(dW, db)]
    for (layer, _, _), (mu, r, lo, hi, act, slope), extra in zip(
        reversed(blocks[:-1]), reversed(tape), reversed(dcrown), strict=True
    ):
        W, _ = _params(layer)
        # mu_a = (g(hi) + g(lo)) / 2, r_a = (g(hi) - g(lo)) / 2
        dhi = (dmu + dr) / 2 * _dg(act, hi, slope)
        dlo = (dmu - dr) / 2 * _dg(act, lo, slope)
        if extra is not None:  # CROWN-IBP's relaxations read lo and hi too
            dlo, dhi = dlo + extra[2], dhi + extra[3]
        dmu_z, dr_z = dhi + dlo, dhi - dlo  # lo, hi = mu_z -+ r_z
        # mu_z = W mu + b and r_z = |W| r; d|W|/dW = sign(W)
        dW = dmu_z.T @ mu + np.sign(W) * (dr_z.T @ r)
        db = dmu_z.sum(axis=0)
        if extra is not None:  # and its back-substitution reads W and b
            dW, db = dW + extra[0], db + extra[1]
        out.append((dW, db))
        dmu, dr = dmu_z @ W, dr_z @ np.abs(W)
    out.reverse()
    return value, [
        (dW, db if "b" in layer.params else None)
        for (dW, db), (layer, _, _) in zip(out, blocks, strict=True)
    ]


def _relu_lines(lo, hi):
    """CROWN's ReLU relaxation on [lo, hi] (Zhang et al. 2018): a >= alpha z with
    alpha = 1 if hi > -lo else 0, and a <= s (z - lo) with s = hi / (hi - lo), for
    the unstable neurons; exact for the stable ones. Returns (alpha, s, t = -s lo,
    unstable)."""
    unstable = (lo < 0) & (hi > 0)
    active = lo >= 0
    width = np.where(unstable, hi - lo, 1)
    s = np.where(unstable, hi / width, active.astype(lo.dtype))
    t = np.where(unstable, -s * lo, 0)
    alpha = np.where(unstable, (hi > -lo).astype(lo.dtype), active.astype(lo.dtype))
    return alpha, s, t, unstable, width


def _crown_margins(blocks, tape, D, Db, x_mu, x_r):
    """CROWN-IBP (Zhang et al. 2020, "Towards stable and efficient training of
    verifiably robust neural networks"): the margins z_y - z_j bounded backwards from
    the output, Lam . a + const, through each ReLU by its linear relaxation on the
    IBP bounds (positive coefficients take the lower line, negative ones the upper)
    and each z = W a + b; at the input, min over the box is Lam . mu - |Lam| . r.

    Returns (m, record): m (n, k) and what ``_crown_backward`` needs."""
    Lam, const = D, Db.copy()  # (n, k, h) coefficients on the last hidden a
    record = []
    for (layer, act, _), (_, _, lo, hi, _, _) in zip(
        reversed(blocks[:-1]), reversed(tape), strict=True
    ):
        if act not in ("relu", "identity"):
            raise ValueError(
                f"crown-ibp needs ReLU (or identity) hidden layers; one uses {act}"
            )
        W, b = _params(layer)
        if act == "relu":
            alpha, s, t, unstable, width = _relu_lines(lo, hi)
        else:
            alpha = s = np.ones_like(lo)
            t = np.zeros_like(lo)
            unstable, width = np.zeros(lo.shape, bool), np.ones_like(lo)
        P, N = np.maximum(Lam, 0), np.minimum(Lam, 0)
        Lz = P * alpha[:, None, :] + N * s[:, None, :]  # coefficients on z  (n, k, h)
        const += np.einsum("nkh,nh->nk", N, t) + Lz @ b  # upper line's t; Lam . b
        record.append((Lam, N, Lz, W, b, alpha, s, t, unstable, width, lo, hi))
        Lam = Lz @ W  # coefficients on the layer's input                   (n, k, in)
    m = np.einsum("nki,ni->nk", Lam, x_mu) - np.einsum("nki,ni->nk", np.abs(Lam), x_r)
    return m + const, (Lam, record, x_mu, x_r)


def _crown_backward(crown, dm):
    """Gradients of the CROWN-IBP margins m (given dL/dm): (dD, dDb, per hidden
    block in order (dW, db, dlo, dhi)), dlo and dhi on the IBP bounds it read.

    alpha is piecewise constant (no gradient); the upper line's s = hi / w and
    t = -s lo (w = hi - lo) depend on the IBP bounds:
    ds/dhi = -lo / w^2, ds/dlo = hi / w^2, dt/dhi = lo^2 / w^2, dt/dlo = -hi^2 / w^2.
    """
    _, (Lam_in, record, x_mu, x_r) = crown
    # m = Lam_in . mu - |Lam_in| . r + const
    dLam = dm[:, :, None] * (x_mu[:, None, :] - np.sign(Lam_in) * x_r[:, None, :])
    grads = []
    for Lam, N, Lz, W, b, alpha, s, t, unstable, width, lo, hi in reversed(record):
        dW = np.einsum("nkh,nki->hi", Lz, dLam)  # Lam_in = Lz W
        db = np.einsum("nk,nkh->h", dm, Lz)  # const += Lz . b
        dLz = dLam @ W.T + dm[:, :, None] * b  # (n, k, h)
        dN = dLz * s[:, None, :] + dm[:, :, None] * t[:, None, :]  # Lz = P alpha + N s
        dP = dLz * alpha[:, None, :]
        ds = np.einsum("nkh,nkh->nh", dLz, N)
        dt = np.einsum("nk,nkh->nh", dm, N)  # const += N . t
        w2 = width * width
        dhi = np.where(unstable, ds * (-lo / w2) + dt * (lo * lo / w2), 0)
        dlo = np.where(unstable, ds * (hi / w2) + dt * (-hi * hi / w2), 0)
        grads.append((dW, db, dlo, dhi))
        dLam = dP * (Lam > 0) + dN * (Lam < 0)  # P = max(Lam, 0), N = min(Lam, 0)
    return dLam, dm, grads


# -- the setting -------------------------------------------------------------------------
@dataclass(frozen=True)
class CertifiedTraining:
    """Certified training as a setting: ``net.fit(..., certify=eps)`` makes one.

    L = kappa L(z, y) + (1 - kappa) CE(z~, y), z~ the worst logits over the box
    (IBP, Gowal et al. 2018). Over the ramp, eps grows from 0 to ``eps`` and kappa
    from ``kappa[0]`` to ``kappa[1]``. With method "crown-ibp" (Zhang et al. 2020)
    the margins are beta m_CROWN-IBP + (1 - beta) m_IBP, beta going from
    ``beta[0]`` to ``beta[1]`` over the ramp.

    Parameters
    ----------
    eps : float >= 0
        The L-infinity radius trained for.
    method : "ibp" or "crown-ibp", default "ibp"
        "crown-ibp" needs ReLU (or identity) hidden layers.
    ramp : None, number, (start_epoch, ramp_epochs) or callable, default None
        None ramps over the first half of the run; a number r over epochs 0..r;
        a pair from ``start_epoch`` over ``ramp_epochs``; a callable maps the
        progress in epochs (a float: epoch + step / steps) to a fraction in [0, 1].
    kappa : (start, end), default (1.0, 0.5)
        The weight of the natural loss at the start and the end of the ramp.
    beta : (start, end), default (1.0, 0.0)
        CROWN-IBP's share of the margins at the start and the end of the ramp
        (unused by "ibp").
    clip : (lo, hi), optional
        The data range: boxes are cut to it (pixels in [0, 1]).
    """

    eps: float
    method: str = "ibp"
    ramp: Any = None
    kappa: tuple = (1.0, 0.5)
    clip: tuple | None = None
    beta: tuple = (1.0, 0.0)

    def __post_init__(self):
        object.__setattr__(self, "eps", check_number(self.eps, "certify", low=0.0))
        if self.method not in METHODS:
            raise ValueError(
                f"certify_method must be one of {', '.join(METHODS)}, got "
                f"{self.method!r}"
            )
        object.__setattr__(self, "ramp", _checked_ramp(self.ramp))
        object.__setattr__(self, "kappa", _pair(self.kappa, "certify_kappa"))
        object.__setattr__(self, "beta", _pair(self.beta, "beta"))
        object.__setattr__(self, "clip", check_clip(self.clip, "certify_clip"))

    def fraction(self, progress: float, epochs: int) -> float:
        """How far along the ramp ``progress`` (in epochs) is, in [0, 1]."""
        ramp = self.ramp
        if callable(ramp):
            f = ramp(progress)
            if not (isinstance(f, numbers.Real) and 0 <= f <= 1):
                raise ValueError(
                    f"certify_ramp({progress:g}) must return a number in [0, 1], "
                    f"got {f!r}"
                )
            return float(f)
        start, length = (0.0, epochs / 2) if ramp is None else ramp
        if length == 0:
            return float(progress >= start)
        return min(max((progress - start) / length, 0.0), 1.0)

    def schedule(self, progress: float, epochs: int) -> tuple[float, float, float]:
        """(eps_t, kappa_t, beta_t) at ``progress`` epochs into a run of ``epochs``
        (beta_t = 0 for "ibp")."""
        f = self.fraction(progress, epochs)
        (k0, k1), (b0, b1) = self.kappa, self.beta
        beta = b0 + (b1 - b0) * f if self.method == "crown-ibp" else 0.0
        return self.eps * f, k0 + (k1 - k0) * f, beta

    def config(self) -> dict:
        ramp = self.ramp
        return {
            "eps": self.eps,
            "method": self.method,
            "ramp": None
            if ramp is None
            else (repr(ramp) if callable(ramp) else list(ramp)),
            "kappa": list(self.kappa),
            "beta": list(self.beta) if self.method == "crown-ibp" else None,
            "clip": None if self.clip is None else list(self.clip),
        }

    def wrap(self, step_fn, trainer):
        """``step_fn`` with the certified loss mixed in, eps and kappa read from the
        ``trainer``'s position (epoch, step)."""
        return certified_step(self, step_fn, trainer)


def check_certify_loss(loss, net, method: str = "ibp") -> None:
    """Certified training reads the loss as cross-entropy over the logits; CROWN-IBP
    relaxes ReLUs."""
    if not isinstance(loss, CrossEntropyLoss):
        raise ValueError(
            "certify needs the cross-entropy loss (a softmax output, or "
            f"CrossEntropyLoss(from_logits=True)), got {loss.name}"
        )
    blocks = blocks_of(net)
    for i, (_, act, _) in enumerate(blocks[:-1]):
        if method == "crown-ibp" and act not in ("relu", "identity"):
            raise ValueError(
                f"crown-ibp needs ReLU (or identity) hidden layers; block {i} uses "
                f"{act} (use certify_method='ibp')"
            )


def certified_step(setting: CertifiedTraining, step_fn, trainer):
    """The fit step for ``setting``: the natural step's gradient, scaled by kappa,
    plus (1 - kappa) times the IBP loss's, then one update."""

    def step(net, loss, optimizer, X, Y, sample_weight=None):
        steps = trainer.data.steps
        progress = trainer.epoch + (trainer.step / steps if steps else 0.0)
        eps, kappa, beta = setting.schedule(progress, trainer.epochs)
        if kappa == 1.0:
            return step_fn(net, loss, optimizer, X, Y, sample_weight)
        clip = setting.clip
        if clip is not None and (X.min() < clip[0] or X.max() > clip[1]):
            raise ValueError(
                f"X has values from {X.min():g} to {X.max():g}, outside certify_clip="
                f"({clip[0]:g}, {clip[1]:g}); scale X into that range first"
            )
        A = net._forward(X, training=True, reuse=True)
        natural = net._backward(loss, A, Y, sample_weight, reuse=True)
        value, grads = ibp_loss(
            net, X, Y.argmax(axis=1), eps, clip, sample_weight, beta=beta
        )
        net.flat_grads *= kappa
        for (layer, _, _), (dW, db) in zip(blocks_of(net), grads, strict=True):
            layer.grads["W"] += (1 - kappa) * dW
            if db is not None:
                layer.grads["b"] += (1 - kappa) * db
        total = kappa * natural + (1 - kappa) * value
        if math.isfinite(total):
            optimizer.step(net.flat_params, net.flat_grads)
        return total, A

    return step


def _checked_ramp(ramp):
    if ramp is None or callable(ramp):
        return ramp
    if isinstance(ramp, numbers.Real) and not isinstance(ramp, bool):
        ramp = (0, ramp)
    try:
        start, length = ramp
    except (TypeError, ValueError) as error:
        raise TypeError(
            "certify_ramp must be None, a number of epochs, (start_epoch, "
            f"ramp_epochs) or a callable, got {ramp!r}"
        ) from error
    start = check_number(start, "certify_ramp start_epoch", low=0.0)
    length = check_number(length, "certify_ramp ramp_epochs", low=0.0)
    return (start, length)


def _pair(value, name: str) -> tuple[float, float]:
    try:
        a, b = value
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a pair (start, end), got {value!r}") from error
    return (
        check_number(a, f"{name} start", low=0.0, high=1.0),
        check_number(b, f"{name} end", low=0.0, high=1.0),
    )
