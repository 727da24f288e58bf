# Stevedore. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
PKGS := ./...
# SLOW_PKGS are started first by `make test` (go test keeps the order given).
SLOW_PKGS := ./reconcile/server ./agent/runtime ./agent/volume ./reconcile ./agent
DEB_PACKAGES := containerd runc containernetworking-plugins docker-registry git iproute2 nftables busybox-static systemd curl openssl e2fsprogs xfsprogs sshfs openssh-server redis-server prometheus gnupg openssh-client chromium fonts-dejavu-core
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: help build run test test-unit bench check deps clean fuzz web-vendor release tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: ## install the Debian packages Stevedore runs on (as root), if missing
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run make deps as root)"; exit 1; fi; \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: ## build bin/ctl, bin/reconciler, bin/agent and the agent's log driver
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/ctl ./cmd/reconciler ./cmd/agent ./cmd/stevedore-log-driver

run: deps build ## start a local cluster (containerd, registry, git repo, reconciler, 3 agents) until Ctrl-C
	$(GO) build -o $(BIN)/ ./cmd/devcluster
	$(BIN)/devcluster --bin $(BIN) --examples examples-repo

test: deps tools ## run every test (unit, integration against a private containerd, end-to-end)
	@# The slowest packages first, three at a time: most of their time is
	@# spent waiting (on containerd, gossip, timers), not on the two cores,
	@# and reconcile/server alone takes 4-5 minutes.
	$(GO) test -p 3 -count=1 -timeout 20m $$($(GO) list $(SLOW_PKGS) $(PKGS) | grep -v /cmd/devcluster)
	@# The whole-cluster tests run alone: their gossip timings (a node is
	@# failed after 2-5 s of silence) must not compete with the other packages.
	$(GO) test -count=1 -timeout 20m ./cmd/devcluster

.PHONY: ui-screenshots
ui-screenshots: deps ## run the end-to-end test, whose web UI step writes a screenshot of every view to docs/ui
	mkdir -p docs/ui
	STEVEDORE_UI_SHOTS=$(CURDIR)/docs/ui $(GO) test -count=1 -timeout 20m -run '^TestEndToEnd$$' -v ./cmd/devcluster

test-unit: ## run the tests that need no daemon
	$(GO) test -count=1 -short $(PKGS)

bench: deps build ## measure every section of docs/benchmarks.md (scheduler, control plane, diff, ctl get, commit-to-running, recovery, failover, web UI, scale with hollow nodes)
	$(GO) build -o $(BIN)/ ./cmd/devcluster
	$(BIN)/devcluster bench --bin $(BIN) --examples examples-repo --out docs/benchmarks.md --go $(GO)

# FUZZ_TARGETS are package:FuzzName pairs `make fuzz` runs one after the other.
FUZZ_TARGETS := ./spec:FuzzLoad ./spec:FuzzValidate ./spec:FuzzCountDocuments \
	./sync/webhook:FuzzHandler ./sync/webhook:FuzzParsePayload ./agent:FuzzPodSet \
	./policy/signature:FuzzParse ./policy/signature:FuzzVerify
FUZZTIME ?= 10m

fuzz: ## run every fuzz target for FUZZTIME (default 10m) in turn, one worker each; new corpus entries go to the package's testdata/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "== $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel 1; \
	  cache=$$($(GO) env GOCACHE)/fuzz/$$($(GO) list $$pkg)/$$name; \
	  if [ -d "$$cache" ]; then mkdir -p $$pkg/testdata/fuzz/$$name && cp -n $$cache/* $$pkg/testdata/fuzz/$$name/ 2>/dev/null || true; fi; \
	done

check: ## go vet, staticcheck, gofmt, go mod tidy -diff
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

clean: ## remove build output
	rm -rf $(BIN) dist

tools: ## install the pinned release tools (cyclonedx-gomod) into .tools/
	GO=$(GO) ./scripts/release.sh tools

release: ## reproducible release into dist/: linux/amd64+arm64 binaries, tar.gz, CycloneDX SBOMs, systemd units, SHA256SUMS (docs/install.md)
	OUT=dist GO=$(GO) ./scripts/release.sh

# The UI's one third-party file (web/ui/vendor): htm's preact standalone
# build, fetched from npm at a pinned version and checked against its digest.
HTM_VERSION := 3.1.1
HTM_SHA256 := 72284e8e9079c87817145df1110f74e8a2aa040b2fc384922e18dfcb46fc1fd7
web-vendor: ## fetch web/ui/vendor/preact-htm.js again from npm (htm@$(HTM_VERSION)) and check its digest
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	cd $$tmp && npm pack --silent htm@$(HTM_VERSION) >/dev/null && tar xzf htm-$(HTM_VERSION).tgz && \
	echo "$(HTM_SHA256)  package/preact/standalone.module.js" | sha256sum -c --quiet && \
	cp package/preact/standalone.module.js $(CURDIR)/web/ui/vendor/preact-htm.js && cp package/LICENSE $(CURDIR)/web/ui/vendor/LICENSE-htm && \
	echo "web/ui/vendor/preact-htm.js: htm@$(HTM_VERSION), sha256 $(HTM_SHA256)"
