# vclusterkit — two commands matter on a fresh machine:
#   make demo   the main job: the quickstart, the whole flow on one machine
#   make test   builds what the tests need, then go vet and go test
# Everything else here is a building block of those two.

SHELL := /bin/bash
GO ?= go
# Where the Kubernetes binaries are cached (shared by every clone).
TOOLS_DIR ?= $(shell $(GO) run ./internal/cmd/tools -print-dir)
export VCLUSTERKIT_TOOLS_DIR := $(TOOLS_DIR)
# Packages whose API types controller-gen processes.
API_PACKAGES ?= $(shell ls -d tenancy vcluster fleet 2>/dev/null)
# One test package at a time: several packages start whole host clusters and
# virtual control planes, and two of those at once on 2 cores make start-up
# timeouts flaky. -count=1: results of tests against real components are never
# taken from the Go test cache. Measured: about 23 minutes when the binaries are cached
# (23 min 6 s for .ci/run on a fresh clone, real-node packages included).
GOTEST_FLAGS ?= -p 1 -count=1 -timeout 45m

.PHONY: all tools test test-deps node-deps vet unit demo generate fmt tidy bench

all: test

## tools: build kube-apiserver, etcd, kubectl, kube-controller-manager,
## kube-scheduler, kwok, kwokctl and kine from pinned Go modules (about
## 10-15 minutes the first time on 2 cores; seconds once cached).
tools:
	$(GO) run ./internal/cmd/tools

## test-deps: everything the tests need besides the binaries (PostgreSQL
## for the sqlstore tests, Chromium for the console's browser tests, from
## Debian packages when they are missing).
test-deps:
	@bash hack/test-deps.sh

## test: the README's test command.
test: tools test-deps vet
	$(GO) test $(GOTEST_FLAGS) ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^internal/tools/')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## node-deps: the Debian packages a real node needs (runc, CNI plugins,
## busybox-static, iptables, ipset, conntrack, nftables), when missing.
node-deps:
	@bash hack/test-deps.sh node

## demo: the main job (on a real node when the machine can run one). Built,
## then run in make's place rather than with go run: on Ctrl-C go run exits 1
## although the quickstart cleaned up and exited 0, and make printed an error.
demo: tools node-deps
	$(GO) build -o bin/quickstart ./examples/quickstart && exec bin/quickstart $(ARGS)

## generate: deep-copy functions and CRD manifests for the API types.
generate:
	$(GO) build -C internal/tools/controllergen -o $(TOOLS_DIR)/controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
	for p in $(API_PACKAGES); do \
	  $(TOOLS_DIR)/controller-gen object:headerFile=hack/boilerplate.go.txt paths=./$$p \
	    crd:crdVersions=v1 output:crd:artifacts:config=$$p/crds || exit 1; \
	done
	# The operator chart ships the same CRDs (its test checks they match).
	cp tenancy/crds/*.yaml vcluster/crds/*.yaml fleet/crds/*.yaml examples/operator/chart/crds/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '^internal/tools/')

tidy:
	$(GO) mod tidy
