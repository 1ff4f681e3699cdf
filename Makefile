# Two commands matter: `make demo` (the main job) and `make test` (the suite). Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 4
# The official BudAI SDK, a test peer for tests/interop (never imported by the project), vendored beside
# the checkout; CI runs from a fresh clone with shared/ at ../shared.
BUD_WHEEL ?= ../shared/vendor/bud_sdk-0.1.0-py3-none-any.whl

.PHONY: venv demo test lint docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,docs]'
	if [ -f $(BUD_WHEEL) ]; then $(PY) -m pip install -q $(BUD_WHEEL); fi
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir .site

clean:
	rm -rf $(VENV) .site .mypy_cache .ruff_cache
