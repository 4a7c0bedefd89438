"""The playground's web server, in-process: its security checks, its JSON API, its
live stream, and that no request can bring it down."""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from glassnet.playground import Config, PlaygroundServer
from glassnet.playground.server import MAX_BODY, MAX_UPLOAD


@pytest.fixture
def server():
    config = Config(dataset="xor", n_samples=60, hidden=[3], lr=0.03)
    server = PlaygroundServer(port=0, config=config).start()
    yield server
    server.close()


def request(server, method, path, body=None, headers=None, token=True):
    """(status, parsed JSON or text) of one request; the token as a query string."""
    if token:
        path += ("&" if "?" in path else "?") + f"token={server.token}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    sent = {"Content-Type": "application/json"} if body is not None else {}
    sent.update(headers or {})
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read().decode()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(data) if "json" in kind else data
    finally:
        connection.close()


def test_the_page_and_its_files_are_served_with_the_token(server):
    status, page = request(server, "GET", "/")
    assert status == 200
    assert f"token={server.token}" in page and "{{TOKEN}}" not in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    for name in ("playground.js", "playground.css"):
        status, text = request(server, "GET", f"/static/{name}")
        assert status == 200 and len(text) > 500
        assert "https://" not in text


@pytest.mark.parametrize("path", ["/", "/static/playground.js", "/api/state"])
def test_a_request_without_the_token_is_refused(server, path):
    status, body = request(server, "GET", path, token=False)
    assert status == 403 and "token" in body["error"]
    status, body = request(server, "GET", path + "?token=wrong" + server.token[5:])
    assert status == 403


def test_a_post_without_the_token_changes_nothing(server):
    status, _ = request(server, "POST", "/api/control", {"action": "step"}, token=False)
    assert status == 403
    assert server.session.epochs_done == 0


def test_the_token_may_come_as_a_header(server):
    status, body = request(
        server,
        "GET",
        "/api/state",
        headers={"X-Glassnet-Token": server.token},
        token=False,
    )
    assert status == 200 and body["epoch"] == 0


def test_a_foreign_origin_is_refused(server):
    evil = {"Origin": "http://evil.example"}
    status, body = request(server, "POST", "/api/control", {"action": "step"}, evil)
    assert status == 403 and "evil.example" in body["error"]
    assert server.session.epochs_done == 0
    own = {"Origin": f"http://127.0.0.1:{server.port}"}
    status, _ = request(server, "POST", "/api/control", {"action": "step"}, own)
    assert status == 200 and server.session.epochs_done == 1


def test_a_foreign_host_header_is_refused(server):
    # DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1
    status, body = request(
        server, "GET", "/api/state", headers={"Host": f"evil.example:{server.port}"}
    )
    assert status == 403 and "Host" in body["error"]
    status, _ = request(
        server, "GET", "/api/state", headers={"Host": f"localhost:{server.port}"}
    )
    assert status == 200


def test_malformed_json_is_a_400_with_a_message(server):
    status, body = request(server, "POST", "/api/config", "{not json")
    assert status == 400 and "not valid JSON" in body["error"]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"hidden": [0]}, "width of hidden layer 1"),
        ({"hidden": [10**6]}, "width of hidden layer 1"),
        ({"lr": -1}, "lr"),
        ({"lr": math.nan}, "lr"),
        ({"lr": "fast"}, "lr"),
        ({"hidden": [2] * 7, "activations": ["tanh"] * 7}, "0 to 6"),
        ({"activations": ["softmax"]}, "activation of hidden layer 1"),
        ({"dataset": "mnist"}, "dataset"),
        ({"features": ["x3"]}, "feature"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"colour": "red"}, "unknown setting"),
    ],
)
def test_a_bad_configuration_is_a_400_naming_the_setting(server, change, words):
    config = {**server.session.config.to_dict(), **change}
    status, body = request(server, "POST", "/api/config", json.dumps(config))
    assert status == 400 and words in body["error"]
    assert server.session.config.hidden == [3]  # the run is left as it was


def test_a_bad_control_or_point_is_a_400(server):
    status, body = request(server, "POST", "/api/control", {"action": "fly"})
    assert status == 400 and "action" in body["error"]
    status, body = request(server, "POST", "/api/explain", {"index": 10**9})
    assert status == 400 and "index" in body["error"]
    status, body = request(server, "POST", "/api/explain", [1, 2])
    assert status == 400


def test_an_oversized_body_is_a_413(server):
    status, body = request(server, "POST", "/api/config", "x" * (MAX_BODY + 1))
    assert status == 413 and str(MAX_BODY) in body["error"]
    assert request(server, "GET", "/api/state")[0] == 200


