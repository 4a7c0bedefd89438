"""Learning-rate schedules: against torch.optim.lr_scheduler and their formulas, and
applied through fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch", reason="torch==2.13.0 is in the dev extra")


def torch_rates(make_scheduler, epochs, lr=0.1):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(opt)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (gn.StepLR(3, gamma=0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (
            gn.ExponentialLR(0.9),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
        ),
        (gn.CosineLR(10), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10)),
        (
            gn.CosineLR(8, min_lr=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 8, eta_min=0.01),
        ),
    ],
    ids=["step", "exponential", "cosine", "cosine_min_lr"],
)
def test_schedules_match_torch(ours, theirs):
    expected = torch_rates(theirs, 9)
    got = [ours(epoch, 0.1) for epoch in range(9)]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_cosine_warm_up_by_hand():
    schedule = gn.CosineLR(total_epochs=6, warmup_epochs=2, min_lr=0.0)
    rates = [schedule(p, 1.0) for p in range(7)]
    # warm-up: (p + 1) / (w + 1) = 1/3, 2/3; then cos over the remaining T - w = 4.
    expected = [1 / 3, 2 / 3] + [(1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]
    np.testing.assert_allclose(rates, expected + [0.0], rtol=1e-14)
    assert schedule(1.5, 1.0) == pytest.approx(2.5 / 3)  # fractional epochs (per batch)


def test_reduce_on_plateau_by_hand():
    plateau = gn.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2
    )
    lr, rates = 1.0, []
    for value in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]:
        lr = plateau.update({"val_loss": value}, lr)
        rates.append(lr)
    # best 0.9 at epoch 1; two epochs without improvement -> 0.5 at epoch 3; one
    # epoch of cooldown, then two more -> 0.25 at epoch 6; then 0.2 (min_lr) at 9.
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]


def test_reduce_on_plateau_min_delta_and_mode_max():
    plateau = gn.ReduceLROnPlateau(monitor="val_accuracy", patience=1, min_delta=0.05)
    assert plateau.monitor.mode == "max"
    lr = plateau.update({"val_accuracy": 0.5}, 1.0)
    lr = plateau.update({"val_accuracy": 0.54}, lr)  # +0.04 < min_delta: no improvement
    assert lr == pytest.approx(0.1)


def test_reduce_on_plateau_state_round_trip():
    a = gn.ReduceLROnPlateau(monitor="loss", patience=3)
    for value in (1.0, 0.5, 0.7):
        a.update({"loss": value}, 1.0)
    b = gn.ReduceLROnPlateau(monitor="loss", patience=3)
    b.load_state_dict(a.state_dict())
    assert b.monitor.best == 0.5 and b.wait == 1
    assert (
        gn.ReduceLROnPlateau().state_dict()["best"]
        != gn.ReduceLROnPlateau().state_dict()["best"]
    )  # NaN


# -- through fit ---------------------------------------------------------------------
def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] > 0).astype(int)


def make_net():
    return gn.Sequential(gn.Dense(3, 4, "tanh"), gn.Dense(4, 2, "softmax"), seed=0)


class LrPerBatch(gn.Callback):
    def __init__(self):
        self.rates = []

    def on_batch_end(self, step, logs):
        self.rates.append(self.trainer.optimizer.lr)


def test_a_schedule_in_callbacks_sets_lr_each_epoch():
    X, y = problem()
    opt = gn.SGD(lr=0.4)
    history = make_net().fit(
        X, y, optimizer=opt, epochs=5, callbacks=[gn.StepLR(2, gamma=0.5)], verbose=0
    )
    assert history.history["lr"] == [0.4, 0.4, 0.2, 0.2, 0.1]
    assert opt.initial_lr == 0.4


def test_per_batch_schedule_uses_fractional_epochs():
    X, y = problem()
    record = LrPerBatch()
    scheduler = gn.LearningRateScheduler(gn.ExponentialLR(0.5), per_batch=True)
    make_net().fit(
        X, y, optimizer=gn.SGD(lr=1.0), epochs=2, batch_size=20,
        callbacks=[scheduler, record], verbose=0,
    )  # fmt: skip
    np.testing.assert_allclose(record.rates, [0.5**p for p in (0, 0.5, 1, 1.5)])


def test_resumed_schedule_continues_from_the_initial_lr():
    X, y = problem()
    opt = gn.SGD(lr=0.4)
    make_net().fit(
        X, y, optimizer=opt, epochs=2, callbacks=[gn.ExponentialLR(0.5)], verbose=0
    )
    history = make_net().fit(
        X, y, optimizer=opt, epochs=4, initial_epoch=2, callbacks=[gn.ExponentialLR(0.5)],
        verbose=0,
    )  # fmt: skip
    assert history.history["lr"] == [0.1, 0.05]


def test_keras_style_function_schedule():
    X, y = problem()
    history = make_net().fit(
        X, y, optimizer=gn.SGD(lr=1.0), epochs=3, verbose=0,
        callbacks=[gn.LearningRateScheduler(lambda epoch, lr: lr * 0.1 if epoch else lr)],
    )  # fmt: skip
    np.testing.assert_allclose(history.history["lr"], [1.0, 0.1, 0.01])


def test_reduce_on_plateau_through_fit():
    X, y = problem()
    plateau = gn.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, min_delta=10.0
    )
    history = make_net().fit(
        X, y, optimizer=gn.SGD(lr=1.0), epochs=4, callbacks=[plateau], verbose=0
    )
    # min_delta 10: only the first epoch counts as an improvement; each later epoch
    # halves lr at its end, so epochs log 1, 1, 0.5, 0.25 (lr in effect during each).
    assert history.history["lr"] == [1.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: gn.StepLR(0),
            ValueError,
            "step_size must be a positive integer, got 0",
        ),
        (
            lambda: gn.ExponentialLR(0),
            ValueError,
            r"gamma must be in \(0, inf\], got 0",
        ),
        (
            lambda: gn.CosineLR(5, warmup_epochs=5),
            ValueError,
            r"warmup_epochs must be in \[0, total_epochs\) = \[0, 5\), got 5",
        ),
        (
            lambda: gn.ReduceLROnPlateau(factor=1.0),
            ValueError,
            r"factor must be in \(0, 1\), got 1",
        ),
        (
            lambda: gn.ReduceLROnPlateau(mode="up"),
            ValueError,
            "mode must be 'auto', 'min' or 'max', got 'up'",
        ),
        (
            lambda: gn.LearningRateScheduler(3),
            TypeError,
            "schedule must be a glassnet schedule or a function",
        ),
        (
            lambda: gn.LearningRateScheduler(gn.ReduceLROnPlateau(), per_batch=True),
            ValueError,
            "per_batch=True does not apply",
        ),
        (lambda: gn.ReduceLROnPlateau()(0, 1.0), TypeError, "use update"),
    ],
)
def test_schedule_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_schedule_giving_a_negative_rate_is_refused():
    X, y = problem()
    with pytest.raises(ValueError, match=r"gave lr=-1.0 at epoch 1; it must be >= 0"):
        make_net().fit(
            X, y, callbacks=[gn.LearningRateScheduler(lambda e, lr: -1.0)], verbose=0
        )
