# kindling — developer entry points.
#   make cluster        start the local single-node Kubernetes (hack/cluster/up; idempotent)
#   make cluster-down   stop it and clean up (hack/cluster/down)
#   make test           unit tests (race detector), then the e2e suite against the cluster
#   make demo           cluster up, deploy examples/hello-python, sync an edit with kindling, show the change
#   make lint           shellcheck and staticcheck (hack/lint)
#   make fuzz           every Go fuzz target for FUZZTIME each, on top of its committed seed corpus
#   make release        release archives, SHA256SUMS and the krew manifest into dist/ (VERSION=, RELEASE_URL=)
# Set KINDLING_E2E_KUBECONFIG to run the e2e suite (and the demo) against another cluster instead.

GO ?= go
E2E_TIMEOUT ?= 60m
FUZZTIME ?= 10s

.PHONY: cluster cluster-down cluster-status test unit e2e demo bench lint fuzz

cluster:
	hack/cluster/up

cluster-down:
	hack/cluster/down

cluster-status:
	hack/cluster/status

# Runs both suites even when the first fails (more signal per CI run), and fails if either failed.
test:
	@status=0; $(MAKE) --no-print-directory unit || status=1; $(MAKE) --no-print-directory e2e || status=1; exit $$status

unit:
	$(GO) test -race ./...

e2e:
	@if [ -z "$$KINDLING_E2E_KUBECONFIG" ]; then hack/cluster/up; fi
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) ./test/e2e/...

demo:
	hack/demo.sh

lint:
	hack/lint

# Every fuzz target for FUZZTIME each (hack/fuzz says how a crasher is kept).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz

# Benchmarks against the classic approach (kubectl cp + kubectl exec kill, raw tar pipe); writes docs/benchmarks.md.
# PROFILES picks the links: loopback (straight to the API server), then the shaped lan, cloud and far
# (test/bench/link_test.go); a table not measured is kept from the previous report.
PROFILES ?= loopback lan cloud far
bench:
	@if [ -z "$$KINDLING_E2E_KUBECONFIG" ]; then hack/cluster/up; fi
	KINDLING_BENCH_PROFILES='$(PROFILES)' KINDLING_BENCH_REPORT=$(CURDIR)/docs/benchmarks.md $(GO) test -tags 'e2e bench' -count=1 -v -timeout 120m ./test/bench/

# Release archives for linux/darwin/windows × amd64/arm64, SHA256SUMS and the krew manifest, into dist/
# (hack/release). VERSION defaults to git describe; RELEASE_URL to the GitHub release of VERSION.
.PHONY: release
release:
	hack/release
