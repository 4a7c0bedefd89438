"""How fragile is a trained network? Accuracy under attack, eps by eps.

``robustness_report`` runs FGSM and PGD (``glassnet.attacks``) at each budget eps and
records, for each (attack, eps): the accuracy on the adversarial inputs, the mean size
of the perturbation (L-infinity and L2 norms of x_adv - x, averaged over samples), how
many correctly classified inputs it flipped, and a few of them.

Accuracy reads the output as a classifier: argmax over several outputs (softmax,
or labels/one-hot targets), a threshold on sigmoid outputs (0.5 on probabilities, 0 on
logits with ``BinaryCrossEntropyLoss(from_logits=True)``; several sigmoid outputs count
as correct when every label is), and 0.5 on a single linear output trained with mse on
0/1 targets.

Examples
--------
>>> import numpy as np
>>> import glassnet as gn
>>> net = gn.Sequential(gn.Dense(2, 1, "sigmoid"), dtype="float64", seed=0)
>>> net.layers[0].W = [[4.0, -4.0]]; net.layers[0].b = [0.0]
>>> X = np.array([[0.8, 0.2], [0.3, 0.7], [0.55, 0.5]]); y = [1, 0, 1]
>>> report = gn.robustness_report(net, X, y, eps=[0.1], attacks=["fgsm"], clip=(0, 1))
>>> report.clean_accuracy, report.accuracy("fgsm", 0.1)
(1.0, 0.6666666666666666)
>>> report.results[0].examples
[{'index': 2, 'true': 1, 'clean': 1, 'adversarial': 0}]
"""

from __future__ import annotations

import numbers
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from ..io.atomic import atomic_write
from ..nn.losses import BinaryCrossEntropyLoss, Loss, get_loss
from ..validation import as_generator, check_positive_int
from . import attacks as _attacks

__all__ = [
    "AttackResult",
    "RobustnessReport",
    "plot_accuracy_vs_eps",
    "plot_adversarial_examples",
    "predicted_labels",
    "robustness_report",
    "true_labels",
]

ATTACKS = ("fgsm", "pgd")


# -- reading the output as class labels -----------------------------------------------
def predicted_labels(A: np.ndarray, loss: Loss) -> np.ndarray:
    """Class labels from outputs A (n, k): shape (n,), or (n, k) for multi-label."""
    if isinstance(loss, BinaryCrossEntropyLoss):
        labels = (A >= (0.0 if loss.from_logits else 0.5)).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels
    if A.shape[1] > 1:
        return A.argmax(axis=1)
    return (A[:, 0] >= 0.5).astype(np.int64)


def true_labels(Y: np.ndarray, loss: Loss) -> np.ndarray:
    """Class labels from prepared targets Y (n, k), as ``predicted_labels``."""
    if isinstance(loss, BinaryCrossEntropyLoss) or Y.shape[1] == 1:
        labels = (Y >= 0.5).astype(np.int64)
        return labels[:, 0] if labels.shape[1] == 1 else labels
    return Y.argmax(axis=1)


