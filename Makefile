# Sluice — `make run` starts the server with its embedded defaults,
# `make test` installs test dependencies and runs every test.
GO       ?= go
FUZZTIME ?= 3s
# Fuzz targets run FUZZJOBS at a time (scripts/fuzz.sh), sharing the cores.
FUZZJOBS ?= 2
# Tests that call t.Parallel() (test/e2e: those that mostly wait) run this
# many at a time, after the serial ones; no other package has any.
E2E_PARALLEL ?= 8
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
GO_MODULE := github.com/sluicemedia/sluice

# Player libraries for the web pages (internal/web): npm packages pinned in
# web/package-lock.json, copied into the embedded vendor directory.
NPM        ?= npm
WEB_VENDOR := internal/web/static/vendor
WEB_STAMP  := web/node_modules/.sluice-npm-ci
WEB_FILES  := $(WEB_VENDOR)/mpegts.js $(WEB_VENDOR)/hls.min.js $(WEB_VENDOR)/dash.all.min.js

.PHONY: all build run test deps web vet unit fuzz bench clean

all: build

build: web
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluice ./cmd/sluice

run: build
	./bin/sluice

deps:
	@scripts/deps.sh

web: $(WEB_FILES)

$(WEB_STAMP): web/package.json web/package-lock.json
	@scripts/deps.sh web # Node.js >= 20.9 with npm, or what to do
	cd web && $(NPM) ci --no-audit --no-fund
	@touch $@

$(WEB_VENDOR)/mpegts.js: $(WEB_STAMP)
	cp web/node_modules/mpegts.js/dist/mpegts.js $@
$(WEB_VENDOR)/hls.min.js: $(WEB_STAMP)
	cp web/node_modules/hls.js/dist/hls.min.js $@
$(WEB_VENDOR)/dash.all.min.js: $(WEB_STAMP)
	cp web/node_modules/dashjs/dist/modern/umd/dash.all.min.js $@

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...

# Every package but test/e2e and test/arch, then the end-to-end tests with
# test/arch's cross builds beside them at idle CPU priority
# (scripts/e2e.sh): the e2e tests' serial ones (browsers, QoE, real-time
# players) must have the cores to themselves, which `go test ./...` would
# not give them (it ran test/arch's 227 s of compiling beside them).
unit:
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -vx -e '$(GO_MODULE)/test/e2e' -e '$(GO_MODULE)/test/arch')
	GO=$(GO) E2E_PARALLEL=$(E2E_PARALLEL) E2E_BESIDE="$(E2E_BESIDE)" scripts/e2e.sh

fuzz:
	FUZZTIME=$(FUZZTIME) FUZZJOBS=$(FUZZJOBS) scripts/fuzz.sh

# vet runs beside the e2e tests (scripts/e2e.sh), on the cores they leave
# idle.
test: deps web
	@$(MAKE) --no-print-directory unit E2E_BESIDE='$(MAKE) --no-print-directory vet'
	@$(MAKE) --no-print-directory fuzz

clean:
	rm -rf bin $(WEB_FILES) $(WEB_STAMP)
