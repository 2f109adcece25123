# Agent Sessions: `make run` serves, `make test` tests; both set up everything they need first.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROTOS := $(shell find protos -name '*.proto' | sort)
GEN := gen
GEN_STAMP := $(GEN)/.stamp
VENV_STAMP := $(VENV)/.stamp
BUF := node_modules/.bin/buf

# GNU make kills itself with any SIGINT/SIGTERM it gets, so `make run` would exit 130/143 after a
# clean stop. This plugin makes it forward those signals to its children and exit with their
# status instead (see scripts/make_signals.c). Without a C compiler make works as before.
-load $(VENV)/make_signals.so
$(VENV)/make_signals.so: scripts/make_signals.c
	@mkdir -p $(VENV)
	@cc -shared -fPIC -O2 -o $@ $< || echo "note: no C compiler; Ctrl-C makes make exit non-zero"

.PHONY: help
help: ## Show the targets.
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing dependencies (first run takes a minute)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet 'grpcio-tools==1.85.1' 'googleapis-common-protos==1.76.0'
	touch $@

# Code is generated in the build, never committed, so it cannot drift from protos/.
$(GEN_STAMP): $(VENV_STAMP) $(PROTOS) scripts/generate.py clients/python/generate.py clients/python/pyproject.toml
	@echo "==> generating Python code and the descriptor set from protos/"
	$(BIN)/python scripts/generate.py
	$(BIN)/pip install --quiet -e '.[dev]'
	@echo "==> regenerating the Python client (committed code) and installing it"
	$(BIN)/python clients/python/generate.py
	$(BIN)/pip install --quiet -e './clients/python[agents]'
	touch $@

TS := clients/typescript
$(TS)/node_modules/.package-lock.json: $(TS)/package.json $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund --loglevel=error

.PHONY: generate-ts
generate-ts: $(GEN_STAMP) $(TS)/node_modules/.package-lock.json
	cd $(TS) && npm run generate

# run and test need only the Python side; `generate` also regenerates the TypeScript client.
.PHONY: generate
generate: $(GEN_STAMP) generate-ts ## Generate server code, the descriptor set and both clients.
	$(BIN)/python clients/python/unasync.py

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: run
run: $(GEN_STAMP) ## Start PostgreSQL (embedded unless AGENT_SESSIONS_DATABASE_URL is set), the gRPC server and Envoy.
	$(BIN)/agent-sessions run

.PHONY: test
# The TypeScript client's tests (and its built dist/, which imports @bufbuild/protobuf) need its
# node_modules: installed here, so `make test` alone sets up everything on a fresh clone.
# The CORS tests run a page in a real headless browser: Debian's chromium, installed here when
# missing (like `make bench` installs wrk), as the tests install nothing themselves.
test: $(GEN_STAMP) $(TS)/node_modules/.package-lock.json ## Run the whole test suite against a real PostgreSQL, gRPC server, Envoy and Chromium.
	@command -v chromium >/dev/null || { echo "==> installing Chromium (Debian), the headless browser of the CORS tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
	  || echo "note: could not install chromium; the browser tests will fail"; }
	$(BIN)/pytest

# Committed generated code: the Python client's protobuf modules, its sync client (from aio.py by
# clients/python/unasync.py), and the TypeScript client's protobuf modules and built dist/.
CLIENT_GENERATED := clients/python/src/agent_sessions_client/_proto \
  clients/python/src/agent_sessions_client/client.py $(TS)/src/gen $(TS)/dist

.PHONY: lint
lint: generate $(BUF) ## ruff, mypy, buf lint and format, and generated client code up to date.
	$(BIN)/ruff check server tests scripts bench clients/python
	$(BIN)/ruff format --check server tests scripts bench clients/python
	$(BIN)/mypy
	$(BIN)/mypy --config-file clients/python/pyproject.toml
	$(BIN)/lint-imports --no-cache
	$(BUF) lint
	$(BUF) format --diff --exit-code
	cd $(TS) && npm run build
	@test -z "$$(git status --porcelain -- $(CLIENT_GENERATED))" \
	  || { git status --short -- $(CLIENT_GENERATED); \
	       echo "generated client code differs from protos/, aio.py or src/: run make generate, build and commit it"; exit 1; }
	cd $(TS) && npm run lint

AGAINST ?= main
.PHONY: breaking
breaking: $(GEN_STAMP) $(BUF) ## Check protos/ for wire and JSON breaking changes against AGAINST (default main).
	rm -rf $(GEN)/against && mkdir -p $(GEN)/against
	git archive $(AGAINST) protos | tar -x -C $(GEN)/against
	$(BIN)/python scripts/generate.py $(GEN)/against/protos $(GEN)/against/image.binpb
	$(BUF) breaking $(GEN)/descriptor.pb#format=binpb --against $(GEN)/against/image.binpb#format=binpb --config buf.yaml

.PHONY: bench
bench: $(GEN_STAMP) ## Benchmark gRPC, REST and streaming against pgbench (BENCH_ANCHOR=DIR: REST against DIR/run.sh too).
	@command -v h2load >/dev/null || { echo "==> installing h2load (Debian nghttp2-client), the C load generator"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client; } >/dev/null \
	  || echo "note: could not install h2load; measuring with the Python gRPC client instead"; }
	@command -v wrk >/dev/null || { echo "==> installing wrk (Debian), the C HTTP/1.1 load generator of the REST scenarios"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } >/dev/null \
	  || echo "note: could not install wrk; the REST scenarios will be skipped (and the bench fail)"; }
	$(BIN)/python -m bench

.PHONY: clean
clean: ## Remove generated code and the virtualenv (keeps the data folder).
	rm -rf $(GEN) $(VENV) node_modules $(TS)/node_modules $(TS)/build
