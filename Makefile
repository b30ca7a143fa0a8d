# Comptoir: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
# The browser tests drive the system's chromium (never a downloaded build).
CHROMIUM ?= /usr/bin/chromium

run: export DEMO ?= 1

.PHONY: run test lint types schema bench migrate check clean assets

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP_RUN): requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(STAMP_DEV): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(STAMP_RUN)

## run: install, migrate and serve HTTP (:8000) and chat WebSocket (:9001) with demo data
run: $(STAMP_RUN)
	$(PY) -m comptoir migrate
	$(PY) -m comptoir serve --no-migrate

## migrate: apply pending migrations
migrate: $(STAMP_RUN)
	$(PY) -m comptoir migrate

$(CHROMIUM):
	(apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium unavailable: the browser tests will fail (install chromium, or set CHROMIUM=/path)"

# Worker processes of `make test` (pytest-xdist). The suite mostly waits on
# sockets, subprocesses and databases, so a few more workers than cores pay;
# each worker has its own service, database, broadcast prefix and folders.
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3

## test: the whole suite (SQLite + in-memory broadcast unless DATABASE_URL / BROADCAST_URL say otherwise),
##       whole modules spread over TEST_WORKERS processes, those with slow tests among the others;
##       the 25 slowest tests are listed at the end (PYTEST_ADDOPTS="-m 'not slow'" for a quicker loop)
test: $(STAMP_DEV) | $(CHROMIUM)
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

## lint / types: ruff and mypy --strict
lint: $(STAMP_DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP_DEV)
	$(VENV)/bin/mypy

## schema: export the GraphQL SDL to schema.graphql (CI checks it matches)
schema: $(STAMP_RUN)
	$(PY) -m comptoir export-schema -o schema.graphql

## bench: run the benchmarks under bench/ (loopback only, bounded; BENCH_ARGS=--quick for a smoke run)
bench: $(STAMP_DEV)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk unavailable: using the Python load generator"
	$(PY) -m bench $(BENCH_ARGS)

## assets: refresh GraphiQL's and /docs' pinned files from the npm registry (versions in core/static/manifest.json)
assets: $(STAMP_RUN)
	$(PY) tools/vendor_assets.py

check: lint types test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
