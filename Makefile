# dnn-instrument — `make demo` (the main job on a bundled example) and `make test` set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
EXAMPLE ?= fixtures/examples/regression_nan.py
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: setup demo test bench fuzz compat clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The HTML report test opens the page in a real headless browser: Debian's chromium.
$(CHROMIUM):
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Instrument a buggy script, train it, print the diagnosis.
demo: setup
	@mkdir -p build
	$(BIN)/dnn-instrument $(EXAMPLE) -o build/instrumented_example.py
	cd build && DNN_INSTRUMENT_DIR=runs ../$(BIN)/python instrumented_example.py

# Lint and format check first (ruff, configured in pyproject.toml), then the suite.
test: setup $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# A longer run of the property-based equivalence test (random models, both ways, weights compared).
fuzz: setup
	DNN_INSTRUMENT_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q tests/test_generated_programs.py

# The supported Keras/TensorFlow range (pyproject.toml), proven: a venv for its oldest and its newest pair under
# .compat/, each running the equivalence programs and the end-to-end diagnosis tests, side by side (large installs, first
# time); a summary per pair. python tools/compat.py --pair NAME=REQ,REQ tries a candidate outside the range.
compat:
	$(PYTHON) tools/compat.py

# BENCH=NAME make bench: one benchmark alone (corpus: accuracy on both splits with the Keras baseline; distributed: overhead under
# MirroredStrategy against fit under it; fix: repair; real: the real programs both ways; models: real architectures, depth
# scaling, steady state; scripts: the whole-script and steady-state rows of bench/scripts/, 5 alternating runs each;
# cost: models and scripts in one run).
bench: setup
	$(BIN)/python bench/run.py $(if $(BENCH),--only $(BENCH))

clean:
	rm -rf build dnn-instrument-runs bench/results .pytest_cache
