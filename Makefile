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
# end-to-end tests included (CI runs exactly this). The suite runs in two parts, both always: all
# but the `serial` tests on PYTEST_WORKERS pytest workers (the cores sat idle most of a one-worker
# run: Ray and subprocess start-ups, waits on timeouts and restarts), a module's tests on one
# worker so its fixtures are set up once (--dist loadfile); then the `serial` tests alone.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check pipelines models jobs tools tests scripts
	$(BIN)/lint-imports
	status=0; \
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not serial" || status=$$?; \
	$(BIN)/python -m pytest -q -m serial || status=$$?; \
	exit $$status

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
