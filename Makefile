# The two commands a fresh clone needs:  `make plan STACK=dev`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan pictures benchmark test lint typecheck unit graphviz services clean

# Says what it does before the minute pip takes (on stderr: the plan's own output stays clean); pip stays quiet.
$(BIN)/.installed: requirements.txt
	@if [ -x $(BIN)/python ]; then echo "updating $(VENV) (requirements.txt changed, about a minute)..." >&2; \
	else echo "setting up $(VENV) (first run, about a minute)..." >&2; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

## Run the program for $(STACK) offline (no cloud, no Pulumi CLI) and print what it would create.
## Needs Graphviz only (the pictures); the MariaDB server is for `make test`.
plan: $(BIN)/.installed graphviz
	$(BIN)/python -m offline.plan $(STACK)

## Redraw the architecture pictures and the plans the README shows (docs/<stack>/; a test keeps them current).
pictures: $(BIN)/.installed graphviz
	$(BIN)/python -m offline.plan dev --png --out docs/dev >/dev/null
	$(BIN)/python -m offline.plan prod --png --out docs/prod >/dev/null

## Time the prod plan against the import floor, and `make test` phase by phase.
benchmark: $(BIN)/.installed services
	$(BIN)/python benchmarks/plan_benchmark.py
	$(BIN)/python benchmarks/suite_benchmark.py

## Lint, type-check and run every offline test.
test: lint typecheck unit

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/zizmor --offline --strict-collection --no-progress --quiet .

typecheck: $(BIN)/.installed
	$(BIN)/mypy

## Graphviz: `dot` draws the plan's pictures.
graphviz:
	./scripts/setup-system.sh graphviz

## MariaDB (rotation tests start and stop it themselves) and Graphviz (plan pictures).
services:
	./scripts/setup-system.sh graphviz mariadb

# One pytest worker per core; tests needing moto or MariaDB share one worker (tests/conftest.py).
unit: $(BIN)/.installed services
	$(BIN)/pytest -n auto --dist loadgroup

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
