"""The playground's web server: the page, a JSON API and a live stream, on localhost.

Python's standard library alone (``http.server.ThreadingHTTPServer``): one thread a
request, and server-sent events for the live updates, so the playground needs no
dependency beyond glassnet's own.

Routes (every one needs the token, as ``?token=`` or the ``X-Glassnet-Token``
header)::

    GET  /                   the page (index.html)
    GET  /static/NAME        playground.css, playground.js
    GET  /api/state          the session's snapshot (JSON)
    GET  /api/stream         server-sent events: a "state" event after each change
    GET  /api/export/WHAT    a download (Content-Disposition: attachment): "model"
                             (a glassnet model file), "script" (Python that
                             reproduces the run), "trace?split=&index=&format="
                             (a point's trace as json or html)
    POST /api/config         a new configuration (JSON): a new run
    POST /api/control        {"action": "play" | "pause" | "step" | "batch" | "reset"},
                             or {"action": "fast", "on": true | false}
                             ("batch": one batch; the answer's "step" is the step
                             view, ``stepview.step_with_view``)
    POST /api/upload         a CSV file's bytes (?name=&target=&columns=a,b), at most
                             MAX_UPLOAD: parsed in memory, a new run on "Your data"
    POST /api/explain        {"split": "train" | "test", "index": i}: the trace
    POST /api/weight         {"layer": l, "name": "W" | "b", "row": i, "col": j,
                             "value": v}: set W{l}[i, j] or b{l}[i] (from 1)

Security: the token is random (``secrets.token_urlsafe``) and compared in constant
time (403 without it); the Host header must name the bound address or localhost
with the port (no DNS rebinding); an Origin header, when sent, must be this
server's own (no cross-site requests from other pages); request bodies are capped
(413) and validated (400 with a message). Nothing is written to disk: an export
is sent to the browser as an attachment, which saves it where the user chooses.

While playing, a background thread trains one epoch at a time, at most
``rate`` epochs a second, so training never outruns what the page can draw. With
"fast" on, it trains epoch after epoch without that pause, and each stream sends
at most MAX_STATES_PER_SECOND states, the latest each time (the states between are
skipped, so drawing costs the training nothing).

Examples
--------
>>> server = PlaygroundServer(port=0)
>>> server.url.startswith("http://127.0.0.1:") and "token=" in server.url
True
>>> server.close()
"""

from __future__ import annotations

import functools
import hmac
import json
import math
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from ..errors import GlassnetError
from . import export
from .datasets2d import parse_user_csv
from .session import Config, Session
from .stepview import step_with_view

#: The largest request body accepted, in bytes.
MAX_BODY = 64 * 1024
#: The most states a second a stream sends while "fast" is on.
MAX_STATES_PER_SECOND = 24.0
#: The largest CSV upload accepted, in bytes (the playground takes 5000 rows).
MAX_UPLOAD = 2 * 1024 * 1024
#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE = 10.0
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
}


