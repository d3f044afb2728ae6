# voxray: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Transcribe the bundled sample audio (mixed formats, one corrupt file) with the bundled model.
demo: $(STAMP)
	$(BIN)/voxray transcribe samples --output out/demo --overwrite --show 20

# Lint, the import contract (pyproject's [tool.importlinter]) and the whole test suite, slow
# end-to-end tests included (CI runs exactly this).
test: $(STAMP)
	$(BIN)/ruff check pipelines models jobs tools tests scripts
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check pipelines models jobs tools tests scripts
	$(BIN)/lint-imports
	$(BIN)/ruff format --check pipelines models jobs tools tests scripts

bench: $(STAMP)
	$(BIN)/voxray bench --out bench-results

clean:
	rm -rf $(VENV) out bench-results
