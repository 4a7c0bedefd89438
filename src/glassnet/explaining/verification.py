"""A verification as a trace: the bounds behind ``gn.verify``'s answer, step by step.

For a small ReLU network and a property (an input box, unsafe output sets C y <= d):

1. interval bounds, block by block: z̲ = W⁺ a̲ + W⁻ ā + b, z̄ = W⁺ ā + W⁻ a̲ + b
   (W⁺ = max(W, 0), W⁻ = min(W, 0)), then a̲ = max(z̲, 0), ā = max(z̄, 0), and each
   neuron's state (stably active, stably inactive, unstable);
2. linear (CROWN) bounds: each unstable ReLU relaxed between a = α z and the chord
   a <= s (z − L), s = U / (U − L); each unsafe row c · y − d carried back to a linear
   function Λ · x + κ of the input, and its minimum over the box Λ⁺ x̲ + Λ⁻ x̄ + κ;
3. the verdict of each unsafe set, and ``gn.verify``'s own answer: the split tree of
   its proof, or its counterexample walked forward as ``gn.explain`` walks a point.

Every bound shown is the engine's own number (``verification.interval``,
``verification.linear``): the textbook formula is written with its value in real
arithmetic (computed in float64), and the outward widening the engine adds for
rounding (the model's dtype and float64's) is its own step, with its size.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace

import numpy as np

from ..errors import InputError
from ..verification.branch import set_bounds
from ..verification.interval import U64, interval_bounds, interval_spec_bounds
from ..verification.linear import layer_bounds, linear_spec_bounds, relaxation
from ..verification.network import read_network
from ..verification.spec import Property
from ..verification.verify import verify
from .expr import Bin, Expr, Fn, Frac, Num, Q, Sym
from .markdown import LatexRenderer
from .numbers import Format
from .record import Quantity, Step
from .trace import Trace

FORMAT = "glassnet-explain-verification/1"
MAX_NEURONS = 64  # above these sizes the trace is too long to read: use gn.verify
MAX_INPUTS = 8

_STATES = {1: "stably active", 0: "unstable", -1: "stably inactive"}


class VerificationTrace(Trace):
    """The trace of a verification: interval bounds, linear bounds, the verdict.

    Beside ``Trace``'s fields: ``result`` (the ``VerificationResult`` of
    ``gn.verify``), ``status`` (its status), ``set_bounds`` (per region, the certified
    lower bound of each unsafe set's margin from the interval and linear bounds, as
    ``verify`` computes it before splitting), ``states`` (per region, per hidden
    block, each neuron's state: 1 active, -1 inactive, 0 unstable) and
    ``counterexample`` (the ``gn.explain`` trace of the counterexample, or None).
    """

    @property
    def subtitle(self) -> str:
        return (
            f"{self.n_samples} region" + "s" * (self.n_samples > 1) + f" · {self.dtype}"
        )

    def to_dict(self) -> dict:
        """Every number at full precision: the quantities by key, the steps, the
        verdict and the proof tree."""
        latex = LatexRenderer(self, Format())
        steps = []
        for step in self.steps:
            entry = {"phase": step.phase, "title": step.title}
            entry["section"] = self.layer_titles[step.layer]
            if step.lhs is not None:
                entry["result"] = step.result
                entry["latex"] = " = ".join(
                    latex.render(e) for e in (step.lhs, *step.rhs)
                )
            if step.note:
                entry["note"] = step.note
            steps.append(entry)
        result = self.result.to_dict()
        result.pop("timings")
        return {
            "format": FORMAT,
            "network": self.title,
            "dtype": self.dtype,
            "notes": self.notes,
            "quantities": {k: q.value.tolist() for k, q in self.quantities.items()},
            "set_bounds": [b.tolist() for b in self.set_bounds],
            "states": self.states,
            "status": self.status,
            "result": result,
            "steps": steps,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON document of ``to_dict`` (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    def __repr__(self) -> str:
        return (
            f"<glassnet verification trace: {self.title} · {self.subtitle}, "
            f"{self.status}>"
        )


def explain_verification(net, prop: Property, *, timeout: float = 10.0, seed: int = 0):
    """Record how the property ``prop`` is decided for the small ReLU network ``net``.

    Shows the interval bounds block by block, the linear (CROWN) bounds with the
    relaxation of each unstable ReLU, each unsafe set's certified margin, and
    ``gn.verify(net, prop)``'s answer with its split tree or its counterexample.
    Networks above 8 inputs or 64 neurons are refused (``gn.verify`` decides them).

    Parameters
    ----------
    net : Sequential of Dense layers with ReLU (hidden) and identity (last) activations
    prop : gn.Property
    timeout, seed : passed to ``gn.verify``

    Returns
    -------
    VerificationTrace
        ``status``, ``result``, ``set_bounds``; ``to_text()``, ``to_markdown()``,
        ``to_html()``, ``to_json()`` render it.

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0], [-1.0]], [0.0, 0.0]
    >>> net.layers[1].W, net.layers[1].b = [[1.0, 1.0]], [0.5]
    >>> unsafe = gn.LinearConstraints([[1.0]], [0.0])  # unsafe: y <= 0
    >>> trace = gn.explain_verification(net, gn.Property(gn.Box([-1.0], [1.0]), unsafe))
    >>> trace.status, [round(float(v), 6) for v in trace["1.z_hi"]]
    ('holds', [1.0, 1.0])
    """
    if not isinstance(prop, Property):
        raise InputError(
            f"explain_verification needs a gn.Property, got {type(prop).__name__}"
        )
    vn = read_network(net)
    neurons = sum(block.W.shape[0] for block in vn.blocks)
    if vn.n_inputs > MAX_INPUTS or neurons > MAX_NEURONS:
        raise InputError(
            f"explain_verification shows networks of at most {MAX_INPUTS} inputs and "
            f"{MAX_NEURONS} neurons, got {vn.n_inputs} inputs and {neurons} neurons; "
            "gn.verify decides larger ones"
        )
    for k, block in enumerate(vn.blocks):
        allowed = ("identity",) if k == len(vn.blocks) - 1 else ("relu", "identity")
        if block.activation not in allowed or vn.dropped_softmax:
            where = "the last block" if k == len(vn.blocks) - 1 else f"block {k + 1}"
            raise InputError(
                "explain_verification shows ReLU hidden layers and an identity output; "
                f"{where} uses {'softmax' if vn.dropped_softmax else block.activation}"
                " (gn.verify decides it)"
            )
    if prop.n_inputs != vn.n_inputs or prop.n_outputs != vn.n_outputs:
        raise InputError(
            f"the property speaks of {prop.n_inputs} inputs and {prop.n_outputs} "
            f"outputs; the network has {vn.n_inputs} and {vn.n_outputs}"
        )
    return _Walk(net, vn, prop).run(verify(net, prop, timeout=timeout, seed=seed))


class _Walk:
    def __init__(self, net, vn, prop):
        from .recorder import describe_network

        self.net, self.vn, self.prop = net, vn, prop
        self.fmt = Format()
        self.prefix = ""
        box = prop.regions[0]
        self.trace = VerificationTrace(
            title=f"Verification of {describe_network(net)}",
            layer_titles=[],
            loss_name=None,
            loss_label=None,
            loss_value=None,
            lr=None,
            dtype=str(np.dtype(net.dtype)),
            n_samples=len(prop.regions),
            notes=[
                "The input region is a box: each row of x is one input's interval "
                "[x̲, x̄]. A property holds when no x in the box gives an output y in "
                "an unsafe set {y : C y ≤ d}; its margin max_i (c_i · y − d_i) > 0 "
                "everywhere proves it.",
                "W⁺ = max(W, 0) and W⁻ = min(W, 0), entry by entry; z̲, z̄ are lower "
                "and upper bounds. A bound marked 'real' is the formula in real "
                "arithmetic (computed in float64); the engine then widens it "
                "outward by ω to cover rounding, in the model's dtype (δ = γ_n (|W| "
                "|a| + |b|)) and in float64: the widened bound is the one used.",
            ],
        )
        self.add("x", "x", Sym("x"), np.stack([box.lower, box.upper], axis=1), "matrix")

    # -- recording ----------------------------------------------------------------
    def add(self, key, name, symbol, value, layout="param") -> Q:
        key = self.prefix + key
        value = np.array(value, dtype=np.float64)
        self.trace.add(Quantity(key, name, None, symbol, value, layout))
        return Q(key)

    def section(self, title: str) -> int:
        self.trace.layer_titles.append(title)
        return len(self.trace.layer_titles) - 1

    def step(self, phase, layer, title, result: Q, rhs, note="") -> None:
        symbol = self.trace.quantities[result.key].symbol
        self.trace.steps.append(
            Step(phase, layer, title, symbol, tuple(rhs), result.key, note)
        )

    def note(self, phase, layer, title, text) -> None:
        self.trace.steps.append(Step(phase, layer, title, note=text))

    def num(self, value) -> str:
        return self.fmt.number(float(value))

    def widened(self, phase, layer, title, key, sym, real, engine, lower: bool):
        """Two steps: the bound in real arithmetic, then the engine's widened one."""
        real_q = self.add(f"{key}_real", key, replace(sym, sup="real"), real)
        omega = (real - engine) if lower else (engine - real)
        w = self.add(f"{key}_omega", "omega", Sym("ω", sym.sub), omega)
        final = self.add(key, key, sym, engine)
        self.step(
            phase,
            layer,
            f"{title}, widened for rounding",
            final,
            (Bin("-" if lower else "+", real_q, w),),
            note=f"ω = {', '.join(self.num(v) for v in np.ravel(omega))}: the "
            "engine's outward widening for rounding (the model's dtype and float64); "
            "this bound is the engine's number.",
        )
        return real_q, final

    # -- the walk -----------------------------------------------------------------
    def run(self, result):
        t = self.trace
        t.result, t.status = result, result.status
        t.set_bounds, t.states, t.counterexample = [], [], None
        for r, box in enumerate(self.prop.regions):
            self.prefix = "" if len(self.prop.regions) == 1 else f"r{r + 1}."
            lo, hi = box.lower[None], box.upper[None]
            self.interval(r, lo, hi)
            self.linear(r, lo, hi)
            bounds = set_bounds(self.vn, self.prop, lo, hi)[0]
            t.set_bounds.append(bounds)
        self.prefix = ""
        self.verdict(result)
        return t

    def region_title(self, r: int, text: str) -> str:
        return text if len(self.prop.regions) == 1 else f"Region {r + 1}: {text}"

    def interval(self, r, lo, hi) -> None:
        vn = self.vn
        pre, post, deltas = interval_bounds(vn, lo, hi)
        states = []
        a_lo = self.add("x_lo", "x_lo", Sym("x̲"), lo[0])
        a_hi = self.add("x_hi", "x_hi", Sym("x̄"), hi[0])
        for k, block in enumerate(vn.blocks, 1):
            last = k == len(vn.blocks)
            layer = self.section(
                self.region_title(r, f"Block {k}: z{k} = W{k} a{k - 1} + b{k}")
            )
            Wp = self.add(
                f"{k}.W+", "W+", Sym("W", str(k), "+"), np.maximum(block.W, 0)
            )
            Wn = self.add(
                f"{k}.W-", "W-", Sym("W", str(k), "-"), np.minimum(block.W, 0)
            )
            b = self.add(f"{k}.b", "b", Sym("b", str(k)), block.b)
            Wp_v, Wn_v = np.maximum(block.W, 0), np.minimum(block.W, 0)
            lo_v = self.trace.quantities[a_lo.key].value
            hi_v = self.trace.quantities[a_hi.key].value
            z_lo_real = Wp_v @ lo_v + Wn_v @ hi_v + block.b
            z_hi_real = Wp_v @ hi_v + Wn_v @ lo_v + block.b
            for side, real, engine, first, second in (
                ("lo", z_lo_real, pre[k - 1][0][0], a_lo, a_hi),
                ("hi", z_hi_real, pre[k - 1][1][0], a_hi, a_lo),
            ):
                sym = Sym("z̲" if side == "lo" else "z̄", str(k))
                real_q = self.add(
                    f"{k}.z_{side}_real", "z", replace(sym, sup="real"), real
                )
                self.step(
                    "interval",
                    layer,
                    f"{'Lower' if side == 'lo' else 'Upper'} bound of z{k}",
                    real_q,
                    (Bin("+", Bin("+", Bin("*", Wp, first), Bin("*", Wn, second)), b),),
                )
                self.trace.quantities.pop(real_q.key)
                self.widened(
                    "interval", layer, f"{'Lower' if side == 'lo' else 'Upper'} bound of z{k}",
                    f"{k}.z_{side}", sym, real, engine, side == "lo",
                )  # fmt: skip
            self.trace.quantities[f"{self.prefix}{k}.delta"] = Quantity(
                f"{self.prefix}{k}.delta", "delta", None, Sym("δ", str(k)),
                deltas[k - 1][0], "param",
            )  # fmt: skip
            if last:
                y_lo = self.add("y_lo", "y_lo", Sym("y̲"), post[-1][0][0])
                y_hi = self.add("y_hi", "y_hi", Sym("ȳ"), post[-1][1][0])
                self.step(
                    "interval",
                    layer,
                    "Output lower bound",
                    y_lo,
                    (Q(f"{self.prefix}{k}.z_lo"),),
                )
                self.step(
                    "interval",
                    layer,
                    "Output upper bound",
                    y_hi,
                    (Q(f"{self.prefix}{k}.z_hi"),),
                )
                self.interval_margins(r, layer, lo, hi)
                break
            a_lo = self.add(f"{k}.a_lo", "a_lo", Sym("a̲", str(k)), post[k - 1][0][0])
            a_hi = self.add(f"{k}.a_hi", "a_hi", Sym("ā", str(k)), post[k - 1][1][0])
            z_lo, z_hi = pre[k - 1][0][0], pre[k - 1][1][0]
            if block.activation == "relu":
                self.step("interval", layer, "ReLU of the lower bound", a_lo,
                          (Fn("max", (Q(f"{self.prefix}{k}.z_lo"), Num(0))),))  # fmt: skip
                self.step("interval", layer, "ReLU of the upper bound", a_hi,
                          (Fn("max", (Q(f"{self.prefix}{k}.z_hi"), Num(0))),))  # fmt: skip
                state = np.where(z_lo >= 0, 1, np.where(z_hi <= 0, -1, 0))
            else:
                self.step(
                    "interval", layer, "Identity", a_lo, (Q(f"{self.prefix}{k}.z_lo"),)
                )
                self.step(
                    "interval",
                    layer,
                    "Identity: upper bound",
                    a_hi,
                    (Q(f"{self.prefix}{k}.z_hi"),),
                )
                state = np.ones(z_lo.size, dtype=int)
            states.append([int(s) for s in state])
            self.note(
                "interval", layer, "Neuron states",
                "; ".join(
                    f"neuron {i + 1}: {_STATES[int(s)]} (z̲ = {self.num(z_lo[i])}, "
                    f"z̄ = {self.num(z_hi[i])})"
                    for i, s in enumerate(state)
                ) + ". Stable neurons are exactly linear on the region; unstable ones "
                "are where the bounds lose precision.",
            )  # fmt: skip
        self.trace.states.append(states)

    def interval_margins(self, r, layer, lo, hi) -> None:
        prop = self.prop
        C = np.concatenate([u.C for u in prop.unsafe])
        d = np.concatenate([u.d for u in prop.unsafe])
        engine = interval_spec_bounds(self.vn, lo, hi, C, d)[0]
        y_lo = self.trace.quantities[self.prefix + "y_lo"].value
        y_hi = self.trace.quantities[self.prefix + "y_hi"].value
        for i, (c, di) in enumerate(zip(C, d, strict=True)):
            cp = self.add(
                f"c{i + 1}+",
                "c+",
                Sym("c", str(i + 1), "+"),
                np.maximum(c, 0)[None],
                "matrix",
            )
            cn = self.add(
                f"c{i + 1}-",
                "c-",
                Sym("c", str(i + 1), "-"),
                np.minimum(c, 0)[None],
                "matrix",
            )
            dq = self.add(f"d{i + 1}", "d", Sym("d", str(i + 1)), di, "scalar")
            real = float(np.maximum(c, 0) @ y_lo + np.minimum(c, 0) @ y_hi - di)
            sym = Sym("m̲", f"{i + 1},int")
            key = f"m{i + 1}.interval"
            real_q = self.add(
                f"{key}_real", key, replace(sym, sup="real"), real, "scalar"
            )
            rhs = Bin("-", Bin("+", Bin("*", cp, Q(self.prefix + "y_lo")),
                               Bin("*", cn, Q(self.prefix + "y_hi"))), dq)  # fmt: skip
            self.step(
                "interval",
                layer,
                f"Interval bound on row {i + 1}: c{i + 1} · y − d{i + 1}",
                real_q,
                (rhs,),
            )
            self.trace.quantities.pop(real_q.key)
            self.widened("interval", layer, f"Interval bound on row {i + 1}", key, sym,
                         np.float64(real), np.float64(engine[i]), True)  # fmt: skip

    def linear(self, r, lo, hi) -> None:
        vn, prop = self.vn, self.prop
        bounds, _ = layer_bounds(vn, lo, hi)
        K = len(vn.blocks) - 1
        relax = {}
        for j in range(K):
            L, U = bounds[j][0][0], bounds[j][1][0]
            s_l, t_l, s_u, t_u = relaxation(vn.blocks[j], bounds[j][0], bounds[j][1])
            relax[j] = (s_l[0], t_l[0], s_u[0], t_u[0])
            unstable = (L < 0) & (U > 0)
            if not unstable.any() or vn.blocks[j].activation != "relu":
                continue
            k = j + 1
            idx = np.flatnonzero(unstable)
            layer = self.section(self.region_title(
                r, f"Block {k}: relaxation of the unstable ReLUs "
                f"(neurons {', '.join(str(i + 1) for i in idx)})"
            ))  # fmt: skip
            Lq = self.add(f"{k}.L", "L", Sym("L", str(k)), L[idx])
            Uq = self.add(f"{k}.U", "U", Sym("U", str(k)), U[idx])
            s = self.add(f"{k}.s", "s", Sym("s", str(k)), s_u[0][idx])
            self.step("linear", layer, "Slope of the chord through (L, 0) and (U, U)", s,
                      (Frac(Uq, Bin("-", Uq, Lq)),))  # fmt: skip
            lift = self.add(f"{k}.lift", "lift", Sym("λ", str(k)),
                            8 * U64 * (np.abs(L[idx]) + np.abs(U[idx])))  # fmt: skip
            t = self.add(f"{k}.t", "t", Sym("t", str(k)), t_u[0][idx])
            self.step("linear", layer, "Intercept of the chord, lifted for rounding", t,
                      (Bin("+", Bin("-", Uq, Bin("⊙", s, Uq)), lift),),
                      note="Upper line: a ≤ s z + t = s (z − L) + λ, with λ = 8u (|L| + "
                      "|U|) (u = 2⁻⁵³) covering the rounding of s and t.")  # fmt: skip
            alpha = self.add(f"{k}.alpha", "alpha", Sym("α", str(k)), s_l[0][idx])
            self.note("linear", layer, "Lower line a ≥ α z",
                      "α = 1 where U > −L, else 0 (the smaller of the two areas): α = "
                      + ", ".join(self.num(v) for v in
                                  self.trace.quantities[alpha.key].value) + ".")  # fmt: skip
        # back-substitution, row by row of C y - d, in real arithmetic
        C = np.concatenate([u.C for u in prop.unsafe])
        d = np.concatenate([u.d for u in prop.unsafe])
        engine = linear_spec_bounds(vn, lo, hi, C, d)[0]
        layer = self.section(self.region_title(r, "Linear bounds on each unsafe row"))
        for i, (c, di) in enumerate(zip(C, d, strict=True)):
            Lam, kappa = c.copy(), -di
            for j in range(K, -1, -1):
                block = vn.blocks[j]
                kappa += Lam @ block.b
                Lam = Lam @ block.W
                if j == 0:
                    break
                s_l, t_l, s_u, t_u = relax[j - 1]
                pos, neg = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
                kappa += pos @ t_l + neg @ t_u
                Lam = pos * s_l + neg * s_u
            n = i + 1
            Lq = self.add(
                f"row{n}.Lambda", "Lambda", Sym("Λ", str(n)), Lam[None], "matrix"
            )
            kq = self.add(f"row{n}.kappa", "kappa", Sym("κ", str(n)), kappa, "scalar")
            self.note("linear", layer, f"Row {n}: c{n} · y − d{n} ≥ Λ{n} · x + κ{n}",
                      f"Carried back through every block (z = W a + b exactly, each ReLU "
                      f"by its lines: the lower one where the coefficient is positive, "
                      f"the upper one where it is negative): Λ{n} = ["
                      + ", ".join(self.num(v) for v in Lam) + f"], κ{n} = "
                      f"{self.num(kappa)}.")  # fmt: skip
            Lp = self.add(
                f"row{n}.Lambda+",
                "Lambda+",
                Sym("Λ", str(n), "+"),
                np.maximum(Lam, 0)[None],
                "matrix",
            )
            Ln = self.add(
                f"row{n}.Lambda-",
                "Lambda-",
                Sym("Λ", str(n), "-"),
                np.minimum(Lam, 0)[None],
                "matrix",
            )
            box_lo, box_hi = lo[0], hi[0]
            real = np.maximum(Lam, 0) @ box_lo + np.minimum(Lam, 0) @ box_hi + kappa
            sym = Sym("m̲", f"{n},lin")
            key = f"m{n}.linear"
            real_q = self.add(
                f"{key}_real", key, replace(sym, sup="real"), real, "scalar"
            )
            rhs = Bin("+", Bin("+", Bin("*", Lp, Q(self.prefix + "x_lo")),
                               Bin("*", Ln, Q(self.prefix + "x_hi"))), kq)  # fmt: skip
            self.step(
                "linear", layer, f"Minimum over the box of row {n}", real_q, (rhs,)
            )
            self.trace.quantities.pop(real_q.key)
            self.widened("linear", layer, f"Linear bound on row {n}", key, sym,
                         np.float64(real), np.float64(engine[i]), True)  # fmt: skip

    def verdict(self, result) -> None:
        t, prop = self.trace, self.prop
        layer = self.section("Each unsafe set")
        for r, bounds in enumerate(t.set_bounds):
            for s, value in enumerate(bounds):
                where = "" if len(prop.regions) == 1 else f" in region {r + 1}"
                text = (
                    f"Margin lower bound of unsafe set {s + 1}{where}: "
                    f"{self.num(value)} (the larger of the interval and linear bounds "
                    "of each row, the largest row of the set). "
                )
                text += (
                    "It is > 0: no input in the box reaches this set; proved."
                    if value > 0
                    else "It is not > 0: these bounds alone cannot prove the set empty."
                )
                self.note("verdict", layer, f"Unsafe set {s + 1}{where}", text)
        layer = self.section(f"gn.verify: {result.status} (method: {result.method})")
        if result.status == "violated":
            self.counterexample(layer, result)
        elif result.status == "holds" and result.method == "bab":
            for n, leaf in enumerate(result.proof.leaves, 1):
                path = ", ".join(
                    f"x{step[0] + 1} {'lower' if step[1] == 0 else 'upper'} half"
                    for step in leaf["path"]
                )
                box = ", ".join(
                    f"[{self.num(a)}, {self.num(b)}]"
                    for a, b in zip(leaf["lower"], leaf["upper"], strict=True)
                )
                self.note("verdict", layer, f"Leaf {n}",
                          f"splits: {path or 'none'}; box {box}; margin lower bounds "
                          + ", ".join(self.num(v) for v in leaf["bounds"]) + ".")  # fmt: skip
            self.note("verdict", layer, "Proved by splitting the input",
                      f"{len(result.proof.leaves)} boxes cover the region, each with every "
                      "margin lower bound > 0: the property holds.")  # fmt: skip
        else:
            self.note("verdict", layer, "Answer", _answer(result))

    def counterexample(self, layer, result) -> None:
        from .recorder import explain

        x, y = result.counterexample
        sub = explain(self.net, np.asarray(x)[None])
        self.trace.counterexample = sub
        self.note("verdict", layer, "Counterexample",
                  f"x = [{', '.join(self.num(v) for v in np.ravel(x))}] gives y = ["
                  + ", ".join(self.num(v) for v in np.ravel(y)) + "], inside an unsafe "
                  "set, checked by the model's own forward pass; the pass below is "
                  "gn.explain's.")  # fmt: skip
        for key, q in sub.quantities.items():
            self.trace.add(replace(q, key=f"cx.{key}", layer=None))
        for step in sub.steps:
            if step.phase != "forward":
                continue
            self.trace.steps.append(replace(
                step, phase="verdict", layer=layer,
                lhs=None if step.lhs is None else _rekey(step.lhs),
                rhs=tuple(_rekey(e) for e in step.rhs),
                result=None if step.result is None else f"cx.{step.result}",
            ))  # fmt: skip


def _rekey(expr: Expr) -> Expr:
    """``expr`` with every quantity key prefixed by "cx." (the counterexample's)."""
    if isinstance(expr, Q):
        return Q(f"cx.{expr.key}")
    changes = {}
    for f in fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, Expr):
            changes[f.name] = _rekey(value)
        elif isinstance(value, tuple) and any(isinstance(v, Expr) for v in value):
            changes[f.name] = tuple(
                _rekey(v) if isinstance(v, Expr) else v for v in value
            )
    return replace(expr, **changes) if changes else expr


def _answer(result) -> str:
    """``verify``'s answer in words, without its timings."""
    text = f"{result.status} (method: {result.method})"
    if result.reason:
        text += f": {result.reason}"
    if result.bounds is not None:
        text += "; best margin lower bounds: " + ", ".join(
            Format().number(float(v)) for v in np.ravel(result.bounds)
        )
    return text + "."
