"""The explain HTML page in a real browser: headless Chromium, offline.

Chromium loads the page with every host name resolving to nothing, dumps the DOM after
load, takes a screenshot, and writes a NetLog of every request it made. The test checks
that the math is there as MathML, that the page asked for nothing over the network
(a control page with one remote image shows the check can see such a request), and that
the screenshot is a real, non-blank picture.

Chromium is Debian's ``chromium`` package at /usr/bin/chromium; ``make test`` installs
it when it is missing and the build runs as root (``make browser``). Without it these
tests are skipped, saying so.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium is not installed (/usr/bin/chromium, Debian package "
    "'chromium'); `make browser` installs it when run as root",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no host name resolves
]


def open_in_chromium(page: Path, tmp_path: Path):
    """(DOM after load, screenshot path, URLs the page itself requested)."""
    screenshot = tmp_path / f"{page.stem}.png"
    net_log = tmp_path / f"{page.stem}-netlog.json"
    result = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={tmp_path / ('profile-' + page.stem)}",
            f"--log-net-log={net_log}",
            f"--screenshot={screenshot}",
            "--window-size=1200,2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, screenshot, page_requests(net_log)


def page_requests(net_log: Path) -> list[str]:
    """URLs of the requests the page made. Chromium's own background requests
    (time, updates, accounts) are keyed to no site; a page's requests are keyed to
    the site of the page that made them: file:// here."""
    text = net_log.read_text(encoding="utf-8").rstrip().rstrip(",")
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # a log cut short at exit: close its lists
        log = json.loads(text + "]}")
    kind = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == kind
        and event.get("params", {})
        .get("network_isolation_key", "")
        .startswith("file://")
    ]


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    net, X, y = gn.worked_example.seed003_example()
    page = tmp_path / "explain.html"
    page.write_text(gn.explain(net, X, y, lr=0.1).to_html(), encoding="utf-8")
    return page, tmp_path


def test_the_page_renders_mathml_offline(seed_page):
    page, tmp_path = seed_page
    dom, screenshot, requested = open_in_chromium(page, tmp_path)
    assert requested == []
    assert dom.count("<math") > 40  # every equation, as MathML after load
    assert dom.count("<mfrac>") >= 10 and "<mtable" in dom
    assert "0.938774" in dom and "0.0631807" in dom

    from PIL import Image  # matplotlib's dependency, installed with the dev extra

    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(screenshot) as image:
        assert image.size == (1200, 2000)
        pixels = np.asarray(image.convert("L"), dtype=float)
    ink = pixels < 128  # dark pixels: text, rules, matrix brackets
    assert 0.01 < ink.mean() < 0.5, ink.mean()  # neither blank nor a solid block
    rows_with_ink = np.flatnonzero(ink.any(axis=1))
    assert rows_with_ink.size > 500  # text runs down the page, not one line
    assert len(np.unique(pixels)) > 50  # antialiased text and coloured headings


def test_the_offline_check_does_see_a_remote_request(tmp_path):
    control = tmp_path / "control.html"
    control.write_text(
        '<!DOCTYPE html><p>control</p><img src="http://example.invalid/x.png">',
        encoding="utf-8",
    )
    _, _, requested = open_in_chromium(control, tmp_path)
    assert requested == ["http://example.invalid/x.png"]
