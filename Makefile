# Two entry points, each self-sufficient on a fresh machine:
#   make demo   creates .venv, installs glassnet, runs the main job on a built-in example
#   make test   creates .venv, installs glassnet with the dev extra, runs the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint bench clean

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

test: $(VENV)/.dev-installed browser
	$(PY) -m pytest src tests

# Headless Chromium for the explain HTML test (tests/test_explain_browser.py): installed
# only when missing and we are root; never fails the build (the test then skips).
.PHONY: browser
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium for the HTML browser test (apt-get)"; \
	  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
	    >/dev/null 2>&1 \
	  || echo "could not install chromium; the HTML browser test will be skipped"; \
	fi; true

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