class RequestError(GlassnetError):
    """A request refused with an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PlaygroundServer:
    """The server and its session; ``start()`` serves in a thread, ``close()`` stops.

    Parameters
    ----------
    host : str, the address to bind (127.0.0.1 unless the user chose otherwise)
    port : int, 0 for any free port
    config : Config, optional, the first run's settings
    user_data : datasets2d.UserData, optional, the user's own table (dataset "user")
    rate : float, the most epochs a second trained while playing
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        config: Config | None = None,
        rate: float = 24.0,
        user_data=None,
    ):
        self.session = Session(config, user_data)
        self.token = secrets.token_urlsafe(24)
        self.rate = rate
        self.closing = threading.Event()
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.allowed_hosts = {
            f"{name}:{self.port}" for name in (host, "127.0.0.1", "localhost", "[::1]")
        }
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{shown}:{self.port}/?token={self.token}"

    def start(self) -> PlaygroundServer:
        """Serve and train in background threads; returns at once."""
        serve = functools.partial(self.httpd.serve_forever, poll_interval=0.1)
        for target in (serve, self._play_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (training in a background thread)."""
        thread = threading.Thread(target=self._play_loop, daemon=True)
        thread.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.closing.set()

    def close(self) -> None:
        self.closing.set()
        with self.session.lock:
            self.session.changed.notify_all()
        if self._threads:
            self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _play_loop(self) -> None:
        """While playing, one epoch, then a pause so that at most ``rate`` a second."""
        session = self.session
        period = 1.0 / self.rate
        next_at = 0.0  # when the next epoch is due: a schedule, so pauses never drift
        while not self.closing.is_set():
            with session.lock:
                while not session.playing and not self.closing.is_set():
                    session.changed.wait(timeout=0.5)
                if self.closing.is_set():
                    return
                # after a pause (or a slow epoch) start afresh, never bank lost time
                next_at = max(next_at, time.monotonic() - period)
                session.epoch()
                fast = session.fast
            if fast:  # a moment for requests and streams to take the lock
                time.sleep(0.0005)
            else:
                next_at += period
                time.sleep(max(0.0, next_at - time.monotonic()))

    # -- requests -----------------------------------------------------------------
    def check(self, handler: BaseHTTPRequestHandler, query: dict) -> None:
        """Refuse (403) a request without the token, or from a foreign Host/Origin."""
        host = handler.headers.get("Host", "")
        if host not in self.allowed_hosts:
            raise RequestError(
                HTTPStatus.FORBIDDEN,
                f"Host {host!r} is not this server's address ({self.host}:{self.port})",
            )
        origin = handler.headers.get("Origin")
        if origin is not None and origin not in {
            f"http://{h}" for h in self.allowed_hosts
        }:
            raise RequestError(
                HTTPStatus.FORBIDDEN, f"requests from origin {origin!r} are refused"
            )
        given = handler.headers.get("X-Glassnet-Token") or query.get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise RequestError(
                HTTPStatus.FORBIDDEN,
                "missing or wrong token: open the address the playground printed",
            )

    def export(self, what: str, query: dict) -> tuple[str, bytes]:
        """A download: "model", "script" or "trace" (?split=&index=&format=)."""
        session = self.session
        if what == "model":
            return export.model_file(session)
        if what == "script":
            return export.script_file(session)
        if what == "trace":
            split = query.get("split", ["train"])[0]
            index = query.get("index", [""])[0]
            if not index.isdigit():
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"index must be a point's number (0, 1, ...), got {index!r}",
                )
            kind = query.get("format", ["html"])[0]
            return export.trace_file(session, split, int(index), kind)
        raise RequestError(
            HTTPStatus.NOT_FOUND,
            f"no such export: {what!r}; expected model, script or trace",
        )

    def upload(self, data: bytes, query: dict) -> dict:
        """A CSV file from the page (?name=&target=&columns=a,b): parsed in memory
        with the same checks as ``--data``, never written; a new run on it."""
        name = query.get("name", ["upload.csv"])[0]
        target = query.get("target", [""])[0]
        if not target:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "name the target column (?target=COLUMN)"
            )
        columns = query.get("columns", [""])[0]
        columns = [c.strip() for c in columns.split(",")] if columns else None
        user = parse_user_csv(data, name, target, columns)
        self.session.use_data(user)
        return {"ok": True, "rows": len(user.points), "columns": user.columns,
                "task": user.task}  # fmt: skip

    def post(self, path: str, body) -> dict:
        session = self.session
        if path == "/api/config":
            config = Config.from_dict(body, session.user_task)
            session.reset(config)
            return {"ok": True}
        if path == "/api/control":
            action = body.get("action") if isinstance(body, dict) else None
            with session.lock:
                if action == "play":
                    if session.diverged:
                        raise RequestError(HTTPStatus.CONFLICT, session.diverged)
                    session.playing = True
                    session._touch()
                elif action == "pause":
                    session.playing = False
                    session._touch()
                elif action == "step":
                    session.playing = False
                    session.epoch()
                    session._touch()
                elif action == "batch":
                    session.playing = False
                    view = step_with_view(session)
                    return {"ok": True, "diverged": session.diverged, "step": view}
                elif action == "reset":
                    session.reset()
                elif action == "fast":
                    on = body.get("on")
                    if not isinstance(on, bool):
                        raise RequestError(
                            HTTPStatus.BAD_REQUEST,
                            f'"fast" needs "on": true or false, got {on!r}',
                        )
                    session.fast = on
                    session._touch()
                else:
                    raise RequestError(
                        HTTPStatus.BAD_REQUEST,
                        "action must be one of play, pause, step, batch, reset, "
                        f"fast; got {action!r}",
                    )
            return {"ok": True, "diverged": session.diverged}
        if path == "/api/weight":
            if not isinstance(body, dict) or set(body) - set(_WEIGHT_FIELDS):
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"expected a JSON object with {list(_WEIGHT_FIELDS)}, got {body!r}",
                )
            old = session.set_weight(*(body.get(key) for key in _WEIGHT_FIELDS))
            return {"ok": True, "old": old}
        if path == "/api/explain":
            if not isinstance(body, dict):
                raise RequestError(
                    HTTPStatus.BAD_REQUEST, 'expected {"split": ..., "index": ...}'
                )
            trace = session.explain_point(body.get("split", "train"), body.get("index"))
            last = len(session.net.layers)
            return {
                "html": trace.to_html(full_page=True),
                "loss": trace.loss_value,
                "loss_after": trace.optimizer["losses"][-1],
                "output": float(trace[f"{last}.a"].ravel()[0]),
                "x": trace["x"].ravel().tolist(),
            }
        raise RequestError(HTTPStatus.NOT_FOUND, f"no such route: POST {path}")


def _handler_for(server: PlaygroundServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "glassnet-playground"

        def log_message(self, format, *args):  # quiet: the terminal shows the URL
            pass

        def do_GET(self):
            self._handle(self._get)

        def do_POST(self):
            self._handle(self._post)

        def _handle(self, route):
            parts = urlsplit(self.path)
            try:
                query = parse_qs(parts.query)
                server.check(self, query)
                route(parts.path, query)
            except RequestError as error:
                self._send_json({"error": str(error)}, error.status)
            except (GlassnetError, ValueError) as error:
                self._send_json({"error": str(error)}, HTTPStatus.BAD_REQUEST)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _get(self, path, query):
            if path in ("/", "/index.html"):
                page = _static("index.html").replace("{{TOKEN}}", server.token)
                self._send(page.encode(), STATIC["index.html"])
            elif path.startswith("/static/") and path[8:] in STATIC:
                self._send(_static(path[8:]).encode(), STATIC[path[8:]])
            elif path == "/api/state":
                self._send_json(server.session.snapshot())
            elif path == "/api/stream":
                self._stream()
            elif path.startswith("/api/export/"):
                name, data = server.export(path[12:], query)
                self._send(data, _download_type(name), attachment=name)
            else:
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such route: GET {path}")

        def _post(self, path, query):
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise RequestError(
                    HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length header"
                )
            cap = MAX_UPLOAD if path == "/api/upload" else MAX_BODY
            if int(length) > cap:
                self.close_connection = True  # the body is left unread
                raise RequestError(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the request body is {int(length)} bytes; at most {cap}",
                )
            raw = self.rfile.read(int(length))
            if path == "/api/upload":  # a CSV file's bytes, parsed in memory
                self._send_json(server.upload(raw, query))
                return
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"the request body is not valid JSON: {error}",
                ) from None
            self._send_json(server.post(path, body))

        def _stream(self):
            """Server-sent events: the snapshot after each change, until the client
            goes away or the server closes."""
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.close_connection = True
            session, seen = server.session, -1
            last_sent = time.monotonic()
            while not server.closing.is_set():
                with session.lock:
                    if session.version == seen:
                        session.changed.wait(timeout=0.5)
                    changed = session.version != seen
                    if changed:
                        seen = session.version
                        data = _dumps(session.snapshot())
                if changed:
                    sent_at = time.monotonic()
                    self.wfile.write(f"event: state\ndata: {data}\n\n".encode())
                    self.wfile.flush()
                    if session.fast:  # the states trained meanwhile are skipped
                        pause = 1.0 / MAX_STATES_PER_SECOND
                        time.sleep(max(0.0, pause - (time.monotonic() - sent_at)))
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent > KEEPALIVE:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    last_sent = time.monotonic()

        def _send_json(self, payload, status=HTTPStatus.OK):
            self._send(
                _dumps(payload).encode(), "application/json; charset=utf-8", status
            )

        def _send(
            self, body: bytes, content_type: str, status=HTTPStatus.OK, attachment=None
        ):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if attachment:  # the browser saves it where the user chooses
                self.send_header(
                    "Content-Disposition", f'attachment; filename="{attachment}"'
                )
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", _CSP)
            self.end_headers()
            self.wfile.write(body)

    return Handler


#: POST /api/weight's fields: W{layer}[row, col] or b{layer}[row], from 1.
_WEIGHT_FIELDS = ("layer", "name", "row", "col", "value")

#: The page loads nothing from elsewhere; the trace is shown in a sandboxed frame.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-src 'self' data: blob:; connect-src 'self'"
)


def _download_type(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1]
    return {
        "json": "application/json; charset=utf-8",
        "html": "text/html; charset=utf-8",
        "py": "text/x-python; charset=utf-8",
    }.get(suffix, "application/octet-stream")


def _dumps(payload) -> str:
    """JSON that browsers parse: NaN and infinities (a diverging run) become null."""
    return json.dumps(_finite(payload), allow_nan=False)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text("utf-8")
