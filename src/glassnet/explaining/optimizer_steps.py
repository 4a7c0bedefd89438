"""Optimizer steps in ``explain``: k full-batch steps of SGD, Adam, AdamW or RMSprop.

After the forward pass, the loss and backpropagation, each step writes the
optimizer's equations for every parameter tensor theta (W1, b1, W2, ...), with the
state carried from step to step::

    SGD, momentum      v(t) = mu v(t-1) + g,   theta(t) = theta(t-1) - lr v(t)
                       (textbook: u(t) = mu u(t-1) + lr g, theta(t) = theta(t-1) - u(t))
    Adam               m(t) = b1 m(t-1) + (1 - b1) g,  v(t) = b2 v(t-1) + (1 - b2) g^2
                       m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)
                       theta(t) = theta(t-1) - lr m_hat / (sqrt(v_hat) + eps)
    RMSprop            s(t) = alpha s(t-1) + (1 - alpha) g^2
                       theta(t) = theta(t-1) - lr g / (sqrt(s(t)) + eps)
    Adam, amsgrad      v_max(t) = max(v_max(t-1), v(t)),  v_hat = v_max / (1 - b2^t)
    RMSprop, centered  g_avg(t) = alpha g_avg(t-1) + (1 - alpha) g
                       theta(t) = theta(t-1) - lr g / (sqrt(s(t) - g_avg^2) + eps)
    clip_norm c        |g| = sqrt(sum of g^2 over every parameter),
                       g <- min(1, c / (|g| + 1e-6)) g   before the optimizer's rule
    l1 lambda1         g <- g + lambda1 sign(theta(t-1))  after clipping, before the
                       L2 term g + lambda theta (or AdamW's decay) and the rule

The numbers are those ``fit`` computes, bit for bit: a copy of the optimizer steps the
walk's own flat parameters with the walk's own gradients (``opt.step(flat_params,
flat_grads)``, as the fit loop calls it), and the trace records its state after each
step. Steps 2, 3, ... start from the loss and the gradients at the new weights.

Examples
--------
>>> import glassnet as gn
>>> net, X, y = gn.worked_example.seed003_example()
>>> trace = gn.explain(net, X, y, optimizer=gn.SGD(0.5, momentum=0.9), steps=2)
>>> trace["t2.2.velocity_b"].round(6)         # 0.9 v(1) + g(2)
array([-0.095626])
>>> [round(L, 6) for L in trace.optimizer["losses"]]
[0.063181, 0.041366, 0.019594]
>>> clipped = gn.explain(net, X, y, optimizer=gn.SGD(0.5, clip_norm=0.1), steps=1)
>>> round(float(clipped["t1.grad_norm"]), 6), round(float(clipped["t1.clip_scale"]), 6)
(0.226868, 0.440784)
>>> l1 = gn.explain(net, X, y, optimizer=gn.SGD(0.5, l1=0.01), steps=1)
>>> l1["2.dL/db"].round(6), l1["t1.2.g_l1_b"].round(6)    # + 0.01 sign(b2 = 0.2)
(array([-0.061226]), array([-0.051226]))
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..nn.layers import Dropout
from ..optim.adam import Adam
from ..optim.base import Optimizer
from ..optim.registry import get_optimizer
from ..optim.rmsprop import RMSprop
from ..optim.sgd import SGD
from ..validation import check_number
from .expr import Bin, Fn, Frac, Num, Paren, Partial, Pow, Q, Sym


def check_optimizer(optimizer, lr, steps, has_target: bool, attack) -> Optimizer | None:
    """A private copy of the optimizer ``explain`` was given (None without one).

    ``optimizer`` is an Optimizer (copied with its state) or a name, built with ``lr``
    as ``get_optimizer`` builds it.
    """
    if optimizer is None:
        if steps is not None:
            raise ValueError(
                f"steps={steps!r} needs an optimizer (optimizer='adam' or gn.Adam(...)); "
                "the plain gradient-descent step (lr=...) is shown once, not applied"
            )
        return None
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ValueError(
                f"lr={lr!r} was given with the optimizer object {optimizer!r}; set the "
                "learning rate when creating it"
            )
        opt = copy.deepcopy(optimizer)  # the caller's optimizer keeps its state
    elif isinstance(optimizer, str):
        opt = get_optimizer(optimizer, **({} if lr is None else {"lr": lr}))
    else:
        raise TypeError(
            "optimizer must be a name ('sgd', 'adam', 'adamw', 'rmsprop') or a glassnet "
            f"Optimizer, got {type(optimizer).__name__}"
        )
    if not isinstance(opt, (SGD, Adam, RMSprop)):
        raise ValueError(f"explain cannot show the steps of {type(opt).__name__}")
    if not has_target:
        raise ValueError(
            "an optimizer step needs a target y: it follows the gradient of the loss, "
            "and without y there is no loss"
        )
    if attack is not None:
        raise ValueError("explain shows either optimizer steps or an attack, not both")
    steps = 1 if steps is None else steps
    if isinstance(steps, bool) or not float(steps).is_integer():
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    opt.explain_steps = int(check_number(steps, "steps", low=1))
    return opt


class OptimizerSteps:
    """Records k optimizer steps on a finished walk (``recorder._Walk``): uses its
    ``quantity``, ``step``, ``net``, ``X``, ``Y``, ``loss`` and ``trace``."""

    def __init__(self, walk, optimizer: Optimizer):
        self.walk, self.opt = walk, optimizer
        self.k = optimizer.explain_steps
        self.tensors = []  # (layer index i, name, offset, shape)
        offset = 0
        for i, layer in enumerate(walk.net.layers):
            for name, p in layer.params.items():
                self.tensors.append((i, name, offset, p.shape))
                offset += p.size

    def run(self) -> None:
        walk, opt, net = self.walk, self.opt, self.walk.net
        trace = walk.trace
        if trace.stopped is not None:
            walk.step(
                "optimizer",
                None,
                "No optimizer step",
                note="The optimizer follows the gradient, which needs backpropagation; "
                "it stopped above, so no step can be shown.",
            )
            return
        if any(isinstance(layer, Dropout) and layer.p > 0 for layer in net.layers):
            raise ValueError(
                "explain cannot show optimizer steps through Dropout: fit draws a "
                "random mask at every step, while explain shows one deterministic "
                "pass (Dropout off, as in evaluation), so its steps would not be "
                "fit's; remove the Dropout layer (or set p=0) to see the steps"
            )
        losses = [trace.loss_value]
        trace.optimizer = {"name": opt.name, "config": opt.config(), "steps": self.k}
        self.constants()
        for t in range(1, self.k + 1):
            if t > 1:
                losses.append(self.gradients(t))
            norm = None
            if opt.clip_norm is not None:  # the norm before step() clips in place
                norm = math.sqrt(float(np.dot(net.flat_grads, net.flat_grads)))
            self.opt.step(net.flat_params, net.flat_grads)  # as the fit loop does
            if norm is not None:
                self.clipping(t, norm)
            self.record(t)
        A = net._forward(walk.X, training=False)
        final = net._loss_of_output(walk.loss, A, walk.Y)
        losses.append(final)
        walk.quantity(
            f"t{self.k}.L",
            "L",
            None,
            Sym("L", "", f"({self.k})"),
            np.asarray(final, dtype=net.dtype),
            "scalar",
        )
        walk.step(
            "optimizer",
            None,
            f"Loss after step {self.k}",
            Q(f"t{self.k}.L"),
            note="Losses before step 1 and after each step: "
            + ", ".join(f"{value:.6g}" for value in losses)
            + ".",
        )
        trace.optimizer.update(
            losses=losses,
            params=net.flat_params.copy(),
            state=opt.state_dict(),
        )

    # -- helpers ------------------------------------------------------------------------
    def scalar(self, key, symbol, value) -> Q:
        value = np.asarray(value, dtype=self.walk.net.dtype)
        return self.walk.quantity(f"opt.{key}", key, None, symbol, value, "scalar")

    def constants(self) -> None:
        opt = self.opt
        self.lr = self.scalar("lr", Sym("η"), opt.lr)
        self.wd = self.scalar("weight_decay", Sym("λ"), opt.weight_decay)
        if opt.l1:
            self.l1 = self.scalar("l1", Sym("λ", "1"), opt.l1)
        if isinstance(opt, SGD):
            self.mu = self.scalar("momentum", Sym("μ"), opt.momentum)
        elif isinstance(opt, Adam):
            self.b1 = self.scalar("beta1", Sym("β", "1"), opt.beta1)
            self.b2 = self.scalar("beta2", Sym("β", "2"), opt.beta2)
            self.eps = self.scalar("eps", Sym("ε"), opt.eps)
        else:
            self.alpha = self.scalar("alpha", Sym("α"), opt.alpha)
            self.eps = self.scalar("eps", Sym("ε"), opt.eps)
            self.mu = self.scalar("momentum", Sym("μ"), opt.momentum)
        if opt.clip_norm is not None:
            self.c = self.scalar("clip_norm", Sym("c"), opt.clip_norm)
        walk = self.walk
        walk.step(
            "optimizer",
            None,
            f"{type(opt).__name__}, {self.k} full-batch step" + "s" * (self.k > 1),
            note=self.rule_note()
            + " Each step is applied to the weights (of explain's copy): step t starts "
            "from the weights, the gradients and the optimizer state step t − 1 left. "
            "The numbers are those the optimizer computes in fit.",
        )

    def rule_note(self) -> str:
        opt = self.opt
        hyper = ", ".join(
            f"{k} = {str(v).lower() if isinstance(v, bool) else f'{v:g}'.replace('-', '−')}"
            for k, v in opt.config().items()
            if k != "name"
        )
        if isinstance(opt, SGD):
            cite = "Sutskever et al. 2013, as torch.optim.SGD"
        elif isinstance(opt, Adam):
            cite = "Kingma and Ba 2015" + (
                ", decoupled weight decay of Loshchilov and Hutter 2019"
                if opt.decoupled
                else ""
            )
        else:
            cite = "Tieleman and Hinton 2012, as torch.optim.RMSprop"
        if getattr(opt, "amsgrad", False):
            cite += "; amsgrad of Reddi et al. 2018"
        if getattr(opt, "centered", False):
            cite += "; centered as Graves 2013"
        clip = (
            ""
            if opt.clip_norm is None
            else " Before each step the gradient of all parameters together is "
            "scaled down to norm c when it is longer (torch.nn.utils.clip_grad_norm_)."
        )
        l1 = (
            ""
            if not opt.l1
            else " The L1 penalty λ1 Σ|θ| adds λ1 sign(θ) to the gradient of every "
            "parameter (its subgradient, with sign(0) = 0) before the update."
        )
        return f"{type(opt).__name__} ({cite}): {hyper}.{clip}{l1}"

    def gradients(self, t: int) -> float:
        """Forward and backward at the weights of step t − 1; returns the loss."""
        walk, net = self.walk, self.walk.net
        A = net._forward(walk.X, training=True)  # as the fit loop: dropout-free here
        value = net._backward(walk.loss, A, walk.Y)
        L = walk.quantity(
            f"t{t - 1}.L",
            "L",
            None,
            Sym("L", "", f"({t - 1})"),
            np.asarray(value, dtype=net.dtype),
            "scalar",
        )
        walk.step(
            "optimizer",
            None,
            f"Step {t}: loss at the weights of step {t - 1}",
            L,
            note="The forward pass and backpropagation run again, as above, at the "
            f"new weights; the gradients below are step {t}'s.",
        )
        for i, name, off, shape in self.tensors:
            k = i + 1
            walk.quantity(
                f"t{t}.{k}.dL/d{name}",
                f"dL/d{name}",
                i,
                Partial(Sym("L"), Sym(name, str(k))),
                self.flat(net.flat_grads, off, shape),
                "param",
            )
        return value

    @staticmethod
    def flat(array, off, shape) -> np.ndarray:
        return array[off : off + int(np.prod(shape))].reshape(shape)

    def state(self, buffer, off, shape) -> np.ndarray:
        return self.flat(self.opt.state[buffer], off, shape)

    def clipping(self, t: int, norm: float) -> None:
        """Gradient clipping before step t: the global norm, the scale factor and the
        clipped gradient of every tensor (read back from the buffer step() clipped)."""
        walk, net = self.walk, self.walk.net
        grads = [
            Q(f"{k + 1}.dL/d{name}") if t == 1 else Q(f"t{t}.{k + 1}.dL/d{name}")
            for k, name, _, _ in self.tensors
        ]
        squares = []
        for (i, name, _, _), g in zip(self.tensors, grads, strict=True):
            value = walk.trace[g.key].ravel()
            squares.append(
                walk.quantity(
                    f"t{t}.{i + 1}.sq_norm_{name}",
                    f"sq_norm_{name}",
                    i,
                    Sym(f"‖∂L/∂{name}{i + 1}‖", "", "2"),
                    np.asarray(float(np.dot(value, value))),
                    "scalar",
                )
            )
        total = squares[0]
        for term in squares[1:]:
            total = Bin("+", total, term)
        norm_q = walk.quantity(
            f"t{t}.grad_norm",
            "grad_norm",
            None,
            Sym("‖g‖", "", f"({t})"),
            np.asarray(norm),
            "scalar",
        )
        walk.step(
            "optimizer",
            None,
            f"Step {t}: the global gradient norm",
            norm_q,
            (Fn("√", (total,)),),
            note="‖∂L/∂W1‖² is the sum of the squares of the entries of ∂L/∂W1 "
            "(and so on): one norm for all the parameters of the network together.",
        )
        factor = min(1.0, self.opt.clip_norm / (norm + 1e-6))
        scale = walk.quantity(
            f"t{t}.clip_scale",
            "clip_scale",
            None,
            Sym("r", "", f"({t})"),
            np.asarray(factor),
            "scalar",
        )
        walk.step(
            "optimizer",
            None,
            f"Step {t}: the clipping factor",
            scale,
            (Fn("min", (Num(1), Frac(self.c, Bin("+", norm_q, Num(1e-6))))),),
            note=(
                "‖g‖ is above c: every gradient is scaled by r, so the step keeps "
                "its direction with norm c."
                if factor < 1.0
                else "‖g‖ is within c: r = 1, the gradient is used as it is."
            )
            + " The 10⁻⁶ keeps the division finite at g = 0, as in "
            "torch.nn.utils.clip_grad_norm_.",
        )
        for (i, name, off, shape), g in zip(self.tensors, grads, strict=True):
            clipped = walk.quantity(
                f"t{t}.{i + 1}.clipped_{name}",
                f"clipped_{name}",
                i,
                Sym("ĝ", f"{name}{i + 1}", f"({t})"),
                self.flat(net.flat_grads, off, shape),
                "param",
            )
            what = "W" if name == "W" else "b"
            walk.step(
                "optimizer",
                i,
                f"Step {t} · {what}{i + 1}: clipped gradient",
                clipped,
                (Bin("*", scale, g),),
                note="The optimizer's equations below use the clipped gradient ĝ.",
            )

    def record(self, t: int) -> None:
        """The equations of step t for every parameter tensor, with their numbers."""
        walk = self.walk
        if t == 1:
            walk.step(
                "optimizer",
                None,
                "Step 1",
                note="From the gradients of the backward pass above; every state "
                "buffer starts at 0.",
            )
        self.t_q = walk.quantity(
            f"t{t}.t", "t", None, Sym("t"), np.asarray(t), "scalar"
        )
        for i, name, off, shape in self.tensors:
            k = i + 1
            theta_prev = Q(f"{k}.{name}") if t == 1 else Q(f"t{t - 1}.{k}.{name}")
            g = Q(f"{k}.dL/d{name}") if t == 1 else Q(f"t{t}.{k}.dL/d{name}")
            if self.opt.clip_norm is not None:
                g = Q(f"t{t}.{k}.clipped_{name}")
            new_theta = self.flat(walk.net.flat_params, off, shape)
            tensor = _Tensor(self, t, i, name, off, shape, theta_prev, g)
            if isinstance(self.opt, SGD):
                tensor.sgd(new_theta)
            elif isinstance(self.opt, Adam):
                tensor.adam(new_theta)
            else:
                tensor.rmsprop(new_theta)


class _Tensor:
    """One parameter tensor theta (W_k or b_k) at step t: writes its equations."""

    def __init__(self, steps, t, i, name, off, shape, theta_prev, g):
        self.steps, self.walk, self.opt = steps, steps.walk, steps.opt
        self.t, self.i, self.k, self.name = t, i, i + 1, name
        self.off, self.shape = off, shape
        self.theta_prev, self.g = theta_prev, g

    def buffer(self, buffer: str, symbol: str, value=None, suffix: str = "") -> Q:
        """Quantity for state ``buffer`` after step t (from the optimizer's state);
        ``suffix`` goes into the symbol's subscript after the tensor (vW1,max)."""
        if value is None:
            value = self.steps.state(buffer, self.off, self.shape)
        return self.walk.quantity(
            f"t{self.t}.{self.k}.{buffer}_{self.name}",
            f"{buffer}_{self.name}",
            self.i,
            Sym(symbol, f"{self.name}{self.k}{suffix}", f"({self.t})"),
            value,
            "param",
        )

    def previous(self, buffer: str, symbol: str, suffix: str = "") -> Q:
        """State ``buffer`` before step t: zeros at step 1 (as the optimizer starts)."""
        if self.t > 1:
            return Q(f"t{self.t - 1}.{self.k}.{buffer}_{self.name}")
        key = f"t0.{self.k}.{buffer}_{self.name}"
        if key not in self.walk.trace.quantities:
            self.walk.quantity(
                key,
                f"{buffer}_{self.name}",
                self.i,
                Sym(symbol, f"{self.name}{self.k}{suffix}", "(0)"),
                np.zeros(self.shape, dtype=self.walk.net.dtype),
                "param",
            )
        return Q(key)

    def eq(self, title, lhs, rhs, note="") -> None:
        what = "W" if self.name == "W" else "b"
        self.walk.step(
            "optimizer",
            self.i,
            f"Step {self.t} · {what}{self.k}: {title}",
            lhs,
            (rhs,),
            note=note,
        )

    def theta(self, value) -> Q:
        return self.walk.quantity(
            f"t{self.t}.{self.k}.{self.name}",
            self.name,
            self.i,
            Sym(self.name, str(self.k), f"({self.t})"),
            value,
            "param",
        )

    def l1_gradient(self) -> Q:
        """g + lambda1 sign(theta), when the optimizer has an L1 penalty."""
        if not self.opt.l1:
            return self.g
        value = self.walk.trace[self.g.key] + self.opt.l1 * np.sign(
            self.walk.trace[self.theta_prev.key]
        )  # as Optimizer.step computes it
        g = self.walk.quantity(
            f"t{self.t}.{self.k}.g_l1_{self.name}",
            f"g_l1_{self.name}",
            self.i,
            Sym("g", f"{self.name}{self.k},L1", f"({self.t})"),
            value,
            "param",
        )
        self.eq(
            "gradient with the L1 penalty",
            g,
            Bin("+", self.g, Bin("*", self.steps.l1, Fn("sign", (self.theta_prev,)))),
            note="sign(θ) is −1, 0 or 1 entry by entry: every nonzero parameter is "
            "pulled toward 0 by λ1 η per step whatever its size.",
        )
        return g

    def l2_gradient(self) -> Q:
        """g + lambda theta, when the optimizer adds an L2 penalty to the gradient
        (after the L1 term, if any)."""
        g_in = self.l1_gradient()
        if not self.opt.weight_decay or getattr(self.opt, "decoupled", False):
            return g_in
        value = (
            self.walk.trace[g_in.key]
            + self.opt.weight_decay * (self.walk.trace[self.theta_prev.key])
        )
        g = self.walk.quantity(
            f"t{self.t}.{self.k}.g_{self.name}",
            f"g_{self.name}",
            self.i,
            Sym("g", f"{self.name}{self.k}", f"({self.t})"),
            value,
            "param",
        )
        self.eq(
            "gradient with the L2 penalty",
            g,
            Bin("+", g_in, Bin("*", self.steps.wd, self.theta_prev)),
        )
        return g

    # -- SGD ----------------------------------------------------------------------------
    def sgd(self, new_value) -> None:
        s = self.steps
        g = self.l2_gradient()
        if not self.opt.momentum:
            self.eq(
                "gradient-descent step",
                self.theta(new_value),
                Bin("-", self.theta_prev, Bin("*", s.lr, g)),
            )
            return
        v = self.buffer("velocity", "v")
        self.eq(
            "velocity",
            v,
            Bin("+", Bin("*", s.mu, self.previous("velocity", "v")), g),
            note="PyTorch's form: the velocity sums the gradients, η applied after.",
        )
        if self.opt.nesterov:
            step = Bin("+", g, Bin("*", s.mu, v))
            note = "Nesterov: the step looks ahead along the velocity, g + μ v."
        else:
            step, note = v, ""
        self.eq(
            "new value",
            self.theta(new_value),
            Bin("-", self.theta_prev, Bin("*", s.lr, step)),
            note=note,
        )
        if not self.opt.nesterov:
            self.textbook_momentum()

    def textbook_momentum(self) -> None:
        """Seed 001's form: u = mu u + lr g, theta - u, with u computed by its own
        recursion (u = lr v while lr is constant)."""
        s, walk = self.steps, self.walk
        prev = self.previous("u", "u")
        g = walk.trace[self.l2_gradient_key()]
        u_value = self.opt.momentum * walk.trace[prev.key] + self.opt.lr * g
        u = self.buffer("u", "u", u_value)
        self.eq(
            "the textbook form of momentum",
            u,
            Bin("+", Bin("*", s.mu, prev), Bin("*", s.lr, Q(self.l2_gradient_key()))),
            note="Many texts write momentum as u = μ u + η g, θ = θ − u. With a "
            "constant η, u = η v at every step, so θ − u is the update above: the "
            "same trajectory (glassnet and PyTorch keep v and apply η last, so a "
            "learning-rate schedule scales the whole step at once). θ − u here "
            "differs from the new value above at most in the last digit (rounding).",
        )

    def l2_gradient_key(self) -> str:
        for key in (
            f"t{self.t}.{self.k}.g_{self.name}",
            f"t{self.t}.{self.k}.g_l1_{self.name}",
        ):
            if key in self.walk.trace.quantities:
                return key
        return self.g.key

    # -- Adam and AdamW -----------------------------------------------------------------
    def adam(self, new_value) -> None:
        s, opt, walk = self.steps, self.opt, self.walk
        theta = self.theta_prev
        if opt.weight_decay and opt.decoupled:
            decayed = walk.trace[theta.key] * (1.0 - opt.lr * opt.weight_decay)
            theta = walk.quantity(
                f"t{self.t}.{self.k}.decayed_{self.name}",
                f"decayed_{self.name}",
                self.i,
                Sym(self.name, str(self.k), "decayed"),
                decayed,
                "param",
            )
            self.eq(
                "decoupled weight decay (AdamW)",
                theta,
                Bin(
                    "*",
                    self.theta_prev,
                    Paren(Bin("-", Num(1), Bin("*", s.lr, s.wd))),
                ),
                note="AdamW shrinks the weights directly; the decay does not pass "
                "through m and v.",
            )
        g = self.l2_gradient()
        m = self.buffer("m", "m")
        self.eq(
            "first moment",
            m,
            Bin(
                "+",
                Bin("*", s.b1, self.previous("m", "m")),
                Bin("*", Paren(Bin("-", Num(1), s.b1)), g),
            ),
        )
        v = self.buffer("v", "v")
        self.eq(
            "second moment",
            v,
            Bin(
                "+",
                Bin("*", s.b2, self.previous("v", "v")),
                Bin("*", Paren(Bin("-", Num(1), s.b2)), Paren(Bin("⊙", g, g))),
            ),
            note="⊙ multiplies entry by entry: each gradient entry squared.",
        )
        t = self.t
        if opt.amsgrad:
            v_max = self.buffer("v_max", "v", suffix=",max")
            self.eq(
                "largest second moment so far (amsgrad)",
                v_max,
                Fn("max", (self.previous("v_max", "v", ",max"), v)),
                note="Entry by entry. amsgrad divides by the largest v seen so far, "
                "so the step of an entry can only shrink when its gradients grow "
                "quieter (Reddi et al. 2018). As in torch.optim, the maximum is taken "
                "of v before its bias correction, and v̂ corrects the maximum.",
            )
            v = v_max
        m_hat = self.buffer("m_hat", "m̂", walk.trace[m.key] / (1.0 - opt.beta1**t))
        self.eq(
            "bias-corrected first moment",
            m_hat,
            Frac(m, Bin("-", Num(1), Pow(s.b1, s.t_q))),
        )
        v_hat = self.buffer("v_hat", "v̂", walk.trace[v.key] / (1.0 - opt.beta2**t))
        self.eq(
            "bias-corrected second moment",
            v_hat,
            Frac(v, Bin("-", Num(1), Pow(s.b2, s.t_q))),
        )
        c = (1.0 - opt.beta2**t) ** 0.5
        step_size = opt.lr * c / (1.0 - opt.beta1**t)
        self.eq(
            "new value",
            self.theta(new_value),
            Bin(
                "-",
                theta,
                Bin("*", s.lr, Frac(m_hat, Bin("+", Fn("√", (v_hat,)), s.eps))),
            ),
            note="The division and √ are entry by entry. glassnet computes the same "
            "update in the rearranged form θ − s m / (√v + ε c), with "
            f"c = √(1 − β2^t) = {c:.6g} and s = η c / (1 − β1^t) = {step_size:.6g} "
            "(Kingma and Ba, end of section 2), which spares one pass over the "
            "parameters; the value shown is the one glassnet computed."
            + (" With amsgrad, v there is v_max." if opt.amsgrad else ""),
        )

    # -- RMSprop ------------------------------------------------------------------------
    def rmsprop(self, new_value) -> None:
        s, opt = self.steps, self.opt
        g = self.l2_gradient()
        sq = self.buffer("square_avg", "s")
        self.eq(
            "mean square of the gradient",
            sq,
            Bin(
                "+",
                Bin("*", s.alpha, self.previous("square_avg", "s")),
                Bin("*", Paren(Bin("-", Num(1), s.alpha)), Paren(Bin("⊙", g, g))),
            ),
            note="Each gradient entry squared (⊙). No bias correction: s starts at 0, "
            "so the first steps are larger.",
        )
        if opt.centered:
            avg = self.buffer("grad_avg", "g", suffix=",avg")
            self.eq(
                "mean of the gradient (centered)",
                avg,
                Bin(
                    "+",
                    Bin("*", s.alpha, self.previous("grad_avg", "g", ",avg")),
                    Bin("*", Paren(Bin("-", Num(1), s.alpha)), g),
                ),
            )
            trace = self.walk.trace  # s - g_avg^2 as the update computes it
            centered = self.buffer(
                "centered",
                "s",
                trace[sq.key] - trace[avg.key] * trace[avg.key],
                suffix=",centered",
            )
            self.eq(
                "centered mean square (an estimate of the variance)",
                centered,
                Bin("-", sq, Paren(Bin("⊙", avg, avg))),
                note="Centered RMSprop divides by the spread of the gradient around "
                "its running mean rather than by its raw size (Graves 2013).",
            )
            sq = centered
        scaled = Frac(g, Bin("+", Fn("√", (sq,)), s.eps))
        if opt.momentum:
            b = self.buffer("momentum_buffer", "b")
            self.eq(
                "momentum of the scaled gradient",
                b,
                Bin("+", Bin("*", s.mu, self.previous("momentum_buffer", "b")), scaled),
            )
            scaled = b
        self.eq(
            "new value",
            self.theta(new_value),
            Bin("-", self.theta_prev, Bin("*", s.lr, scaled)),
            note="The division and √ are entry by entry.",
        )
