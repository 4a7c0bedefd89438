"""PyTorch interchange: a glassnet ``Sequential`` to and from ``torch.nn.Sequential``.

Both libraries compute a dense layer as Z = A W^T + b with W of shape (out, in), so the
weights move over unchanged, with no transpose. The modules map one to one:

=================================  ======================================================
glassnet                           torch.nn
=================================  ======================================================
``Dense(in, out, use_bias=...)``   ``Linear(in, out, bias=...)``, then its activation
identity / relu / sigmoid / tanh   ``Identity`` / ``ReLU`` / ``Sigmoid`` / ``Tanh``
leaky_relu(negative_slope)         ``LeakyReLU(negative_slope)``
elu(alpha)                         ``ELU(alpha)``
gelu (exact, erf)                  ``GELU()`` (``approximate="none"``)
softplus                           ``Softplus()``; ``Softplus(threshold=40.0)`` for float64
softmax (each row)                 ``Softmax(dim=1)``
``Dropout(p)``                     ``Dropout(p)``
=================================  ======================================================

A ``Dense`` with the identity activation becomes a lone ``Linear``. Back from torch, a
``Linear`` directly followed by an activation module (other than ``nn.Identity``)
becomes one ``Dense`` with that activation, as glassnet networks are usually written;
any other activation module becomes an activation layer. So torch -> glassnet -> torch
gives back the same modules, while glassnet's ``Dense(3, 4), gn.ReLU()`` comes back as
``Dense(3, 4, "relu")``: the same function with bitwise the same weights.

Softplus: torch's ``Softplus`` returns z itself once z > ``threshold`` (default 20),
where the exact value is z + log(1 + e^-z), off by at most log(1 + e^-20) = 2.1e-9:
below half a float32 ulp of 20, but not of float64 precision. float64 networks therefore
get ``threshold=40.0``, past which e^-z is below half a float64 ulp of z.

The step activation has no torch module, so ``to_torch`` refuses it.
"""

from __future__ import annotations

import math

import numpy as np

from ..nn.activations import (
    ACTIVATIONS,
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from ..nn.embedding import Embedding
from ..nn.layers import ActivationLayer, Dense, Dropout
from ..nn.network import Sequential

#: torch's Softplus threshold for float64 networks (see the module docstring).
FLOAT64_SOFTPLUS_THRESHOLD = 40.0
#: The smallest Softplus threshold ``from_torch`` accepts: torch's default.
MIN_SOFTPLUS_THRESHOLD = 20.0


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "PyTorch interchange needs torch, which is not installed; install the "
            "CPU build glassnet is tested with: pip install torch==2.13.0"
        ) from error
    return torch


