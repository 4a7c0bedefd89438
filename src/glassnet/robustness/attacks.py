"""Adversarial examples: backpropagation carried one step further, to the input.

The gradient dL/dx says which way each input value would raise the loss. Moving every
value a small step eps that way changes the input imperceptibly but can flip the
prediction.

- FGSM, the fast gradient sign method (Goodfellow, Shlens and Szegedy 2014, "Explaining
  and harnessing adversarial examples"), one step:

      x_adv = clip(x + eps * sign(dL/dx))

- PGD, projected gradient descent on the negative loss (Madry et al. 2017, "Towards
  deep learning models resistant to adversarial attacks"), ``steps`` smaller steps,
  each projected back into the L-infinity ball of radius eps around x:

      x_0     = clip(x + u),  u ~ Uniform[-eps, eps]^d   (random start, seeded)
      x_{t+1} = clip(proj_eps(x_t + step * sign(dL/dx_t)))
      proj_eps(v) = min(max(v, x - eps), x + eps)        (elementwise)

``clip=(lo, hi)`` keeps inputs in their valid range (pixels in [0, 1]). The L-infinity
ball and the box are both boxes, so clipping to one then the other is the exact
projection onto their intersection.

The loss is the one the network was trained with; when not given it is inferred from
the output activation (``default_loss``): softmax -> cross_entropy, sigmoid ->
binary_crossentropy, anything else -> mse. A network with linear outputs trained on
logits should be given ``loss=gn.CrossEntropyLoss(from_logits=True)``.

The attacks run the network in inference mode (dropout off) and leave ``flat_grads``
as they found them. ``FGSM`` and ``PGD`` are the same attacks as configuration objects,
for adversarial training (``net.fit(..., adversarial=gn.attacks.FGSM(eps=0.1))``).

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
>>> net.layers[0].W = [[0.5, -1.0]]; net.layers[0].b = [0.0]
>>> gn.attacks.fgsm(net, [[0.5, 0.5]], [1.0], eps=0.1, clip=(0, 1))
array([[0.4, 0.6]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..nn.losses import (
    Loss,
    get_loss,
)
from ..nn.losses import default_loss as loss_for_output
from ..nn.network import Sequential
from ..validation import (
    as_generator,
    check_clip,
    check_input_matrix,
    check_number,
    check_positive_int,
    check_same_length,
)

__all__ = ["FGSM", "PGD", "adversarial_step", "default_loss", "fgsm", "pgd"]


# -- checks at the boundary -----------------------------------------------------------
def default_loss(net: Sequential) -> Loss:
    """The loss an attack maximises when none is given, read from the output activation.

    softmax -> cross_entropy, sigmoid -> binary_crossentropy, otherwise mse.
    """
    return loss_for_output(net.layers[-1].output_activation)


def check_eps(eps, name: str = "eps") -> float:
    return check_number(eps, name, low=0.0)


def check_step(step, eps: float, steps: int) -> float:
    """The PGD step size: given (> 0), or 2.5 eps / steps."""
    if step is None:
        return 2.5 * eps / steps
    step = check_number(step, "step")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step:g}")
    return step


def _check_inside(X: np.ndarray, clip) -> None:
    if clip is not None and (X.min() < clip[0] or X.max() > clip[1]):
        raise ValueError(
            f"X has values from {X.min():g} to {X.max():g}, outside clip=({clip[0]:g}, "
            f"{clip[1]:g}); scale X into the clip range first (or pass clip=None)"
        )


def prepare(net: Sequential, X, y, loss, clip):
    """Validated (X, Y, loss, clip) for an attack on ``net``."""
    if not isinstance(net, Sequential):
        raise TypeError(f"net must be a glassnet Sequential, got {type(net).__name__}")
    loss = default_loss(net) if loss is None else get_loss(loss)
    X = check_input_matrix(X, net.in_features, net.dtype)
    check_same_length(X, y)
    Y = net.prepare_targets(y, loss)
    clip = check_clip(clip)
    _check_inside(X, clip)
    return X, Y, loss, clip


# -- the attacks on validated arrays (no checks: also used inside training) -----------
def input_gradient(net: Sequential, X, Y, loss: Loss) -> np.ndarray:
    """dL/dX in inference mode; overwrites ``net.flat_grads`` (scratch)."""
    A = net._forward(X, training=False)
    _, dX = net._backward(loss, A, Y, need_input_grad=True)
    return dX  # (n, in)


def _clip(X, clip):
    return X if clip is None else np.clip(X, clip[0], clip[1], out=X)


def _keep_categories(net, X_adv, X) -> np.ndarray:
    """X_adv with the columns that hold category indices (those an Embedding first
    layer looks up) put back to X's: an index is a label, not a point of a ball, and a
    perturbed one is no category at all."""
    columns = getattr(net.layers[0], "index_columns", ()) if net.layers else ()
    if columns:
        X_adv[:, columns] = X[:, columns]
    return X_adv


def fgsm_step(net, X, Y, loss, eps: float, clip) -> np.ndarray:
    """x_adv = clip(x + eps sign(dL/dx)); X, Y already validated."""
    X_adv = _clip(X + eps * np.sign(input_gradient(net, X, Y, loss)), clip)
    return _keep_categories(net, X_adv, X)


def pgd_steps(net, X, Y, loss, eps, step, steps, clip, start=None) -> np.ndarray:
    """PGD from ``start`` (an offset u in [-eps, eps]^d, or None for u = 0)."""
    X_adv = X.copy() if start is None else _clip(X + start, clip)
    _keep_categories(net, X_adv, X)
    for _ in range(steps):
        X_adv += step * np.sign(input_gradient(net, X_adv, Y, loss))  # ascent step
        np.clip(X_adv, X - eps, X + eps, out=X_adv)  # back into ||x - x0||_inf <= eps
        _keep_categories(net, _clip(X_adv, clip), X)
    return X_adv


def uniform_start(rng: np.random.Generator, eps: float, X: np.ndarray) -> np.ndarray:
    """u ~ Uniform[-eps, eps] elementwise, drawn as ``rng.uniform(-eps, eps, X.shape)``."""
    return rng.uniform(-eps, eps, size=X.shape).astype(X.dtype, copy=False)


# -- public functions ----------------------------------------------------------------
def fgsm(net: Sequential, X, y, eps: float, loss=None, clip=None) -> np.ndarray:
    """Fast gradient sign method: x_adv = clip(x + eps * sign(dL/dx)).

    Parameters
    ----------
    net : Sequential
    X : array (n, in_features)
        Clean inputs (inside ``clip`` when given).
    y : targets as for the loss (class labels for cross_entropy)
    eps : float >= 0
        The L-infinity budget: every input value moves by at most eps.
    loss : str or Loss, optional
        The loss to increase; inferred from the output activation when None.
    clip : (lo, hi) or None
        The valid input range, applied after the step.

    Returns
    -------
    X_adv : array (n, in_features), the network's dtype

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
    >>> net.layers[0].W = [[0.5, -1.0]]; net.layers[0].b = [0.0]
    >>> gn.attacks.fgsm(net, [[0.5, 0.5]], [0.0], eps=0.25)
    array([[0.75, 0.25]])
    """
    eps = check_eps(eps)
    X, Y, loss, clip = prepare(net, X, y, loss, clip)
    saved_grads = net.flat_grads.copy()
    try:
        return fgsm_step(net, X, Y, loss, eps, clip)
    finally:
        net.flat_grads[...] = saved_grads


def pgd(
    net: Sequential,
    X,
    y,
    eps: float,
    step: float | None = None,
    steps: int = 10,
    loss=None,
    clip=None,
    random_start: bool = True,
    seed=None,
) -> np.ndarray:
    """Projected gradient descent in the L-infinity ball (Madry et al. 2017).

    x_0 = clip(x + u), u ~ Uniform[-eps, eps]^d (or x_0 = x without random start);
    then ``steps`` times x_{t+1} = clip(proj_eps(x_t + step * sign(dL/dx_t))), where
    proj_eps clips each value to [x - eps, x + eps]. Returns the last iterate.

    Parameters
    ----------
    eps : float >= 0
        The L-infinity budget.
    step : float > 0, optional
        The step size alpha; default 2.5 * eps / steps (the rule of Madry et al.'s
        robustness library: enough to cross the ball and come back).
    steps : int >= 1, default 10
    loss, clip : as in ``fgsm``.
    random_start : bool, default True
        Start from a uniform random point of the ball, drawn as
        ``rng.uniform(-eps, eps, X.shape)`` with ``rng`` made from ``seed``.
    seed : int, numpy Generator or None

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
    >>> net.layers[0].W = [[0.5, -1.0]]; net.layers[0].b = [0.0]
    >>> gn.attacks.pgd(net, [[0.5, 0.5]], [0.0], eps=0.25, step=0.1, steps=5,
    ...                random_start=False)
    array([[0.75, 0.25]])
    """
    eps = check_eps(eps)
    steps = check_positive_int(steps, "steps")
    step = check_step(step, eps, steps)
    X, Y, loss, clip = prepare(net, X, y, loss, clip)
    rng = as_generator(seed)
    start = uniform_start(rng, eps, X) if random_start else None
    saved_grads = net.flat_grads.copy()
    try:
        return pgd_steps(net, X, Y, loss, eps, step, steps, clip, start)
    finally:
        net.flat_grads[...] = saved_grads


# -- configuration objects, for adversarial training ---------------------------------
def adversarial_step(attack, step_fn):
    """Wrap a fit step ``step_fn(net, loss, optimizer, X, Y, sample_weight)`` so that
    it trains on the batch and its adversarial copy, perturbed against the current
    weights, with the loss

        L = (1 - mix) L(x, y) + mix L(x_adv, y).

    Both halves go through ``step_fn`` as one batch [X; X_adv] with sample weights
    (1 - mix) w and mix w (w = 1 without weights): the weighted mean
    sum_i w_i L_i / sum_i w_i is then exactly the mix above, so there is one forward,
    one backward and one update. Returns (mixed loss, outputs on the clean half); with
    mix = 1 only x_adv is trained on (its outputs returned), with mix = 0 only x.
    """
    mix = attack.mix

    def step(net, loss, optimizer, X, Y, sample_weight=None):
        if mix == 0.0:
            return step_fn(net, loss, optimizer, X, Y, sample_weight)
        _check_inside(X, attack.clip)  # per batch: batches may come from an iterable
        X_adv = attack.perturb(net, X, Y, loss)  # against the weights before the step
        if mix == 1.0:
            return step_fn(net, loss, optimizer, X_adv, Y, sample_weight)
        n = X.shape[0]
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        value, A = step_fn(
            net,
            loss,
            optimizer,
            np.concatenate([X, X_adv]),  # (2n, in)
            np.concatenate([Y, Y]),  # (2n, out)
            np.concatenate([(1.0 - mix) * w, mix * w]),  # (2n,)
        )
        return value, A[:n]

    return step


@dataclass(frozen=True)
class FGSM:
    """FGSM as a configuration: ``net.fit(..., adversarial=gn.attacks.FGSM(eps=0.1))``.

    Each training batch is perturbed against the current weights and the loss mixes
    the clean and the adversarial batch (Goodfellow et al. 2014 used mix = 0.5):

        L = (1 - mix) L(x, y) + mix L(x_adv, y)

    Calling the object runs the attack: ``FGSM(eps=0.1)(net, X, y)`` is
    ``fgsm(net, X, y, eps=0.1)``.
    """

    eps: float
    mix: float = 0.5
    clip: tuple[float, float] | None = None

    def __post_init__(self):
        object.__setattr__(self, "eps", check_eps(self.eps))
        object.__setattr__(self, "mix", check_number(self.mix, "mix", low=0, high=1))
        object.__setattr__(self, "clip", check_clip(self.clip))

    def perturb(self, net, X, Y, loss, rng=None) -> np.ndarray:
        """The adversarial batch for validated X and prepared Y (overwrites grads)."""
        return fgsm_step(net, X, Y, loss, self.eps, self.clip)

    def wrap(self, step_fn):
        """``step_fn`` trained on clean and adversarial batches (``adversarial_step``)."""
        return adversarial_step(self, step_fn)

    def config(self) -> dict:
        clip = None if self.clip is None else list(self.clip)
        return {"attack": "fgsm", "eps": self.eps, "mix": self.mix, "clip": clip}

    def __call__(self, net, X, y, loss=None):
        return fgsm(net, X, y, self.eps, loss=loss, clip=self.clip)


@dataclass(frozen=True)
class PGD:
    """PGD as a configuration, for ``net.fit(..., adversarial=gn.attacks.PGD(...))``.

    Madry et al. 2017 train on the adversarial batch alone (mix = 1); the default
    mix = 0.5 matches ``FGSM``. In training the random start is drawn from the
    network's generator ``net.rng``.
    """

    eps: float
    step: float | None = None
    steps: int = 10
    mix: float = 0.5
    clip: tuple[float, float] | None = None
    random_start: bool = True

    def __post_init__(self):
        object.__setattr__(self, "eps", check_eps(self.eps))
        object.__setattr__(self, "steps", check_positive_int(self.steps, "steps"))
        step = check_step(self.step, self.eps, self.steps)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "mix", check_number(self.mix, "mix", low=0, high=1))
        object.__setattr__(self, "clip", check_clip(self.clip))

    def perturb(self, net, X, Y, loss, rng=None) -> np.ndarray:
        """The adversarial batch for validated X and prepared Y (overwrites grads)."""
        rng = net.rng if rng is None else rng
        start = uniform_start(rng, self.eps, X) if self.random_start else None
        return pgd_steps(
            net, X, Y, loss, self.eps, self.step, self.steps, self.clip, start
        )

    def wrap(self, step_fn):
        """``step_fn`` trained on clean and adversarial batches (``adversarial_step``)."""
        return adversarial_step(self, step_fn)

    def config(self) -> dict:
        clip = None if self.clip is None else list(self.clip)
        return {
            "attack": "pgd",
            "eps": self.eps,
            "step": self.step,
            "steps": self.steps,
            "mix": self.mix,
            "clip": clip,
            "random_start": self.random_start,
        }

    def __call__(self, net, X, y, loss=None, seed=None):
        return pgd(
            net,
            X,
            y,
            self.eps,
            step=self.step,
            steps=self.steps,
            loss=loss,
            clip=self.clip,
            random_start=self.random_start,
            seed=seed,
        )
