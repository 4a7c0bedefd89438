"""Quickstart: train and evaluate a digits classifier, then save, resume and inspect.

python examples/quickstart.py          (needs scikit-learn for the digits data)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import glassnet as gn


def main() -> None:
    # -- the ten lines of the README ----------------------------------------------------
    X, y = gn.datasets.load_digits()  # 1797 8x8 images, labels 0..9
    X_train, X_test, y_train, y_test = gn.datasets.train_test_split(
        X / 16.0, y, test_size=0.25, stratify=True, seed=0
    )
    net = gn.Sequential(
        gn.Dense(64, 256, "relu"), gn.Dropout(0.2), gn.Dense(256, 10, "softmax"), seed=0
    )
    history = net.fit(
        X_train, y_train, optimizer=gn.AdamW(lr=2e-3), epochs=40, batch_size=32,
        metrics=["accuracy"], validation_split=0.1,
        early_stopping=gn.EarlyStopping(patience=5),
    )  # fmt: skip
    print(net.evaluate(X_test, y_test))  # {'loss': ..., 'accuracy': ...}

    # -- what else is there ---------------------------------------------------------------
    predicted = net.predict_classes(X_test)
    print(gn.metrics.confusion_matrix(y_test, predicted))
    print("macro F1:", round(gn.metrics.f1(y_test, predicted), 4))
    best = history.history["val_loss"].index(min(history.history["val_loss"]))
    print(f"best epoch {best + 1} of {len(history.epoch)} (its weights were restored)")

    with tempfile.TemporaryDirectory() as folder:
        # A checkpoint every 5 epochs holds the weights, the optimizer's moments, the
        # generator state and the position: resuming gives the same weights as never
        # having stopped.
        net = gn.Sequential(
            gn.Dense(64, 64, "relu"), gn.Dense(64, 10, "softmax"), seed=1
        )
        opt = gn.Adam(lr=1e-3)
        checkpoints = gn.ModelCheckpoint(Path(folder), every_n_epochs=5)
        first = net.fit(
            X_train, y_train, optimizer=opt, epochs=10, callbacks=[checkpoints],
            verbose=0,
        )  # fmt: skip
        ckpt = gn.load_checkpoint(checkpoints.saved[-1])
        ckpt.net.fit(
            X_train, y_train, optimizer=ckpt.optimizer, epochs=20,
            initial_epoch=ckpt.epoch, initial_step=ckpt.step, seed=first.seed, verbose=0,
        )  # fmt: skip
        result = ckpt.net.evaluate(X_test, y_test, metrics=["accuracy"])
        print("resumed test accuracy:", round(result["accuracy"], 4))
        first.to_json(Path(folder) / "history.json")  # plain lists: easy to plot


if __name__ == "__main__":
    main()
