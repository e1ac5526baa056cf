# Two commands on a fresh machine with Python 3.11+, pip and make:
#   make demo    run the demo
#   make test    run the whole test suite (slow integration tests included)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

PHOENIX_VENV ?= .venv-phoenix
PHOENIX_VERSION ?= 20.26.1

# The instrumentation peers of the benchmark, each in a virtualenv of its own beside agent-anatomy.
BENCH_VENVS ?= .venv-bench
OPENLLMETRY_VERSION ?= 0.62.4
OPENINFERENCE_VERSION ?= 3.1.0
OTEL_GENAI_VERSION ?= 1.3b0

# The anthropic SDK's release lines the instrumentation is tested on besides the newest (tests/tracing/
# test_sdk_versions.py): the oldest supported, and the last of each older major, a virtualenv each.
SDK_VENVS ?= .venv-sdk
SDK_MATRIX ?= 0.41.0 0.125.0 1.17.0
# and the last mcp 1.x, whose client and server differ from 2.x (tests/tracing/test_mcp.py runs there too)
MCP_MATRIX ?= 1.30.0

# The Claude Agent SDK (its wheel bundles the Claude Code CLI) in a virtualenv of its own, for its sessions' tests.
CLAUDE_VENV ?= .venv-claude
CLAUDE_AGENT_SDK_VERSION ?= 0.2.189
# and the first 0.2 release (its CLI is Claude Code 2.1.142; its SDK MCP servers need mcp 1.x), the sessions'
# tests run on it too (tests/tracing/test_sdk_versions.py)
CLAUDE_MATRIX ?= 0.2.82

# Jaeger v2 and the OpenTelemetry Collector the deploy tests run, built from their Go modules (Go 1.26 and the
# Go module proxy) into build/, once: each is rebuilt only when its manifest changes. JAEGER_VERSION is the
# Jaeger v2 release that deploy/go/jaeger/go.mod's module version (v1.75.0) is.
GO ?= go
# No VCS stamp: the builds run inside this repository's checkout, whose git state they must not depend on.
GO_ENV := GOFLAGS="-buildvcs=false $(GOFLAGS)"
JAEGER_VERSION ?= v2.12.0
JAEGER_BIN := build/bin/jaeger
COLLECTOR_BIN := build/collector/otelcol-agent-anatomy

.PHONY: demo docs test test-fast test-busy lint bench bench-venvs claude-venv sdk-venvs install phoenix-venv backends jaeger collector venv-matches screenshot dist wheel-smoke clean

# Run as root, or through sudo when there is one.
SUDO := $(shell [ "$$(id -u)" = 0 ] || { command -v sudo >/dev/null && echo sudo; })

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("agent-anatomy needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

# A virtualenv made by another Python than $(PYTHON) would test the wrong one: say so instead.
venv-matches: $(INSTALLED)
	@want=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	have=$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	[ "$$want" = "$$have" ] || { echo "$(VENV) was made with Python $$have, not $(PYTHON) ($$want): pass VENV=.venv-py$$want, or make clean"; exit 1; }

# The real backends of the integration tests, which skip without them: redis-server, chromium and
# prometheus (Debian packages), Arize Phoenix, the peer instrumentations and older anthropic SDKs
# (virtualenvs of their own), Jaeger and the collector (built from their Go modules).
backends: phoenix-venv bench-venvs claude-venv sdk-venvs jaeger collector
	command -v redis-server >/dev/null && command -v chromium >/dev/null && command -v promtool >/dev/null || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends redis-server chromium prometheus; }

# Arize Phoenix in a virtualenv of its own, for the OTLP export round-trip tests (skipped without it).
$(PHOENIX_VENV)/bin/phoenix:
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet 'arize-phoenix==$(PHOENIX_VERSION)'

phoenix-venv: $(PHOENIX_VENV)/bin/phoenix

$(BENCH_VENVS)/openllmetry/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENVS)/openllmetry
	$(BENCH_VENVS)/openllmetry/bin/python -m pip install --quiet -e '.[sim]' 'opentelemetry-instrumentation-anthropic==$(OPENLLMETRY_VERSION)'
	touch $@

$(BENCH_VENVS)/openinference/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENVS)/openinference
	$(BENCH_VENVS)/openinference/bin/python -m pip install --quiet -e '.[sim]' 'openinference-instrumentation-anthropic==$(OPENINFERENCE_VERSION)'
	touch $@

# The OpenTelemetry project's own anthropic instrumentation (built on opentelemetry-util-genai).
$(BENCH_VENVS)/otel-genai/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENVS)/otel-genai
	$(BENCH_VENVS)/otel-genai/bin/python -m pip install --quiet -e '.[sim]' 'opentelemetry-instrumentation-genai-anthropic==$(OTEL_GENAI_VERSION)'
	touch $@

