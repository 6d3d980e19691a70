# attivi - `make help` lists the targets. See DESIGN.md section 9 ("Running it").
#
# PostgreSQL and MinIO are private, on loopback, started by scripts/services.sh unless
# ATTIVI_DATABASE_URL / ATTIVI_S3_ENDPOINT are already set (then those are used).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
BIN           := bin/attivi
SERVICES      := scripts/services.sh
# make run: where the data persists (PostgreSQL cluster, MinIO objects, logs).
DATA_DIR      ?= $(or $(ATTIVI_DATA_DIR),.data)
ATTIVI_ENV    ?= development
ATTIVI_LISTEN ?= :8080
# Extra flags for go test, e.g. GOTESTFLAGS='-run TestCompose -v'.
GOTESTFLAGS   ?=
# auto: -race when a C compiler is there (installed with apt-get when root); empty: no -race.
RACE          ?= auto

.PHONY: help run test build vet services stop clean clean-data

help: ## list the targets
	@echo "usage: make TARGET [VAR=value ...]"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "variables: GOTESTFLAGS (extra go test flags), RACE (auto|empty), DATA_DIR (.data),"
	@echo "  ATTIVI_ENV (development), ATTIVI_LISTEN (:8080), ATTIVI_DATABASE_URL / ATTIVI_S3_ENDPOINT"
	@echo "  (use existing services instead of starting private ones); ports: ATTIVI_PG_PORT (5433),"
	@echo "  ATTIVI_MINIO_PORT (9100), ATTIVI_TEST_PG_PORT (55433), ATTIVI_TEST_MINIO_PORT (59100);"
	@echo "  more in scripts/services.sh --help"

run: build ## start PostgreSQL + MinIO (data kept in .data/), migrate, seed, serve on :8080; Ctrl-C stops all
	@ATTIVI_ENV='$(ATTIVI_ENV)' ATTIVI_LISTEN='$(ATTIVI_LISTEN)' ATTIVI_DATA_DIR='$(DATA_DIR)' \
		$(SERVICES) --mode run exec -- scripts/run.sh $(BIN)

test: ## go test -race ./... against throwaway PostgreSQL + MinIO on the test ports
	@race='$(RACE)'; if [ "$$race" = auto ]; then race=$$($(SERVICES) race-flag); fi; \
		$(SERVICES) --mode test exec -- $(GO) test $$race -count=1 -timeout 20m $(GOTESTFLAGS) ./...

build: ## go build -o bin/attivi .
	$(GO) build -o $(BIN) .

vet: ## gofmt -l (must list nothing) and go vet ./...
	@out=$$(find . \( -path ./.git -o -path ./.data -o -path ./bin -o -path ./.cache \) -prune \
		-o -name '*.go' -print | xargs -r gofmt -l); \
		if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

services: ## start PostgreSQL + MinIO (run ports, .data/) in the foreground for manual work; Ctrl-C stops them
	@ATTIVI_DATA_DIR='$(DATA_DIR)' $(SERVICES) --mode run up

stop: ## stop services left running on .data/ by a run that was killed
	@ATTIVI_DATA_DIR='$(DATA_DIR)' $(SERVICES) stop

clean: ## remove build and test outputs (keeps .data/)
	rm -rf bin/ *.test *.out coverage.html coverage.txt *.coverprofile .cache/

clean-data: stop ## stop services and delete .data/ (the run database and objects)
	rm -rf -- '$(DATA_DIR)'
