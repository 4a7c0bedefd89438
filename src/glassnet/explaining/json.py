"""The JSON rendering: every number of the walk, at full precision, for programs.

Layout::

    {
      "format": "glassnet-explain/1",
      "network": "Sequential 2 → 2 (ReLU) → 1 (sigmoid)", "dtype": "float64",
      "loss": {"name": "binary_crossentropy", "value": 0.0631...},
      "lr": 0.1, "update_applied": false, "backprop": "complete",
      "x": [[1.0, 2.0]], "y": [[1.0]],
      "preprocessing": {"pre.1.x": ..., "pre.1.fill": ..., "mean": ..., "scale": ...},
                                       # a model trained on a table only
      "layers": [                      # aligned with net.layers
        {"index": 0, "symbol": 1, "title": "...",
         "W": ..., "b": ..., "z": ..., "a": ..., "dL/da": ..., "da/dz": ...,
         "dL/dz": ..., "dL/dW": ..., "dL/db": ..., "W_new": ..., "b_new": ...},
        ...
      ],
      "attack": {"name": "fgsm", "eps": 0.1, "clip": [0, 1], "dL/dx": ...,
                 "sign": ..., "x_adv": ..., "output_adv": ..., "loss_adv": ...,
                 "class_before": ..., "class_after": ...},   # with attack= only
      "optimizer": {"config": {"name": "adam", ...}, "steps": 3, "losses": [...],
                    "quantities": {"t1.1.W": ..., "t1.1.m_W": ..., ...}},
                                       # with optimizer= only
      "steps": [{"phase": ..., "layer": ..., "title": ..., "result": "2.dL/dz",
                 "latex": "\\delta_{2} = ...", "note": ...}, ...]
    }

Arrays keep glassnet's layout: batch quantities (x, y, z, a and their gradients) are
(n_samples, width), W is (out, in), b is (out,), a softmax layer's "da/dz" holds one
Jacobian per sample, (n_samples, k, k). Floats are written with Python's shortest
round-trip repr, so ``json.loads`` gives back exactly the numbers computed; the few
non-finite ones (1/0 where a saturated output rounded to 0 or 1) are the strings "nan",
"inf" and "-inf", as strict JSON has no such numbers.
"""

from __future__ import annotations

import json
import math

from .markdown import LatexRenderer
from .numbers import Format
from .record import Record

FORMAT = "glassnet-explain/1"


def trace_dict(trace: Record) -> dict:
    layers = [
        {"index": i, "symbol": i + 1, "title": title}
        for i, title in enumerate(trace.layer_titles)
    ]
    for q in trace.quantities.values():
        if is_optimizer_key(q.key):  # under "optimizer", step by step
            continue
        if q.layer is not None and q.key.startswith(f"{q.layer + 1}."):
            name = q.key.split(".", 1)[1]
            if "(" not in name:  # per-sample copies drawn for the page: JSON has all
                layers[q.layer][name] = q.value.tolist()
        elif q.layer is not None:  # dL/da of layer k, recorded by layer k + 1
            layers[q.layer][q.name] = q.value.tolist()
    latex = LatexRenderer(trace, Format())
    steps = []
    for step in trace.steps:
        entry = {"phase": step.phase, "layer": step.layer, "title": step.title}
        if step.lhs is not None:
            entry["result"] = step.result
            entry["latex"] = (
                latex.render(step.lhs)
                + " = "
                + " = ".join(latex.render(e) for e in step.rhs)
            )
        if step.note:
            entry["note"] = step.note
        steps.append(entry)
    doc = {
        "format": FORMAT,
        "network": trace.title,
        "dtype": trace.dtype,
        "n_samples": trace.n_samples,
        "notes": trace.notes,
        "x": trace["x"].tolist(),
    }
    preprocessing = {  # a table's columns: "pre.<j>.x", "pre.<j>.m", "pre.<j>.fill"
        key: q.value.tolist()
        for key, q in trace.quantities.items()
        if key.startswith("pre.") or key in ("mean", "scale")
    }
    if preprocessing:
        doc["preprocessing"] = preprocessing
    if trace.loss_name is not None:
        doc["y"] = trace["y"].tolist()
        doc["loss"] = {"name": trace.loss_name, "value": trace.loss_value}
        doc["backprop"] = "complete" if trace.stopped is None else "stopped"
        if trace.stopped is not None:
            doc["stopped"] = trace.stopped
    doc["output"] = trace[f"{len(layers)}.a"].tolist()
    doc["lr"] = trace.lr
    doc["update_applied"] = False
    doc["layers"] = layers
    if trace.attack is not None:
        doc["attack"] = _attack(trace, len(layers))
    if trace.optimizer is not None:
        doc["optimizer"] = _optimizer(trace)
    doc["steps"] = steps
    return doc


def is_optimizer_key(key: str) -> bool:
    """Keys of the optimizer steps: "opt.beta1", "t2.1.W", "t2.1.m_W", "t3.L"."""
    return key.startswith("opt.") or (key[:1] == "t" and key[1:2].isdigit())


def _optimizer(trace: Record) -> dict:
    """The optimizer steps: hyperparameters, losses, and every quantity by key."""
    info = trace.optimizer
    return {
        "config": info["config"],
        "steps": info["steps"],
        "losses": info.get("losses"),
        "quantities": {
            k: q.value.tolist()
            for k, q in trace.quantities.items()
            if is_optimizer_key(k)
        },
    }


def _attack(trace: Record, L: int) -> dict:
    """The attack step's numbers: ε, clip, dL/dx, its sign, x_adv and the outputs."""
    attack = {
        k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in trace.attack.items()
    }
    if attack["clip"] is not None:
        attack["clip"] = list(attack["clip"])
    for key in ("dL/dx", "sign", "x_adv"):
        attack[key] = trace[key].tolist()
    attack["output_adv"] = trace[f"adv.{L}.a"].tolist()
    return attack


def render_json(trace: Record, indent: int | None = 2) -> str:
    doc = _strict(trace_dict(trace))
    return json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def _strict(value):
    """``value`` with each non-finite float as the string "nan", "inf" or "-inf"
    (JSON has no such numbers; a saturated output's 1/0 is one)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value
