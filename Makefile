# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Two workers (pytest-xdist); every Spark test stays on one of them (tests/conftest.py), so one
# JVM starts. PYTEST_WORKERS= runs everything in one process.
PYTEST_WORKERS ?= -n 2 --dist loadgroup

.PHONY: demo test lint typecheck bench services clean help

help:
	@echo "make demo   - set up, build the demo business, run the whole pipeline"
	@echo "make test   - set up, start the test services, run every test"
	@echo "make bench  - run the benchmarks (figures go to benchmarks/RESULTS.md by hand)"
	@echo "make lint   - ruff and mypy"

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[spark,test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/retain demo --run-pipeline

services:
	@bash scripts/browser.sh >/dev/null
	@bash scripts/postgres.sh start >/dev/null

test: $(STAMP) services
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	RETAIN_TEST_POSTGRES_URL=$$(bash scripts/postgres.sh start) \
	  $(BIN)/python -m pytest $(PYTEST_WORKERS) --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-data retain.duckdb retain-app.db report.html .retain