def _correct(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    same = pred == true
    return same if same.ndim == 1 else same.all(axis=1)  # (n,)


def _plain(label):
    """A label as an int (or a list of ints for multi-label), for printing and JSON."""
    return label.tolist() if isinstance(label, np.ndarray) else int(label)


# -- the report ---------------------------------------------------------------------------
@dataclass
class AttackResult:
    """One attack at one budget eps."""

    attack: str
    eps: float
    accuracy: float
    mean_linf: float  # mean over samples of max_j |x_adv_j - x_j|
    mean_l2: float  # mean over samples of sqrt(sum_j (x_adv_j - x_j)^2)
    n_flipped: int  # correct on x, wrong on x_adv
    examples: list[dict] = field(default_factory=list)  # the first few flipped


@dataclass
class RobustnessReport:
    """Accuracy under each attack and eps; ``str(report)`` prints it as a table."""

    n_samples: int
    clean_accuracy: float
    loss: str
    clip: tuple[float, float] | None
    pgd_steps: int
    results: list[AttackResult]
    n_inputs: int = 0  # the network's inputs
    perturbed: list[int] = field(default_factory=list)  # the inputs the attacks moved

    def accuracy(self, attack: str, eps: float) -> float:
        """The accuracy under ``attack`` at budget ``eps``."""
        for r in self.results:
            if r.attack == attack and np.isclose(r.eps, eps, rtol=0, atol=1e-12):
                return r.accuracy
        have = sorted({(r.attack, r.eps) for r in self.results})
        raise KeyError(f"no result for attack={attack!r}, eps={eps:g}; have {have}")

    @property
    def eps(self) -> list[float]:
        return sorted({r.eps for r in self.results})

    @property
    def attacks(self) -> list[str]:
        return list(dict.fromkeys(r.attack for r in self.results))

    def to_dict(self) -> dict:
        """Plain Python types only (JSON-ready)."""
        out = asdict(self)
        out["clip"] = None if self.clip is None else list(self.clip)
        return out

    def _perturbed_line(self) -> list[str]:
        """One line naming the inputs moved, when not every input was."""
        if len(self.perturbed) >= self.n_inputs:
            return []
        shown = ", ".join(map(str, self.perturbed[:12]))
        more = ", ..." if len(self.perturbed) > 12 else ""
        return [
            f"perturbing {len(self.perturbed)} of {self.n_inputs} inputs (indices "
            f"{shown}{more}); the others stay as given"
        ]

    def __str__(self) -> str:
        clip = "none" if self.clip is None else f"({self.clip[0]:g}, {self.clip[1]:g})"
        lines = [
            f"Robustness on {self.n_samples} samples (loss {self.loss}, clip {clip}, "
            f"PGD {self.pgd_steps} steps)",
            f"clean accuracy: {self.clean_accuracy:.4f}",
            *self._perturbed_line(),
            "",
            f"{'attack':<8}{'eps':>8}{'accuracy':>10}{'flipped':>9}"
            f"{'mean Linf':>11}{'mean L2':>10}",
        ]
        for r in self.results:
            lines.append(
                f"{r.attack:<8}{r.eps:>8.4g}{r.accuracy:>10.4f}{r.n_flipped:>9d}"
                f"{r.mean_linf:>11.4g}{r.mean_l2:>10.4g}"
            )
        shown = max(self.results, key=lambda r: (r.n_flipped, r.eps), default=None)
        if shown is not None and shown.examples:
            lines += [
                "",
                f"flipped by {shown.attack} at eps={shown.eps:g} (first "
                f"{len(shown.examples)}):",
                f"{'index':>7}{'true':>8}{'clean':>8}{'adversarial':>13}",
            ]
            for e in shown.examples:
                lines.append(
                    f"{e['index']:>7}{e['true']!s:>8}{e['clean']!s:>8}"
                    f"{e['adversarial']!s:>13}"
                )
        return "\n".join(lines)


def _check_eps_list(eps) -> list[float]:
    if isinstance(eps, numbers.Real):
        eps = [eps]
    try:
        values = list(eps)
    except TypeError as error:
        raise TypeError(
            f"eps must be a number or a list of numbers, got {eps!r}"
        ) from error
    if not values:
        raise ValueError("eps must list at least one budget, got an empty list")
    return [_attacks.check_eps(e, "each eps") for e in values]


def _check_attack_names(attacks) -> list[str]:
    names = [attacks] if isinstance(attacks, str) else list(attacks)
    if not names:
        raise ValueError(f"attacks must name at least one of {list(ATTACKS)}, got []")
    for name in names:
        if name not in ATTACKS:
            raise ValueError(
                f"unknown attack {name!r}; expected one of {list(ATTACKS)}"
            )
    return names


def robustness_report(
    net,
    X,
    y,
    eps=(0.05, 0.1, 0.2),
    attacks=ATTACKS,
    loss=None,
    clip=None,
    pgd_steps: int = 10,
    pgd_step: float | None = None,
    seed=0,
    n_examples: int = 5,
    perturb=None,
) -> RobustnessReport:
    """Accuracy of ``net`` on (X, y) under each attack at each budget eps.

    Parameters
    ----------
    net : Sequential
    X : array (n, in_features); y : labels or targets for ``loss``
    eps : float or list of floats >= 0
        L-infinity budgets.
    attacks : list of "fgsm", "pgd"
    loss : str or Loss, optional
        Inferred from the output activation when None (see ``glassnet.attacks``).
    clip : (lo, hi) or None
        The valid input range.
    pgd_steps : int, default 10
    pgd_step : float, optional
        PGD's step size; default 2.5 * eps / pgd_steps at each eps.
    seed : int, Generator or None, default 0
        For PGD's random starts. With an int each eps starts from a fresh generator
        of that seed, so the report's PGD at eps is ``gn.attacks.pgd(..., seed=seed)``;
        a Generator is drawn from eps after eps.
    n_examples : int, default 5
        How many flipped inputs to keep per (attack, eps).
    perturb : boolean mask (in_features,) or list of input indices, optional
        The inputs the attacks may move (default every input; see
        ``glassnet.attacks``); the others stay as given. The report lists them
        (``perturbed``).

    Returns
    -------
    RobustnessReport
    """
    eps_list = _check_eps_list(eps)
    names = _check_attack_names(attacks)
    pgd_steps = check_positive_int(pgd_steps, "pgd_steps")
    n_examples = check_positive_int(n_examples, "n_examples")
    if pgd_step is not None:
        pgd_step = _attacks.check_step(pgd_step, 0.0, pgd_steps)
    X, Y, loss, clip = _attacks.prepare(net, X, y, loss, clip)
    mask = _attacks.check_perturb(net, perturb)
    as_generator(seed)  # fail now on a bad seed
    true = true_labels(Y, loss)
    clean_pred = predicted_labels(net._forward(X, training=False), loss)
    clean_ok = _correct(clean_pred, true)

    results = []
    saved_grads = net.flat_grads.copy()
    try:
        for name in names:
            for e in eps_list:
                if name == "fgsm":
                    X_adv = _attacks.fgsm_step(net, X, Y, loss, e, clip, mask)
                else:
                    step = _attacks.check_step(pgd_step, e, pgd_steps)
                    start = _attacks.uniform_start(as_generator(seed), e, X)
                    X_adv = _attacks.pgd_steps(
                        net, X, Y, loss, e, step, pgd_steps, clip, start, mask
                    )
                results.append(
                    _score(net, X, X_adv, loss, name, e, true, clean_pred, clean_ok,
                           n_examples)
                )  # fmt: skip
    finally:
        net.flat_grads[...] = saved_grads
    return RobustnessReport(
        n_samples=int(X.shape[0]),
        clean_accuracy=float(clean_ok.mean()),
        loss=loss.name,
        clip=clip,
        pgd_steps=pgd_steps,
        results=results,
        n_inputs=int(mask.size),
        perturbed=np.flatnonzero(mask).tolist(),
    )


def _score(net, X, X_adv, loss, name, eps, true, clean_pred, clean_ok, n_examples):
    adv_pred = predicted_labels(net._forward(X_adv, training=False), loss)
    adv_ok = _correct(adv_pred, true)
    D = (X_adv - X).astype(np.float64)  # (n, in)
    flipped = np.flatnonzero(clean_ok & ~adv_ok)
    return AttackResult(
        attack=name,
        eps=float(eps),
        accuracy=float(adv_ok.mean()),
        mean_linf=float(np.abs(D).max(axis=1).mean()),
        mean_l2=float(np.sqrt((D * D).sum(axis=1)).mean()),
        n_flipped=int(flipped.size),
        examples=[
            {
                "index": int(i),
                "true": _plain(true[i]),
                "clean": _plain(clean_pred[i]),
                "adversarial": _plain(adv_pred[i]),
            }
            for i in flipped[:n_examples]
        ],
    )


# -- pictures (matplotlib, imported on call; no pyplot, so no global backend state) ---
def plot_accuracy_vs_eps(reports, path=None, title="Accuracy under attack"):
    """Accuracy against eps, one line per (report, attack); clean accuracy at eps = 0.

    ``reports``: a RobustnessReport, or a dict {label: report} to compare networks
    (e.g. before and after adversarial training). Returns the matplotlib Figure and
    saves it to ``path`` when given.
    """
    from matplotlib.figure import Figure

    if isinstance(reports, RobustnessReport):
        reports = {"": reports}
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    styles = {"fgsm": "--", "pgd": "-"}
    for k, (label, report) in enumerate(reports.items()):
        color = f"C{k}"
        for attack in report.attacks:
            eps = [0.0, *report.eps]
            acc = [
                report.clean_accuracy,
                *(report.accuracy(attack, e) for e in eps[1:]),
            ]
            name = f"{label} {attack.upper()}".strip()
            ax.plot(eps, acc, styles.get(attack, ":"), marker="o", ms=4, color=color,
                    label=name)  # fmt: skip
    ax.set_xlabel("eps (L-infinity budget per input value)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if path is not None:
        _save_figure(fig, path)
    return fig


def plot_adversarial_examples(
    net, X, X_adv, y, indices, path=None, image_shape=None, loss=None, title=None
):
    """Clean inputs (top row), adversarial inputs (middle) and the perturbation
    x_adv - x (bottom), one column per index, titled with the network's predictions.

    ``image_shape`` defaults to the square (side, side) when in_features = side^2.
    Returns the matplotlib Figure and saves it to ``path`` when given.
    """
    from matplotlib.figure import Figure

    loss = _attacks.default_loss(net) if loss is None else get_loss(loss)
    if image_shape is None:
        side = int(round(np.sqrt(net.in_features)))
        if side * side != net.in_features:
            raise ValueError(
                f"inputs of {net.in_features} features are not a square image; "
                "pass image_shape=(height, width)"
            )
        image_shape = (side, side)
    X, X_adv, y = np.asarray(X), np.asarray(X_adv), np.asarray(y)
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("indices must name at least one sample to draw")
    A_clean, A_adv = net.forward(X[indices]), net.forward(X_adv[indices])
    lo, hi = float(min(X.min(), X_adv.min())), float(max(X.max(), X_adv.max()))
    bound = float(np.abs(X_adv[indices] - X[indices]).max()) or 1.0
    k = len(indices)
    fig = Figure(figsize=(1.45 * k + 0.6, 5.0), layout="constrained")
    axes = fig.subplots(3, k, squeeze=False)
    for col, i in enumerate(indices):
        rows = [
            (X[i], "gray_r", lo, hi, _caption("clean", A_clean[col], loss)),
            (X_adv[i], "gray_r", lo, hi, _caption("adv", A_adv[col], loss)),
            (X_adv[i] - X[i], "RdBu_r", -bound, bound, f"true {_plain(y[i])}"),
        ]
        for ax, (image, cmap, vmin, vmax, text) in zip(axes[:, col], rows, strict=True):
            ax.imshow(image.reshape(image_shape), cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(text, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, name in zip(axes[:, 0], ("clean x", "x_adv", "x_adv - x"), strict=True):
        ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        _save_figure(fig, path)
    return fig


def _save_figure(fig, path) -> None:
    """Renders ``fig`` into memory (format from the extension), then writes it with
    the atomic writer: a failed save leaves the old picture whole."""
    import io

    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    atomic_write(path, buffer.getvalue())


def _caption(kind: str, a: np.ndarray, loss) -> str:
    """'clean: 3 (0.98)' from one output row: the predicted class and its probability."""
    label = predicted_labels(a.reshape(1, -1), loss)[0]
    if a.size > 1 and not isinstance(loss, BinaryCrossEntropyLoss):
        return f"{kind}: {int(label)} ({float(a[int(label)]):.2f})"
    return f"{kind}: {_plain(label)}"
