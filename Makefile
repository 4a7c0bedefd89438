# Two entry points, each self-sufficient on a fresh machine:
#   make demo   creates .venv, installs glassnet, runs the main job on a built-in example
#   make test   creates .venv, installs glassnet with the dev extra, runs the whole suite
# and three more: make lint (ruff), make bench (the training-speed benchmark), make
# browser (headless Chromium for the HTML browser test; a step of make test).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test browser lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files make re-runs cheap; they are redone whenever pyproject.toml changes.
$(VENV)/.demo-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[datasets,plot]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/glassnet demo

# browser is a listed step of test: it is what puts Chromium on the machine.
test: $(VENV)/.dev-installed browser
	$(PY) -m pytest src tests

# Headless Chromium for the explain HTML test (tests/test_explain_browser.py), which
# runs /usr/bin/chromium directly, and chromedriver for the playground test
# (tests/test_playground_browser.py, Selenium). Installs Debian's chromium and
# chromium-driver packages only when missing and we are root; never fails the build
# (without them the browser tests skip and say why).
browser:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium and chromium-driver for the browser tests (apt-get)"; \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
	    chromium-driver) >/dev/null 2>&1 \
	  || echo "could not install chromium; the browser tests will be skipped"; \
	fi; true

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check src tests benchmarks examples fuzz
	$(VENV)/bin/ruff format --check src tests benchmarks examples fuzz

# The training-speed table of BENCHMARKS.md: a few minutes, and meaningful only on a
# quiet machine. It needs the dev extra (PyTorch and scikit-learn are the contenders).
bench: $(VENV)/.dev-installed
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
