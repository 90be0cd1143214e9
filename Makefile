# Medallion: `make run` runs the main job on the embedded local runtime; `make test` runs the tests.
# Both do all set-up first: virtualenv, Python dependencies, Delta Lake jars (through mvn/Spark: README "Pins").

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup run test test-all test-reliability validate docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)
	$(PY) -m framework.engine.jars

validate: $(STAMP)
	$(BIN)/medallion validate

run: setup
	$(BIN)/medallion validate
	$(BIN)/medallion job --env local

# The suite CI runs: everything except tests marked `slow` (multi-process kill series, secrets sweep...).
test: setup
	tools/ensure-graphviz.sh
	tools/ensure-chromium.sh
	$(PY) -m pytest -q -m "not slow"

# Everything, the slow fault-injection tests included (see RELIABILITY.md for durations).
test-all: setup
	tools/ensure-graphviz.sh
	tools/ensure-chromium.sh
	$(PY) -m pytest -q

test-reliability: setup
	$(PY) -m pytest -q -m reliability

docs: setup
	tools/ensure-graphviz.sh
	$(BIN)/medallion docs

bench: setup
	$(PY) bench/validate.py

clean:
	rm -rf .medallion .cache site
