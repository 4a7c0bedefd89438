"""PyTorch interchange: same weights, same outputs, exact round trips, clear refusals.

Outputs are compared with torch's own forward pass (torch computes its modules itself);
weights are compared bitwise.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

import glassnet as gn
from glassnet.interop.torch_interop import FLOAT64_SOFTPLUS_THRESHOLD

# |difference| <= tol * max(1, |value|): float32's spacing exceeds 1e-6 once |x| >= 8,
# so for large outputs the bound is relative; summation order (torch's matmul against
# numpy's) differs by a few ulps.
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


def assert_close(actual, expected, dtype):
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}
TRAINABLE = [name for name in gn.ACTIVATIONS if name != "step"] + [
    gn.LeakyReLU(0.2),
    gn.ELU(0.7),
]


def torch_forward(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def inputs(rng, n, width, dtype):
    """Standard normal rows. The activations' tails are checked one unit at a time
    (test_activation_tails_match_torch): through several layers, large inputs make
    float32 sums cancel, and then summation order alone moves outputs by 1e-5."""
    return rng.normal(size=(n, width)).astype(dtype)


def mixed_net(activation, dtype, seed=0):
    return gn.Sequential(
        gn.Dense(5, 16, activation),
        gn.Dropout(0.25),
        gn.Dense(16, 8, use_bias=False),
        gn.get_activation(activation),
        gn.Dense(8, 4, activation),
        dtype=dtype,
        seed=seed,
    )


# -- to_torch ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", TRAINABLE, ids=repr)
def test_to_torch_computes_the_same(activation, dtype):
    net = mixed_net(activation, dtype)
    model = gn.to_torch(net)
    assert all(p.dtype == TORCH_DTYPE[dtype] for p in model.parameters())
    X = inputs(np.random.default_rng(1), 50, 5, dtype)
    assert_close(torch_forward(model, X), net.forward(X), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", TRAINABLE, ids=repr)
def test_activation_tails_match_torch(activation, dtype):
    net = gn.Sequential(gn.Dense(1, 1, activation), dtype=dtype)
    net.layers[0].W = [[1.0]]
    net.layers[0].b = [0.0]
    Z = np.linspace(-60.0, 60.0, 2401)[:, None].astype(dtype)
    assert_close(torch_forward(gn.to_torch(net), Z), net.forward(Z), dtype)


def test_to_torch_modules_and_weights():
    net = gn.Sequential(
        gn.Dense(3, 5, "relu"),
        gn.Dropout(0.2),
        gn.Tanh(),
        gn.Dense(5, 4, gn.LeakyReLU(0.3), use_bias=False),
        gn.Dense(4, 4, gn.ELU(0.5)),
        gn.Dense(4, 4, "gelu"),
        gn.Dense(4, 4, "softplus"),
        gn.Dense(4, 4, "sigmoid"),
        gn.Dense(4, 3),
        gn.Identity(),
        gn.Softmax(),
        seed=0,
    )
    model = gn.to_torch(net)
    kinds = [type(m).__name__ for m in model]
    assert kinds == [
        "Linear", "ReLU", "Dropout", "Tanh", "Linear", "LeakyReLU", "Linear", "ELU",
        "Linear", "GELU", "Linear", "Softplus", "Linear", "Sigmoid", "Linear",
        "Identity", "Softmax",
    ]  # fmt: skip
    assert (
        model[2].p == 0.2 and model[5].negative_slope == 0.3 and model[7].alpha == 0.5
    )
    assert model[9].approximate == "none" and model[16].dim == 1
    assert model[11].beta == 1.0 and model[11].threshold == 20.0  # float32: default
    assert model[4].bias is None
    dense_layers = [layer for layer in net.layers if isinstance(layer, gn.Dense)]
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for layer, linear in zip(dense_layers, linears, strict=True):
        np.testing.assert_array_equal(linear.weight.detach().numpy(), layer.W)
        assert linear.weight.shape == (layer.out_features, layer.in_features)
        if layer.use_bias:
            np.testing.assert_array_equal(linear.bias.detach().numpy(), layer.b)
    assert not model.training  # eval mode, like net.forward


def test_float64_softplus_threshold_keeps_float64_precision():
    net = gn.Sequential(gn.Dense(1, 1, "softplus"), dtype="float64")
    net.layers[0].W = [[1.0]]
    net.layers[0].b = [0.0]
    model = gn.to_torch(net)
    assert model[1].threshold == FLOAT64_SOFTPLUS_THRESHOLD
    Z = np.array([[20.5], [25.0], [36.0], [45.0]])
    exact = Z + np.log1p(np.exp(-Z))  # log(1 + e^z) for z > 0
    np.testing.assert_allclose(torch_forward(model, Z), exact, rtol=0, atol=1e-13)
    # torch's default threshold (20) returns z there: off by up to 2e-9 in float64
    default = nn.Sequential(model[0], nn.Softplus())
    assert np.abs(torch_forward(default, Z) - exact).max() > 1e-10


def test_to_torch_copies_weights():
    """Copies, not views: training either model must not change the other."""
    net = gn.Sequential(gn.Dense(3, 2), dtype="float64", seed=0)
    before = net.flat_params.copy()
    model = gn.to_torch(net)
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[0].bias.zero_()
    np.testing.assert_array_equal(net.flat_params, before)
    weight = model[0].weight.detach().clone()
    net.flat_params += 5.0
    assert torch.equal(model[0].weight.detach(), weight)


def test_to_torch_does_not_touch_torch_global_rng():
    state = torch.get_rng_state()
    gn.to_torch(gn.Sequential(gn.Dense(30, 40, "relu"), gn.Dense(40, 2), seed=0))
    assert torch.equal(torch.get_rng_state(), state)


def test_to_torch_dropout_is_live_after_train():
    net = gn.Sequential(gn.Dense(4, 64), gn.Dropout(0.5), seed=0)
    model = gn.to_torch(net)
    X = torch.ones(8, 4)
    with torch.no_grad():
        assert torch.equal(model(X), model(X))  # eval: dropout is the identity
        model.train()
        generator_state = torch.get_rng_state()
        torch.manual_seed(0)
        zeros = (model(X) == 0).float().mean().item()
        torch.set_rng_state(generator_state)
    assert 0.3 < zeros < 0.7


def test_to_torch_refusals():
    with pytest.raises(TypeError, match="needs a glassnet Sequential, got list"):
        gn.to_torch([gn.Dense(2, 2)])
    net = gn.Sequential(gn.Dense(2, 2), gn.Step())
    with pytest.raises(TypeError, match="layer 1: activation Step.*no step"):
        gn.to_torch(net)


# -- from_torch -------------------------------------------------------------------------
def random_weights(model, seed=0):
    """Fill every parameter from a seeded numpy Generator (no torch global state)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(scale=0.5, size=tuple(p.shape))))
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_torch_matches_torch_forward(dtype):
    model = nn.Sequential(
        nn.Linear(6, 10),
        nn.GELU(),
        nn.Dropout(0.1),
        nn.Linear(10, 8, bias=False),
        nn.LeakyReLU(0.05),
        nn.Linear(8, 8),
        nn.ELU(0.8),
        nn.Linear(8, 8),
        # torch's default threshold (20) is not exact in float64 (see the next test)
        nn.Softplus(threshold=20.0 if dtype == "float32" else 40.0),
        nn.Identity(),
        nn.Linear(8, 5),
        nn.Softmax(dim=-1),
    ).to(TORCH_DTYPE[dtype])
    model = random_weights(model).eval()
    net = gn.from_torch(model, seed=0)
    assert net.dtype == np.dtype(dtype)
    assert [repr(layer) for layer in net.layers] == [
        "Dense(6, 10, 'gelu')",
        "Dropout(p=0.1)",
        "Dense(10, 8, 'leaky_relu', use_bias=False)",
        "Dense(8, 8, 'elu')",
        "Dense(8, 8, 'softplus')",
        "Identity()",
        "Dense(8, 5, 'softmax')",
    ]
    assert net.layers[2].activation.negative_slope == 0.05
    assert net.layers[3].activation.alpha == pytest.approx(0.8)
    X = inputs(np.random.default_rng(3), 40, 6, dtype)
    assert_close(net.forward(X), torch_forward(model, X), dtype)
    for linear, dense in zip(
        [m for m in model if isinstance(m, nn.Linear)],
        [layer for layer in net.layers if isinstance(layer, gn.Dense)],
        strict=True,
    ):
        np.testing.assert_array_equal(dense.W, linear.weight.detach().numpy())


