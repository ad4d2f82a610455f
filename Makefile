# The two commands a fresh clone needs:  `make plan STACK=dev`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan test lint typecheck unit services clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

## Run the program for $(STACK) offline (no cloud, no Pulumi CLI) and print what it would create.
plan: $(BIN)/.installed
	$(BIN)/python -m offline.plan $(STACK)

## Lint, type-check and run every offline test.
test: lint typecheck unit

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

## The rotation tests need a MariaDB server binary; the tests start and stop it themselves.
services:
	./scripts/setup-mariadb.sh

unit: $(BIN)/.installed services
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