def test_an_unknown_route_is_a_404(server):
    assert request(server, "GET", "/api/secrets")[0] == 404
    assert request(server, "GET", "/static/../server.py")[0] == 404


def test_a_new_configuration_starts_a_new_run(server):
    config = {**server.session.config.to_dict(), "hidden": [5, 2]}
    config["activations"] = ["relu", "tanh"]
    assert request(server, "POST", "/api/config", config)[0] == 200
    status, state = request(server, "GET", "/api/state")
    assert status == 200 and state["config"]["hidden"] == [5, 2]
    assert [len(w["W"]) for w in state["weights"]] == [5, 2, 1]
    assert len(state["output"]) == state["resolution"] ** 2


def test_concurrent_requests_all_answer_and_agree(server):
    def work(i):
        if i % 3 == 0:
            return request(server, "POST", "/api/control", {"action": "step"})
        if i % 3 == 1:
            return request(
                server, "POST", "/api/explain", {"split": "train", "index": i}
            )
        return request(server, "GET", "/api/state")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(24)))
    assert [status for status, _ in results] == [200] * 24
    assert server.session.epochs_done == 8  # each step request trained one epoch
    assert all(math.isfinite(body["loss"]) for _, body in results[1::3])


def _read_event(stream) -> dict:
    """The data of the next "state" event on a raw socket file."""
    event = None
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            return json.loads(line[6:])
    raise AssertionError("the stream ended without a state event")


def test_the_stream_sends_the_state_after_each_change(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /api/stream?token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
        )
        stream = sock.makefile("rb")
        assert b"200" in stream.readline()
        assert _read_event(stream)["epoch"] == 0
        request(server, "POST", "/api/control", {"action": "step"})
        assert _read_event(stream)["epoch"] == 1


def test_a_client_leaving_mid_stream_does_not_hurt_the_server(server):
    errors = []
    threading.excepthook, old_hook = (
        (lambda args: errors.append(args)),
        (threading.excepthook),
    )
    try:
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(
                f"GET /api/stream?token={server.token} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
            )
            sock.recv(100)  # the stream has started
            sock.close()  # and the client is gone
        for _ in range(5):  # each change is written to the closed streams
            assert request(server, "POST", "/api/control", {"action": "step"})[0] == 200
        status, state = request(server, "GET", "/api/state")
        assert status == 200 and state["epoch"] == 5
    finally:
        threading.excepthook = old_hook
    assert errors == []


def test_play_trains_in_the_background_until_pause(server):
    assert request(server, "POST", "/api/control", {"action": "play"})[0] == 200
    session = server.session
    with session.lock:  # waits for changes, not for a time
        while session.epochs_done < 3:
            session.changed.wait(timeout=5)
    assert request(server, "POST", "/api/control", {"action": "pause"})[0] == 200
    with session.lock:
        assert not session.playing
        epochs = session.epochs_done
    assert request(server, "GET", "/api/state")[1]["epoch"] == epochs


def test_fast_trains_more_epochs_than_the_stream_sends_states(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /api/stream?token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
        )
        stream = sock.makefile("rb")
        assert b"200" in stream.readline()
        assert _read_event(stream)["fast"] is False
        answer = request(server, "POST", "/api/control", {"action": "fast", "on": True})
        assert answer == (200, {"ok": True, "diverged": None})
        assert _read_event(stream)["fast"] is True
        request(server, "POST", "/api/control", {"action": "play"})
        epochs = [_read_event(stream)["epoch"] for _ in range(8)]
        request(server, "POST", "/api/control", {"action": "pause"})
    # 8 states were sent while the epoch count went up by more than 8: the states
    # between were trained and skipped
    assert epochs == sorted(epochs) and epochs[-1] - epochs[0] > len(epochs)
    status, state = request(server, "GET", "/api/state")
    assert status == 200 and state["fast"] is True and not state["playing"]


@pytest.mark.parametrize("on", [None, "yes", 1])
def test_fast_needs_true_or_false(server, on):
    body = {"action": "fast"} if on is None else {"action": "fast", "on": on}
    status, answer = request(server, "POST", "/api/control", body)
    assert status == 400 and "true or false" in answer["error"]
    assert server.session.fast is False


def test_a_diverged_run_says_why_and_refuses_to_play(server):
    config = Config(
        dataset="plane", n_samples=60, hidden=[4], activations=["identity"], lr=1e6
    ).to_dict()
    assert request(server, "POST", "/api/config", config)[0] == 200
    for _ in range(5):
        status, body = request(server, "POST", "/api/control", {"action": "step"})
        if body["diverged"]:
            break
    assert "diverged" in body["diverged"] and "learning rate" in body["diverged"]
    status, state = request(server, "GET", "/api/state")  # valid JSON, no NaN
    assert status == 200 and state["diverged"] == body["diverged"]
    status, refused = request(server, "POST", "/api/control", {"action": "play"})
    assert status == 409 and "diverged" in refused["error"]