def test_from_torch_default_softplus_in_float64_is_off_by_at_most_2e_9():
    """The documented gap: torch returns z above threshold=20, glassnet the exact
    log(1 + e^z) = z + log(1 + e^-z)."""
    model = nn.Sequential(nn.Linear(1, 1), nn.Softplus()).double()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    net = gn.from_torch(model)
    Z = np.linspace(0.0, 60.0, 6001)[:, None]
    gap = np.abs(net.forward(Z) - torch_forward(model, Z))
    assert gap.max() <= np.log1p(np.exp(-20.0)) * (1 + 1e-9)  # 2.06e-9 just above 20
    assert gap[Z[:, 0] <= 20.0].max() <= 1e-13  # exact below the threshold
    assert gap.max() > 1e-9


def test_from_torch_flattens_nested_sequentials():
    model = nn.Sequential(
        nn.Sequential(nn.Linear(4, 6), nn.ReLU()),
        nn.Sequential(nn.Sequential(nn.Linear(6, 3)), nn.Tanh(), nn.Sigmoid()),
    )
    model = random_weights(model, seed=1)
    net = gn.from_torch(model)
    assert [repr(layer) for layer in net.layers] == [
        "Dense(4, 6, 'relu')",
        "Dense(6, 3, 'tanh')",
        "Sigmoid()",
    ]
    X = np.random.default_rng(2).normal(size=(9, 4)).astype("float32")
    assert_close(net.forward(X), torch_forward(model, X), "float32")


