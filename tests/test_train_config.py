"""TrainConfig: the settings of a fit call, checked once; fit leaves nothing behind on
the network, and evaluate/predict take what they need as arguments."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import glassnet as gn
from glassnet.training import TrainConfig


def small_problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def small_net(seed=0, out="softmax", width=3):
    return gn.Sequential(
        gn.Dense(3, 8, "tanh"), gn.Dense(8, width, out), dtype="float64", seed=seed
    )


# -- construction ---------------------------------------------------------------------
def test_defaults_are_fits_defaults():
    config = TrainConfig()
    assert (config.loss, config.optimizer, config.epochs, config.batch_size) == (
        None, "adam", 1, 32,
    )  # fmt: skip
    assert (config.shuffle, config.seed, config.validation_split) == (True, 0, 0.0)
    assert (config.metrics, config.callbacks, config.early_stopping) == ((), (), None)
    assert (config.class_weight, config.initial_epoch, config.initial_step) == (
        None, 0, 0,
    )  # fmt: skip
    assert (config.verbose, config.adversarial) == (1, None)


def test_settings_are_normalised():
    schedule = gn.StepLR(step_size=2)
    config = TrainConfig(
        loss="bce", metrics="acc", callbacks=schedule, epochs=np.int64(3),
        validation_split=0, shuffle=np.bool_(False), seed=np.uint32(7),
    )  # fmt: skip
    assert isinstance(config.loss, gn.BinaryCrossEntropyLoss)
    assert config.metrics == ("acc",) and config.callbacks == (schedule,)
    assert type(config.epochs) is int and config.epochs == 3
    assert type(config.validation_split) is float and config.validation_split == 0.0
    assert config.shuffle is False and type(config.seed) is int and config.seed == 7


def test_config_is_frozen_and_keeps_its_own_class_weights():
    weights = {0: 2.0}
    config = TrainConfig(class_weight=weights)
    weights[1] = 5.0
    assert config.class_weight == {0: 2.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(loss="hinge"), ValueError, "unknown loss 'hinge'"),
        (dict(loss=3), TypeError, "loss must be a name or a glassnet Loss, got int"),
        (dict(optimizer="adagrad"), ValueError, "unknown optimizer 'adagrad'"),
        (dict(epochs=0), ValueError, "epochs must be a positive integer, got 0"),
        (dict(epochs=2.5), TypeError, "epochs must be a positive integer, got 2.5"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
        (dict(shuffle="yes"), TypeError, "shuffle must be True or False, got 'yes'"),
        (dict(seed=-1), ValueError, "seed must be a non-negative integer or None"),
        (dict(seed=True), ValueError, "seed must be a non-negative integer or None"),
        (
            dict(validation_split=1.0),
            ValueError,
            r"validation_split must be in \[0, 1\), got 1",
        ),
        (dict(metrics=["auc"]), ValueError, "unknown metric 'auc'; expected one of"),
        (dict(metrics=["f1", "f1"]), ValueError, r"metrics listed twice: \['f1'\]"),
        (dict(metrics=[3]), TypeError, "a metric must be a name or a callable"),
        (
            dict(callbacks=[print]),
            TypeError,
            "callbacks must be glassnet Callback objects",
        ),
        (
            dict(early_stopping=gn.CSVLogger("log.csv")),
            TypeError,
            "early_stopping must be a gn.EarlyStopping, got CSVLogger",
        ),
        (
            dict(class_weight="auto"),
            ValueError,
            "class_weight must be a dict or 'balanced', got 'auto'",
        ),
        (dict(class_weight=[1, 2]), TypeError, "class_weight must be a dict"),
        (
            dict(class_weight={0: -1.0}),
            ValueError,
            r"class_weight\[0\] must be a finite non-negative number, got -1.0",
        ),
        (
            dict(initial_epoch=-1),
            ValueError,
            "initial_epoch must be a non-negative integer, got -1",
        ),
        (
            dict(initial_step=1.5),
            ValueError,
            "initial_step must be a non-negative integer, got 1.5",
        ),
        (
            dict(initial_epoch=5, epochs=3),
            ValueError,
            "initial_epoch=5 is past epochs=3",
        ),
        (
            dict(initial_epoch=1, epochs=3, seed=None),
            ValueError,
            "resuming .* needs the seed of the run being continued",
        ),
        (dict(verbose=3), ValueError, "verbose must be 0, 1 or 2, got 3"),
        (
            dict(adversarial="fgsm"),
            TypeError,
            r"adversarial must be gn.attacks.FGSM\(eps=...\) or gn.attacks.PGD"
            r"\(eps=...\), got str .*wrap\(step_fn\) and config\(\)",
        ),
        (
            dict(adversarial=gn.attacks.FGSM),
            TypeError,
            r"adversarial must be gn.attacks.FGSM\(eps=...\) .*got type",
        ),
    ],
)
def test_each_setting_is_checked_when_the_config_is_made(kwargs, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**kwargs)


def test_resuming_without_a_seed_is_fine_when_nothing_is_drawn_from_it():
    config = TrainConfig(initial_epoch=1, epochs=3, seed=None, shuffle=False)
    assert config.resuming and config.seed is None
    assert not TrainConfig().resuming


# -- fit with a config -----------------------------------------------------------------
def test_fit_with_a_config_is_fit_with_its_keywords():
    X, y = small_problem()
    settings = dict(
        optimizer="sgd", epochs=3, batch_size=7, metrics=["accuracy"], seed=4,
        validation_split=0.2, class_weight="balanced", verbose=0,
    )  # fmt: skip
    by_keywords, by_config = small_net(), small_net()
    h1 = by_keywords.fit(X, y, **settings)
    h2 = gn.training.fit(by_config, X, y, config=TrainConfig(**settings))
    np.testing.assert_array_equal(by_keywords.flat_params, by_config.flat_params)
    assert h1.history.keys() == h2.history.keys()
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h1.history[key] == h2.history[key]
    assert h1.params == h2.params
    assert repr(h1.config) == repr(h2.config)  # Loss objects compare by identity


def test_fit_refuses_a_config_and_keywords_together():
    X, y = small_problem()
    with pytest.raises(TypeError, match="not both: got config and epochs, metrics"):
        small_net().fit(
            X, y, config=TrainConfig(verbose=0), epochs=3, metrics=["accuracy"]
        )
    with pytest.raises(TypeError, match="config must be a glassnet.training.TrainConf"):
        small_net().fit(X, y, config={"epochs": 3})


def test_the_data_stay_arguments_of_fit():
    X, y = small_problem()
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    assert fields.isdisjoint({"X", "y", "sample_weight", "validation_data"})
    w = np.linspace(0.5, 2.0, len(y))
    config = TrainConfig(epochs=2, verbose=0, metrics=["accuracy"])
    history = small_net().fit(
        X, y, config=config, sample_weight=w, validation_data=(X[:20], y[:20])
    )
    assert history.params["validation"] and "val_accuracy" in history.history


def test_history_config_is_the_run_with_loss_and_seed_filled_in():
    X, y = small_problem()
    net = small_net()
    history = net.fit(X, y, seed=None, epochs=2, metrics=["f1"], verbose=0)
    assert isinstance(history.config, TrainConfig)
    assert isinstance(history.config.loss, gn.CrossEntropyLoss)  # from the softmax
    assert history.config.seed == history.seed == history.params["seed"]
    assert history.config.metrics == ("f1",) and history.config.epochs == 2
    again = small_net()
    replay = again.fit(X, y, config=history.config)  # the same run once more
    np.testing.assert_array_equal(again.flat_params, net.flat_params)
    assert replay.history["loss"] == history.history["loss"]


# -- nothing left behind on the network -----------------------------------------------
def test_evaluate_and_predict_depend_on_the_weights_alone():
    X, y = small_problem()
    trained = small_net()
    trained.fit(X, y, metrics=["f1", "top2_accuracy"], epochs=3, verbose=0)
    twin = small_net(seed=1)  # never fit: only the weights are copied over
    twin.flat_params[...] = trained.flat_params
    assert not {k for k in vars(trained) if "config" in k}
    assert trained.evaluate(X, y) == twin.evaluate(X, y)
    assert set(trained.evaluate(X, y)) == {"loss", "accuracy"}
    np.testing.assert_array_equal(trained.predict_classes(X), twin.predict_classes(X))
    np.testing.assert_array_equal(trained.predict_proba(X), twin.predict_proba(X))


def test_evaluate_without_loss_or_metrics_reports_the_output_layer():
    X, y = small_problem()
    net = small_net()
    result = net.evaluate(X, y)
    assert result["loss"] == pytest.approx(
        net.loss_value(X, y, loss="cross_entropy"), rel=1e-12
    )
    assert result["accuracy"] == gn.metrics.accuracy(y, net.predict(X))
    # naming the loss or the metrics gives just what is named
    assert set(net.evaluate(X, y, loss="cross_entropy")) == {"loss"}
    assert set(net.evaluate(X, y, metrics=["f1"])) == {"loss", "f1"}
    regression = gn.Sequential(gn.Dense(3, 1), dtype="float64", seed=0)
    target = X[:, 0]
    assert regression.evaluate(X, target) == {
        "loss": pytest.approx(regression.loss_value(X, target, loss="mse"), rel=1e-12)
    }


def test_logit_outputs_are_read_through_the_loss_given():
    X, y = small_problem()
    net = gn.Sequential(gn.Dense(3, 1), dtype="float64", seed=0)  # one logit z
    logits = gn.BinaryCrossEntropyLoss(from_logits=True)
    history = net.fit(X, (y > 0).astype(int), loss=logits, epochs=2, verbose=0)
    z = net.forward(X)[:, 0]
    labels = gn.training.predict_classes(net, X, loss=history.config.loss)
    assert labels.tolist() == (z >= 0).astype(int).tolist()  # threshold z >= 0
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(
        gn.training.predict_proba(net, X, loss=logits),
        np.stack([1 - p, p], axis=1),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="predict_proba needs class scores"):
        net.predict_proba(X)  # without the loss the identity output is regression


# -- adversarial training: what fit uses of it ---------------------------------------
class CountingSteps:
    """Not an attack: the two methods fit calls, wrap(step_fn) and config()."""

    def __init__(self):
        self.steps = 0

    def wrap(self, step_fn):
        def step(net, loss, optimizer, X, Y, sample_weight=None):
            self.steps += 1
            return step_fn(net, loss, optimizer, X, Y, sample_weight)

        return step

    def config(self) -> dict:
        return {"attack": "counting"}


def test_adversarial_takes_any_object_with_wrap_and_config():
    X, y = small_problem()
    counter = CountingSteps()
    net, plain = small_net(), small_net()
    history = net.fit(X, y, epochs=2, batch_size=20, adversarial=counter, verbose=0)
    plain.fit(X, y, epochs=2, batch_size=20, verbose=0)
    assert counter.steps == 6  # 3 batches of 20 in each of 2 epochs
    assert history.params["adversarial"] == {"attack": "counting"}
    np.testing.assert_array_equal(net.flat_params, plain.flat_params)


def test_training_imports_nothing_from_robustness():
    import ast
    from pathlib import Path

    folder = Path(gn.training.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert "robustness" not in (node.module or ""), path.name
