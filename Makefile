# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   - create .venv, install xrm and its plugins, run the demo on an SQLite file
#   make test   - the whole test suite (SQLite; PostgreSQL too when XRM_TEST_DATABASE_URL is set)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test lint typecheck check clean bench bench-quick

$(STAMP): pyproject.toml $(PLUGINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77"
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(foreach p,$(dir $(PLUGINS)),-e ./$(p))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m xrm.demo --database sqlite:///xrm-demo.db

test: $(STAMP)
	$(BIN)/python -m coverage run -m pytest -q tests $(wildcard plugins/*/tests)
	$(BIN)/python -m coverage report

# Benchmarks (docs/performance.md): each workload beside hand-written SQL on the same
# database. PostgreSQL: XRM_BENCH_DATABASE_URL (default postgres@127.0.0.1/xrm_bench).
bench: $(STAMP)
	$(BIN)/python -m bench.run --size 100000 --database sqlite
	$(BIN)/python -m bench.run --size 100000 --database postgresql
	$(BIN)/python -m bench.run --size 1000000 --database sqlite --no-cli

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick --database sqlite

lint: $(STAMP)
	$(BIN)/ruff check xrm tests examples $(wildcard plugins/*)
	$(BIN)/ruff format --check xrm tests examples $(wildcard plugins/*)

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) xrm-demo.db xrm-demo.db-wal xrm-demo.db-shm xrm-demo-outbox .pytest_cache .mypy_cache .ruff_cache .hypothesis