# -- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", TRAINABLE, ids=repr)
def test_round_trip_is_exact(activation, dtype):
    net = mixed_net(activation, dtype, seed=4)
    model = gn.to_torch(net)
    back = gn.from_torch(model)
    assert back.dtype == net.dtype
    assert back.flat_params.dtype == net.flat_params.dtype
    np.testing.assert_array_equal(back.flat_params, net.flat_params)  # bitwise
    X = inputs(np.random.default_rng(5), 30, 5, dtype)
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    assert_close(back.forward(X), torch_forward(model, X), dtype)
    # and torch -> glassnet -> torch gives the same modules and weights
    again = gn.to_torch(back)
    assert [repr(m) for m in again] == [repr(m) for m in model]
    for p, q in zip(again.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_round_trip_merges_a_separate_activation_into_dense():
    """Dense + a separate ReLU layer and Dense(relu) both become Linear, ReLU; back,
    that is Dense(relu): the same function and the same weights."""
    net = gn.Sequential(gn.Dense(3, 4), gn.ReLU(), gn.Dense(4, 1), seed=0)
    back = gn.from_torch(gn.to_torch(net))
    assert [repr(layer) for layer in back.layers] == [
        "Dense(3, 4, 'relu')",
        "Dense(4, 1)",
    ]
    np.testing.assert_array_equal(back.flat_params, net.flat_params)


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Conv2d(1, 1, 3)),
            r"unsupported module at position '2': Conv2d\(1, 1.*supported modules: "
            r"Linear, Dropout, Identity, ReLU",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)),
            r"position '1': BatchNorm1d\(3",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Softplus(beta=2.0)),
            r"position '1': Softplus\(beta=2.0.*beta = 1",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Softplus(threshold=5.0)),
            r"position '1'.*threshold 5 .*up to 6.7e-03; use threshold >= 20",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.GELU(approximate="tanh")),
            r"position '1': GELU\(approximate='tanh'\).*exact z Phi\(z\)",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=0)),
            r"position '1': Softmax\(dim=0\).*dim=1 \(or -1\), got dim=0",
        ),
        (
            nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), nn.LogSoftmax(1))),
            r"position '1.1': LogSoftmax",
        ),
    ],
    ids=[
        "conv2d",
        "batchnorm",
        "softplus-beta",
        "softplus-threshold",
        "gelu-tanh",
        "softmax-dim0",
        "nested",
    ],  # fmt: skip
)
def test_from_torch_unsupported_modules(model, message):
    with pytest.raises(TypeError, match=f"from_torch: .*{message}"):
        gn.from_torch(model)


def test_from_torch_bad_containers_and_dtypes():
    with pytest.raises(
        TypeError, match=r"needs a torch.nn.Sequential, got Linear \(wrap"
    ):
        gn.from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="got list .not a torch module"):
        gn.from_torch([nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="is empty"):
        gn.from_torch(nn.Sequential())
    with pytest.raises(
        ValueError, match=r"first module \(position '0', ReLU\(\)\) must be"
    ):
        gn.from_torch(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
    with pytest.raises(
        ValueError, match=r"'0.weight' has dtype torch.float16.*\.float\(\)"
    ):
        gn.from_torch(nn.Sequential(nn.Linear(2, 2)).half())
    mixed = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    with pytest.raises(
        ValueError, match="mixes dtypes .0.weight is torch.float32, 1.weight"
    ):
        gn.from_torch(mixed)
    with pytest.raises(ValueError, match=r"position '1' \(Dropout\(p=1.0.*0 <= p < 1"):
        gn.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Dropout(1.0)))
    with pytest.raises(ValueError, match="uninitialised parameters .a Lazy module"):
        gn.from_torch(nn.Sequential(nn.LazyLinear(2)))


def test_missing_torch_names_the_pinned_version(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    net = gn.Sequential(gn.Dense(2, 2))
    with pytest.raises(ImportError, match=r"needs torch.*pip install torch==2\.13\.0"):
        gn.to_torch(net)
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        gn.from_torch(object())