bench-venvs: $(BENCH_VENVS)/openllmetry/.installed $(BENCH_VENVS)/openinference/.installed $(BENCH_VENVS)/otel-genai/.installed

$(CLAUDE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CLAUDE_VENV)
	$(CLAUDE_VENV)/bin/python -m pip install --quiet -e '.[sim]' 'claude-agent-sdk==$(CLAUDE_AGENT_SDK_VERSION)'
	touch $@

claude-venv: $(CLAUDE_VENV)/.installed

$(SDK_VENVS)/anthropic-%/.installed: pyproject.toml
	$(PYTHON) -m venv $(SDK_VENVS)/anthropic-$*
	$(SDK_VENVS)/anthropic-$*/bin/python -m pip install --quiet -e '.[sim]' 'anthropic==$*'
	touch $@

$(SDK_VENVS)/mcp-%/.installed: pyproject.toml
	$(PYTHON) -m venv $(SDK_VENVS)/mcp-$*
	$(SDK_VENVS)/mcp-$*/bin/python -m pip install --quiet -e '.[dev]' 'mcp==$*'
	touch $@

$(SDK_VENVS)/claude-agent-sdk-%/.installed: pyproject.toml
	$(PYTHON) -m venv $(SDK_VENVS)/claude-agent-sdk-$*
	$(SDK_VENVS)/claude-agent-sdk-$*/bin/python -m pip install --quiet -e '.[sim]' 'claude-agent-sdk==$*' 'mcp<2'
	touch $@

sdk-venvs: $(foreach version,$(SDK_MATRIX),$(SDK_VENVS)/anthropic-$(version)/.installed) \
  $(foreach version,$(MCP_MATRIX),$(SDK_VENVS)/mcp-$(version)/.installed) \
  $(foreach version,$(CLAUDE_MATRIX),$(SDK_VENVS)/claude-agent-sdk-$(version)/.installed)

$(JAEGER_BIN): deploy/go/jaeger/go.mod deploy/go/jaeger/go.sum
	@command -v $(GO) >/dev/null || { echo "make jaeger needs Go 1.26 (the go command was not found)"; exit 1; }
	cd deploy/go/jaeger && $(GO_ENV) $(GO) build -trimpath -o $(CURDIR)/$@ \
	  -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$(JAEGER_VERSION)" \
	  github.com/jaegertracing/jaeger/cmd/jaeger

jaeger: $(JAEGER_BIN)

# The OpenTelemetry Collector Builder (a tool of deploy/go/collector/go.mod) writes the collector's sources
# into build/collector and compiles them there.
$(COLLECTOR_BIN): deploy/go/collector/manifest.yaml deploy/go/collector/go.mod deploy/go/collector/go.sum
	@command -v $(GO) >/dev/null || { echo "make collector needs Go 1.26 (the go command was not found)"; exit 1; }
	cd deploy/go/collector && $(GO_ENV) $(GO) tool builder --config manifest.yaml
	touch $@

collector: $(COLLECTOR_BIN)

demo: $(INSTALLED)
	$(BIN)/agent-anatomy demo

test: venv-matches
	$(BIN)/python -m pytest -q

test-fast: venv-matches
	$(BIN)/python -m pytest -q -m 'not slow'

# The whole suite while two busy-loop processes occupy both cores, as on a loaded machine.
BUSY_RUNS ?= 1
test-busy: venv-matches
	$(BIN)/python tests/busy.py --runs $(BUSY_RUNS) -- $(BIN)/python -m pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check src tests benchmarks examples docs
	$(BIN)/ruff format --check src tests benchmarks examples docs
	$(BIN)/mypy

# The documentation site, into site/, with --strict: a broken link, anchor or API reference fails the build.
# (Material's notice that it is kept until 2027, its successor being Zensical, is silenced: said in docs/development.md.)
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# docs/anatomy.png, the README's picture of the demo's HTML anatomy (needs Debian's chromium).
screenshot: $(INSTALLED)
	$(BIN)/python docs/make_screenshot.py

# Every benchmark, peers included; writes benchmarks/results/latest.md (and .json) and a dated copy.
bench: $(INSTALLED) bench-venvs
	$(BIN)/python benchmarks/suite.py --docs

# The sdist, and the wheel built from it (as an installer would), in dist/; their metadata checked as an
# index would check it.
dist: $(INSTALLED)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The wheel installed as a user installs it (not editable, no dev extras) into a clean virtualenv, where
# the demo and the quickstart run and their traces are reported.
wheel-smoke: dist
	$(BIN)/python tests/wheel_smoke.py dist

clean:
	rm -rf $(VENV) .venv-py3.* $(PHOENIX_VENV) $(BENCH_VENVS) $(CLAUDE_VENV) $(SDK_VENVS) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
