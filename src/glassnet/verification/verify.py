"""``verify``: prove a property of a network, or find an input that breaks it."""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError
from .branch import branch_and_bound, set_bounds
from .falsify import falsify
from .network import model_outputs, read_network
from .relu_split import relu_split
from .result import ProofTree, VerificationResult
from .spec import LinearConstraints, Property, linf_ball, stays_class

METHODS = ("auto", "interval", "linear", "alpha", "bab", "input_split", "relu_split")
INPUT_SPLIT_MAX_INPUTS = 8  # up to this many inputs, branch and bound splits inputs


def verify(
    net, prop: Property, *, timeout: float = 60.0, method: str = "auto", seed: int = 0,
    workers: int | None = None,
) -> VerificationResult:  # fmt: skip
    """Decide whether every input in ``prop``'s regions keeps the output out of its
    unsafe sets, cheapest method first.

    method: "interval" (interval bounds), "linear" (back-substituted linear bounds),
    "alpha" (linear bounds with optimised ReLU slopes), each with falsification, or
    "bab"/"auto" (all three, then branch and bound until decided or ``timeout``
    seconds): "input_split" splits the input box, "relu_split" splits unstable ReLUs
    (ReLU networks only); "auto" and "bab" split inputs up to
    ``INPUT_SPLIT_MAX_INPUTS`` inputs and ReLUs above. workers: processes bounding
    branch and bound's batches (None: for input splitting 2 on a machine with 2
    cores or more, once its search has run a while and when the main script guards
    its entry point, else 1; for ReLU splitting 1, whose products use the cores
    through the BLAS threads). "holds" is sound for the model as it
    computes in its dtype; "violated" carries a counterexample (x, y) confirmed by
    the model's own forward pass.

    Examples
    --------
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(1, 2, "relu"), gn.Dense(2, 1), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0], [-1.0]], [0.0, 0.0]
    >>> net.layers[1].W, net.layers[1].b = [[1.0, 1.0]], [0.0]
    >>> below = gn.LinearConstraints([[1.0]], [-0.1])  # unsafe: |x| <= -0.1
    >>> gn.verify(net, gn.Property(gn.Box([-1.0], [1.0]), below)).status
    'holds'
    >>> small = gn.LinearConstraints([[1.0]], [0.5])  # unsafe: |x| <= 0.5
    >>> gn.verify(net, gn.Property(gn.Box([-1.0], [1.0]), small)).status
    'violated'
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(prop, Property):
        raise InputError(f"verify needs a gn.Property, got {type(prop).__name__}")
    if not timeout > 0:
        raise InputError(f"timeout must be > 0 seconds, got {timeout}")
    if workers is not None and (
        not isinstance(workers, int) or isinstance(workers, bool) or workers < 1
    ):
        raise InputError(f"workers must be a positive integer or None, got {workers!r}")
    vn = read_network(net)
    if prop.n_inputs != vn.n_inputs or prop.n_outputs != vn.n_outputs:
        raise InputError(
            f"the property speaks of {prop.n_inputs} inputs and {prop.n_outputs} "
            f"outputs; the network has {vn.n_inputs} and {vn.n_outputs}"
        )
    if vn.dropped_softmax:
        check_softmax_property(prop)
    if method == "relu_split" and not _relu_only(vn):
        raise InputError(
            "relu_split needs a network of ReLU layers and a final identity (or "
            "dropped softmax); use input_split for other activations"
        )
    start = time.perf_counter()
    deadline = start + timeout
    rng = np.random.default_rng(seed)
    timings, counts = {}, {"regions": len(prop.regions), "boxes": 0}

    def result(status, used, **kw):
        timings["total"] = time.perf_counter() - start
        return VerificationResult(
            status, used, timings=timings, counts=counts, property=prop, **kw
        )

    t = time.perf_counter()
    for box in prop.regions:
        found = falsify(net, vn, prop, box, rng)
        if found is not None:
            timings["falsify"] = time.perf_counter() - t
            return result("violated", "falsify", counterexample=found)
    timings["falsify"] = time.perf_counter() - t

    lower = np.stack([box.lower for box in prop.regions])
    upper = np.stack([box.upper for box in prop.regions])
    if method in ("input_split", "relu_split"):
        split = method
    elif vn.n_inputs > INPUT_SPLIT_MAX_INPUTS and _relu_only(vn):
        split = "relu_split"
    else:
        split = "input_split"

    # the optimised slopes run when asked for, and before ReLU splitting (whose
    # subproblems are bounded that way); input splitting does without
    stages = ("interval", "linear") + (
        ("alpha",) if method == "alpha" or split == "relu_split" else ()
    )
    for used in stages:
        t = time.perf_counter()
        bounds = set_bounds(
            vn, prop, lower, upper, use_linear=used != "interval", alpha=used == "alpha"
        )
        counts["boxes"] += len(lower)
        timings[used] = time.perf_counter() - t
        if np.all(bounds > 0):
            proof = ProofTree()
            for box, b in zip(prop.regions, bounds, strict=True):
                proof.add((), box.lower, box.upper, b)
            return result("holds", used, bounds=bounds.min(axis=0), proof=proof)
        if used == method:
            return result(
                "unknown", used, bounds=bounds.min(axis=0),
                reason="the bounds are too loose to prove it and no counterexample "
                "was found",
            )  # fmt: skip

    t = time.perf_counter()
    proof, worst = ProofTree(), np.full(len(prop.unsafe), np.inf)
    from . import parallel

    # workers start once a search has run a while; ReLU splitting runs in one
    # process unless asked for more: its products of matrices over hundreds of
    # neurons already use both cores through the BLAS threads, and a second process
    # bounded no more subproblems a second (``parallel``)
    if split == "relu_split":
        pool = parallel.LazyPool(
            vn, 1 if workers is None else workers,
            after_boxes=parallel.RELU_SPLIT_AFTER,
        )  # fmt: skip
    else:
        pool = parallel.LazyPool(vn, workers)
    try:
        for box in prop.regions:
            if split == "relu_split":
                status, found, bounds, tree, n = relu_split(
                    net, vn, prop, box, deadline, pool=pool
                )
            else:
                status, found, bounds, tree, n = branch_and_bound(
                    net, vn, prop, box, deadline, pool=pool
                )
            counts["boxes"] += n
            if status == "violated":
                break
            worst = np.minimum(worst, bounds)
            proof.leaves.extend(tree.leaves)
            if status != "holds":
                break
    finally:
        counts["workers"] = pool.started
        pool.close()
    timings["branch"] = time.perf_counter() - t
    counts["split"] = split
    if status == "violated":
        return result("violated", "bab", counterexample=found)
    if status != "holds":
        reason = (
            f"no decision within {timeout} s"
            if status == "timeout"
            else f"branch and bound reached its limit on {'boxes' if split == 'input_split' else 'subproblems'}"
        )
        return result(status, "bab", bounds=worst, reason=reason)
    return result("holds", "bab", bounds=worst, proof=proof)


def _relu_only(vn) -> bool:
    return all(b.activation in ("relu", "identity") for b in vn.blocks[:-1]) and (
        vn.blocks[-1].activation == "identity"
    )


def check_softmax_property(prop: Property) -> None:
    """Refuse a property that a network ending in softmax cannot be verified for.

    The bounds are on the logits z (the final softmax is dropped), which answers the
    same question only for comparisons y_i <= y_j between two outputs: softmax keeps
    the order of its entries, not their values.

    >>> import glassnet as gn
    >>> from glassnet.verification import stays_class
    >>> check_softmax_property(gn.Property(gn.Box([0.0], [1.0]), stays_class(0, 2)))
    >>> half = gn.LinearConstraints([[1.0, 0.0]], [0.5])  # y_0 <= 0.5
    >>> check_softmax_property(gn.Property(gn.Box([0.0], [1.0]), half))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    glassnet.errors.InputError: the model ends with softmax, ...
    """
    for unsafe in prop.unsafe:
        for row, d in zip(unsafe.C, unsafe.d, strict=True):
            nonzero = row[row != 0]
            if d != 0 or nonzero.size != 2 or nonzero.sum() != 0:
                raise InputError(
                    "the model ends with softmax, so only comparisons between two "
                    "outputs (Y_i <= Y_j) can be verified: the bounds are on the "
                    "logits, and softmax keeps their order, not their values; the "
                    f"property compares outputs with a constant or a combination "
                    f"(row {row.tolist()}, d = {d})"
                )


def verify_robust(
    net, x, eps: float, label=None, clip=None, *, timeout: float = 60.0,
    method: str = "auto", seed: int = 0, workers: int | None = None,
) -> VerificationResult:  # fmt: skip
    """Does every x' with |x' - x|_inf <= eps (cut to ``clip`` = (low, high)) keep the
    prediction ``label`` (by default the model's own prediction at x)?

    With several outputs the prediction is the argmax (ties count against it); with
    one output, the side of 0 (of 0.5 after a final sigmoid).

    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(2, 2), dtype="float64")
    >>> net.layers[0].W, net.layers[0].b = [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]
    >>> gn.verify_robust(net, [1.0, 0.0], 0.4).status
    'holds'
    """
    vn = read_network(net)
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size != vn.n_inputs:
        raise InputError(f"x must have {vn.n_inputs} features, got {x.size}")
    y = model_outputs(net, x[None], vn.dropped_softmax)[0]
    if vn.n_outputs == 1:
        threshold = 0.5 if vn.blocks[-1].activation == "sigmoid" else 0.0
        label = int(y[0] > threshold) if label is None else int(label)
        if label not in (0, 1):
            raise InputError(f"label must be 0 or 1 for one output, got {label}")
        sign = 1.0 if label == 1 else -1.0  # unsafe: the wrong side, or on the line
        unsafe = (LinearConstraints([[sign]], [sign * threshold]),)
    else:
        label = int(np.argmax(y)) if label is None else int(label)
        unsafe = stays_class(label, vn.n_outputs)
    prop = Property(linf_ball(x, eps, clip), unsafe)
    return verify(net, prop, timeout=timeout, method=method, seed=seed, workers=workers)
