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

``perturb`` (a boolean mask over the network's inputs, or a list of input indices;
default every input) names the inputs the attack may move: the random start, every
step and the projection leave the others exactly as given (x_adv_j = x_j bit for bit).
That is the ball of the inputs a user can change by a small amount, as the numeric
columns of a table, not a one-hot category or a missing-value indicator. The category
index columns of an ``Embedding`` first layer are never moved, whatever the mask says:
an index is a label, not a point of a ball.

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

__all__ = [
    "FGSM",
    "PGD",
    "adversarial_step",
    "check_perturb",
    "default_loss",
    "fgsm",
    "pgd",
]


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


def _perturb_values(perturb) -> np.ndarray:
    """``perturb`` as a 1-D array of booleans (a mask) or integers (indices)."""
    values = np.asarray(perturb)
    if values.ndim != 1:
        raise ValueError(
            "perturb must be a boolean mask (one entry per network input) or a list "
            f"of input indices, got {perturb!r}"
        )
    if values.size == 0:
        raise ValueError(
            "perturb selects no input: got an empty list; give at least one input "
            "index (or a boolean mask with a True)"
        )
    if values.dtype != bool and values.dtype.kind not in "iu":
        raise ValueError(
            "perturb must hold booleans (a mask) or integer input indices, got "
            f"{values.dtype} values: {perturb!r}"
        )
    return values


def check_perturb(net: Sequential, perturb=None) -> np.ndarray:
    """The inputs an attack moves, as a boolean mask (in_features,).

    ``perturb``: None (every input), a boolean mask of ``in_features`` entries, or a
    list of input indices. The category index columns of an ``Embedding`` first
    layer are always left out (they stay as given).

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(3, 1), seed=0)
    >>> gn.attacks.check_perturb(net, [0, 2])
    array([ True, False,  True])
    """
    n = net.in_features
    if perturb is None:
        mask = np.ones(n, dtype=bool)
    else:
        values = _perturb_values(perturb)
        if values.dtype == bool:
            if values.size != n:
                raise ValueError(
                    f"perturb as a boolean mask must have {n} entries, one per "
                    f"network input, got {values.size}"
                )
            if not values.any():
                raise ValueError(
                    f"perturb selects no input: all {n} entries of the mask are "
                    "False; mark at least one input True"
                )
            mask = values.copy()
        else:
            outside = values[(values < 0) | (values >= n)]
            if outside.size:
                raise ValueError(
                    f"perturb index {int(outside[0])} is not an input: the network "
                    f"has {n} inputs, indices 0..{n - 1}"
                )
            mask = np.zeros(n, dtype=bool)
            mask[values] = True
    index = list(getattr(net.layers[0], "index_columns", ()) if net.layers else ())
    if index:
        selected = mask.copy()
        mask[index] = False
        if not mask.any():
            raise ValueError(
                "nothing to perturb: the inputs selected "
                f"({np.flatnonzero(selected).tolist()}) are all category index "
                f"columns of the Embedding layer ({index}), which attacks keep as "
                "they are; select at least one other input"
            )
    return mask


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


def keep_fixed(X_adv, X, mask) -> np.ndarray:
    """X_adv with the inputs outside ``mask`` (from ``check_perturb``) put back to
    X's, in place: copied, not recomputed, so they stay equal bit for bit."""
    fixed = np.flatnonzero(~mask)
    if fixed.size:
        X_adv[:, fixed] = X[:, fixed]
    return X_adv


def fgsm_step(net, X, Y, loss, eps: float, clip, mask=None) -> np.ndarray:
    """x_adv = clip(x + eps sign(dL/dx)) on the inputs of ``mask`` (None: every input
    but the category indices); X, Y already validated."""
    mask = check_perturb(net) if mask is None else mask
    X_adv = _clip(X + eps * np.sign(input_gradient(net, X, Y, loss)), clip)
    return keep_fixed(X_adv, X, mask)


def pgd_steps(
    net, X, Y, loss, eps, step, steps, clip, start=None, mask=None
) -> np.ndarray:
    """PGD from ``start`` (an offset u in [-eps, eps]^d, or None for u = 0), moving
    only the inputs of ``mask`` (None: every input but the category indices)."""
    mask = check_perturb(net) if mask is None else mask
    X_adv = X.copy() if start is None else _clip(X + start, clip)
    keep_fixed(X_adv, X, mask)
    for _ in range(steps):
        X_adv += step * np.sign(input_gradient(net, X_adv, Y, loss))  # ascent step
        np.clip(X_adv, X - eps, X + eps, out=X_adv)  # back into ||x - x0||_inf <= eps
        keep_fixed(_clip(X_adv, clip), X, mask)
    return X_adv


def uniform_start(rng: np.random.Generator, eps: float, X: np.ndarray) -> np.ndarray:
    """u ~ Uniform[-eps, eps] elementwise, drawn as ``rng.uniform(-eps, eps, X.shape)``."""
    return rng.uniform(-eps, eps, size=X.shape).astype(X.dtype, copy=False)


