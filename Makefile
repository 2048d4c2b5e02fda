# dnn-instrument — `make demo` (the main job on a bundled example) and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLE ?= fixtures/examples/regression_nan.py
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Instrument a buggy script, train it, print the diagnosis.
demo: setup
	@mkdir -p build
	$(BIN)/dnn-instrument $(EXAMPLE) -o build/instrumented_example.py
	cd build && DNN_INSTRUMENT_DIR=runs ../$(BIN)/python instrumented_example.py

test: setup
	$(BIN)/python -m pytest -n 2 -q

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf build dnn-instrument-runs bench/results .pytest_cache