def test_one_batch_answers_with_the_step_view(server):
    session = server.session
    before = session.net.flat_params.copy()
    status, body = request(server, "POST", "/api/control", {"action": "batch"})
    assert status == 200 and session.steps_done == 1
    view = body["step"]
    assert view["batch_size"] == session.config.batch_size
    delta = [np.ravel(t["delta"]) for t in view["updates"]]
    np.testing.assert_allclose(
        np.concatenate(delta), session.net.flat_params - before, rtol=0, atol=0
    )
    assert view["before"]["train_loss"] != view["after"]["train_loss"]


def test_a_weight_edit_changes_the_state_the_page_gets(server):
    body = {"layer": 1, "name": "W", "row": 2, "col": 1, "value": -0.75}
    status, answer = request(server, "POST", "/api/weight", body)
    assert status == 200 and answer["old"] != -0.75
    status, state = request(server, "GET", "/api/state")
    assert state["weights"][0]["W"][1][0] == -0.75
    expected = server.session.net.predict(server.session.F_train[:1])[0, 0]
    status, shown = request(server, "POST", "/api/explain", {"index": 0})
    assert shown["output"] == expected
    for bad, words in [
        ({**body, "value": "NaN"}, "finite"),
        ({**body, "layer": 9}, "layer"),
        ({**body, "extra": 1}, "expected a JSON object"),
        ([1, 2], "expected a JSON object"),
    ]:
        status, refused = request(server, "POST", "/api/weight", bad)
        assert status == 400 and words in refused["error"]
    assert server.session.net.layers[0].W[1, 0] == -0.75


def _upload(server, data: bytes, query: str):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST", f"/api/upload?token={server.token}&{query}", body=data,
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_an_uploaded_csv_is_a_new_run_on_it(server):
    rows = ["a,b,c,label"] + [
        f"{i},{(i * 7) % 11},{i % 3},{'yes' if i % 4 < 2 else 'no'}" for i in range(40)
    ]
    status, body = _upload(
        server, "\n".join(rows).encode(), "name=mine.csv&target=label&columns=b,a"
    )
    assert status == 200 and body == {
        "ok": True,
        "rows": 40,
        "columns": ["b", "a"],
        "task": "classification",
    }
    session = server.session
    assert session.config.dataset == "user" and session.user_data.name == "mine.csv"
    b = np.array([(i * 7) % 11 for i in range(40)], dtype=float)
    expected = (2 * (b - b.min()) / (b.max() - b.min()) - 1) * 5  # onto [-5, 5]
    np.testing.assert_allclose(session.user_data.points[:, 0], expected)
    labels = np.array([i % 4 < 2 for i in range(40)]).astype(int)  # "no" < "yes"
    np.testing.assert_array_equal(session.user_data.targets, labels)
    status, state = request(server, "GET", "/api/state")
    assert state["user_data"]["columns"] == ["b", "a"]
    assert len(state["train"]) + len(state["test"]) == 40


@pytest.mark.parametrize(
    "data, query, status, words",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "target=label", 400, "not a CSV"),
        (b"a,b,label\n1,2,x\n", "target=y", 400, "no target column"),
        (b"a,b,label\n1,2,x\n3,4,y\n", "", 400, "target column"),
        (b"", "target=label", 400, "empty"),
    ],
)
def test_a_bad_upload_says_why_and_keeps_the_run(server, data, query, status, words):
    config = server.session.config.to_dict()
    got, body = _upload(server, data, query)
    assert got == status and words in body["error"]
    assert server.session.config.to_dict() == config
    assert request(server, "GET", "/api/state")[0] == 200


def test_an_oversized_upload_is_a_413_before_its_body_is_read(server):
    """The size is judged from Content-Length: the server answers at once, without
    reading (or keeping) a byte of the body."""
    config = server.session.config.to_dict()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /api/upload?token={server.token}&target=label HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {MAX_UPLOAD + 1}\r\n\r\n".encode()
            + b"a,b,label\n1,2,3\n"
        )
        response = sock.makefile("rb").read().decode()
    assert response.startswith("HTTP/1.1 413") and f"at most {MAX_UPLOAD}" in response
    assert server.session.config.to_dict() == config
    assert request(server, "GET", "/api/state")[0] == 200
