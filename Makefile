# One task runner. CI calls `make test`; `make check` is the full gate before landing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-scale check lint format typecheck bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,scale]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/focusbase serve

# The suite runs on one worker process per core (pytest-xdist); each test file stays on one worker, so its
# module fixtures are built once. PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PYTEST)

# The whole suite again on the scale-out profile (docs/scaling.md): every test gets a schema of a throw-away
# PostgreSQL 15 (tests/postgres.py) and a ClickHouse database in chDB. Tests of the embedded warehouse itself
# are skipped there (they ran in `make test`) and listed in .pytest-embedded-only; SCALE_EMBEDDED_PASS=1 runs
# them once more on the PostgreSQL catalog with the embedded warehouse (about 3.5 minutes more).
SCALE_TESTS ?= tests
SCALE_SKIPPED := .pytest-embedded-only
SCALE_EMBEDDED_PASS ?= 0
test-scale: $(STAMP)
	rm -f $(SCALE_SKIPPED)
	FOCUSBASE_TEST_WAREHOUSE=chdb FOCUSBASE_TEST_SKIPPED_FILE=$(CURDIR)/$(SCALE_SKIPPED) $(PYTEST) $(SCALE_TESTS)
	if [ "$(SCALE_EMBEDDED_PASS)" = 1 ] && [ -s $(SCALE_SKIPPED) ]; then \
		FOCUSBASE_TEST_CATALOG=postgres $(PYTEST) @$(SCALE_SKIPPED); fi

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/ruff check src tests benchmarks tools

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks tools
	$(BIN)/ruff check --fix src tests benchmarks tools

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# schemathesis over every operation of /openapi.json with a random seed and many more examples than `make test`.
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	FOCUSBASE_ST_EXAMPLES=$(FUZZ_EXAMPLES) FOCUSBASE_ST_SEED=$${FOCUSBASE_ST_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	FOCUSBASE_ST_TIMEOUT=3600 $(BIN)/python -m pytest -q -p no:cacheprovider tests/focusapi/test_schemathesis.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