def to_torch(net: Sequential):
    """The same network as a ``torch.nn.Sequential`` of ``Linear`` and activations.

    Each ``Dense`` becomes ``nn.Linear`` with W (out, in) and b copied as they are
    (torch's Linear computes Z = A W^T + b too), followed by its activation module.

    The weights are copied, not shared: glassnet's W and b are views into the
    network's flat parameter buffer, which its optimizers update in place, so sharing
    memory would let training either model silently change the other.

    The module has the network's dtype (float32 or float64), lives on the CPU and is
    returned in eval mode (dropout off), like ``net.forward``; call ``.train()`` to
    train it. Making it draws nothing from torch's global random generator.

    Parameters
    ----------
    net : Sequential
        Made of ``Dense``, activation layers and ``Dropout``; any activation but step.

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> import glassnet as gn
    >>> net = gn.Sequential(gn.Dense(3, 4, "relu"), gn.Dense(4, 2), seed=0)
    >>> model = gn.to_torch(net)
    >>> model
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): ReLU()
      (2): Linear(in_features=4, out_features=2, bias=True)
    )
    >>> X = np.ones((2, 3), dtype="float32")
    >>> bool(np.allclose(model(torch.from_numpy(X)).detach().numpy(), net.forward(X)))
    True
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(net, Sequential):
        raise TypeError(
            f"to_torch needs a glassnet Sequential, got {type(net).__name__}"
        )
    double = net.dtype == np.float64
    dtype = torch.float64 if double else torch.float32
    modules = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            # skip_init: no random initial values (they would be overwritten, and drawing
            # them would advance torch's global generator).
            linear = nn.utils.skip_init(
                nn.Linear,
                layer.in_features,
                layer.out_features,
                bias=layer.use_bias,
                dtype=dtype,
            )
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.W))  # W: (out, in), copied
                if layer.use_bias:
                    linear.bias.copy_(torch.from_numpy(layer.b))  # b: (out,)
            modules.append(linear)
            if layer.activation.name != "identity":
                modules.append(_torch_activation(nn, layer.activation, double, i))
        elif isinstance(layer, ActivationLayer):
            modules.append(_torch_activation(nn, layer.activation, double, i))
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.p))
        elif isinstance(layer, Embedding):
            raise TypeError(
                f"layer {i} ({layer!r}) has no counterpart in a torch.nn.Sequential: "
                "torch.nn.Embedding takes a tensor of integer indices, not rows that "
                "mix index and value columns; export the network with export_onnx, "
                "or build nn.Embedding(n_categories[j] + 1, dims[j], "
                "padding_idx=n_categories[j]) per index column from layer.tables[j]"
            )
        else:
            raise TypeError(
                f"layer {i} ({layer!r}, type {type(layer).__name__}) has no PyTorch "
                "counterpart; to_torch supports Dense, activation layers and Dropout"
            )
    return nn.Sequential(*modules).eval()


def _torch_activation(nn, activation, double: bool, index: int):
    name = activation.name
    if ACTIVATIONS.get(name) is not type(activation) or name == "step":
        reason = (
            "PyTorch has no step (Heaviside) module"
            if name == "step"
            else "it is not one of glassnet's built-in activations"
        )
        raise TypeError(
            f"layer {index}: activation {activation!r} has no PyTorch module: {reason}"
        )
    if name == "identity":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU()
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "leaky_relu":
        return nn.LeakyReLU(activation.negative_slope)
    if name == "elu":
        return nn.ELU(activation.alpha)
    if name == "gelu":
        return nn.GELU()
    if name == "softplus":
        if double:
            return nn.Softplus(threshold=FLOAT64_SOFTPLUS_THRESHOLD)
        return nn.Softplus()
    if name == "softmax":
        return nn.Softmax(dim=1)
    raise TypeError(  # pragma: no cover - every registered activation is handled
        f"layer {index}: no PyTorch module for {activation!r}"
    )


#: The hook registries of a torch module: a hook changes what forward computes (or
#: its gradient), which the copied weights alone cannot carry.
_HOOKS = (
    ("_forward_hooks", "forward hook"),
    ("_forward_pre_hooks", "forward-pre hook"),
    ("_backward_hooks", "backward hook"),
    ("_backward_pre_hooks", "backward-pre hook"),
)


def _check_plain(module) -> None:
    """ValueError for a module (or submodule) with hooks, or with parameters on the
    meta device (shapes without values)."""
    for position, m in module.named_modules():
        where = f"position {position!r}" if position else "the nn.Sequential itself"
        for attribute, kind in _HOOKS:
            hooks = getattr(m, attribute, None)
            if hooks:
                names = ", ".join(
                    getattr(h, "__qualname__", repr(h)) for h in hooks.values()
                )
                raise ValueError(
                    f"from_torch: {where} ({type(m).__name__}) has a {kind} ({names}); "
                    "hooks change what the module computes and are not converted: "
                    "remove them (handle.remove()) first"
                )
    for name, p in [*module.named_parameters(), *module.named_buffers()]:
        if p.device.type == "meta":
            raise ValueError(
                f"from_torch: {name!r} is on the meta device (a shape without "
                "values); load or initialise the weights first (module.to_empty("
                "device='cpu') and a state dict)"
            )


def from_torch(module, seed=None) -> Sequential:
    """A glassnet ``Sequential`` with the weights of a ``torch.nn.Sequential``.

    Nested ``nn.Sequential`` containers are flattened. A ``Linear`` directly followed by
    an activation module (not ``nn.Identity``) becomes ``Dense(..., activation=...)``;
    other activation modules become activation layers; ``Dropout(p)`` becomes ``gn.Dropout(p)``. The
    weights are copied (bitwise), and the dtype (float32 or float64) is the module's.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of ``Linear``, ``Identity``, ``ReLU``, ``Sigmoid``, ``Tanh``, ``LeakyReLU``,
        ``ELU``, ``GELU()`` (exact), ``Softplus`` (beta = 1, threshold >= 20),
        ``Softmax(dim=1)`` (or -1) and ``Dropout``, starting with a ``Linear``. (In
        float64, torch's default ``Softplus(threshold=20)`` itself departs from
        log(1 + e^z) by up to 2.1e-9 for z in (20, 37); glassnet computes the exact
        value.)
    seed : int, numpy Generator or None
        For the new network's ``rng`` (dropout masks, shuffling in training).

    Raises
    ------
    TypeError / ValueError
        For any other module, naming it and its position (torch's dotted name); for
        a module with forward, forward-pre or backward hooks; for weights on the
        meta device.

    Examples
    --------
    >>> import torch
    >>> import glassnet as gn
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
    ...                             torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    >>> gn.from_torch(model)
    Sequential(
      Dense(3, 4, 'tanh'),
      Dense(4, 1, 'sigmoid'),
      dtype='float32'
    )
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        hint = (
            "wrap a single layer as nn.Sequential(layer); a custom module's forward() "
            "cannot be read as layers, so rebuild it as nn.Sequential"
            if isinstance(module, nn.Module)
            else "not a torch module"
        )
        raise TypeError(
            f"from_torch needs a torch.nn.Sequential, got {type(module).__name__} "
            f"({hint})"
        )
    entries = list(_flatten(nn, module, prefix=""))
    if not entries:
        raise ValueError("from_torch: the nn.Sequential is empty; it has no layers")
    dtype = _module_dtype(torch, entries)  # lazy modules refused here first
    _check_plain(module)
    first_position, first = entries[0]
    if type(first) is not nn.Linear:
        raise ValueError(
            f"from_torch: the first module (position {first_position!r}, {first}) must "
            "be nn.Linear, so that the input width is known"
        )
    layers, weights = [], []
    i = 0
    while i < len(entries):
        position, m = entries[i]
        if type(m) is nn.Linear:
            activation = None
            following = entries[i + 1][1] if i + 1 < len(entries) else None
            # nn.Identity stays a layer of its own, so torch -> glassnet -> torch
            # gives back the same modules.
            if _is_activation(nn, following) and type(following) is not nn.Identity:
                activation = _glassnet_activation(nn, *entries[i + 1])
                i += 1
            layers.append(
                Dense(
                    m.in_features,
                    m.out_features,
                    activation,
                    use_bias=m.bias is not None,
                )
            )
            weights.append((len(layers) - 1, m))
        elif _is_activation(nn, m):
            layers.append(ActivationLayer(_glassnet_activation(nn, position, m)))
        elif type(m) is nn.Dropout:
            if not 0.0 <= m.p < 1.0:
                raise ValueError(
                    f"from_torch: module at position {position!r} ({m}) drops every "
                    "value; glassnet's Dropout needs 0 <= p < 1"
                )
            layers.append(Dropout(m.p))
        else:
            raise _unsupported(position, m)
        i += 1
    net = Sequential(*layers, dtype=dtype, seed=seed)
    for index, linear in weights:
        dense = net.layers[index]
        dense.W = linear.weight.detach().cpu().numpy()  # copied into the flat buffer
        if linear.bias is not None:
            dense.b = linear.bias.detach().cpu().numpy()
    return net


def _flatten(nn, module, prefix: str):
    """(dotted position, module) for every leaf, nested Sequentials opened."""
    for name, child in module.named_children():
        position = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            yield from _flatten(nn, child, prefix=f"{position}.")
        else:
            yield position, child


def _module_dtype(torch, entries) -> str:
    found = {}
    for position, m in entries:
        for name, p in m.named_parameters():
            if isinstance(p, torch.nn.parameter.UninitializedParameter):
                raise ValueError(
                    f"from_torch: module at position {position!r} ({m}) has "
                    "uninitialised parameters (a Lazy module); run one batch first"
                )
            found.setdefault(p.dtype, f"{position}.{name}")
    if not found:
        return "float32"
    names = {torch.float32: "float32", torch.float64: "float64"}
    for dtype, where in found.items():
        if dtype not in names:
            raise ValueError(
                f"from_torch: parameter {where!r} has dtype {dtype}; glassnet works in "
                "float32 or float64: convert with module.float() or module.double()"
            )
    if len(found) > 1:
        listing = ", ".join(f"{where} is {dtype}" for dtype, where in found.items())
        raise ValueError(
            f"from_torch: the module mixes dtypes ({listing}); convert it to one with "
            "module.float() or module.double()"
        )
    return names[next(iter(found))]


_ACTIVATION_MODULES = (
    "Identity",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "GELU",
    "Softplus",
    "Softmax",
)


def _is_activation(nn, m) -> bool:
    return any(type(m) is getattr(nn, name) for name in _ACTIVATION_MODULES)


def _glassnet_activation(nn, position: str, m):
    """The glassnet activation computing exactly what module ``m`` computes."""
    kind = type(m)
    if kind is nn.Identity:
        return Identity()
    if kind is nn.ReLU:
        return ReLU()
    if kind is nn.Sigmoid:
        return Sigmoid()
    if kind is nn.Tanh:
        return Tanh()
    if kind is nn.LeakyReLU:
        return LeakyReLU(m.negative_slope)
    if kind is nn.ELU:
        return ELU(m.alpha)
    if kind is nn.GELU:
        if m.approximate != "none":
            raise _unsupported(
                position,
                m,
                "glassnet's GELU is the exact z Phi(z); the tanh approximation "
                "differs from it by up to 4.7e-4",
            )
        return GELU()
    if kind is nn.Softplus:
        if m.beta != 1:
            raise _unsupported(
                position, m, "glassnet's softplus is log(1 + e^z), i.e. beta = 1"
            )
        if m.threshold < MIN_SOFTPLUS_THRESHOLD:
            raise _unsupported(
                position,
                m,
                f"with threshold {m.threshold:g} torch returns z for z > "
                f"{m.threshold:g}, off from log(1 + e^z) by up to "
                f"{math.log1p(math.exp(-m.threshold)):.1e}; use threshold >= 20",
            )
        return Softplus()
    if kind is nn.Softmax:
        if m.dim not in (1, -1):
            raise _unsupported(
                position,
                m,
                "glassnet's softmax normalises each row of a (batch, features) "
                f"matrix, i.e. dim=1 (or -1), got dim={m.dim}",
            )
        return Softmax()
    raise _unsupported(position, m)  # pragma: no cover - guarded by _is_activation


def _unsupported(position: str, m, reason: str | None = None) -> TypeError:
    if reason is None:
        reason = (
            "supported modules: Linear, Dropout, "
            + ", ".join(_ACTIVATION_MODULES)
            + " (in nn.Sequential containers)"
        )
    return TypeError(
        f"from_torch: unsupported module at position {position!r}: {m} "
        f"({type(m).__name__}); {reason}"
    )
