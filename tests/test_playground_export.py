"""The playground's exports: the model file loads back and predicts as the session,
the trace is explain's, and the script reproduces the run bitwise in a subprocess."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet.errors import InputError
from glassnet.playground import Config, PlaygroundServer, Session
from glassnet.playground.datasets2d import UserData
from glassnet.playground.export import model_file, script_file, trace_file


def _download(server, path, token=True):
    """(status, headers, body bytes) of a GET."""
    if token:
        path += ("&" if "?" in path else "?") + f"token={server.token}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def server():
    config = Config(dataset="moons", n_samples=80, hidden=[4, 3], optimizer="adam")
    server = PlaygroundServer(port=0, config=config).start()
    server.session.epoch()
    yield server
    server.close()


def test_the_model_download_loads_back_and_predicts_as_the_session(server, tmp_path):
    status, headers, data = _download(server, "/api/export/model")
    assert status == 200
    assert (
        headers["Content-Disposition"] == 'attachment; filename="playground-moons.gnn"'
    )
    path = tmp_path / "model.gnn"
    path.write_bytes(data)
    net = gn.load(path)
    session = server.session
    np.testing.assert_array_equal(
        net.predict(session.F_test), session.net.predict(session.F_test)
    )
    np.testing.assert_array_equal(net.flat_params, session.net.flat_params)


def test_the_trace_downloads_are_explains_of_the_point(server):
    session = server.session
    status, headers, data = _download(
        server, "/api/export/trace?split=test&index=3&format=json"
    )
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    shown = json.loads(data)
    expected = json.loads(session.explain_point("test", 3).to_json())
    assert shown == expected
    status, headers, data = _download(
        server, "/api/export/trace?split=train&index=0&format=html"
    )
    assert status == 200 and b"<math" in data
    assert headers["Content-Disposition"].endswith('"playground-trace-train-0.html"')


@pytest.mark.parametrize(
    "path, words",
    [
        ("/api/export/trace?split=train&index=x", "index"),
        ("/api/export/trace?split=train&index=100000", "index"),
        ("/api/export/trace?split=train&index=0&format=pdf", "format"),
        ("/api/export/weights", "no such export"),
    ],
)
def test_a_bad_export_request_says_what_was_wrong(server, path, words):
    status, _, data = _download(server, path)
    assert status in (400, 404)
    assert words in json.loads(data)["error"]


def test_an_export_needs_the_token(server):
    status, headers, _ = _download(server, "/api/export/model", token=False)
    assert status == 403 and "Content-Disposition" not in headers


@pytest.mark.parametrize(
    "changes",
    [
        {"optimizer": "adam", "activations": ["relu", "tanh"]},
        {
            "optimizer": "rmsprop",
            "regularization": "l2",
            "reg_rate": 0.01,
            "features": ["x1", "x2", "x1x2", "sin(x1)"],
        },
        {"optimizer": "momentum", "dataset": "plane", "loss": "mse", "noise": 0.3},
        {"optimizer": "adam", "regularization": "l1", "reg_rate": 0.003},
    ],
)
def test_the_script_reproduces_the_run_bitwise(tmp_path, changes):
    config = Config(
        dataset="spiral", n_samples=90, hidden=[5, 3], lr=0.02, batch_size=7, seed=4
    )
    for key, value in changes.items():
        setattr(config, key, value)
    session = Session(config)
    for _ in range(3):
        session.epoch()
    expected = session.net.flat_params.copy()
    session.step()  # a part of the next epoch: not in the script, which says so
    name, text = script_file(session)
    assert name.endswith(".py") and b"not repeated" in text
    script = tmp_path / name
    weights = tmp_path / "weights.npy"
    script.write_text(text.decode() + f"\nnp.save({str(weights)!r}, net.flat_params)\n")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "W1 =" in run.stdout
    np.testing.assert_array_equal(np.load(weights), expected)


def test_the_script_of_a_fresh_run_trains_nothing_and_runs(tmp_path):
    session = Session(Config(dataset="xor", hidden=[2]))
    _, text = script_file(session)
    script = tmp_path / "fresh.py"
    weights = tmp_path / "weights.npy"
    script.write_text(text.decode() + f"\nnp.save({str(weights)!r}, net.flat_params)\n")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    np.testing.assert_array_equal(np.load(weights), session.net.flat_params)


def test_exports_refuse_what_they_cannot_make():
    rng = np.random.default_rng(0)
    points = rng.uniform(-5, 5, (40, 2))
    user = UserData(
        "mine.csv", ["a", "b"], points, (points[:, 0] > 0) * 1, "classification"
    )
    session = Session(Config(dataset="user"), user)
    with pytest.raises(InputError, match="built-in data sets"):
        script_file(session)
    name, data = model_file(session)  # the model is fine
    assert gn.io.from_bytes(data).layers[-1].W.shape == (1, 2)
    with pytest.raises(InputError, match="'json' or 'html'"):
        trace_file(session, "train", 0, "txt")
