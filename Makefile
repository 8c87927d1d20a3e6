# Docket: `make run` serves the demo on SQLite, `make test` runs everything CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# The project's own modules compiled, as an installed wheel has them (an editable install
# has none, and a PYTHONDONTWRITEBYTECODE environment never writes them): a rebuild's
# worker processes import them at every start. Python checks each against its source.
COMPILE := $(BIN)/python -m compileall -q events projections service migrations

.PHONY: install run test lint typecheck pytest browser go-interop faketime test-dates test-ci-date lock soak bench clean

# Installs come from the lock files (pip-tools, with hashes): a fresh clone installs what
# CI tested. `make lock` updates them from pyproject.toml's ranges.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	$(COMPILE)
	touch $(STAMP)

install: $(STAMP)

# `make run` needs the service only, not the test and lint tools of `.[dev]`.
$(RUN_STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	$(COMPILE)
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/docket migrate
	$(BIN)/docket roster load
	$(BIN)/docket demo
	@echo
	@echo "secretariat token: $$($(BIN)/docket token create --role secretariat --name demo-secretariat)"
	@echo "auditor token:     $$($(BIN)/docket token create --role auditor --name demo-auditor)"
	@echo
	$(BIN)/docket serve --host 127.0.0.1 --port 8000

browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: browser tests will skip"; }

# Go's golang.org/x/mod/sumdb/note verifies Docket's checkpoints in tests/published/test_go_note.py,
# built offline from Debian's packages (the module's source lands in /usr/share/gocode/src).
go-interop:
	@{ command -v go >/dev/null 2>&1 && [ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ]; } || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq golang-go golang-golang-x-mod-dev >/dev/null) \
	  || echo "go not installed: the Go interop test will skip"; }

faketime:
	@command -v faketime >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null); }
	@command -v faketime >/dev/null 2>&1 || { echo "faketime is needed: apt-get install faketime"; exit 2; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser go-interop
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck pytest

# R13: the whole suite with the clock of every process it starts moved to another day.
DATES ?= 2027-07-01 2029-02-28 2031-12-31
test-dates: $(STAMP) browser go-interop faketime
	@for day in $(DATES); do \
	  tests/at_date.sh $$day $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS) || exit 1; \
	done

# CI's second run: one of the three days, a different one from day to day.
test-ci-date:
	$(MAKE) test-dates DATES=$$(echo $(DATES) | cut -d' ' -f$$(( $$(date -u +%j | sed 's/^0*//') % 3 + 1 )))

soak: $(STAMP)
	DOCKET_SOAK=1 $(BIN)/pytest -q -m slow tests/reliability $(PYTEST_ARGS)

LOCK_VENV := $(VENV)-lock
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile -q --generate-hashes --strip-extras \
	--no-emit-index-url --no-emit-find-links --upgrade pyproject.toml
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
	  { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q pip-tools==7.6.2; }
	$(PIP_COMPILE) -o requirements.lock
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock

bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m bench.all

clean:
	rm -rf $(VENV) $(LOCK_VENV) .mypy_cache .ruff_cache .pytest_cache docket.db
