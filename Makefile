# clerksync — run `make` (or `make help`) to see the targets.

GO            ?= go
BIN           ?= bin/clerksync
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X main.version=$(VERSION)
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
TOOLS         := $(CURDIR)/.tools
FUZZTIME      ?= 30s
# CI fuzzes for a number of inputs, not a time: with Go 1.26 a -fuzztime duration can end
# in a spurious "context deadline exceeded" on a loaded machine (go.dev/issue/75804).
FUZZTIME_CI   ?= 10000x
BENCHFLAGS    ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/clerksync.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/clerksync

.PHONY: run
run: ## Run the server on the embedded SQLite database (needs CLERK_WEBHOOK_SECRET).
	$(GO) run ./cmd/clerksync serve

.PHONY: test
test: ## Run every test with the race detector (PostgreSQL and Chromium tests skip loudly when absent).
	$(GO) test -race -count=1 ./...

.PHONY: test-short
test-short: ## Run the tests without the race detector, skipping the slow crash and browser tests.
	$(GO) test -short -count=1 ./...

.PHONY: test-race
test-race: test ## Same as test (the race detector is always on).

.PHONY: test-pg
test-pg: ## Run the PostgreSQL store tests only, failing if PostgreSQL is unreachable.
	CLERKSYNC_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 ./postgres/... ./migrations/...

.PHONY: fuzz
fuzz: ## Run every fuzz target of every package, from its seed corpus on (FUZZTIME each, default 30s).
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		targets=$$($(GO) test -list '^Fuzz' $$dir); \
		for target in $$(echo "$$targets" | grep '^Fuzz'); do \
			echo "== $$target in $$dir for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$dir; \
		done; \
	done

.PHONY: fuzz-ci
fuzz-ci: ## Run every fuzz target briefly (FUZZTIME_CI each, default 10000 inputs), as CI does.
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_CI)

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: vet ## Run go vet and golangci-lint (installed into .tools on first use).
	@test -x $(TOOLS)/golangci-lint || GOBIN=$(TOOLS) $(GO) install $(GOLANGCI_LINT)
	$(TOOLS)/golangci-lint run ./...

.PHONY: tidy
tidy: ## Tidy go.mod and fail if it was not tidy.
	$(GO) mod tidy
	git diff --exit-code go.mod go.sum

.PHONY: clean
clean: ## Remove build output.
	rm -rf bin artifacts build dist

.PHONY: bench
bench: ## Measure throughput and CPU per delivery against reference receivers and the targets; writes BENCHMARKS.md (BENCHFLAGS='-baseline main' adds main's clerksync).
	$(GO) run ./bench $(BENCHFLAGS)

.PHONY: bench-cpu
bench-cpu: ## Count instructions per delivery (verify, decode, apply) with valgrind (BENCHFLAGS='-baseline main' for before/after).
	$(GO) run ./bench/cpu $(BENCHFLAGS)

.PHONY: hostile
hostile: ## Attack a real serve too slowly for the tests (slowloris, floods, a full disk) and print what held.
	$(GO) run ./internal/hostile

.PHONY: bench-attack
bench-attack: ## Measure serve's memory while 1,000 clients hold unsigned 1 MiB bodies open, and after.
	$(GO) run ./internal/attackbench
# --- Container image and releases (scripts/) -----------------------------------

IMAGE ?= clerksync:$(VERSION)

.PHONY: image
image: ## Build the container image IMAGE (clerksync:VERSION): FROM scratch, the binary built here with Go.
	VERSION=$(VERSION) scripts/build-image.sh $(IMAGE)

.PHONY: test-image
test-image: ## Build the image and run it as a user would (--network host): send an event, read the row. Needs Docker.
	VERSION=$(VERSION) scripts/test-image.sh

.PHONY: release
release: ## Cross-compile linux, darwin, windows × amd64, arm64 into dist/ with the version and SHA256SUMS.
	VERSION=$(VERSION) scripts/release.sh

.PHONY: bench-orgs
bench-orgs: ## Measure a backfill of 10,000 organizations with 100,000 memberships into SQLite and PostgreSQL (objects/s, peak RSS).
	$(GO) run ./bench/orgbackfill -orgs 10000 -memberships 100000
