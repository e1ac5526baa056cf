# Two commands on a fresh machine with Python 3.11+, pip and make:
#   make demo    run the demo
#   make test    run the whole test suite (slow integration tests included)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

PHOENIX_VENV ?= .venv-phoenix
PHOENIX_VERSION ?= 20.26.1

.PHONY: demo test test-fast lint bench install phoenix-venv clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("agent-anatomy needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

# Arize Phoenix in a virtualenv of its own, for the OTLP export round-trip tests (skipped without it).
$(PHOENIX_VENV)/bin/phoenix:
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet 'arize-phoenix==$(PHOENIX_VERSION)'

phoenix-venv: $(PHOENIX_VENV)/bin/phoenix

demo: $(INSTALLED)
	$(BIN)/agent-anatomy demo

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -q -m 'not slow'

lint: $(INSTALLED)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench_decorators.py
	$(BIN)/python benchmarks/bench_anthropic.py --transport mock
	$(BIN)/python benchmarks/bench_levers.py
	$(BIN)/python benchmarks/bench_sim_ttft.py
	$(BIN)/python benchmarks/bench_anatomy.py

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
