# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every transitive dependency pinned with hashes, for CPython 3.11 on Linux (the Dockerfile's
# base): requirements.lock what the code location needs at run time (the Docker image),
# requirements-dev.lock the same pins plus the dev extras (this venv, CI). Refreshed by
# `make lock` (keeps the pins that still fit pyproject.toml) or `make lock UPGRADE=1` (the newest
# versions within pyproject.toml's ranges).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_VERSION := 26.3
PIP_TOOLS := pip-tools==7.6.2
LOCK_VENV := .venv-lock
PIP_COMPILE := --quiet --strip-extras --allow-unsafe --generate-hashes --no-emit-index-url \
	--no-emit-find-links

export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: demo test ui bench lint format clean system-deps lock wheel architecture texts

# The lock first (runtime and dev dependencies, hash-checked), then the project itself without
# dependencies; the Dockerfile and tests/test_package.py install the same way.
$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

# pip-compile runs in its own venv, so the tool's dependencies never end up in the lock.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
	  { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet '$(PIP_TOOLS)'; }
	$(LOCK_VENV)/bin/pip-compile $(PIP_COMPILE) $(if $(UPGRADE),--upgrade) \
	  --output-file $(LOCK) pyproject.toml
	$(LOCK_VENV)/bin/pip-compile $(PIP_COMPILE) $(if $(UPGRADE),--upgrade) --extra dev \
	  --constraint $(LOCK) --output-file $(DEV_LOCK) pyproject.toml

# The wheel the Docker image installs (dist/service_scorecards-*.whl)
wheel: $(STAMP)
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w dist .

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

# System libraries (HarfBuzz-Subset for deterministic PDFs): checked on every run, installed
# when missing and we may.
system-deps:
	@bash scripts/system-deps.sh

demo: system-deps $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m pipelines.cli demo

test: system-deps $(STAMP)
	$(BIN)/pytest

ui: system-deps $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m pipelines.cli pool
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Dagster as in production (docs/dagster-production.md): a temporary PostgreSQL database and
# DAGSTER_HOME with config/dagster.production.yaml, the code server, webserver and daemon as
# three processes, a three-month backfill launched through GraphQL, its runs checked; once on
# the DuckDB file (one run over the range) and once on DuckLake (parallel month runs). Needs
# PostgreSQL (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres); `make test` runs it too.
.PHONY: serve-check
serve-check: system-deps $(STAMP)
	$(BIN)/python scripts/serve_check.py --warehouse duckdb
	$(BIN)/python scripts/serve_check.py --warehouse ducklake

bench: system-deps $(STAMP)
	$(BIN)/python -m benchmarks.bench
	$(BIN)/python -m benchmarks.bench_render
	$(BIN)/python -m benchmarks.bench_mail
	$(BIN)/python -m benchmarks.bench_scale --backend duckdb
	$(BIN)/python -m benchmarks.bench_scale --backend ducklake

# The message catalogue (docs/architecture.md, "Adding a language"): extract the keys from the
# code and templates into the .pot, update the de/en .po files, compile the .mo files.
texts: $(STAMP)
	bash scripts/texts.sh

# The rooms' import graph as a picture for docs/architecture.md (tests/test_architecture.py
# checks that the committed one is current and that imports flow one way).
architecture: $(STAMP)
	$(BIN)/python scripts/import_graph.py --svg docs/import-graph.svg

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(DAGSTER_HOME)
	$(BIN)/python -m pipelines.cli clean
