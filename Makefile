# The two commands: `make demo` (set up, export the demo set, serve it, answer) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# nvidia-pytriton carries the tritonserver binary; it declares numpy<2, which we never import it
# with, so it goes in with --no-deps (docs/serving.md, "Why --no-deps").
PYTRITON := nvidia-pytriton==0.7.0

.PHONY: demo setup test test-fast lint typecheck unit integration up clean

demo: setup
	$(BIN)/modelserve demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile serve/stub_env.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	$(BIN)/python -m pip install --quiet --no-deps $(PYTRITON)
	# The Python-backend stub was built for numpy 1.x: it runs from its own environment,
	# $(VENV)/stub-runtime (numpy 1.26 + the same onnxruntime; docs/triton-conformance.md).
	$(BIN)/modelserve stub-env create
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest tests/unit -q

integration: setup
	$(BIN)/pytest tests/integration -q

test: lint typecheck
	$(BIN)/pytest -q

test-fast: lint typecheck
	$(BIN)/pytest -q -m "not slow"

up: setup
	$(BIN)/modelserve up

clean:
	rm -rf $(VENV) .modelserve .mypy_cache .ruff_cache .pytest_cache
