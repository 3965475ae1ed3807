# kindling — developer entry points.
#   make cluster        start the local single-node Kubernetes (hack/cluster/up; idempotent)
#   make cluster-down   stop it and clean up (hack/cluster/down)
#   make test           unit tests (race detector), then the e2e suite against the cluster
#   make demo           cluster up, deploy examples/hello-python, sync an edit with kindling, show the change
# Set KINDLING_E2E_KUBECONFIG to run the e2e suite (and the demo) against another cluster instead.

GO ?= go
E2E_TIMEOUT ?= 60m

.PHONY: cluster cluster-down cluster-status test unit e2e demo bench

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

# Benchmarks against the classic approach (kubectl cp + kubectl exec kill, raw tar pipe); writes docs/benchmarks.md.
bench:
	@if [ -z "$$KINDLING_E2E_KUBECONFIG" ]; then hack/cluster/up; fi
	KINDLING_BENCH_REPORT=$(CURDIR)/docs/benchmarks.md $(GO) test -tags 'e2e bench' -count=1 -v -timeout 90m ./test/bench/
