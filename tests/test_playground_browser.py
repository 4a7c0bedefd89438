"""The playground page in a real browser: Selenium driving headless Chromium.

The page is loaded from the in-process server; the test changes the data set, the
layers, an activation and the optimizer, presses step, clicks a data point, and
checks that the loss the page shows for it is ``gn.explain``'s on the server's
network, and that the page asked nothing of any other address.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser`` installs them
when run as root) and the ``selenium`` package (the dev extra); Selenium is given
/usr/bin/chromedriver (without it Selenium tries to download a driver). Without
them the test is skipped, saying which is missing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.playground import Config, PlaygroundServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (the dev extra has it)"
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="headless Chromium and chromedriver are not installed (Debian packages "
    "'chromium' and 'chromium-driver'); `make browser` installs them when run as root",
)


@pytest.fixture
def page(tmp_path):
    from selenium.webdriver.chrome.service import Service

    server = PlaygroundServer(
        port=0, config=Config(dataset="circle", n_samples=200, hidden=[3])
    ).start()
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--window-size=1600,1000"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option(  # exports land in the test's own directory
        "prefs", {"download.default_directory": str(tmp_path / "downloads")}
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        driver.get(server.url)
        yield driver, server
    finally:
        driver.quit()
        server.close()


def _wait(driver, condition, message):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30, poll_frequency=0.05).until(
        lambda _: condition(), message=message
    )


def test_a_clicked_points_loss_on_the_page_is_explains(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: find("columns").text, "the page never drew the network")

    Select(find("dataset")).select_by_value("xor")
    _wait(driver, lambda: session.config.dataset == "xor", "dataset not sent")
    find("add-layer").click()
    _wait(driver, lambda: session.config.hidden == [3, 4], "layer not added")
    _wait(
        driver,
        lambda: len(driver.find_elements(By.CSS_SELECTOR, "#columns select")) == 2,
        "the page did not redraw the new layer",
    )
    Select(driver.find_elements(By.CSS_SELECTOR, "#columns select")[0]).select_by_value(
        "relu"
    )
    _wait(driver, lambda: session.config.activations[0] == "relu", "activation")
    Select(find("optimizer")).select_by_value("adam")
    _wait(driver, lambda: session.config.optimizer == "adam", "optimizer not sent")
    _wait(driver, lambda: find("optimizer").get_attribute("value") == "adam", "redraw")

    find("step").click()
    _wait(driver, lambda: find("epoch").text == "1", "step did not train an epoch")
    assert session.epochs_done == 1

    # click the pixel of training point 0
    x1, x2 = session.data.X_train[0]
    heatmap = find("heatmap")
    size = heatmap.size["width"]
    px = (x1 + 6) / 12 * size - size / 2
    py = (6 - x2) / 12 * size - size / 2
    ActionChains(driver).move_to_element_with_offset(heatmap, px, py).click().perform()
    _wait(driver, lambda: find("point-loss").text, "no math shown for the click")

    index = int(re.search(r"train #(\d+)", find("point-x").text).group(1))
    features = session.F_train[index]
    expected = gn.explain(
        session.net, features, session.data.y_train[index],
        loss="binary_crossentropy", optimizer=copy.deepcopy(session.optimizer), steps=1,
    )  # fmt: skip
    shown = float(find("point-loss").get_attribute("data-value"))
    assert shown == expected.loss_value
    assert float(find("point-loss").text) == pytest.approx(shown, rel=1e-5)
    after = float(find("point-loss-after").text)
    assert after == pytest.approx(expected.optimizer["losses"][1], rel=1e-5)
    srcdoc = find("trace").get_attribute("srcdoc")
    assert "<math" in srcdoc and "Adam" in srcdoc

    # the gradient view: links drawn by dL/dW of the whole training set
    find("gradient-view").click()
    first = driver.find_element(By.CSS_SELECTOR, "#links path title")
    _wait(driver, lambda: first.get_attribute("textContent").startswith("∂L/∂W1"), "")
    title = driver.find_element(By.CSS_SELECTOR, "#links path title")
    value = float(title.get_attribute("textContent").split("=")[1])
    assert value == pytest.approx(session.gradients()[0]["W"][0][0], rel=1e-5)

    # offline: every resource the page loaded came from this server
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    origin = f"http://127.0.0.1:{server.port}/"
    assert urls and all(url.startswith(origin) for url in urls)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_the_settings_live_in_the_address(page):
    import json
    import urllib.parse

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver, server = page
    session = server.session
    shared = {**session.config.to_dict(), "dataset": "moons", "hidden": [2]}
    shared["activations"] = ["relu"]
    driver.get("about:blank")  # a fresh load, as from a shared link
    driver.get(server.url + "#" + urllib.parse.quote(json.dumps(shared)))
    _wait(
        driver,
        lambda: session.config.dataset == "moons" and session.config.hidden == [2],
        "the settings in the address were not applied",
    )
    assert session.config.activations == ["relu"]
    pasted = {**shared, "dataset": "gaussians"}  # settings pasted into the address
    driver.execute_script(
        "location.hash = arguments[0]", urllib.parse.quote(json.dumps(pasted))
    )
    _wait(driver, lambda: session.config.dataset == "gaussians", "hash not applied")
    Select(driver.find_element(By.ID, "dataset")).select_by_value("spiral")
    _wait(driver, lambda: session.config.dataset == "spiral", "dataset not sent")

    def address_settings():
        fragment = urllib.parse.urlsplit(driver.current_url).fragment
        return json.loads(urllib.parse.unquote(fragment)) if fragment else {}

    _wait(driver, lambda: address_settings().get("dataset") == "spiral", "no update")
    assert address_settings() == session.config.to_dict()


def _shown_accuracy(driver):
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "accuracy").text
    found = re.search(r"Test accuracy ([0-9.]+)%", text)
    return float(found.group(1)) if found else None


@pytest.mark.parametrize("dataset, how", [("xor", "play"), ("circle", "step")])
def test_it_converges_on_xor_and_circle_in_the_page(page, dataset, how):
    import json
    import urllib.parse

    from selenium.webdriver.common.by import By

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    settings = {**session.config.to_dict(), "dataset": dataset, "hidden": [8, 8],
                "activations": ["tanh", "tanh"], "optimizer": "adam", "lr": 0.03}  # fmt: skip
    driver.get("about:blank")
    driver.get(server.url + "#" + urllib.parse.quote(json.dumps(settings)))
    _wait(driver, lambda: session.config.hidden == [8, 8], "settings not applied")
    _wait(driver, lambda: find("epoch").text == "0", "the page did not draw the run")
    if how == "play":  # fast: train without waiting for the page
        find("fast").click()
        _wait(driver, lambda: session.fast, "fast not sent")
        find("play").click()
        _wait(driver, lambda: (_shown_accuracy(driver) or 0) >= 95, "no convergence")
        find("play").click()  # pause
        _wait(driver, lambda: not session.playing, "not paused")
    else:
        for epoch in range(1, 61):  # a bound on the epochs, not a time
            find("step").click()
            _wait(driver, lambda e=epoch: find("epoch").text == str(e), "no step")
            if _shown_accuracy(driver) >= 95:
                break
        assert _shown_accuracy(driver) >= 95
    # the page shows the session's state, counted again from the network
    _wait(driver, lambda: find("epoch").text == str(session.epochs_done), "stale")
    predicted = session.net.predict(session.F_test)[:, 0] > 0.5
    accuracy = np.mean(predicted == session.data.y_test)
    assert _shown_accuracy(driver) == pytest.approx(100 * accuracy, abs=0.05)
    assert accuracy >= (0.95 if how == "step" else 0.9)  # play runs on a little


def test_the_exported_model_file_loads_back(page, tmp_path):
    from selenium.webdriver.common.by import By

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: find("columns").text, "the page never drew the network")
    find("step").click()
    _wait(driver, lambda: find("epoch").text == "1", "step did not train an epoch")
    find("export-model").click()
    saved = tmp_path / "downloads" / "playground-circle.gnn"
    _wait(driver, saved.exists, "the model file was not downloaded")
    _wait(driver, lambda: saved.stat().st_size > 0, "the download stayed empty")
    net = gn.load(saved)
    assert (net.flat_params == session.net.flat_params).all()
    assert (net.predict(session.F_test) == session.net.predict(session.F_test)).all()
    assert find("message").text == ""


def test_one_batch_shows_the_step_with_the_sessions_numbers(page):
    from selenium.webdriver.common.by import By

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: find("columns").text, "the page never drew the network")
    net = session.net.copy()
    find("batch").click()
    _wait(driver, lambda: find("step-view").is_displayed(), "no step panel shown")
    assert session.steps_done == 1
    batch = session.last_step["batch"]
    F, y = session.F_train[batch], session.data.y_train[batch]
    shown_before = float(find("step-batch-before").get_attribute("data-value"))
    shown_after = float(find("step-batch-after").get_attribute("data-value"))
    assert shown_before == net.loss_value(F, y, loss="bce")
    assert shown_after == session.net.loss_value(F, y, loss="bce")
    rows = driver.find_elements(By.CSS_SELECTOR, "#step-updates tbody tr")
    assert len(rows) == 3 + 3 + 3 + 1  # W1 (3x2), b1 (3), W2 (1x3), b2 (1)
    first = rows[0].find_elements(By.TAG_NAME, "td")
    name = first[0].text  # e.g. ΔW1[2,1]
    i, j = (int(k) - 1 for k in name[name.index("[") + 1 : -1].split(","))
    delta = session.net.layers[0].W[i, j] - net.layers[0].W[i, j]
    assert float(first[3].get_attribute("data-value")) == delta
    assert abs(delta) == abs(session.net.layers[0].W - net.layers[0].W).max()


def test_a_clicked_link_edits_its_weight(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#links path"), "")
    # the middle of link W1[2,1], in page coordinates
    x, y = driver.execute_script(
        """const p = document.querySelector('#links path[data-layer="1"][data-row="2"][data-col="1"]');
        const m = p.getPointAtLength(p.getTotalLength() / 2), r = p.ownerSVGElement.getBoundingClientRect();
        return [r.left + m.x, r.top + m.y];"""
    )
    body = find("net")
    origin = body.rect
    ActionChains(driver).move_to_element_with_offset(
        body,
        x - origin["x"] - origin["width"] / 2,
        y - origin["y"] - origin["height"] / 2,
    ).click().perform()
    _wait(driver, lambda: find("weight-editor").is_displayed(), "no editor opened")
    assert find("weight-name").text == "W1[2,1]"
    box = find("weight-value")
    assert float(box.get_attribute("value")) == session.net.layers[0].W[1, 0]
    box.clear()
    box.send_keys("not a number", Keys.ENTER)
    _wait(driver, lambda: "finite" in find("message").text, "bad value not refused")
    box.clear()
    box.send_keys("1.5", Keys.ENTER)
    _wait(driver, lambda: session.net.layers[0].W[1, 0] == 1.5, "weight not set")
    title = '#links path[data-layer="1"][data-row="2"][data-col="1"] title'
    _wait(  # read in one script: the links are redrawn after every state
        driver,
        lambda: driver.execute_script(
            f"const t = document.querySelector('{title}'); "
            "return t ? t.textContent : '';"
        ).endswith("= 1.50000"),
        "the drawing did not follow the new weight",
    )


def test_a_link_is_chosen_and_edited_by_keyboard(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#links path"), "")
    picker = find("link-picker")
    picked = lambda: driver.execute_script(  # noqa: E731
        "const p = document.querySelector('#links path.picked');"
        "return p ? [p.dataset.layer, p.dataset.row, p.dataset.col].join() : '';"
    )
    # W1 is 3 x 2 (x1, x2 into 3 neurons), W2 is 1 x 3
    moves = [
        (Keys.ARROW_DOWN, "1,1,1"),  # the first key chooses the first link
        (Keys.ARROW_DOWN, "1,1,2"),
        (Keys.ARROW_DOWN, "1,2,1"),  # row by row
        (Keys.ARROW_RIGHT, "2,1,1"),  # the next layer
        (Keys.ARROW_LEFT, "1,1,1"),
        (Keys.ARROW_UP, "1,3,2"),  # up from the first wraps to the last
    ]
    for key, expected in moves:
        picker.send_keys(key)
        _wait(driver, lambda e=expected: picked() == e, f"{key!r}: not {expected}")
        layer, row, col = map(int, expected.split(","))
        weight = session.net.layers[layer - 1].W[row - 1, col - 1]
        shown = find("link-picked").text
        assert shown.startswith(f"W{layer}[{row},{col}] = ")
        assert float(shown.split("= ")[1]) == pytest.approx(weight, rel=1e-5)
    picker.send_keys(Keys.ENTER)
    _wait(driver, lambda: find("weight-editor").is_displayed(), "no editor opened")
    assert find("weight-name").text == "W1[3,2]"
    assert driver.switch_to.active_element == find("weight-value")
    driver.switch_to.active_element.send_keys(Keys.CONTROL, "a")
    driver.switch_to.active_element.send_keys("0.25", Keys.ENTER)
    _wait(driver, lambda: session.net.layers[0].W[2, 1] == 0.25, "weight not set")
    _wait(driver, lambda: not find("weight-editor").is_displayed(), "editor open")
    assert driver.switch_to.active_element == find("link-picker")
    _wait(driver, lambda: find("link-picked").text == "W1[3,2] = 0.250000", "")


def _controls(driver):
    from selenium.webdriver.common.by import By

    return [
        e
        for e in driver.find_elements(By.CSS_SELECTOR, "input, select, button")
        if e.is_displayed()
    ]


def test_every_control_has_a_name_and_is_reached_by_tab(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, server = page
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#columns select"), "")
    controls = [e for e in _controls(driver) if e.is_enabled()]
    assert len(controls) > 25
    unnamed = [
        e.get_attribute("outerHTML")[:80]
        for e in controls
        if not e.accessible_name.strip()
    ]
    assert unnamed == []
    driver.find_element(By.TAG_NAME, "body").click()
    reached = set()
    for _ in range(len(controls) + 10):  # Tab through the page once
        ActionChains(driver).send_keys(
            Keys.TAB
        ).perform()  # a key, to whatever has focus
        reached.add(driver.switch_to.active_element.id)
    missing = [
        e.get_attribute("outerHTML")[:80] for e in controls if e.id not in reached
    ]
    assert missing == []


def test_a_lesson_link_hides_its_controls_and_large_text_enlarges(page):
    from selenium.webdriver.common.by import By

    driver, server = page
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    driver.get(server.url + "&hide=optimizer,loss,layers,export&large=1")
    _wait(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "#columns select"), "")
    for id_ in ("optimizer", "loss", "add-layer", "remove-layer", "export-model"):
        assert not find(id_).is_displayed(), id_
    heads = driver.find_elements(By.CSS_SELECTOR, ".layer-head button")
    assert heads and not any(b.is_displayed() for b in heads)
    for id_ in ("lr", "dataset", "play", "batch"):
        assert find(id_).is_displayed(), id_
    assert find("large-text").is_selected()
    large = float(
        driver.execute_script(
            "return parseFloat(getComputedStyle(document.body).fontSize)"
        )
    )
    find("large-text").click()
    small = float(
        driver.execute_script(
            "return parseFloat(getComputedStyle(document.body).fontSize)"
        )
    )
    assert large == 1.5 * small
    assert "large=1" not in driver.current_url and "hide=" in driver.current_url
    driver.get(server.url + "&hide=optimiser")
    _wait(driver, lambda: "optimiser" in find("message").text, "unknown name not said")


def test_a_csv_from_the_page_is_used_and_a_bad_one_is_refused(page, tmp_path):
    from selenium.webdriver.common.by import By

    driver, server = page
    session = server.session
    find = lambda id_: driver.find_element(By.ID, id_)  # noqa: E731
    _wait(driver, lambda: find("columns").text, "the page never drew the network")
    good = tmp_path / "mine.csv"
    good.write_text("u,v,w\n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(30)))
    find("upload-file").send_keys(str(good))
    find("upload-target").send_keys("w")
    find("upload-send").click()
    _wait(driver, lambda: session.config.dataset == "user", "the upload was not used")
    assert (
        session.user_data.columns == ["u", "v"] and len(session.user_data.points) == 30
    )
    _wait(driver, lambda: "30 rows" in find("message").text, "no confirmation")
    _wait(
        driver,
        lambda: find("dataset").get_attribute("value") == "user",
        "the page does not show the user's data set",
    )
    bad = tmp_path / "picture.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    find("upload-file").send_keys(str(bad))
    find("upload-send").click()
    _wait(driver, lambda: "not a CSV" in find("message").text, "no error shown")
    assert session.user_data.name == "mine.csv"
