SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: bootstrap
bootstrap: ## Install the pinned toolchain into .venv and node_modules.
	scripts/bootstrap.sh

.PHONY: up
up: ## Run the platform locally (embedded PostgreSQL and broker); Ctrl-C stops it.
	scripts/up.sh

.PHONY: demo
demo: ## Send a morning of activity to a running platform and print the results.
	scripts/bootstrap.sh
	.venv/bin/accolade demo

.PHONY: test
test: ## Lint, then run every test against real PostgreSQL, broker and gRPC.
	scripts/test.sh

.PHONY: lint
lint: ## ruff, mypy and buf lint.
	scripts/bootstrap.sh
	scripts/lint.sh

.PHONY: proto
proto: ## Regenerate the protobuf stubs from protos/.
	scripts/bootstrap.sh
	scripts/proto.sh

# Where `make bench` writes its figures as JSON (BENCH_JSON=... to choose).
BENCH_JSON ?= .accolade/bench.json

.PHONY: bench
bench: ## Measure the event path on a locally started platform (figures also as JSON in .accolade/bench.json).
	scripts/bootstrap.sh
	mkdir -p $(dir $(BENCH_JSON))
	.venv/bin/python scripts/bench.py --json $(BENCH_JSON)

.PHONY: image
image: ## Build the container image accolade:dev (docker, else podman; IMAGE= to retag).
	scripts/image.sh

.PHONY: clean
clean: ## Remove local data and caches (not the virtualenv).
	rm -rf .accolade .pytest_cache .mypy_cache .ruff_cache
