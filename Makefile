# The two commands of the README. Both create .venv on first use and install into it, so the
# project's own packages (core, adapters, entrypoints) win over anything installed globally.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run check check-fast install bench

# The tests run on JOBS pytest-xdist workers (JOBS=0: in this process, one by one). The suite
# mostly waits (servers starting, subprocesses, timeouts it provokes), so more workers than
# cores pay: on two cores, 4 workers took make check from 5 min 14 s to 1 min 53 s. worksteal:
# an idle worker takes queued tests from a busy one (tests/conftest.py puts the slow first).
JOBS ?= 4
PYTEST := $(BIN)/pytest $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist worksteal)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled only when the dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Start the console bot on the offline model (no Telegram, no API key).
run: install
	$(BIN)/python -m entrypoints.console

# Every check: lint, format, types, import contracts, tests.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(PYTEST)

# The same checks without the slow tests (marked ``slow``: subprocesses, crashes, PostgreSQL
# under load, big property runs): under a minute, for while you work. CI runs ``check``.
check-fast: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(PYTEST) -m "not slow"

# Benchmarks: prints a table of figures (takes a few minutes; QUICK=1 for a smoke run).
bench: install
	$(BIN)/python -m tests.benchmarks.bench $(if $(QUICK),--quick,)
