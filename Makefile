# Medallion: `make run` runs the main job on the embedded local runtime; `make test` runs the tests.
# Both do all set-up first: virtualenv, Python dependencies, Delta Lake jars (through mvn/Spark: README "Pins").

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Databricks' official DLT stub package: the signatures tests/deploy/test_dlt_contract.py binds the
# pipeline's calls to. Installed apart, without its dependencies (databricks-connect would replace pyspark).
DLT_STUB_VERSION := 0.3.0
DLT_STUB := .cache/dlt-stub/databricks_dlt-$(DLT_STUB_VERSION).dist-info

.PHONY: setup run test test-all test-reliability validate docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[local,test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

$(DLT_STUB): $(STAMP)
	rm -rf .cache/dlt-stub
	$(PY) -m pip install --quiet --no-deps --target .cache/dlt-stub databricks-dlt==$(DLT_STUB_VERSION)

setup: $(STAMP) $(DLT_STUB)
	$(PY) -m framework.engine.jars
	@# Bytecode for the framework, as Python would cache it on first import (this also covers machines
	@# that set PYTHONDONTWRITEBYTECODE): the CLI starts ~0.1 s faster. Up-to-date files are skipped.
	@$(PY) -m compileall -q framework >/dev/null

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