# -- public functions ----------------------------------------------------------------
def fgsm(
    net: Sequential, X, y, eps: float, loss=None, clip=None, perturb=None
) -> np.ndarray:
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
    perturb : boolean mask (in_features,) or list of input indices, optional
        The inputs the attack may move (default every input); the others are
        returned as given, bit for bit. Category index columns of an ``Embedding``
        first layer never move.

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
    >>> gn.attacks.fgsm(net, [[0.5, 0.5]], [0.0], eps=0.25, perturb=[1])
    array([[0.5 , 0.25]])
    """
    eps = check_eps(eps)
    X, Y, loss, clip = prepare(net, X, y, loss, clip)
    mask = check_perturb(net, perturb)
    saved_grads = net.flat_grads.copy()
    try:
        return fgsm_step(net, X, Y, loss, eps, clip, mask)
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
    perturb=None,
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
    perturb : boolean mask (in_features,) or list of input indices, optional
        The inputs the attack may move (default every input), as in ``fgsm``: the
        random start, every step and the projection leave the others as given.

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
    mask = check_perturb(net, perturb)
    rng = as_generator(seed)
    start = uniform_start(rng, eps, X) if random_start else None
    saved_grads = net.flat_grads.copy()
    try:
        return pgd_steps(net, X, Y, loss, eps, step, steps, clip, start, mask)
    finally:
        net.flat_grads[...] = saved_grads


# -- configuration objects, for adversarial training ---------------------------------
def _perturb_tuple(perturb) -> tuple | None:
    """``perturb`` of a configuration object, checked as far as it can be without a
    network (its length and indices are checked against each network attacked)."""
    if perturb is None:
        return None
    return tuple(_perturb_values(perturb).tolist())


def _with_perturb(config: dict, perturb) -> dict:
    """``config`` with "perturb" when the attack moves only some inputs."""
    return config if perturb is None else {**config, "perturb": list(perturb)}


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
        X_adv = attack.adversarial_batch(net, X, Y, loss)  # the weights before the step
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
    ``fgsm(net, X, y, eps=0.1)``. ``perturb`` (a boolean mask or a list of input
    indices, as in ``fgsm``) limits the inputs moved.
    """

    eps: float
    mix: float = 0.5
    clip: tuple[float, float] | None = None
    perturb: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "eps", check_eps(self.eps))
        object.__setattr__(self, "mix", check_number(self.mix, "mix", low=0, high=1))
        object.__setattr__(self, "clip", check_clip(self.clip))
        object.__setattr__(self, "perturb", _perturb_tuple(self.perturb))

    def adversarial_batch(self, net, X, Y, loss, rng=None) -> np.ndarray:
        """The adversarial batch for validated X and prepared Y (overwrites grads)."""
        mask = check_perturb(net, self.perturb)
        return fgsm_step(net, X, Y, loss, self.eps, self.clip, mask)

    def wrap(self, step_fn):
        """``step_fn`` trained on clean and adversarial batches (``adversarial_step``)."""
        return adversarial_step(self, step_fn)

    def config(self) -> dict:
        clip = None if self.clip is None else list(self.clip)
        out = {"attack": "fgsm", "eps": self.eps, "mix": self.mix, "clip": clip}
        return _with_perturb(out, self.perturb)

    def __call__(self, net, X, y, loss=None):
        return fgsm(net, X, y, self.eps, loss=loss, clip=self.clip,
                    perturb=self.perturb)  # fmt: skip


@dataclass(frozen=True)
class PGD:
    """PGD as a configuration, for ``net.fit(..., adversarial=gn.attacks.PGD(...))``.

    Madry et al. 2017 train on the adversarial batch alone (mix = 1); the default
    mix = 0.5 matches ``FGSM``. In training the random start is drawn from the
    network's generator ``net.rng``. ``perturb`` limits the inputs moved, as in
    ``pgd``.
    """

    eps: float
    step: float | None = None
    steps: int = 10
    mix: float = 0.5
    clip: tuple[float, float] | None = None
    random_start: bool = True
    perturb: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "eps", check_eps(self.eps))
        object.__setattr__(self, "steps", check_positive_int(self.steps, "steps"))
        step = check_step(self.step, self.eps, self.steps)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "mix", check_number(self.mix, "mix", low=0, high=1))
        object.__setattr__(self, "clip", check_clip(self.clip))
        object.__setattr__(self, "perturb", _perturb_tuple(self.perturb))

    def adversarial_batch(self, net, X, Y, loss, rng=None) -> np.ndarray:
        """The adversarial batch for validated X and prepared Y (overwrites grads)."""
        mask = check_perturb(net, self.perturb)
        rng = net.rng if rng is None else rng
        start = uniform_start(rng, self.eps, X) if self.random_start else None
        return pgd_steps(
            net, X, Y, loss, self.eps, self.step, self.steps, self.clip, start, mask
        )

    def wrap(self, step_fn):
        """``step_fn`` trained on clean and adversarial batches (``adversarial_step``)."""
        return adversarial_step(self, step_fn)

    def config(self) -> dict:
        clip = None if self.clip is None else list(self.clip)
        out = {
            "attack": "pgd",
            "eps": self.eps,
            "step": self.step,
            "steps": self.steps,
            "mix": self.mix,
            "clip": clip,
            "random_start": self.random_start,
        }
        return _with_perturb(out, self.perturb)

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
            perturb=self.perturb,
        )
