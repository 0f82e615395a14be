# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DAGSTER_HOME := $(CURDIR)/.dagster
export SCORECARDS_DATA_DIR ?= $(CURDIR)/data

.PHONY: demo test ui bench lint format clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

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
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: system-deps $(STAMP)
	$(BIN)/python -m scorecards.bench
	$(BIN)/python -m scorecards.bench_render
	$(BIN)/python -m scorecards.bench_mail

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(DAGSTER_HOME) data/warehouse.duckdb data/out data/quarantine data/.cache
